"""Datasets for a graph, described by a small JSON-able spec.

``{"source": "spiral", "n": 300, "classes": 3, "noise": 0.2, "seed": 0}`` makes a toy set;
``{"source": "inline", "X": [[...], ...], "y": [...]}`` holds the samples in the graph file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from gradviz_core.data import toy2d
from gradviz_core.errors import GradvizError


class DataError(GradvizError):
    """A data spec or data file that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray
    y: np.ndarray
    classes: int | None  # None for real-valued targets

    def info(self) -> dict:
        return {"sample_shape": self.X.shape[1:], "label_shape": self.y.shape[1:],
                "classes": self.classes}

    def batch(self, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The first ``size`` samples of a seeded shuffle (all samples if size ≤ 0)."""
        order = np.random.default_rng(seed).permutation(len(self.X))
        if size > 0:
            order = order[:size]
        return self.X[order], self.y[order]


SOURCES = ("inline",) + tuple(toy2d.GENERATORS)


def load_dataset(spec: dict) -> Dataset:
    """Build the dataset a graph's ``data`` section describes."""
    return _load(json.dumps(spec, sort_keys=True))


@lru_cache(maxsize=16)
def _load(key: str) -> Dataset:
    spec = json.loads(key)
    source = spec.get("source")
    if source == "inline":
        return _inline(spec)
    if source in toy2d.GENERATORS:
        args = {k: v for k, v in spec.items() if k != "source"}
        try:
            X, y = toy2d.GENERATORS[source](**args)
        except TypeError as exc:
            raise DataError(f"data: bad setting for '{source}': {exc}") from None
        return Dataset(X, y, int(y.max()) + 1)
    raise DataError(f"data: unknown source {source!r}; choose one of {', '.join(SOURCES)}")


def _inline(spec: dict) -> Dataset:
    try:
        X = np.asarray(spec["X"], dtype=np.float64)
        y = np.asarray(spec["y"])
    except KeyError as exc:
        raise DataError(f"data: inline data needs {exc.args[0]!r}") from None
    except ValueError as exc:
        raise DataError(f"data.X: not a rectangular table of numbers ({exc})") from None
    if X.ndim < 2:
        X = X.reshape(len(X), -1) if X.ndim == 1 else X
    if len(X) != len(y):
        raise DataError(f"data: X has {len(X)} samples but y has {len(y)} labels")
    if y.dtype.kind in "iub" or (y.dtype.kind == "f" and np.all(y == np.round(y)) and spec.get("classes")):
        y = y.astype(np.int64)
        return Dataset(X, y, int(spec.get("classes") or (y.max() + 1)))
    return Dataset(X, y.astype(np.float64), None)
