"""Image data sets as the field distributes them: MNIST's IDX files, CIFAR-10's Python batches
and a folder of images sorted into one folder per class (torchvision's ImageFolder, Keras'
image_dataset_from_directory). Each gives X (n, C, H, W) in [0, 1] and integer labels y (n,);
each problem names the file.
"""
from __future__ import annotations

import math
import pickle
import warnings
from pathlib import Path

import numpy as np

from gradviz_core import fsio
from gradviz_core.data.files import DataError
from gradviz_core.memory import data_bytes

#: IDX's type codes
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
#: the most pixels an image file may claim (a 16-megapixel photo; more is a decompression bomb)
MAX_PIXELS = 1 << 24


def read_idx_array(path: Path) -> np.ndarray:
    """One IDX file (http://yann.lecun.com/exdb/mnist/: magic 0, 0, type, rank; sizes; data),
    sized from its header before its data is read (or, gzipped, inflated)."""
    with fsio.open_data(path, DataError, "IDX file") as fh:
        try:
            magic = fh.read(4)
            head = fh.read(4 * magic[3]) if len(magic) == 4 else b""
        except fsio.GZIP_ERRORS:
            raise DataError(f"{path}: a broken gzip file (its compressed data is damaged)") from None
        if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES:
            raise DataError(f"{path}: not an IDX file (IDX files start with the bytes 00 00, a type code "
                            "and the rank, as MNIST's train-images-idx3-ubyte does)")
        rank = magic[3]
        if len(head) < 4 * rank:
            raise DataError(f"{path}: the IDX header is cut short")
        dims = tuple(int.from_bytes(head[4 * i:4 * i + 4], "big") for i in range(rank))
        dtype = np.dtype(_IDX_TYPES[magic[2]])
        count = math.prod(dims)  # Python ints: 65536⁴ is 2⁶⁴, not 0
        fsio.check_fits(path, max(count * dtype.itemsize, data_bytes(dims[0] if dims else 1, math.prod(dims[1:]))),
                        DataError, f"its {' × '.join(map(str, dims))} values")
        raw = fsio.read_exactly(fh, count * dtype.itemsize, path, DataError,
                                f"the header says {' × '.join(map(str, dims))} values")
    return np.frombuffer(raw, dtype).reshape(dims)


def labels_beside(images: Path) -> Path:
    """MNIST's naming: train-images-idx3-ubyte(.gz) -> train-labels-idx1-ubyte(.gz)."""
    return images.with_name(images.name.replace("images", "labels").replace("idx3", "idx1"))


def read_idx(path: Path, labels: str = "", n: int = 0):
    """MNIST / Fashion-MNIST: an IDX file of images (n, H, W) and one of labels (n,)."""
    lpath = Path(labels) if labels else labels_beside(path)
    if lpath == path:
        raise DataError(f"{path}: give the labels file too (data.labels), e.g. train-labels-idx1-ubyte.gz")
    X, y = read_idx_array(path), read_idx_array(lpath)
    if X.ndim not in (3, 4):
        raise DataError(f"{path}: holds an array of shape {X.shape}; images are (n, H, W) or (n, C, H, W)")
    if y.ndim != 1:
        raise DataError(f"{lpath}: holds an array of shape {y.shape}; labels are one number per image")
    if len(X) != len(y):
        raise DataError(f"{lpath}: {len(y)} labels for the {len(X)} images of {path.name}")
    _whole_labels(lpath, y)
    if n:
        X, y = X[:n], y[:n]
    X = X[:, None] if X.ndim == 3 else X
    return _unit(X), y.astype(np.int64)


def _unit(X: np.ndarray) -> np.ndarray:
    """Pixels as floats in [0, 1] (8-bit images are divided by 255)."""
    return X.astype(np.float64) / 255.0 if X.dtype == np.uint8 else X.astype(np.float64)


def _whole_labels(path: Path, y: np.ndarray) -> None:
    """Class labels are whole numbers 0, 1, 2, …: the first that is not is named, with its file."""
    if y.dtype.kind not in "iu":
        raise DataError(f"{path}: the labels are {y.dtype} numbers; class labels are whole numbers 0, 1, 2, …")
    bad = np.flatnonzero(y < 0)
    if len(bad):
        raise DataError(f"{path}: sample {bad[0]} has the label {y[bad[0]]}; class labels are whole numbers "
                        "0, 1, 2, … (none below 0)")


def _pixels(path: Path, data: np.ndarray) -> np.ndarray:
    """CIFAR's pixels, 0 … 255 whatever their type (uint8 as distributed, or floats in some
    conversions), as floats in [0, 1]; pixels already in [0, 1] are kept."""
    if data.dtype.kind not in "iuf":
        raise DataError(f"{path}: 'data' holds {'text' if data.dtype.kind in 'SU' else data.dtype}, not pixel "
                        "values (whole numbers 0 … 255)")
    X = data.astype(np.float64)
    if X.size and not np.isfinite(X).all():
        raise DataError(f"{path}: 'data' holds NaN or infinite pixel values")
    lo, hi = (X.min(), X.max()) if X.size else (0.0, 0.0)
    if lo < 0 or hi > 255:
        raise DataError(f"{path}: 'data' holds pixel values from {lo:g} to {hi:g}; CIFAR's are 0 … 255")
    return X if data.dtype.kind == "f" and hi <= 1.0 else X / 255.0


class _NotData(pickle.UnpicklingError):
    """A pickle that asks for something other than data: code to run."""


class _Arrays(pickle.Unpickler):
    """Unpickles NumPy arrays, lists, dicts, numbers and strings only: a CIFAR batch, never code."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise _NotData(f"{module}.{name}"[:80])


def read_cifar_batch(path: Path):
    raw = fsio.read_all(path, DataError, "CIFAR batch")
    try:
        import io
        d = _Arrays(io.BytesIO(raw), encoding="bytes").load()
    except (MemoryError, OverflowError):
        raise DataError(f"{path}: not a CIFAR batch: it declares a field larger than the file") from None
    except _NotData as exc:
        raise DataError(f"{path}: not a CIFAR batch: it asks to run {exc} when it is read; {exc} is not data, "
                        "and gradviz reads only data (never code) from a pickle") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError):
        raise DataError(f"{path}: not a CIFAR batch (CIFAR's Python version is a pickled dict of 'data' "
                        "and 'labels', as data_batch_1 of cifar-10-python.tar.gz)") from None
    if not isinstance(d, dict):
        raise DataError(f"{path}: not a CIFAR batch: it holds a {type(d).__name__}, not a dict")
    d = {k.decode(errors="replace") if isinstance(k, bytes) else k: v for k, v in d.items()}
    key = next((k for k in ("labels", "fine_labels") if k in d), None)
    if "data" not in d or key is None:
        raise DataError(f"{path}: a CIFAR batch has 'data' and 'labels' (or 'fine_labels'); this one has "
                        f"{', '.join(repr(k)[:40] for k in d) or 'nothing'}")
    try:
        data, y = np.asarray(d["data"]), np.asarray(d[key])
    except (ValueError, TypeError):
        raise DataError(f"{path}: 'data' and '{key}' must be arrays (or lists) of numbers") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: 'data' has shape {data.shape}; CIFAR's is (n, 3072), 32×32 pixels in 3 colours")
    if y.ndim != 1 or (y.dtype.kind == "f" and not np.all(y == np.round(y))) or y.dtype.kind not in "iuf":
        raise DataError(f"{path}: '{key}' must be one whole number per image (the class 0, 1, 2, …), "
                        f"not {'text' if y.dtype.kind in 'SU' else f'{y.dtype} of shape {y.shape}'}")
    y = y.astype(np.int64)
    _whole_labels(path, y)
    if len(y) != len(data):
        raise DataError(f"{path}: {len(y)} labels for {len(data)} images")
    return _pixels(path, data).reshape(-1, 3, 32, 32), y


def read_cifar(path: Path, n: int = 0):
    """CIFAR-10 (or -100) Python batches: one batch file, or the folder that holds data_batch_1 … 5."""
    if path.is_dir():
        files = sorted(path.glob("data_batch_*"))
        if not files:
            raise DataError(f"{path}: no data_batch_1 … data_batch_5 in this folder (CIFAR-10's Python version)")
    else:
        files = [path]
    parts = [read_cifar_batch(f) for f in files]
    X, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    if n:
        X, y = X[:n], y[:n]
    return X, y


def read_folder(path: Path, size: int = 0, grey: bool = False):
    """One subfolder per class (sorted by name: the labels 0, 1, …), PNG/JPEG/BMP/GIF images in
    each, resized to size×size (0: as they are, then all must have one size)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DataError("a folder of images needs Pillow: pip install pillow") from None
    if not path.is_dir():
        raise DataError(f"{path}: {'no such folder' if not path.exists() else 'not a folder'}; give the folder "
                        "that holds one subfolder per class")
    classes = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"{path}: needs one subfolder per class (at least 2), each holding that class's images; "
                        f"it has {len(classes)}")
    images, labels, first = [], [], None
    files = []
    for label, folder in enumerate(classes):
        found = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise DataError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this class's folder")
        files += [(label, f) for f in found]
    for label, f in files:
        fsio.regular_file(f, DataError, "image")  # a pipe named x.png is refused, never opened
        a = _image(f, Image, UnidentifiedImageError, size, grey)
        if first is None:
            first = (f, a.shape)
            fsio.check_fits(path, data_bytes(len(files), a.size), DataError,
                            f"its {len(files)} images of {a.shape[1]}×{a.shape[0]} pixels")
        elif a.shape != first[1]:
            raise DataError(f"{f}: is {a.shape[1]}×{a.shape[0]} but {first[0].name} is "
                            f"{first[1][1]}×{first[1][0]}; set data.size to resize every image")
        images.append(a)
        labels.append(label)
    X = np.stack(images)
    X = X[:, None] if X.ndim == 3 else X.transpose(0, 3, 1, 2)
    return _unit(X), np.asarray(labels, np.int64)


def _image(f: Path, Image, UnidentifiedImageError, size: int, grey: bool) -> np.ndarray:
    """One image file's pixels, its size read from its header before it is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(f) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise Image.DecompressionBombError(f"{im.width}×{im.height}")
                im = im.convert("L" if grey else "RGB")
                if size:
                    im = im.resize((size, size), Image.BILINEAR)
                return np.asarray(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"{f}: claims more than {MAX_PIXELS // 10**6} million pixels, more than an image "
                        "gradviz learns from may have (is it damaged?)") from None
    except UnidentifiedImageError:
        raise DataError(f"{f}: not a readable image (gradviz reads PNG, JPEG, BMP and GIF)") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise DataError(f"{f}: a damaged image (its pixels cannot be read)") from None
