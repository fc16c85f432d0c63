"""Update rules. Optimizers see only (name, weight, gradient) and keep their own state.

Each ``step(name, w, dw)`` returns the new weight and a dict of what it computed
(the step Δ, the velocity ...), so the stepper can show the update with numbers.
No array is changed in place.
"""
from __future__ import annotations

import numpy as np


class Optimizer:
    def __init__(self, lr: float = 0.1) -> None:
        self.lr = lr
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def step(self, name: str, w: np.ndarray, dw: np.ndarray) -> tuple[np.ndarray, dict]:
        raise NotImplementedError

    def state_copy(self) -> dict:
        return {k: {kk: vv.copy() for kk, vv in v.items()} for k, v in self.state.items()}


class SGD(Optimizer):
    """θ ← θ − η ∇θ"""
    formula = "θ ← θ − η·∇θ"

    def step(self, name, w, dw):
        delta = -self.lr * dw
        return w + delta, {"step": delta}


class Momentum(Optimizer):
    """v ← μ v − η ∇θ;  θ ← θ + v"""
    formula = "v ← μ·v − η·∇θ;  θ ← θ + v"

    def __init__(self, lr: float = 0.1, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.mu = momentum

    def step(self, name, w, dw):
        v = self.state.get(name, {}).get("v", np.zeros_like(w))
        v = self.mu * v - self.lr * dw
        self.state[name] = {"v": v}
        return w + v, {"step": v, "velocity": v}


def make_optimizer(settings: dict) -> Optimizer:
    """The optimizer a graph's training settings ask for."""
    kind = settings.get("optimizer", "sgd")
    lr = float(settings.get("lr", 0.1))
    mu = float(settings.get("momentum", 0.0))
    if kind == "sgd" and mu == 0.0:
        return SGD(lr)
    if kind in ("sgd", "momentum"):
        return Momentum(lr, mu or 0.9)
    raise ValueError(f"training.optimizer: unknown optimizer {kind!r}; use sgd or momentum")
