"""Seeded 2D toy data sets for classification. Each returns X (n, 2) float64, y (n,) int64."""
from __future__ import annotations

import numpy as np


def spiral(n: int = 300, classes: int = 3, noise: float = 0.2, seed: int = 0):
    """K interleaved spiral arms (the cs231n spiral): n points in all, n/K per arm."""
    rng = np.random.default_rng(seed)
    per = n // classes
    X, y = [], []
    for k in range(classes):
        r = np.linspace(0.0, 1.0, per)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, per) + rng.standard_normal(per) * noise
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(per, k))
    return np.concatenate(X), np.concatenate(y).astype(np.int64)


def xor(n: int = 200, classes: int = 2, noise: float = 0.1, seed: int = 0):
    """Points in [−1, 1]²; class 1 where x₁ and x₂ have the same sign."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return X + rng.standard_normal(X.shape) * noise, y


def blobs(n: int = 200, classes: int = 3, noise: float = 0.3, seed: int = 0):
    """K Gaussian blobs with centres evenly spaced on the unit circle."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    angle = 2 * np.pi * y / classes
    X = np.c_[np.cos(angle), np.sin(angle)] + rng.standard_normal((n, 2)) * noise
    return X, y.astype(np.int64)


GENERATORS = {"spiral": spiral, "xor": xor, "blobs": blobs}
