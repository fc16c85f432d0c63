"""Tensors as heatmaps, on a diverging colour map centred at zero (blue below, white at 0, red
above), and the numbers that summarize them. Used by the canvas thumbnails and the values panel."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

MINUS = "−"


def num(x) -> str:
    """A number as the student reads it: 4 significant digits and a real minus sign."""
    x = float(x)
    if not np.isfinite(x):
        return "NaN" if np.isnan(x) else ("∞" if x > 0 else f"{MINUS}∞")
    text = f"{x + 0.0:.4g}"  # + 0.0: −0 (a gradient of −c · 0, say) reads as 0
    return text.replace("-", MINUS)


def plane(a: np.ndarray, sample: int = 0, channel: int = 0) -> np.ndarray:
    """The 2D slice of a tensor that a heatmap shows: (N, C, H, W) → one sample's channel;
    (N, D) → the batch as rows; (D,) → one row; a scalar → 1×1."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 4:
        return a[min(sample, a.shape[0] - 1), min(channel, a.shape[1] - 1)]
    if a.ndim == 3:
        return a[min(sample, a.shape[0] - 1)]
    if a.ndim == 2:
        return a
    return a.reshape(1, -1)


def sample_grid(X: np.ndarray, cols: int = 4) -> np.ndarray:
    """Image samples (N, C, H, W) as they look: a grid of ``cols`` columns, (rows, cols) tiles
    with a white border, (H', W', 3) uint8; three channels in colour, one (or the first of
    others) in grey, scaled together from their lowest to their highest value."""
    imgs = X[:, :3] if X.shape[1] == 3 else X[:, :1]
    imgs = np.nan_to_num(np.asarray(imgs, np.float64))
    lo, hi = float(imgs.min()), float(imgs.max())
    t = (imgs - lo) / (hi - lo) if hi > lo else np.zeros_like(imgs)
    tiles = (np.repeat(t, 3 // t.shape[1], axis=1).transpose(0, 2, 3, 1) * 255).astype(np.uint8)
    n, h, w = tiles.shape[:3]
    rows = -(-n // cols)
    grid = np.full((rows * (h + 2), min(n, cols) * (w + 2), 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        grid[r * (h + 2) + 1:r * (h + 2) + 1 + h, c * (w + 2) + 1:c * (w + 2) + 1 + w] = tile
    return grid


def diverging_rgb(p: np.ndarray, scale: float | None = None) -> np.ndarray:
    """(H, W) values → (H, W, 3) uint8: blue for negative, white for 0, red for positive."""
    if p.size == 0:  # an empty tensor: one white pixel
        return np.full((1, 1, 3), 255, np.uint8)
    s = float(np.nanmax(np.abs(p))) if np.isfinite(p).any() and scale is None else (scale or 0.0)
    t = np.clip(np.nan_to_num(p) / s, -1, 1) if s > 0 else np.zeros_like(p)
    rgb = np.empty(p.shape + (3,))
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    rgb[..., 0] = 1 - 0.82 * neg             # red channel falls towards blue
    rgb[..., 1] = 1 - 0.72 * pos - 0.6 * neg
    rgb[..., 2] = 1 - 0.82 * pos             # blue channel falls towards red
    return (rgb * 255).astype(np.uint8)


def heat_image(a: np.ndarray, sample: int = 0, channel: int = 0) -> QImage:
    rgb = np.ascontiguousarray(diverging_rgb(plane(a, sample, channel)))
    h, w, _ = rgb.shape
    img = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888)
    return img.copy()  # own the pixels: the array goes away


def stats(a: np.ndarray) -> str:
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return "empty"
    with np.errstate(invalid="ignore", over="ignore"):  # a −∞ border (Pad2D before a max pool): said, not warned
        return (f"min {num(a.min())}, max {num(a.max())}, mean {num(a.mean())}, std {num(a.std())}, "
                f"zeros {100 * np.mean(a == 0):.0f}%")
