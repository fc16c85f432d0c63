"""Weight initializers, as the lectures present them. All are seeded by the caller's rng.

==========  ==========================================
zeros       W = 0  (every unit stays the same: symmetry is never broken)
constant    W = c
uniform     W ~ U[-b, b]
normal      W ~ N(0, σ²)
xavier      W ~ N(0, 1/fan_in)          (Glorot, as in the lectures)
xavier_avg  W ~ N(0, 2/(fan_in + fan_out))   (Glorot & Bengio's average)
he          W ~ N(0, 2/fan_in)          (for ReLU nets)
==========  ==========================================
"""
from __future__ import annotations

import zlib

import numpy as np

from gradviz_core.params import ParamSpec

CHOICES = ("he", "xavier", "xavier_avg", "normal", "uniform", "zeros", "constant")


def init_array(kind: str, shape: tuple[int, ...], fan_in: int, fan_out: int, scale: float,
               rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    if kind == "zeros":
        out = np.zeros(shape)
    elif kind == "constant":
        out = np.full(shape, scale)
    elif kind == "uniform":
        out = rng.uniform(-scale, scale, size=shape)
    else:
        std = {
            "normal": scale,
            "xavier": np.sqrt(1.0 / fan_in),
            "xavier_avg": np.sqrt(2.0 / (fan_in + fan_out)),
            "he": np.sqrt(2.0 / fan_in),
        }[kind]
        out = rng.standard_normal(shape) * std
    return out.astype(dtype)


def weight_param_specs(default: str = "he") -> tuple[ParamSpec, ...]:
    """The settings shared by every brick with a weight matrix or filter bank."""
    return (
        ParamSpec("init", "choice", default, "how W starts: he 2/fan_in, xavier 1/fan_in, ...",
                  choices=CHOICES),
        ParamSpec("init_scale", "float", 0.01, "σ for normal, b for uniform, c for constant",
                  low=0.0),
        ParamSpec("bias_init", "float", 0.0, "starting value of every bias (e.g. 0.01 for ReLU)"),
        ParamSpec("bias", "bool", True, "whether the layer has a bias b"),
    )


def node_rng(seed: int, node: str) -> np.random.Generator:
    """A generator that depends only on the graph seed and the node's name."""
    return np.random.default_rng([int(seed), zlib.crc32(node.encode())])
