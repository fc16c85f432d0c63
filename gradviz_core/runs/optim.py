"""Update rules. Optimizers see only (name, weight, gradient) and keep their own state.

``apply(name, w, dw)`` updates w in place (the trainer's inner loop). ``step(name, w, dw)``
leaves w alone and returns the new weight with what the rule computed (the step Δ, the
velocity, the caches), so the stepper can show an update with its numbers and undo it.
"""
from __future__ import annotations

import numpy as np

from gradviz_core.errors import GradvizError


class Optimizer:
    name = ""
    formula = ""
    #: training setting -> attribute, for the settings a running training run may change
    live: dict[str, str] = {}
    #: settings that this rule cannot take while it runs (a new run is needed)
    needs_restart: tuple[str, ...] = ()

    def __init__(self, lr: float = 0.1) -> None:
        self.lr = lr
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def _slot(self, key: str, w: np.ndarray, *names: str) -> list[np.ndarray]:
        st = self.state.get(key)
        if st is None:
            st = self.state[key] = {n: np.zeros_like(w) for n in names}
        return [st[n] for n in names]

    def apply(self, key: str, w: np.ndarray, dw: np.ndarray) -> None:
        raise NotImplementedError

    def step(self, key: str, w: np.ndarray, dw: np.ndarray) -> tuple[np.ndarray, dict]:
        new = w.copy()
        self.apply(key, new, dw)
        info = {"step": new - w}
        info.update({k: v.copy() for k, v in self.state.get(key, {}).items()})
        return new, info

    def configurable(self, key: str) -> bool:
        return key not in self.needs_restart

    def configure(self, **settings) -> None:
        """Take new values of live settings (momentum, β₁, …) mid-run; others are ignored."""
        for key, value in settings.items():
            if key in self.live:
                setattr(self, self.live[key], float(value))

    def state_copy(self) -> dict:
        return {k: {kk: vv.copy() for kk, vv in v.items()} for k, v in self.state.items()}


class SGD(Optimizer):
    name, formula = "sgd", "θ ← θ − η·∇θ"
    needs_restart = ("momentum",)  # plain SGD keeps no velocity: momentum needs a new run

    def apply(self, key, w, dw):
        w -= self.lr * dw


class Momentum(Optimizer):
    name, formula = "momentum", "v ← μ·v − η·∇θ;  θ ← θ + v"
    live = {"momentum": "mu"}

    def __init__(self, lr=0.1, momentum=0.9):
        super().__init__(lr)
        self.mu = momentum

    def apply(self, key, w, dw):
        (v,) = self._slot(key, w, "velocity")
        v *= self.mu
        v -= self.lr * dw
        w += v


class Nesterov(Momentum):
    name, formula = "nesterov", "v_prev = v;  v ← μ·v − η·∇θ;  θ ← θ − μ·v_prev + (1 + μ)·v"

    def apply(self, key, w, dw):
        (v,) = self._slot(key, w, "velocity")
        prev = v.copy()
        v *= self.mu
        v -= self.lr * dw
        w += (1 + self.mu) * v - self.mu * prev


class Adagrad(Optimizer):
    name, formula = "adagrad", "c ← c + ∇θ²;  θ ← θ − η·∇θ / (√c + ε)"
    live = {"eps": "eps"}

    def __init__(self, lr=0.01, eps=1e-8):
        super().__init__(lr)
        self.eps = eps

    def apply(self, key, w, dw):
        (c,) = self._slot(key, w, "cache")
        c += dw * dw
        w -= self.lr * dw / (np.sqrt(c) + self.eps)


class RMSProp(Adagrad):
    name, formula = "rmsprop", "c ← ρ·c + (1 − ρ)·∇θ²;  θ ← θ − η·∇θ / (√c + ε)"
    live = {"decay": "decay", "eps": "eps"}

    def __init__(self, lr=0.001, decay=0.99, eps=1e-8):
        super().__init__(lr, eps)
        self.decay = decay

    def apply(self, key, w, dw):
        (c,) = self._slot(key, w, "cache")
        c *= self.decay
        c += (1 - self.decay) * dw * dw
        w -= self.lr * dw / (np.sqrt(c) + self.eps)


class Adam(Optimizer):
    name = "adam"
    live = {"beta1": "b1", "beta2": "b2", "eps": "eps"}
    formula = ("m ← β₁m + (1 − β₁)∇θ;  v ← β₂v + (1 − β₂)∇θ²;  "
               "θ ← θ − η·m̂ / (√v̂ + ε) with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.b1, self.b2, self.eps = beta1, beta2, eps

    def apply(self, key, w, dw):
        m, v, t = self._slot(key, w, "m", "v", "t")
        t += 1  # t is kept per element so that state is all arrays; every element has the same t
        m *= self.b1
        m += (1 - self.b1) * dw
        v *= self.b2
        v += (1 - self.b2) * dw * dw
        mhat = m / (1 - self.b1 ** t)
        vhat = v / (1 - self.b2 ** t)
        w -= self.lr * mhat / (np.sqrt(vhat) + self.eps)


#: the rule of each optimizer the settings name (settings.OPTIMIZER_NAMES; a test checks both agree)
OPTIMIZERS = {c.name: c for c in (SGD, Momentum, Nesterov, Adagrad, RMSProp, Adam)}


def make_optimizer(settings: dict) -> Optimizer:
    """The optimizer a graph's training settings ask for.

    ``sgd`` with ``momentum`` > 0 means classic momentum, as in most lectures' notation.
    """
    kind = settings.get("optimizer", "sgd")
    lr = float(settings.get("lr", 0.1))
    mu = float(settings.get("momentum", 0.0))
    if kind not in OPTIMIZERS:
        raise GradvizError(f"training.optimizer: unknown optimizer {kind!r}; use one of "
                           f"{', '.join(OPTIMIZERS)}")
    if kind == "sgd":
        return Momentum(lr, mu) if mu > 0 else SGD(lr)
    if kind in ("momentum", "nesterov"):
        return OPTIMIZERS[kind](lr, mu or 0.9)
    if kind == "adagrad":
        return Adagrad(lr, settings.get("eps", 1e-8))
    if kind == "rmsprop":
        return RMSProp(lr, settings.get("decay", 0.99), settings.get("eps", 1e-8))
    return Adam(lr, settings.get("beta1", 0.9), settings.get("beta2", 0.999), settings.get("eps", 1e-8))
