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
    doc = ("Drops units at random while training: each is kept with probability q (q = 1 − p when p is "
           "the probability of dropping a unit, as in most code; q = p when p is the probability of "
           "keeping it, as in the lectures' code). 'inverted' scales the kept units by 1/q in training; "
           "'test_scaling' (the lectures' first form) instead multiplies by q at test time. Either way "
           "a unit's expected output in training is its output at test time.")
    forward_text = ("training: m ~ Bernoulli(q), out = x·m/q (inverted) or x·m;  "
                    "test: out = x (inverted) or x·q;  q = 1 − p (p drops) or p (p keeps)")
    backward_text = "training: dL/dx = dL/dout · m/q (or · m);  test: dL/dx = dL/dout (or · q)"
    params = (
        ParamSpec("p", "float", 0.5, "the probability of dropping a unit (or of keeping it: see p_means)",
                  low=0.0, high=0.99),
        ParamSpec("p_means", "choice", "drop", "what p is the probability of: dropping a unit (PyTorch's "
                  "nn.Dropout) or keeping it (the lectures' code)", choices=("drop", "keep")),
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

    @property
    def drop(self) -> float:
        """The probability of dropping a unit, whichever p names."""
        p = float(self.config["p"])
        return p if self.config.get("p_means", "drop") == "drop" else 1.0 - p

    def formulas(self) -> tuple[str, str]:
        q = 1.0 - self.drop
        keep = f"q = {'1 − p' if self.config.get('p_means', 'drop') == 'drop' else 'p'} = {q:g}"
        if self.config["mode"] == "inverted":
            return (f"training: m ~ Bernoulli(q), out = x·m/q;  test: out = x;  {keep}",
                    f"training: dL/dx = dL/dout · m/q;  test: dL/dx = dL/dout;  {keep}")
        return (f"training: m ~ Bernoulli(q), out = x·m;  test: out = x·q;  {keep}",
                f"training: dL/dx = dL/dout · m;  test: dL/dx = dL/dout · q;  {keep}")

    def numpy_code(self, ins, out, g, w, shapes):
        # the mask is drawn in forward (training) and kept in C, the caches, for backward
        c = self.config
        key = out.replace("v[", "C[")
        p = repr(c["p"]) if c.get("p_means", "drop") == "drop" else f"1 - {c['p']!r}"  # dropout() takes the drop
        return (f"dropout({ins['x']}, {p}, {c['mode']!r}, training, C, {key[2:-1]})",
                {"x": f"{g} * {key}"}, {})

    def torch_module(self, shapes):
        if self.config.get("p_means", "drop") == "keep":
            return "Dropout", {"keep": self.config["p"], "mode": self.config["mode"]}
        return "Dropout", {"p": self.config["p"], "mode": self.config["mode"]}

    def onnx(self, m, ins, out, shapes):
        p = self.drop
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
        return rng.random(shape) >= self.drop

    def forward(self, inputs, training):
        x = inputs["x"]
        p, inverted = self.drop, self.config["mode"] == "inverted"
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
