"""Metrics and the lectures' "babysitting" diagnostics for a training run."""
from __future__ import annotations

import math

import numpy as np

from gradviz_core.brick import Brick


def predicted_classes(loss: Brick, scores: np.ndarray) -> np.ndarray | None:
    """Class predictions from the scores a loss reads, or None for regression losses."""
    t = loss.type_name
    if t in ("SoftmaxCrossEntropy", "MaxMarginLoss"):
        return scores.argmax(axis=1)
    if t == "BinaryCrossEntropy":
        return (scores.reshape(len(scores), -1)[:, 0] > 0.5).astype(np.int64)
    if t in ("BCEWithLogits", "LogisticLoss", "HingeLoss"):
        return (scores.reshape(len(scores), -1)[:, 0] > 0).astype(np.int64)
    return None


def confusion(true: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k)


def expected_initial_loss(loss: Brick, classes: int | None) -> tuple[float, str] | None:
    """What the data loss should be with small random weights (all scores near 0)."""
    if classes is None:
        return None
    if loss.type_name == "SoftmaxCrossEntropy":
        return math.log(classes), f"ln({classes})"
    if loss.type_name == "MaxMarginLoss":
        m = loss.config["margin"]
        return (classes - 1) * m, f"(K − 1)·Δ = {classes - 1}·{m:g}"
    if loss.type_name in ("BinaryCrossEntropy", "BCEWithLogits", "LogisticLoss"):
        return math.log(2), "ln(2)"
    return None


def activation_stats(out: np.ndarray, relu: bool, bins: int = 20) -> dict:
    """Mean, std and histogram of a layer's output; for ReLU also the fraction of dead units
    (units that output 0 for every sample of the batch)."""
    flat = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
    counts, edges = np.histogram(flat, bins=bins)
    stats = {"mean": float(flat.mean()), "std": float(flat.std()),
             "hist": counts.tolist(), "edges": edges.tolist()}
    if relu:
        stats["dead"] = float(np.mean(np.all(flat <= 0, axis=0)))
    return stats


def weight_stats(before: np.ndarray, after: np.ndarray, grad: np.ndarray) -> dict:
    """‖ΔW‖/‖W‖ (about 1e-3 is healthy), ‖∇W‖ and ‖W‖."""
    norm = float(np.linalg.norm(before))
    return {"update_ratio": float(np.linalg.norm(after - before)) / max(norm, 1e-12),
            "grad_norm": float(np.linalg.norm(grad)), "weight_norm": norm}
