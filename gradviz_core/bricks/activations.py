"""Activation functions, elementwise except Softmax (over each sample's scores)."""
from __future__ import annotations

import numpy as np

from gradviz_core import kernels
from gradviz_core.model.brick import Brick
from gradviz_core.params import ParamSpec
from gradviz_core.model.registry import register
from gradviz_core.shapes import fmt


class _Activation(Brick):
    family = "Activations"

    def infer_shape(self, shapes):
        return shapes["x"]

    def forward(self, inputs, training):
        x = inputs["x"]
        out = self.f(x)
        self.cache = {"x": x, "out": out}
        return out

    def backward(self, g):
        return {"x": self.df(g, self.cache["x"], self.cache["out"])}


@register
class Sigmoid(_Activation):
    type_name = "Sigmoid"
    onnx_op = "Sigmoid"
    fused_act = "sigmoid"
    numpy_op = ('1.0 / (1.0 + np.exp(-{x}))', {'x': '{g} * {out} * (1 - {out})'})
    torch_op = "torch.sigmoid({x})"
    saturates = (0.0, 1.0)
    symbol = 'σ'
    doc = "Squashes to (0, 1). Saturates: for large |x| the gradient vanishes."
    forward_text = "σ(x) = 1 / (1 + e^(−x))"
    backward_text = "dL/dx = σ(x)(1 − σ(x)) · dL/dout"

    def f(self, x):
        return kernels.active().sigmoid(x)

    def df(self, g, x, out):
        return g * out * (1 - out)

    def torch_layer(self, shapes):
        return "Sigmoid", {}


@register
class Tanh(_Activation):
    type_name = "Tanh"
    onnx_op = "Tanh"
    fused_act = "tanh"
    numpy_op = ('np.tanh({x})', {'x': '{g} * (1 - {out} ** 2)'})
    torch_op = "torch.tanh({x})"
    saturates = (-1.0, 1.0)
    symbol = 'th'
    doc = "Squashes to (−1, 1), zero-centred."
    forward_text = "tanh(x)"
    backward_text = "dL/dx = (1 − tanh²x) · dL/dout"

    def f(self, x):
        return np.tanh(x)

    def df(self, g, x, out):
        return g * (1 - out * out)

    def torch_layer(self, shapes):
        return "Tanh", {}


@register
class ReLU(_Activation):
    type_name = "ReLU"
    onnx_op = "Relu"
    fused_act = "relu"
    numpy_op = ('np.maximum(0.0, {x})', {'x': '{g} * ({x} > 0)'})
    torch_op = "torch.relu({x})"
    symbol = '⌐'
    doc = "max(0, x): passes positives, blocks negatives (a unit stuck below 0 is 'dead')."
    forward_text = "out = max(0, x)"
    backward_text = "dL/dx = dL/dout · [x > 0]"
    has_kink = True
    can_die = True
    alpha = 0.0

    def _alpha(self):
        return self.alpha

    def f(self, x):
        return kernels.active().relu_forward(x, self._alpha())

    def df(self, g, x, out):
        return kernels.active().relu_backward(g, x, self._alpha())

    def kink_distance(self):
        return float(np.min(np.abs(self.cache["x"]))) if np.size(self.cache["x"]) else None

    def torch_layer(self, shapes):
        return "ReLU", {}


@register
class LeakyReLU(ReLU):
    type_name = "LeakyReLU"
    fused_act = "leaky_relu"
    numpy_op = ('np.where({x} > 0, {x}, {alpha!r} * {x})', {'x': '{g} * np.where({x} > 0, 1.0, {alpha!r})'})
    torch_op = "F.leaky_relu({x}, {alpha!r})"
    can_die = False  # the negative side keeps a slope α, so a unit always gets some gradient
    symbol = '⌐α'
    doc = "x for x > 0 and α·x otherwise: negative inputs still pass a little gradient."
    forward_text = "out = x if x > 0 else α·x"
    backward_text = "dL/dx = dL/dout · (1 if x > 0 else α)"
    params = (ParamSpec("alpha", "float", 0.01, "α, the slope for x < 0", low=0.0, high=1.0),)

    def _alpha(self):
        return self.config["alpha"]

    def torch_layer(self, shapes):
        return "LeakyReLU", {"negative_slope": self.config["alpha"]}

    def onnx(self, m, ins, out, shapes):
        m.node("LeakyRelu", ins, out, alpha=float(self.config["alpha"]))
        return True


@register
class Ramp(_Activation):
    type_name = "Ramp"
    numpy_op = ('np.clip({x}, -1.0, 1.0)', {'x': '{g} * (({x} > -1) & ({x} < 1))'})
    torch_op = "torch.clamp({x}, -1.0, 1.0)"
    symbol = '⊏'
    doc = "Clips to [−1, 1]: linear in between, flat outside."
    forward_text = "out = min(1, max(−1, x))"
    backward_text = "dL/dx = dL/dout · [−1 < x < 1]"
    has_kink = True

    def f(self, x):
        return np.clip(x, -1.0, 1.0)

    def df(self, g, x, out):
        return g * ((x > -1.0) & (x < 1.0))

    def kink_distance(self):
        return float(np.min(np.abs(np.abs(self.cache["x"]) - 1.0)))

    def onnx(self, m, ins, out, shapes):
        m.node("Clip", [ins[0], m.const(np.array(-1.0), f"{self.name}.min"), m.const(np.array(1.0), f"{self.name}.max")], out)
        return True


@register
class ELU(_Activation):
    type_name = "ELU"
    numpy_op = ('np.where({x} > 0, {x}, {alpha!r} * np.expm1(np.minimum({x}, 0)))', {'x': '{g} * np.where({x} > 0, 1.0, {out} + {alpha!r})'})
    torch_op = "F.elu({x}, {alpha!r})"
    symbol = 'elu'
    doc = "x for x > 0 and α(eˣ − 1) otherwise: smooth, with negative outputs."
    forward_text = "out = x if x > 0 else α(eˣ − 1)"
    backward_text = "dL/dx = dL/dout · (1 if x > 0 else out + α)"
    params = (ParamSpec("alpha", "float", 1.0, "α, the value approached for very negative x", low=0.0),)
    has_kink = True  # differentiable at 0 only when α = 1

    def f(self, x):
        a = self.config["alpha"]
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))

    def df(self, g, x, out):
        return g * np.where(x > 0, 1.0, out + self.config["alpha"])

    def kink_distance(self):
        return None if self.config["alpha"] == 1.0 else float(np.min(np.abs(self.cache["x"])))

    def onnx(self, m, ins, out, shapes):
        m.node("Elu", ins, out, alpha=float(self.config["alpha"]))
        return True


@register
class Softmax(_Activation):
    type_name = "Softmax"
    numpy_op = ('softmax({x})', {'x': '{out} * ({g} - ({g} * {out}).sum(axis=-1, keepdims=True))'})
    torch_op = "torch.softmax({x}, dim=-1)"
    symbol = 'p'
    doc = "Turns each sample's scores into probabilities that sum to 1."
    forward_text = "p_k = e^(s_k) / Σ_j e^(s_j)   (over the last axis)"
    backward_text = "dL/ds = p ⊙ (dL/dp − Σ_k p_k · dL/dp_k)"

    def infer_shape(self, shapes):
        s = shapes["x"]
        if len(s) == 0:
            raise self.shape_error(f"Softmax needs a vector of scores per sample, got {fmt(s)}", "x")
        return s

    def f(self, x):
        return kernels.active().softmax(x)

    def df(self, g, x, p):
        return p * (g - (g * p).sum(axis=-1, keepdims=True))

    def onnx(self, m, ins, out, shapes):
        m.node("Softmax", ins, out, axis=-1)
        return True
