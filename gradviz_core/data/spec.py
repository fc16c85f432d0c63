"""The ``data`` section of a graph file, declared like node parameters: each source's settings
and the pipeline's (split, preprocessing, augmentation, class filter, training subset),
each with a type, a default, a range or choices and a one-line doc.

``check_data`` checks a section before anything is loaded. The app's Data panel builds
its form from ``SOURCES`` and ``PIPELINE``; the JSON Schema is generated from them.
"""
from __future__ import annotations

from gradviz_core.errors import ParamError
from gradviz_core.params import ParamSpec, did_you_mean

MAX_SAMPLES = 10**8


def _n(default: int) -> ParamSpec:
    return ParamSpec("n", "int", default, "the number of samples", low=2, high=MAX_SAMPLES)


def _noise(default: float) -> ParamSpec:
    return ParamSpec("noise", "float", default, "how much noise is added to each sample", low=0.0,
                     high=10.0)


def _classes(default: int, high: int = 1000) -> ParamSpec:
    return ParamSpec("classes", "int", default, "K, the number of classes (or a list of the classes "
                     "to keep)", low=2, high=high)


_SEED = ParamSpec("seed", "int", 0, "seed of the samples", low=0, high=2**31 - 1)
_PATH = ParamSpec("path", "str", "", "the file, relative to the graph file's folder")
_FIRST = ParamSpec("n", "int", 0, "keep the first n images (0: all of them)", low=0, high=MAX_SAMPLES)
_SHAPE = ParamSpec("shape", "ints", (), "the shape of one sample, e.g. 1, 8, 8 (empty: as stored)",
                   low=1)

#: source -> (one-line doc, settings, required settings)
SOURCES: dict[str, tuple[str, tuple[ParamSpec, ...], tuple[str, ...]]] = {
    "spiral": ("K interleaved spiral arms (cs231n's spiral)", (_n(300), _classes(3), _noise(0.2), _SEED), ()),
    "circles": ("a ring around a disc, 2 classes",
                (_n(200), _noise(0.05), _SEED,
                 ParamSpec("factor", "float", 0.5, "the radius of the inner disc", low=0.01, high=0.99)), ()),
    "xor": ("the four quadrants, 2 classes", (_n(200), _noise(0.1), _SEED), ()),
    "blobs": ("K Gaussian blobs", (_n(200), _classes(3), _noise(0.3), _SEED), ()),
    "moons": ("two interleaving half circles, 2 classes", (_n(200), _noise(0.1), _SEED), ()),
    "linear": ("two classes split by a line", (_n(200), _noise(0.1), _SEED), ()),
    "checkerboard": ("a checkerboard of 2 classes",
                     (_n(400), _noise(0.0), _SEED,
                      ParamSpec("tiles", "int", 4, "tiles per side", low=1, high=32)), ()),
    "plane": ("regression: a tilted plane", (_n(200), _noise(0.1), _SEED), ()),
    "bumps": ("regression: two Gaussian bumps", (_n(300), _noise(0.05), _SEED), ()),
    "digits": ("1,797 real 8×8 handwritten digits, 10 classes", (), ()),
    "shapes": ("synthetic images of bars, crosses and circles, 3 classes",
               (_n(600), ParamSpec("size", "int", 16, "images are size×size", low=4, high=256),
                _noise(0.1), _SEED), ()),
    "random": ("Gaussian noise with random labels (for trying shapes)",
               (_n(256), ParamSpec("shape", "ints", (2,), "the shape of one sample", low=1),
                _classes(2, high=100_000), _SEED), ()),  # as many as the imported model that it feeds
    "csv": ("your own CSV file with a header row", (
        _PATH, ParamSpec("label", "str", "", "the label column: a name or a 0-based index (empty: the "
                         "last column)"), _SHAPE), ("path",)),
    "npz": ("your own .npz file with arrays X and y", (_PATH, _SHAPE), ("path",)),
    "idx": ("MNIST or Fashion-MNIST as distributed: IDX files of images and labels (gzip or not)",
            (ParamSpec("path", "str", "", "the images file, e.g. train-images-idx3-ubyte.gz"),
             ParamSpec("labels", "str", "", "the labels file (empty: the images file's name with labels "
                       "and idx1, as MNIST names them)"), _FIRST), ("path",)),
    "cifar": ("CIFAR-10 (or -100) as distributed for Python: one batch file, or the folder of "
              "data_batch_1 … 5", (ParamSpec("path", "str", "", "a batch file, or the cifar-10-batches-py "
                                            "folder"), _FIRST), ("path",)),
    "folder": ("a folder of images (PNG, JPEG…) with one subfolder per class, as torchvision's ImageFolder",
               (ParamSpec("path", "str", "", "the folder that holds one subfolder per class"),
                ParamSpec("size", "int", 0, "resize every image to size×size (0: keep their size, which "
                          "must then be the same for all)", low=0, high=512),
                ParamSpec("grey", "bool", False, "read the images in grey (1 channel) instead of colour (3)")),
               ("path",)),
    "inline": ("arrays written into the graph file", (
        ParamSpec("X", "tensor", 0.0, "the samples, one row each"),
        ParamSpec("y", "tensor", 0.0, "the labels, one per sample"),
        _classes(2)), ("X", "y")),
}

PIPELINE: tuple[ParamSpec, ...] = (
    ParamSpec("val", "float", 0.0, "the fraction held out for validation", low=0.0, high=0.95),
    ParamSpec("test", "float", 0.0, "the fraction held out for testing", low=0.0, high=0.95),
    ParamSpec("split_seed", "int", 0, "seed of the train / validation / test split", low=0,
              high=2**31 - 1),
    ParamSpec("preprocess", "choice", "none", "fitted on the training split: x − μ, (x − μ)/σ, to [−1, 1], "
              "or PCA whitening", choices=("none", "center", "standardize", "scale", "whiten")),
    ParamSpec("n_train", "int", 0, "keep only this many training samples (0: all)", low=0,
              high=MAX_SAMPLES),
)
#: the keys of ``augment`` (images only)
AUGMENT: tuple[ParamSpec, ...] = (
    ParamSpec("flip", "bool", False, "flip each image left–right with probability ½"),
    ParamSpec("shift", "int", 0, "move each image by up to this many pixels each way", low=0, high=16),
    ParamSpec("jitter", "float", 0.0, "images: intensity x ↦ (1 + a)·x + b with a, b ~ U[−jitter, jitter]; "
              "points: Gaussian noise of this std", low=0.0, high=1.0),
)
#: sources whose ``classes`` is their number of classes (elsewhere ``classes`` is a filter)
COUNTED = tuple(s for s, (_, specs, _) in SOURCES.items() if any(p.name == "classes" for p in specs))


def check_data(section, where: str = "data") -> dict | None:
    """The data section with every value checked and converted; raises ParamError naming the
    key for the first bad one (unknown keys get a "did you mean")."""
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ParamError(f"{where}: must be an object with a \"source\", not {type(section).__name__}")
    source = section.get("source")
    if not isinstance(source, str):
        raise ParamError(f"{where}.source: choose a source: {', '.join(SOURCES)}")
    if source not in SOURCES:
        raise ParamError(f"{where}.source: unknown source {source!r}{did_you_mean(source, SOURCES)}")
    _, specs, required = SOURCES[source]
    own = {s.name: s for s in specs}
    pipeline = {s.name: s for s in PIPELINE}
    out = {"source": source}
    for key, value in section.items():
        if key == "source":
            continue
        if key == "augment":
            out[key] = _check_augment(value, where)
        elif key == "classes" and (isinstance(value, list) or source not in COUNTED):
            out[key] = _check_filter(value, where, source)
        elif key in own:
            checked = own[key].coerce(value, where, label=f"{where}.{key}")
            # tables (inline X and y) are kept as written: integer labels must stay integers
            out[key] = value if own[key].kind == "tensor" else _json(own[key], checked)
        elif key in pipeline:
            out[key] = _json(pipeline[key], pipeline[key].coerce(value, where, label=f"{where}.{key}"))
        else:
            known = [*own, *pipeline, "augment"] + ([] if "classes" in own else ["classes"])
            raise ParamError(f"{where}: unknown setting {key!r} for source {source!r}"
                             f"{did_you_mean(key, known)}")
    for key in required:
        if key not in out or out[key] in ("", ()):
            raise ParamError(f"{where}: a {source} source needs \"{key}\" ({own[key].doc})")
    if out.get("val", 0.0) + out.get("test", 0.0) >= 0.95:
        raise ParamError(f"{where}: val + test = {out.get('val', 0.0):g} + {out.get('test', 0.0):g} leaves "
                         "almost no training data; keep val + test below 0.95")
    return out


def _json(spec: ParamSpec, value):
    from gradviz_core.params import to_json_value
    return to_json_value(spec, value)


def _check_augment(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise ParamError(f"{where}.augment: must be an object such as {{\"flip\": true, \"shift\": 1}}, "
                         f"not {value!r}")
    specs = {s.name: s for s in AUGMENT}
    out = {}
    for key, v in value.items():
        if key not in specs:
            raise ParamError(f"{where}.augment: unknown augmentation {key!r}{did_you_mean(key, specs)}")
        out[key] = specs[key].coerce(v, where, label=f"{where}.augment.{key}")
    return out


def _check_filter(value, where: str, source: str) -> list[int]:
    if not isinstance(value, list) or not value or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in value):
        raise ParamError(f"{where}.classes: for a {source} source, give the classes to keep as a list "
                         f"of class labels, e.g. [0, 1, 2, 3, 4]; got {value!r}")
    if len(set(value)) != len(value):
        raise ParamError(f"{where}.classes: {value} names a class twice")
    return list(value)
