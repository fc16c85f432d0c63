"""Small image sets: the 8×8 digits that ship with scikit-learn, and synthetic shapes."""
from __future__ import annotations

import numpy as np


def digits():
    """1,797 real 8×8 handwritten digits (scikit-learn's copy of the UCI set), scaled to [0, 1].

    The file is read straight from the installed scikit-learn package: importing
    ``sklearn.datasets`` would take most of a second. Its rows are 64 pixels (0..16), then the label.
    -> X (1797, 1, 8, 8) float64, y (1797,) int64 in 0..9
    """
    import gzip
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec else None
    if path is None or not path.exists():
        from gradviz_core.data.files import DataError
        raise DataError("data: the digits come with scikit-learn, which is not installed "
                        "(pip install scikit-learn)")
    with gzip.open(path, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",")
    return (table[:, :64] / 16.0).reshape(-1, 1, 8, 8), table[:, 64].astype(np.int64)


SHAPE_NAMES = ("bar", "cross", "circle")


def shapes(n: int = 600, size: int = 16, noise: float = 0.1, seed: int = 0):
    """Synthetic size×size images of bars (any angle), crosses and circles.

    Each image has one shape of random size, position and thickness, plus Gaussian noise.
    -> X (n, 1, size, size) float64 in about [0, 1], y (n,) int64: 0 bar, 1 cross, 2 circle
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    X = np.zeros((n, 1, size, size))
    y = (np.arange(n) % 3).astype(np.int64)
    for i in range(n):
        cx, cy = rng.uniform(size * 0.35, size * 0.65, 2)
        r = rng.uniform(size * 0.2, size * 0.4)
        w = rng.uniform(0.7, 1.4)
        if y[i] == 0:
            a = rng.uniform(0, np.pi)
            img = _segment(xx, yy, cx, cy, a, r, w)
        elif y[i] == 1:
            a = rng.uniform(0, np.pi / 2)
            img = np.maximum(_segment(xx, yy, cx, cy, a, r, w), _segment(xx, yy, cx, cy, a + np.pi / 2, r, w))
        else:
            img = (np.abs(np.hypot(xx - cx, yy - cy) - r * 0.8) < w).astype(float)
        X[i, 0] = img + rng.standard_normal((size, size)) * noise
    return X, y


def _segment(xx, yy, cx, cy, angle, half, width):
    dx, dy = np.cos(angle), np.sin(angle)
    along = (xx - cx) * dx + (yy - cy) * dy
    across = -(xx - cx) * dy + (yy - cy) * dx
    return ((np.abs(along) <= half) & (np.abs(across) < width)).astype(float)


def random(n: int = 256, shape: tuple = (2,), classes: int = 2, seed: int = 0):
    """Gaussian noise samples with uniform random labels: for benchmarks and for trying shapes.
    -> X (n, *shape) float64, y (n,) int64"""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)), rng.integers(0, classes, n).astype(np.int64)
