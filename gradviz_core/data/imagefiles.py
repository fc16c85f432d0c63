"""Image data sets as the field distributes them: MNIST's IDX files, CIFAR-10's Python batches
and a folder of images sorted into one folder per class (torchvision's ImageFolder, Keras'
image_dataset_from_directory). Each gives X (n, C, H, W) in [0, 1] and integer labels y (n,);
each problem names the file.
"""
from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

from gradviz_core.data.files import DataError

#: IDX's type codes
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":  # gzip, as MNIST is distributed
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: a broken gzip file ({exc})") from None
    return raw


def read_idx_array(path: Path) -> np.ndarray:
    """One IDX file (http://yann.lecun.com/exdb/mnist/: magic 0, 0, type, rank; sizes; data)."""
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (wrong magic number {raw[:4].hex() or 'none'}; "
                        "IDX files start with 00 00, a type code and the rank)")
    rank = raw[3]
    head = 4 + 4 * rank
    if len(raw) < head:
        raise DataError(f"{path}: the IDX header is cut short")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    need = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - head != need:
        raise DataError(f"{path}: the header says {'×'.join(map(str, dims))} values ({need} bytes) but the file "
                        f"holds {len(raw) - head} bytes after it")
    return np.frombuffer(raw, dtype, offset=head).reshape(dims)


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
    if n:
        X, y = X[:n], y[:n]
    X = X[:, None] if X.ndim == 3 else X
    return _unit(X), y.astype(np.int64)


def _unit(X: np.ndarray) -> np.ndarray:
    """Pixels as floats in [0, 1] (8-bit images are divided by 255)."""
    return X.astype(np.float64) / 255.0 if X.dtype == np.uint8 else X.astype(np.float64)


class _Arrays(pickle.Unpickler):
    """Unpickles NumPy arrays, lists, dicts, numbers and strings only: a CIFAR batch, never code."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not data")


def read_cifar_batch(path: Path):
    raw = _read_bytes(path)
    try:
        import io
        d = _Arrays(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DataError(f"{path}: not a CIFAR batch (a pickled dict of data and labels): {exc}") from None
    if not isinstance(d, dict):
        raise DataError(f"{path}: not a CIFAR batch: it holds a {type(d).__name__}, not a dict")
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    key = next((k for k in ("labels", "fine_labels") if k in d), None)
    if "data" not in d or key is None:
        raise DataError(f"{path}: a CIFAR batch has 'data' and 'labels' (or 'fine_labels'); this one has "
                        f"{', '.join(map(str, d)) or 'nothing'}")
    data = np.asarray(d["data"])
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: 'data' has shape {data.shape}; CIFAR's is (n, 3072), 32×32 pixels in 3 colours")
    y = np.asarray(d[key], dtype=np.int64)
    if len(y) != len(data):
        raise DataError(f"{path}: {len(y)} labels for {len(data)} images")
    return data.reshape(-1, 3, 32, 32), y


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
    return _unit(X), y


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
    for label, folder in enumerate(classes):
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this class's folder")
        for f in files:
            try:
                with Image.open(f) as im:
                    im = im.convert("L" if grey else "RGB")
                    if size:
                        im = im.resize((size, size), Image.BILINEAR)
                    a = np.asarray(im)
            except (UnidentifiedImageError, OSError) as exc:
                raise DataError(f"{f}: not a readable image ({exc})") from None
            if first is None:
                first = (f, a.shape)
            elif a.shape != first[1]:
                raise DataError(f"{f}: is {a.shape[1]}×{a.shape[0]} but {first[0].name} is "
                                f"{first[1][1]}×{first[1][0]}; set data.size to resize every image")
            images.append(a)
            labels.append(label)
    X = np.stack(images)
    X = X[:, None] if X.ndim == 3 else X.transpose(0, 3, 1, 2)
    return _unit(X), np.asarray(labels, np.int64)
