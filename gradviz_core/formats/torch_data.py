"""The data side of the PyTorch export: where the exported file's samples come from.

A graph whose data is a file (CSV, NPZ, MNIST's IDX, CIFAR's batches, a folder of images)
exports the *reading* of that file: the exported file carries readers in plain NumPy (Pillow
for image folders), the class filter, the seeded train / validation / test split and the
preprocessing fitted on the training split, written as ``gradviz_core.data`` does them, so
that it trains on the very samples gradviz trains on (a test compares them, format by
format), and ``--data PATH`` reads another file of any of these formats the same way.
Generated data (the toy sets, digits, shapes, random, inline) is written, preprocessed and
split, into the arrays file beside the script.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gradviz_core.data import FILE_SOURCES, PIPELINE_KEYS

#: the exported file's readers and pipeline (NumPy only; Pillow for a folder of images)
DATA_LIBRARY = r'''
class DataFileError(Exception):
    """A data file this script cannot use: the message names the file and what is wrong."""


def _labels(y):
    y = np.asarray(y, np.float64)
    return y.astype(np.int64) if np.all(y == np.round(y)) and y.min() >= 0 else y


def _unit(X):
    return X.astype(np.float64) / 255.0 if X.dtype == np.uint8 else X.astype(np.float64)


def read_csv(path, label="", shape=()):
    """A header row, then one row per sample; the label column is named (default: the last)."""
    import csv
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    header = [h.strip() for h in rows[0]] if rows else []
    if len(rows) < 2 or len(header) < 2:
        raise DataFileError(f"{path}: needs a header row, feature columns, a label column and rows of numbers")
    if label and label not in header:
        raise DataFileError(f"{path}: no column named {label!r} (columns: {', '.join(header)})")
    col = header.index(label) if label else len(header) - 1
    table = np.zeros((len(rows) - 1, len(header)))
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataFileError(f"{path}: row {r} has {len(row)} cells but the header has {len(header)}")
        for c, cell in enumerate(row):
            text = cell.strip()
            if text == "" or text.lower() in ("na", "nan", "null", "none", "?"):
                raise DataFileError(f"{path}: row {r}, column {header[c]!r}: missing value")
            try:
                table[r - 2, c] = float(text)
            except ValueError:
                raise DataFileError(f"{path}: row {r}, column {header[c]!r}: {text!r} is not a number") from None
    X = np.delete(table, col, axis=1)
    return (X.reshape((len(X), *shape)) if shape else X), _labels(table[:, col])


def read_npz(path, shape=()):
    """Arrays X (one row per sample) and y (one label per sample)."""
    with np.load(path, allow_pickle=False) as npz:
        if "X" not in npz or "y" not in npz:
            raise DataFileError(f"{path}: needs arrays named X and y; it has {', '.join(npz.files) or 'none'}")
        X, y = npz["X"].astype(np.float64), npz["y"]
    X = X[:, None] if X.ndim == 1 else X
    return (X.reshape((len(X), *shape)) if shape else X), _labels(y)


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx_array(path):
    """One IDX file (MNIST's format: 00 00, a type code, the rank, the sizes, the values), gzip or not."""
    import gzip
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] not in _IDX_TYPES:
        raise DataFileError(f"{path}: not an IDX file (IDX files start with 00 00, a type code and the rank)")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, _IDX_TYPES[raw[2]], count=int(np.prod(dims)), offset=4 + 4 * raw[3]).reshape(dims)


def read_idx(path, labels="", n=0):
    """MNIST's images and labels; the labels file is named as MNIST names it, unless given."""
    path = Path(path)
    labels = Path(labels) if labels else path.with_name(path.name.replace("images", "labels").replace("idx3", "idx1"))
    X, y = read_idx_array(path), read_idx_array(labels)
    if n:
        X, y = X[:n], y[:n]
    return _unit(X[:, None] if X.ndim == 3 else X), y.astype(np.int64)


def _cifar_batch(path):
    import pickle

    class Arrays(pickle.Unpickler):  # data only: a pickle that asks for code is refused
        def find_class(self, module, name):
            if name in ("_reconstruct", "ndarray", "dtype", "scalar", "encode") and module.split(".")[0] in (
                    "numpy", "_codecs"):
                return super().find_class(module, name)
            raise DataFileError(f"{path}: not a CIFAR batch: it asks to run {module}.{name}")

    with open(path, "rb") as fh:
        d = Arrays(fh, encoding="bytes").load()
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    data = np.asarray(d["data"])
    y = np.asarray(d["labels"] if "labels" in d else d["fine_labels"]).astype(np.int64)
    X = data.astype(np.float64)
    X = X if data.dtype.kind == "f" and X.max() <= 1.0 else X / 255.0
    return X.reshape(-1, 3, 32, 32), y


def read_cifar(path, n=0):
    """CIFAR-10's (or -100's) Python batches: one batch file, or the folder of data_batch_1 … 5."""
    path = Path(path)
    parts = [_cifar_batch(f) for f in (sorted(path.glob("data_batch_*")) if path.is_dir() else [path])]
    X, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return (X[:n], y[:n]) if n else (X, y)


def read_folder(path, size=0, grey=False):
    """One subfolder of images per class, sorted by name (labels 0, 1, …), as torchvision's ImageFolder."""
    try:
        from PIL import Image
    except ImportError:
        raise DataFileError("a folder of images needs Pillow: pip install pillow") from None
    classes = sorted(p for p in Path(path).iterdir() if p.is_dir() and not p.name.startswith("."))
    images, labels = [], []
    for label, folder in enumerate(classes):
        for f in sorted(f for f in folder.iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".gif")):
            with Image.open(f) as im:
                im = im.convert("L" if grey else "RGB")
                images.append(np.asarray(im.resize((size, size), Image.BILINEAR) if size else im))
            labels.append(label)
    X = np.stack(images)
    return _unit(X[:, None] if X.ndim == 3 else X.transpose(0, 3, 1, 2)), np.asarray(labels, np.int64)


def read_data(path, source=None, settings=None):
    """The samples and labels of a data file, in any of the formats above (by its name, or as
    ``source`` says); ``settings``: the reader's own (label, shape, labels, n, size, grey)."""
    path, settings = Path(path), dict(settings or {})
    if not path.exists():
        raise DataFileError(f"{path}: no such file or folder")
    if source is None:
        name = path.name.lower()
        source = ("cifar" if path.is_dir() and any(path.glob("data_batch_*")) else "folder" if path.is_dir() else
                  "npz" if name.endswith(".npz") else "csv" if name.endswith(".csv") else
                  "idx" if "idx" in name or "ubyte" in name else "cifar" if "batch" in name else None)
        settings = {}  # another file: as it is (the graph's own settings are for the graph's own file)
    readers = {"csv": read_csv, "npz": read_npz, "idx": read_idx, "cifar": read_cifar, "folder": read_folder}
    if source not in readers:
        raise DataFileError(f"{path}: not a data file this script reads (.csv, .npz, MNIST's IDX files, CIFAR's "
                            "batches, or a folder of one subfolder of images per class)")
    if settings.get("shape"):
        settings["shape"] = tuple(settings["shape"])
    return readers[source](path, **settings)


def prepare(X, y, pipeline):
    """The class filter, the seeded split and the preprocessing fitted on the training split, as
    gradviz makes them: {"X_train": …, "y_train": …, "X_val": …, …} (float32 samples)."""
    keep = pipeline.get("classes")
    if keep:
        relabel = np.full(max(int(y.max()), *keep) + 1, -1, np.int64)
        relabel[keep] = np.arange(len(keep))
        idx = np.flatnonzero(relabel[y] >= 0)
        X, y = X[idx], relabel[y[idx]]
    n = len(X)
    order = np.random.default_rng(pipeline.get("split_seed", 0)).permutation(n)
    n_test, n_val = int(round(pipeline.get("test", 0.0) * n)), int(round(pipeline.get("val", 0.0) * n))
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    if pipeline.get("n_train"):
        parts["train"] = np.sort(parts["train"][:pipeline["n_train"]])
    F = X[parts["train"]].reshape(len(parts["train"]), -1)
    method, eps = pipeline.get("preprocess", "none"), 1e-5
    if method in ("center", "standardize", "whiten"):
        mean = F.mean(axis=0)
    if method == "standardize":
        std = F.std(axis=0) + eps
    if method == "scale":
        lo, hi = F.min(axis=0), F.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
    if method == "whiten":
        lam, U = np.linalg.eigh(np.cov(F - mean, rowvar=False, bias=True).reshape(F.shape[1], F.shape[1]))
        proj = U / np.sqrt(np.maximum(lam, 0) + eps)

    def transform(A):
        G = A.reshape(len(A), -1)
        G = {"none": lambda: G, "center": lambda: G - mean, "standardize": lambda: (G - mean) / std,
             "scale": lambda: 2 * (G - lo) / span - 1, "whiten": lambda: (G - mean) @ proj}[method]()
        return G.reshape(A.shape).astype(np.float32)

    out = {}
    for name, idx in parts.items():
        if len(idx):
            out[f"X_{name}"] = transform(X[idx])
            out[f"y_{name}"] = y[idx].astype(np.int64) if y.dtype.kind in "iub" else y[idx].astype(np.float32)
    return out
'''


def data_section(graph, script_dir: Path) -> tuple[dict | None, dict]:
    """(the graph's data file as the exported file reads it: {"source", "path" (from the
    script's folder when it can be), "settings": its reader's}, or None for generated data;
    the pipeline: the class filter, the split and the preprocessing)."""
    from gradviz_core.data import checked
    spec = checked(graph.data) if graph.data else {}
    pipeline = {k: v for k, v in spec.items() if k in PIPELINE_KEYS and k != "augment"}
    if isinstance(spec.get("classes"), list):
        pipeline["classes"] = list(spec["classes"])
    if spec.get("source") not in FILE_SOURCES:
        return None, pipeline
    base = Path(graph.base_dir) if graph.base_dir else Path.cwd()
    settings = {k: v for k, v in spec.items() if k not in PIPELINE_KEYS and k not in ("source", "classes", "path")}
    if settings.get("labels"):
        settings["labels"] = _relative(Path(settings["labels"]).expanduser(), base, script_dir)
    for key, value in list(settings.items()):
        if isinstance(value, tuple):
            settings[key] = list(value)
    path = _relative(Path(spec["path"]).expanduser(), base, script_dir)
    return {"source": spec["source"], "path": path, "settings": settings}, pipeline


def _relative(path: Path, base: Path, script_dir: Path) -> str:
    """The path from the script's folder (absolute when the two share no root)."""
    full = (path if path.is_absolute() else base / path).resolve()
    try:
        return Path(os.path.relpath(full, script_dir.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return str(full)


def labels(y: np.ndarray) -> np.ndarray:
    """Labels as the exported files take them: class indices as int64, real values as float32."""
    return y.astype(np.int64) if y.dtype.kind in "iub" else y.astype(np.float32)


def generated_arrays(run) -> dict[str, np.ndarray]:
    """The split, preprocessed samples of generated data, as the arrays file holds them."""
    data = {}
    if run.splits is None:
        return data
    for name in ("train", "val", "test"):
        ds = getattr(run.splits, name)
        if ds is not None and len(ds):
            data[f"X_{name}"], data[f"y_{name}"] = ds.X.astype(np.float32), labels(ds.y)
    return data
