"""Metrics and the lectures' "babysitting" diagnostics for a training run."""
from __future__ import annotations

import numpy as np


def confusion(true: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    return np.bincount(np.asarray(true, np.int64) * k + pred, minlength=k * k).reshape(k, k)


def histogram(values: np.ndarray, bins: int = 20) -> dict:
    flat = np.asarray(values, dtype=np.float64).ravel()
    counts, edges = np.histogram(flat, bins=bins)
    return {"mean": float(flat.mean()), "std": float(flat.std()), "hist": counts.tolist(), "edges": edges.tolist()}


def activation_stats(out: np.ndarray, relu: bool, bins: int = 20,
                     bounds: tuple[float, float] | None = None) -> dict:
    """Mean, std and histogram of a layer's output; for ReLU also the fraction of dead units
    (units that output 0 for every sample of the batch); for a saturating unit with output
    ``bounds``, the fraction of outputs within 1% of a bound."""
    a = np.asarray(out, dtype=np.float64)
    flat = a.reshape(len(a), -1) if a.ndim else a.reshape(1, 1)  # a scalar gate: one sample, one unit
    stats = histogram(flat, bins)
    if relu:
        stats["dead"] = float(np.mean(np.all(flat <= 0, axis=0)))
    if bounds is not None:
        lo, hi = bounds
        near = 0.01 * (hi - lo)
        stats["saturated"] = float(np.mean((flat - lo < near) | (hi - flat < near)))
    return stats


def weight_stats(before: np.ndarray, after: np.ndarray, grad: np.ndarray) -> dict:
    """‖ΔW‖/‖W‖ (about 1e-3 is healthy), ‖∇W‖ and ‖W‖."""
    norm = float(np.linalg.norm(before))
    return {"update_ratio": float(np.linalg.norm(after - before)) / max(norm, 1e-12),
            "grad_norm": float(np.linalg.norm(grad)), "weight_norm": norm}
