"""Dropout: in training, drop each unit with probability p; at test time, use every unit."""
from __future__ import annotations

import zlib

import numpy as np

from gradviz_core.model.brick import Brick
from gradviz_core.params import ParamSpec
from gradviz_core.model.registry import register


@register
class Dropout(Brick):
    type_name = "Dropout"
    symbol = '⋯'
    family = "Layers"
    doc = ("Drops each unit with probability p while training. 'inverted' scales the kept units "
           "by 1/(1−p) in training; 'test_scaling' instead multiplies by (1−p) at test time.")
    forward_text = ("training: m ~ Bernoulli(1−p), out = x·m/(1−p) (inverted) or x·m;  "
                    "test: out = x (inverted) or x·(1−p)")
    backward_text = "training: dL/dx = dL/dout · m/(1−p) (or · m);  test: dL/dx = dL/dout (or · (1−p))"
    params = (
        ParamSpec("p", "float", 0.5, "probability of dropping a unit", low=0.0, high=0.99),
        ParamSpec("mode", "choice", "inverted", "where the 1−p correction goes",
                  choices=("inverted", "test_scaling")),
        ParamSpec("seed", "int", 0, "this node's own seed, mixed with the training seed", low=0),
    )
    stochastic = True

    def __init__(self, name: str = "", /, **config):
        super().__init__(name, **config)
        #: (training seed, iteration): set by the run before each iteration, so every forward
        #: pass within one iteration (a stepped pass, a gradient check) sees the same mask
        self.draw = (0, 0)

    def begin_iteration(self, seed: int, step: int) -> None:
        self.draw = (int(seed), int(step))

    def numpy_code(self, ins, out, g, w, shapes):
        # the mask is drawn in forward (training) and kept in C, the caches, for backward
        c = self.config
        key = out.replace("v[", "C[")
        return (f"dropout({ins['x']}, {c['p']!r}, {c['mode']!r}, training, C, {key[2:-1]})",
                {"x": f"{g} * {key}"}, {})

    def torch_module(self, shapes):
        return "Dropout", {"p": self.config["p"], "mode": self.config["mode"]}

    def onnx(self, m, ins, out, shapes):
        p = float(self.config["p"])
        if self.config["mode"] == "inverted":  # at test time the identity; ONNX's Dropout keeps p
            m.node("Dropout", [ins[0], m.const(np.array(p), f"{self.name}.ratio")], out)
        else:  # test-time scaling: x·(1 − p)
            m.node("Mul", [ins[0], m.const(np.array(1.0 - p), f"{self.name}.keep")], out)
        return True

    def infer_shape(self, shapes):
        return shapes["x"]

    def mask(self, shape) -> np.ndarray:
        seed, step = self.draw
        rng = np.random.default_rng([seed, self.config["seed"], zlib.crc32(self.name.encode()), step])
        return rng.random(shape) >= self.config["p"]

    def forward(self, inputs, training):
        x = inputs["x"]
        p, inverted = self.config["p"], self.config["mode"] == "inverted"
        if training:
            scale = self.mask(x.shape).astype(x.dtype)
            if inverted:
                scale = scale / (1.0 - p)
        else:
            scale = np.asarray(1.0 if inverted else 1.0 - p, dtype=x.dtype)
        self.cache = {"scale": scale}
        return x * scale

    def backward(self, g):
        return {"x": g * self.cache["scale"]}
