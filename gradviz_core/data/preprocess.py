"""Preprocessing, fitted on the training split and applied to every split (as the lectures
insist: statistics come from the training data only)."""
from __future__ import annotations

import numpy as np

METHODS = ("none", "center", "standardize", "scale", "whiten")


class Preprocessor:
    """center: x − μ;  standardize: (x − μ)/σ;  scale: to [−1, 1] by each feature's min and max;
    whiten: PCA whitening, x ↦ (x − μ)·U / √(λ + ε). Statistics are per feature (per pixel)."""

    def __init__(self, method: str = "none", eps: float = 1e-5) -> None:
        if method not in METHODS:
            from gradviz_core.data.files import DataError
            raise DataError(f"data.preprocess: unknown method {method!r}; use one of {', '.join(METHODS)}")
        self.method, self.eps = method, eps
        self.stats: dict[str, np.ndarray] = {}

    def fit(self, X: np.ndarray) -> "Preprocessor":
        F = X.reshape(len(X), -1)
        if self.method in ("center", "standardize", "whiten"):
            self.stats["mean"] = F.mean(axis=0)
        if self.method == "standardize":
            self.stats["std"] = F.std(axis=0) + self.eps
        if self.method == "scale":
            lo, hi = F.min(axis=0), F.max(axis=0)
            self.stats["lo"], self.stats["span"] = lo, np.where(hi > lo, hi - lo, 1.0)
        if self.method == "whiten":
            C = np.cov(F - self.stats["mean"], rowvar=False, bias=True).reshape(F.shape[1], F.shape[1])
            lam, U = np.linalg.eigh(C)
            self.stats["proj"] = U / np.sqrt(np.maximum(lam, 0) + self.eps)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self.method == "none" or len(X) == 0:
            return X
        F = X.reshape(len(X), -1)
        s = self.stats
        if self.method == "center":
            F = F - s["mean"]
        elif self.method == "standardize":
            F = (F - s["mean"]) / s["std"]
        elif self.method == "scale":
            F = 2 * (F - s["lo"]) / s["span"] - 1
        else:
            F = (F - s["mean"]) @ s["proj"]
        return F.reshape(X.shape)

    def inverse(self, X: np.ndarray) -> np.ndarray:
        """Samples back as the data gave them (to draw a split's points or images)."""
        if self.method == "none" or len(X) == 0:
            return X
        F = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        s = self.stats
        if self.method == "center":
            F = F + s["mean"]
        elif self.method == "standardize":
            F = F * s["std"] + s["mean"]
        elif self.method == "scale":
            F = (F + 1) / 2 * s["span"] + s["lo"]
        else:
            F = F @ np.linalg.pinv(s["proj"]) + s["mean"]
        return F.reshape(X.shape)
