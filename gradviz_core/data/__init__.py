"""Datasets for a graph, described by a small JSON-able spec (the graph file's ``data``).

Sources: the toy 2D sets (``{"source": "spiral", "n": 300, "classes": 3, "noise": 0.2,
"seed": 0}``), ``digits``, ``shapes``, ``csv`` and ``npz`` files (``"path"`` relative to
the graph file, ``"label"`` column, ``"shape"`` of a sample), the image sets as distributed
(``idx``: MNIST's files, ``cifar``: CIFAR's Python batches, ``folder``: one subfolder of
images per class; ``imagefiles``), or ``inline`` arrays
``"X"`` and ``"y"``. The pipeline keys ``val`` and ``test`` (fractions held out),
``preprocess`` and ``augment`` ({"flip", "shift", "jitter"}) apply to any source.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from gradviz_core.data import files, imagefiles, images, toy2d
from gradviz_core.data.files import DataError
from gradviz_core.data.preprocess import Preprocessor

PIPELINE_KEYS = ("val", "test", "preprocess", "augment", "split_seed", "n_train")
#: the sources read from files: their "path" (and "labels") start from the graph file's folder
READERS = {"csv": files.read_csv, "npz": files.read_npz, "idx": imagefiles.read_idx,
           "cifar": imagefiles.read_cifar, "folder": imagefiles.read_folder}
FILE_SOURCES = tuple(READERS)
SOURCES = ("inline", "digits", "shapes", "random", "csv", "npz") + tuple(toy2d.GENERATORS)

__all__ = ["DataError", "Dataset", "Splits", "load_dataset", "make_splits", "SOURCES"]


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray
    y: np.ndarray
    classes: int | None  # None for real-valued targets

    def info(self) -> dict:
        return {"sample_shape": self.X.shape[1:], "label_shape": self.y.shape[1:],
                "classes": self.classes, "n": len(self.X)}

    def __len__(self) -> int:
        return len(self.X)

    def batch(self, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The first ``size`` samples of a seeded shuffle (all samples if size ≤ 0)."""
        order = np.random.default_rng(seed).permutation(len(self.X))
        if size > 0:
            order = order[:size]
        return self.X[order], self.y[order]

    def subset(self, idx: np.ndarray) -> "Dataset":
        return Dataset(self.X[idx], self.y[idx], self.classes)


@dataclass(frozen=True)
class Splits:
    train: Dataset
    val: Dataset | None
    test: Dataset | None
    preprocessor: Preprocessor
    augment: dict


def checked(spec: dict) -> dict:
    """The data section with its settings checked and converted (DataError if one is bad)."""
    from gradviz_core.data.spec import check_data
    from gradviz_core.errors import ParamError
    try:
        return check_data(spec)
    except ParamError as exc:
        raise DataError(str(exc)) from None


def load_dataset(spec: dict, base_dir: str | os.PathLike | None = None) -> Dataset:
    """The dataset a graph's ``data`` section describes, before split and preprocessing (with
    its class filter applied: the kept classes are relabelled 0, 1, …)."""
    spec = checked(spec)
    keep = spec.get("classes") if isinstance(spec.get("classes"), list) else None
    source_spec = {k: v for k, v in spec.items() if k not in PIPELINE_KEYS and not (k == "classes" and keep)}
    stamp = None
    if source_spec.get("source") in FILE_SOURCES and "path" in source_spec:
        path = _resolve(source_spec["path"], base_dir)
        stamp = path.stat().st_mtime_ns if path.exists() else None
        source_spec["path"] = str(path)
        if source_spec.get("labels"):
            source_spec["labels"] = str(_resolve(source_spec["labels"], base_dir))
    ds = _load(json.dumps(source_spec, sort_keys=True), stamp)
    return ds if keep is None else _keep_classes(ds, keep)


def _keep_classes(ds: Dataset, keep: list[int]) -> Dataset:
    if ds.classes is None:
        raise DataError("data.classes: a class filter needs class labels, but this data has real values")
    missing = [c for c in keep if c >= ds.classes]
    if missing:
        raise DataError(f"data.classes: the data has classes 0..{ds.classes - 1}; there is no class "
                        f"{', '.join(map(str, missing))}")
    relabel = np.full(ds.classes, -1, dtype=np.int64)
    relabel[keep] = np.arange(len(keep))
    idx = np.flatnonzero(relabel[ds.y] >= 0)
    return Dataset(ds.X[idx], relabel[ds.y[idx]], len(keep))


def make_splits(spec: dict, base_dir=None) -> Splits:
    """Split into train / validation / test (seeded), then fit preprocessing on train."""
    spec = checked(spec)
    ds = load_dataset(spec, base_dir)
    val, test = float(spec.get("val", 0.0)), float(spec.get("test", 0.0))
    n = len(ds)
    order = np.random.default_rng(spec.get("split_seed", 0)).permutation(n)
    n_test, n_val = int(round(test * n)), int(round(val * n))
    parts = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    if len(parts[2]) == 0:
        raise DataError(f"data: the split leaves no training sample ({n} samples, val = {val:g}, "
                        f"test = {test:g}); use more samples or smaller val and test")
    if spec.get("n_train"):
        if spec["n_train"] > len(parts[2]):
            raise DataError(f"data.n_train = {spec['n_train']}: the training split has only "
                            f"{len(parts[2])} samples")
        parts = parts[0], parts[1], np.sort(parts[2][:spec["n_train"]])
    pre = Preprocessor(spec.get("preprocess", "none")).fit(ds.X[parts[2]])

    def make(idx):
        return Dataset(pre.transform(ds.X[idx]), ds.y[idx], ds.classes) if len(idx) else None

    return Splits(make(parts[2]), make(parts[1]), make(parts[0]), pre, dict(spec.get("augment", {})))


def _resolve(path: str, base_dir) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() or base_dir is None else Path(base_dir) / p


@lru_cache(maxsize=16)
def _load(key: str, stamp) -> Dataset:
    spec = json.loads(key)
    source = spec.pop("source", None)
    _check_fits(source, spec)
    if source == "inline":
        return _inline(spec)
    try:
        if source in toy2d.GENERATORS:
            X, y = toy2d.GENERATORS[source](**spec)
        elif source == "digits":
            X, y = images.digits(**spec)
        elif source == "shapes":
            X, y = images.shapes(**spec)
        elif source == "random":
            X, y = images.random(**spec)
        elif source in FILE_SOURCES:
            if "path" not in spec:
                raise DataError(f"data: a {source} source needs a \"path\"")
            path = Path(spec.pop("path"))
            try:
                X, y = READERS[source](path, **spec)
            except MemoryError:  # past every estimate (the machine's memory taken meanwhile)
                raise DataError(f"{path}: does not fit in the memory this machine has free") from None
        else:
            raise DataError(f"data: unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    except TypeError as exc:
        raise DataError(f"data: bad setting for '{source}': {exc}") from None
    return _dataset(X, y, where=path if source in FILE_SOURCES else "data")


def _check_fits(source: str, spec: dict) -> None:
    """Refuse, before generating it, a data set that will not fit in memory."""
    import math

    from gradviz_core.errors import GradvizError
    from gradviz_core.memory import check_data_fits
    values = 2 if source in toy2d.GENERATORS else (
        spec.get("size", 16) ** 2 if source == "shapes" else
        math.prod(spec.get("shape", (2,))) if source == "random" else None)
    if values is not None:
        try:
            check_data_fits(int(spec.get("n", 300)), values)
        except GradvizError as exc:
            raise DataError(str(exc)) from None


def _dataset(X: np.ndarray, y: np.ndarray, classes: int | None = None, where="data") -> Dataset:
    """``where``: the file the samples came from, or "data", for the messages."""
    if len(X) == 0:
        raise DataError(f"{where}: the dataset is empty (0 samples)")
    if X.size == 0:
        raise DataError(f"{where}: the samples have no features (shape {X.shape[1:]}); is the label the "
                        "only column?")
    bad = ~np.isfinite(X.reshape(len(X), -1)).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(f"{where}: {len(rows)} samples hold NaN or infinity, the first is sample {rows[0]}; "
                        "clean the data or leave those samples out")
    if y.dtype.kind in "iub":
        y = y.astype(np.int64)
        if y.min() < 0:
            first = int(np.flatnonzero(y < 0)[0])
            raise DataError(f"{where}: sample {first} has the label {y[first]}; class labels are whole numbers "
                            "0, 1, 2, … (none below 0)")
        k = classes or int(y.max()) + 1
        if y.max() >= k:
            first = int(np.flatnonzero(y >= k)[0])
            raise DataError(f"{where}: sample {first} has the label {y[first]}, but data.classes = {k} allows "
                            f"only 0 … {k - 1}")
        return Dataset(X, y, k)
    if not np.isfinite(y).all():
        first = int(np.flatnonzero(~np.isfinite(y.reshape(len(y), -1)).all(axis=1))[0])
        raise DataError(f"data: sample {first} has a NaN or infinite label")
    if y.ndim == 2:  # a table of labels (multi-task): columns of whole numbers ≥ 0 are classes
        whole = [c for c in range(y.shape[1]) if np.all(y[:, c] == np.round(y[:, c])) and y[:, c].min() >= 0]
        if whole:
            return Dataset(X, y, classes or int(y[:, whole].max()) + 1)
    return Dataset(X, y, None)


def _inline(spec: dict) -> Dataset:
    try:
        X = np.asarray(spec["X"], dtype=np.float64)
        y = np.asarray(spec["y"])
    except KeyError as exc:
        raise DataError(f"data: inline data needs {exc.args[0]!r}") from None
    except ValueError as exc:
        raise DataError(f"data.X: not a rectangular table of numbers ({exc})") from None
    if X.ndim == 0:
        raise DataError("data.X: give one row of numbers per sample")
    if X.ndim == 1:
        X = X.reshape(len(X), -1)
    if len(X) != len(y):
        raise DataError(f"data: X has {len(X)} samples but y has {len(y)} labels")
    if y.dtype.kind == "f" and np.all(y == np.round(y)) and "classes" in spec:
        y = y.astype(np.int64)
    return _dataset(X, y if y.dtype.kind in "iub" else y.astype(np.float64), spec.get("classes"))
