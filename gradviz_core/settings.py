"""The training settings of a graph (its ``training`` section), checked before any run uses them.

``LIVE`` names the settings that a running training run takes at its next step (the ones
the lectures turn mid-run); changing any other setting makes a live run stale.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from gradviz_core.errors import GradvizError
from gradviz_core.optim import OPTIMIZERS
from gradviz_core.schedules import SCHEDULES

#: settings a training run takes while it runs (they keep every weight's shape)
LIVE = ("lr", "momentum", "beta1", "beta2", "decay", "eps", "epochs", "diverge_factor",
        "diagnostics_every", "early_stopping")


@dataclass
class Settings:
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    decay: float = 0.99
    eps: float = 1e-8
    batch_size: int = 32
    epochs: int = 10
    seed: int = 0
    schedule: str = "constant"
    step_every: int = 10
    step_factor: float = 0.5
    exp_k: float = 0.05
    plateau_patience: int = 3
    early_stopping: int = 0
    freeze: list = field(default_factory=list)
    init_from: str = ""
    diagnostics_every: int = 0
    overfit: int = 0
    #: stop when the loss exceeds this many times its first value (0: only on NaN or inf)
    diverge_factor: float = 100.0

    @classmethod
    def from_dict(cls, d: dict) -> "Settings":
        known = {f.name: f for f in fields(cls)}
        out = {}
        for key, value in d.items():
            if key not in known:
                raise GradvizError(f"training: unknown setting {key!r} (known: {', '.join(known)})")
            want = type(cls.__dataclass_fields__[key].default) if key not in ("freeze",) else list
            if key == "freeze" and isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            ok = isinstance(value, want) or (want is float and isinstance(value, int))
            if not ok or isinstance(value, bool) and want is not bool:
                raise GradvizError(f"training.{key}: expected {want.__name__}, got {value!r}")
            out[key] = float(value) if want is float else value
        s = cls(**out)
        s.check()
        return s

    def check(self) -> None:
        bad = []
        if self.optimizer not in OPTIMIZERS:
            bad.append(f"training.optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            bad.append(f"training.schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not self.lr > 0:
            bad.append(f"training.lr must be > 0, got {self.lr:g}")
        if not 0 <= self.momentum < 1:
            bad.append(f"training.momentum must be in [0, 1), got {self.momentum:g}")
        if self.seed < 0:
            bad.append(f"training.seed must be ≥ 0, got {self.seed}")
        for name in ("batch_size", "epochs", "early_stopping", "diagnostics_every", "overfit"):
            if getattr(self, name) < (1 if name == "epochs" else 0):
                bad.append(f"training.{name} must be ≥ {1 if name == 'epochs' else 0}")
        if bad:
            raise GradvizError("; ".join(bad))
