"""Seeded 2D toy data sets. Classification sets return X (n, 2) float64 and y (n,) int64;
regression sets return y (n,) float64. Every generator takes n, noise and seed."""
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


def circles(n: int = 200, noise: float = 0.05, seed: int = 0, factor: float = 0.5):
    """A ring around a disc: class 0 outside (radius 1), class 1 inside (radius ``factor``)."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.where(y == 0, 1.0, factor)
    X = np.c_[r * np.cos(t), r * np.sin(t)] + rng.standard_normal((n, 2)) * noise
    return X, y


def xor(n: int = 200, noise: float = 0.1, seed: int = 0):
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


def moons(n: int = 200, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    t = rng.uniform(0, np.pi, n)
    X = np.where(y[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    return X - [0.5, 0.25] + rng.standard_normal((n, 2)) * noise, y


def linear(n: int = 200, noise: float = 0.1, seed: int = 0):
    """Two classes split by the line x₂ = 0.5·x₁ (with label noise from ``noise``)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    y = (X[:, 1] - 0.5 * X[:, 0] + rng.standard_normal(n) * noise > 0).astype(np.int64)
    return X, y


def checkerboard(n: int = 400, noise: float = 0.0, seed: int = 0, tiles: int = 4):
    """A tiles×tiles checkerboard on [−1, 1]²."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    cell = np.floor((X + 1) / 2 * tiles).clip(0, tiles - 1).astype(int)
    y = ((cell[:, 0] + cell[:, 1]) % 2).astype(np.int64)
    return X + rng.standard_normal(X.shape) * noise, y


def plane(n: int = 200, noise: float = 0.1, seed: int = 0):
    """Regression: y = 0.7·x₁ − 0.4·x₂ + 0.2 + noise."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, X @ [0.7, -0.4] + 0.2 + rng.standard_normal(n) * noise


def bumps(n: int = 300, noise: float = 0.05, seed: int = 0):
    """Regression: a sum of two Gaussian bumps, one up and one down."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    up = np.exp(-np.sum((X - [0.4, 0.3]) ** 2, axis=1) / 0.1)
    down = np.exp(-np.sum((X + [0.4, 0.3]) ** 2, axis=1) / 0.1)
    return X, up - down + rng.standard_normal(n) * noise


CLASSIFICATION = {"spiral": spiral, "circles": circles, "xor": xor, "blobs": blobs, "moons": moons,
                  "linear": linear, "checkerboard": checkerboard}
REGRESSION = {"plane": plane, "bumps": bumps}
GENERATORS = {**CLASSIFICATION, **REGRESSION}
