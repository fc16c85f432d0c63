"""Image augmentation for training batches (N, C, H, W): flips, shifts and intensity jitter."""
from __future__ import annotations

import numpy as np


def augment(X: np.ndarray, rng: np.random.Generator, flip: bool = False, shift: int = 0,
            jitter: float = 0.0) -> np.ndarray:
    """A new batch: each image flipped left–right with probability ½ (``flip``), moved by up
    to ``shift`` pixels each way with zeros coming in (a random crop of the padded image),
    and with its intensity x ↦ (1 + a)·x + b, a, b ~ U[−jitter, jitter]. Points (N, D) take
    ``jitter`` only: each moved by Gaussian noise of that standard deviation."""
    if X.ndim == 2 and jitter:
        return X + rng.normal(0.0, jitter, X.shape).astype(X.dtype)
    if X.ndim != 4 or not (flip or shift or jitter):
        return X
    out = X.copy()
    n, _, h, w = X.shape
    if flip:
        which = rng.random(n) < 0.5
        out[which] = out[which, :, :, ::-1]
    if shift:
        pad = np.pad(out, ((0, 0), (0, 0), (shift, shift), (shift, shift)))
        dy, dx = rng.integers(0, 2 * shift + 1, size=(2, n))
        for i in range(n):
            out[i] = pad[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
    if jitter:
        a = rng.uniform(-jitter, jitter, (n, 1, 1, 1))
        b = rng.uniform(-jitter, jitter, (n, 1, 1, 1))
        out = out * (1 + a) + b
    return out
