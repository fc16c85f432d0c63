"""Regularizers as their own loss terms, so they show up separately in the stepper and the loss.

A regularizer has no input ports. The graph binds it to the weights of the layers it
names (all layers when left empty); biases are left out unless ``include_biases``.
Its forward adds a penalty to the objective and its backward adds the penalty's
gradient into those layers' weight gradients. MaxNorm is a constraint, not a
penalty: it adds 0 to the loss and clips each unit's weight vector after the update.
"""
from __future__ import annotations

import numpy as np

from gradviz_core.model.brick import Brick
from gradviz_core.params import ParamSpec
from gradviz_core.model.registry import register

_TARGETS = (
    ParamSpec("layers", "str", "", "names of the layers it applies to, comma-separated (empty: all)"),
    ParamSpec("include_biases", "bool", False, "also apply to biases and BatchNorm's γ, β"),
)


class _Regularizer(Brick):
    onnx_training_only = True
    family = "Regularizers"
    inputs = ()
    acts_on_weights = True

    def __init__(self, name: str = "", /, **config):
        super().__init__(name, **config)
        #: [(node name, brick, weight name)] set by the graph before each run
        self.targets: list[tuple[str, Brick, str]] = []

    def layer_names(self) -> list[str]:
        return [s.strip() for s in self.config["layers"].split(",") if s.strip()]

    def bind(self, bricks: dict[str, Brick]) -> None:
        names = self.layer_names() or [n for n, b in bricks.items() if b.weights and n != self.name]
        self.targets = []
        for n in names:
            b = bricks.get(n)
            if b is None or isinstance(b, _Regularizer):
                continue
            for w in b.weights:
                if w in b.decay or self.config["include_biases"]:
                    self.targets.append((n, b, w))

    #: one weight's penalty as PyTorch, with {w} for the weight and {param} for the settings
    torch_penalty: str = "0"
    #: the NumPy study script's penalty of one weight {w} and its gradient
    numpy_penalty: tuple[str, str] = ("0.0", "0.0")

    def infer_shape(self, shapes):
        return ()

    def forward(self, inputs, training):
        total = sum((self.penalty(b.weights[w]) for _, b, w in self.targets), 0.0)
        return np.asarray(total, dtype=self.dtype)

    def backward(self, g):
        added = {}
        for n, b, w in self.targets:
            d = g * self.dpenalty(b.weights[w])
            b.add_grad(w, d)
            added[f"{n}.{w}"] = d
        self.cache = {"added": added}
        return {}

    def project(self, node: str | None = None) -> None:
        """Applied after the update of ``node``'s weights (of every target when None); only
        MaxNorm changes anything."""


@register
class L2(_Regularizer):
    numpy_penalty = ('0.5 * {lam!r} * np.sum({w} ** 2)', '{lam!r} * {w}')
    torch_penalty = "0.5 * {lam!r} * ({w} ** 2).sum()"
    type_name = "L2"
    symbol = 'L2'
    doc = "Weight decay: ½λ‖W‖² pulls every weight towards 0 in proportion to its size."
    forward_text = "R = ½ λ Σ W²"
    backward_text = "dR/dW = λ W"
    params = (ParamSpec("lam", "float", 1e-3, "λ, the regularization strength", low=0.0),) + _TARGETS

    def penalty(self, w):
        return 0.5 * self.config["lam"] * np.sum(w * w)

    def dpenalty(self, w):
        return self.config["lam"] * w


@register
class L1(_Regularizer):
    numpy_penalty = ('{lam!r} * np.sum(np.abs({w}))', '{lam!r} * np.sign({w})')
    torch_penalty = "{lam!r} * {w}.abs().sum()"
    type_name = "L1"
    symbol = 'L1'
    doc = "λ‖W‖₁ pushes weights to exactly 0 (sparse weights)."
    forward_text = "R = λ Σ |W|"
    backward_text = "dR/dW = λ sign(W)"
    params = (ParamSpec("lam", "float", 1e-3, "λ, the regularization strength", low=0.0),) + _TARGETS
    has_kink = True

    def penalty(self, w):
        return self.config["lam"] * np.sum(np.abs(w))

    def dpenalty(self, w):
        return self.config["lam"] * np.sign(w)

    def kink_distance(self):
        vals = [np.min(np.abs(b.weights[w])) for _, b, w in self.targets if b.weights[w].size]
        return float(min(vals)) if vals else None


@register
class ElasticNet(L1):
    numpy_penalty = ('{l1!r} * np.sum(np.abs({w})) + 0.5 * {l2!r} * np.sum({w} ** 2)', '{l1!r} * np.sign({w}) + {l2!r} * {w}')
    torch_penalty = "{l1!r} * {w}.abs().sum() + 0.5 * {l2!r} * ({w} ** 2).sum()"
    type_name = "ElasticNet"
    symbol = 'EN'
    doc = "λ₁‖W‖₁ + ½λ₂‖W‖²: L1 and L2 together."
    forward_text = "R = λ₁ Σ |W| + ½ λ₂ Σ W²"
    backward_text = "dR/dW = λ₁ sign(W) + λ₂ W"
    params = (ParamSpec("l1", "float", 1e-4, "λ₁, the L1 strength", low=0.0),
              ParamSpec("l2", "float", 1e-3, "λ₂, the L2 strength", low=0.0)) + _TARGETS

    def penalty(self, w):
        return self.config["l1"] * np.sum(np.abs(w)) + 0.5 * self.config["l2"] * np.sum(w * w)

    def dpenalty(self, w):
        return self.config["l1"] * np.sign(w) + self.config["l2"] * w


@register
class MaxNorm(_Regularizer):
    type_name = "MaxNorm"
    symbol = '‖w‖'
    doc = "After every update, rescale each unit's incoming weights so that ‖w‖₂ ≤ c."
    forward_text = "R = 0 (a constraint, not a penalty)"
    backward_text = "no gradient; after the update: w ← w · min(1, c/‖w‖₂)"
    params = (ParamSpec("c", "float", 3.0, "c, the largest norm allowed (3 or 4 is typical)",
                        low=1e-6),) + _TARGETS

    def penalty(self, w):
        return 0.0

    def dpenalty(self, w):
        return np.zeros_like(w)

    def project(self, node: str | None = None) -> None:
        c = self.config["c"]
        for n, b, w in self.targets:
            if node is not None and n != node:
                continue
            axes = getattr(b, "fan_in_axes", {}).get(w)
            if axes is None:
                continue
            norms = np.sqrt(np.sum(b.weights[w] ** 2, axis=axes, keepdims=True))
            b.weights[w] = b.weights[w] * np.minimum(1.0, c / np.maximum(norms, 1e-12))
