"""The training settings of a graph (its ``training`` section), declared like node parameters
(type, default, range or choices, one-line doc) and checked before any run uses them.

The CLI, the app's settings form and the JSON Schema all read ``TRAINING``. ``LIVE``
names the settings that a running training run takes at its next step (the ones the
lectures turn mid-run); changing any other setting makes a live run stale.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from gradviz_core.errors import GradvizError, ParamError
from gradviz_core.params import ParamSpec, did_you_mean

#: the update rules and the learning-rate schedules a graph may name; their code is the runs'
#: (runs.optim, runs.schedules), which check that they have one for each
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
SCHEDULE_NAMES = ("constant", "step", "exponential", "plateau")

TRAINING: tuple[ParamSpec, ...] = (
    ParamSpec("optimizer", "choice", "sgd", "the update rule (sgd with momentum > 0 is classic momentum)",
              choices=OPTIMIZER_NAMES),
    ParamSpec("lr", "float", 0.1, "η, the learning rate", low=1e-12, high=1e6),
    ParamSpec("momentum", "float", 0.0, "μ, the velocity kept from step to step", low=0.0, high=0.999),
    ParamSpec("beta1", "float", 0.9, "Adam's β₁: decay of the mean of the gradients", low=0.0, high=0.9999),
    ParamSpec("beta2", "float", 0.999, "Adam's β₂: decay of the mean of their squares", low=0.0,
              high=0.99999),
    ParamSpec("decay", "float", 0.99, "RMSProp's ρ: decay of the mean of squared gradients", low=0.0,
              high=0.99999),
    ParamSpec("eps", "float", 1e-8, "ε, added to the denominator (Adagrad, RMSProp, Adam)", low=1e-12,
              high=1.0),
    ParamSpec("batch_size", "int", 32, "samples per step (0: the whole training set)", low=0, high=10**7),
    ParamSpec("epochs", "int", 10, "passes over the training set", low=1, high=10**6),
    ParamSpec("seed", "int", 0, "seed of the batch order, the dropout masks and the augmentation",
              low=0, high=2**31 - 1),
    ParamSpec("schedule", "choice", "constant", "how η changes from epoch to epoch", choices=SCHEDULE_NAMES),
    ParamSpec("step_every", "int", 10, "step schedule: multiply η by step_factor every this many epochs",
              low=1, high=10**6),
    ParamSpec("step_factor", "float", 0.5, "step schedule: the factor", low=1e-6, high=1.0),
    ParamSpec("exp_k", "float", 0.05, "exponential schedule: η = η₀·e^(−k·epoch)", low=0.0, high=10.0),
    ParamSpec("plateau_patience", "int", 3, "plateau schedule: epochs without progress before η halves",
              low=1, high=10**4),
    ParamSpec("early_stopping", "int", 0, "stop after this many epochs without a better validation loss "
              "(0: never)", low=0, high=10**4),
    ParamSpec("freeze", "names", (), "layers whose weights training leaves as they are"),
    ParamSpec("init_from", "str", "", "a .npz or graph file whose matching weights training starts from"),
    ParamSpec("diagnostics_every", "int", 0, "every this many steps: update ratios, activation "
              "statistics, dead units (0: only the babysitting checks)", low=0, high=10**6),
    ParamSpec("overfit", "int", 0, "train on this many samples with regularization off (0: off)",
              low=0, high=10**7),
    ParamSpec("diverge_factor", "float", 100.0, "stop when the loss exceeds this many times its first "
              "value (NaN and infinity always stop)", low=2.0, high=1e30),
)
SPECS = {s.name: s for s in TRAINING}

#: settings a training run takes while it runs (they keep every weight's shape)
#: settings that matter only for some values of another: {setting: (the other, its values)}.
#: The form greys them out otherwise (sgd with momentum > 0 is classic momentum).
USED_WHEN = {
    "momentum": ("optimizer", ("sgd", "momentum", "nesterov")),
    "beta1": ("optimizer", ("adam",)), "beta2": ("optimizer", ("adam",)),
    "decay": ("optimizer", ("rmsprop",)), "eps": ("optimizer", ("adagrad", "rmsprop", "adam")),
    "step_every": ("schedule", ("step",)), "step_factor": ("schedule", ("step",)),
    "exp_k": ("schedule", ("exponential",)), "plateau_patience": ("schedule", ("plateau",)),
}

LIVE = ("lr", "momentum", "beta1", "beta2", "decay", "eps", "epochs", "diverge_factor",
        "diagnostics_every", "early_stopping")


def check_training(section, where: str = "training") -> dict:
    """The ``training`` section with every value checked and converted; raises ParamError
    naming the key (and ``where``, e.g. the file) for the first bad one."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ParamError(f"{where}: must be an object of settings, not {type(section).__name__}")
    out = {}
    for key, value in section.items():
        spec = SPECS.get(key)
        if spec is None:
            raise ParamError(f"{where}: unknown setting {key!r}{did_you_mean(key, SPECS)}")
        out[key] = spec.coerce(value, where, label=f"{where}.{key}")
    return out


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
    freeze: tuple = field(default_factory=tuple)
    init_from: str = ""
    diagnostics_every: int = 0
    overfit: int = 0
    diverge_factor: float = 100.0

    @classmethod
    def from_dict(cls, d: dict, where: str = "training") -> "Settings":
        return cls(**check_training(d, where))


# ---- the optimizer playground's section of a graph file (gradviz_core.runs.playground) -----------
PLAYGROUND_RULES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
#: the optimizer playground's update rules, and the keys of a graph file's ``playground`` section
PLAYGROUND_KEYS = ("start", "x", "y", "steps", "lr")


class PlaygroundError(GradvizError):
    """The graph is not a loss surface of two numbers, or its playground settings are wrong."""


def _pair(value, key: str) -> tuple[float, float]:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise PlaygroundError(f"playground.{key} must be two numbers, like [-4, 1]; got {value!r}")
    return float(value[0]), float(value[1])


def check_playground(section: dict | None) -> dict:
    """The ``playground`` section, checked key by key; each message names the key."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise PlaygroundError(f"playground must be an object of settings, not {type(section).__name__}")
    for key in section:
        if key not in PLAYGROUND_KEYS:
            raise PlaygroundError(f"playground.{key} is not a setting; use {', '.join(PLAYGROUND_KEYS)}")
    out = dict(section)
    for key in ("start", "x", "y"):
        if key in out:
            out[key] = _pair(out[key], key)
    for key in ("x", "y"):
        if key in out and not out[key][0] < out[key][1]:
            raise PlaygroundError(f"playground.{key}: the range must go from low to high, got {list(out[key])}")
    steps = out.get("steps", 200)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 100_000:
        raise PlaygroundError(f"playground.steps must be a whole number from 1 to 100000, got {steps!r}")
    lr = out.get("lr", {})
    if not isinstance(lr, dict):
        raise PlaygroundError("playground.lr must map rules to learning rates, like {\"sgd\": 0.1}")
    for rule, value in lr.items():
        if rule not in PLAYGROUND_RULES:
            raise PlaygroundError(f"playground.lr.{rule}: not an update rule; use {', '.join(PLAYGROUND_RULES)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1e6:
            raise PlaygroundError(f"playground.lr.{rule} must be a number > 0, got {value!r}")
    return out
