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
    doc = ("Clips to [−1, 1]: linear in between, flat outside. (A slide writes min(−1, max(1, x)), which is −1 "
           "everywhere; it means min(1, max(−1, x)).)")
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


@register
class LogSoftmax(_Activation):
    type_name = "LogSoftmax"
    numpy_op = ('{x} - logsumexp({x})', {'x': '{g} - np.exp({out}) * {g}.sum(axis=-1, keepdims=True)'})
    torch_op = "torch.log_softmax({x}, dim=-1)"
    symbol = 'log p'
    doc = ("The log of the softmax probabilities, computed without overflow (s − log Σ eˢ): "
           "what a classifier exported with a negative log-likelihood loss ends in.")
    forward_text = "out_k = s_k − log Σ_j e^(s_j)   (over the last axis)"
    backward_text = "dL/ds = dL/dout − p ⊙ Σ_k dL/dout_k,  p = e^out"

    def infer_shape(self, shapes):
        return Softmax.infer_shape(self, shapes)

    def f(self, x):
        m = np.max(x, axis=-1, keepdims=True)
        return x - (m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)))

    def df(self, g, x, out):
        return g - np.exp(out) * g.sum(axis=-1, keepdims=True)

    def onnx(self, m, ins, out, shapes):
        m.node("LogSoftmax", ins, out, axis=-1)
        return True


@register
class Softplus(_Activation):
    type_name = "Softplus"
    onnx_op = "Softplus"
    numpy_op = ('np.logaddexp(0.0, {x})', {'x': '{g} / (1.0 + np.exp(-{x}))'})
    torch_op = "F.softplus({x})"
    symbol = 'sp'
    doc = "A smooth ReLU, log(1 + eˣ): its slope is the sigmoid, never exactly 0."
    forward_text = "out = log(1 + eˣ)"
    backward_text = "dL/dx = σ(x) · dL/dout"

    def f(self, x):
        return np.logaddexp(0.0, x).astype(x.dtype, copy=False)

    def df(self, g, x, out):
        return g / (1.0 + np.exp(-x))

    def torch_layer(self, shapes):
        return "Softplus", {}


#: SELU's constants (Klambauer et al. 2017), as PyTorch and ONNX have them
SELU_LAMBDA, SELU_ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717


@register
class SELU(_Activation):
    type_name = "SELU"
    numpy_op = (f'{SELU_LAMBDA!r} * np.where({{x}} > 0, {{x}}, {SELU_ALPHA!r} * np.expm1(np.minimum({{x}}, 0)))',
                {'x': f'{{g}} * np.where({{x}} > 0, {SELU_LAMBDA!r}, {{out}} + {SELU_LAMBDA * SELU_ALPHA!r})'})
    torch_op = "F.selu({x})"
    symbol = 'selu'
    doc = ("A scaled ELU, λ·(x or α(eˣ − 1)), whose λ ≈ 1.0507 and α ≈ 1.6733 keep activations near "
           "zero mean and unit variance layer after layer.")
    forward_text = "out = λx if x > 0 else λα(eˣ − 1)"
    backward_text = "dL/dx = dL/dout · (λ if x > 0 else out + λα)"
    has_kink = True  # the slope jumps from λα to λ at 0

    def f(self, x):
        return SELU_LAMBDA * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))

    def df(self, g, x, out):
        return g * np.where(x > 0, SELU_LAMBDA, out + SELU_LAMBDA * SELU_ALPHA)

    def kink_distance(self):
        return float(np.min(np.abs(self.cache["x"]))) if np.size(self.cache["x"]) else None

    def onnx(self, m, ins, out, shapes):
        m.node("Selu", ins, out, alpha=SELU_ALPHA, gamma=SELU_LAMBDA)
        return True


@register
class PReLU(Brick):
    """Leaky ReLU whose negative slope is learned, one per channel (or per feature)."""
    type_name = "PReLU"
    family = "Activations"
    symbol = '⌐a'
    doc = ("x for x > 0 and a·x otherwise, with the slope a learned: one per channel of an image, "
           "one per feature of a vector (He et al. 2015, who start it at 0.25).")
    forward_text = "out = x if x > 0 else a_c·x"
    backward_text = "dL/dx = dL/dout · (1 if x > 0 else a_c);  dL/da_c = Σ dL/dout · x over x ≤ 0 of channel c"
    has_kink = True
    torch_names = {"a": "weight"}

    def infer_shape(self, shapes):
        self.expect_rank(shapes, "x", (2, 4))
        return shapes["x"]

    def weight_shapes(self, shapes):
        return {"a": (shapes["x"][1],)}

    def param_count_text(self, shapes):
        c = shapes["x"][1]
        return f"one slope per {'channel' if len(shapes['x']) == 4 else 'feature'}: {c}"

    def init_weights(self, shapes, rng, dtype):
        self.weights = {"a": np.full(shapes["x"][1], 0.25, dtype)}

    def _a(self, x):
        return self.weights["a"].reshape((1, -1) + (1,) * (x.ndim - 2))

    def forward(self, inputs, training):
        x = inputs["x"]
        self.cache = {"x": x}
        return np.where(x > 0, x, self._a(x) * x)

    def backward(self, g):
        x = self.cache["x"]
        neg = x <= 0
        axes = (0,) + tuple(range(2, x.ndim))
        self.add_grad("a", np.sum(np.where(neg, g * x, 0.0), axis=axes).astype(self.dtype, copy=False))
        return {"x": np.where(neg, self._a(x) * g, g)}

    def kink_distance(self):
        return float(np.min(np.abs(self.cache["x"]))) if np.size(self.cache["x"]) else None

    def torch_layer(self, shapes):
        return "PReLU", {"num_parameters": shapes["x"][1]}

    def numpy_code(self, ins, out, g, w, shapes):
        x, a = ins["x"], w["a"]
        sh = "(1, -1)" if len(shapes["x"]) == 2 else "(1, -1, 1, 1)"
        axes = "0" if len(shapes["x"]) == 2 else "(0, 2, 3)"
        return (f"np.where({x} > 0, {x}, {a}.reshape{sh} * {x})",
                {"x": f"np.where({x} > 0, {g}, {a}.reshape{sh} * {g})"},
                {"a": f"np.sum(np.where({x} > 0, 0.0, {g} * {x}), axis={axes})"})

    def onnx(self, m, ins, out, shapes):
        a = self.weights["a"]  # ONNX broadcasts from the right: (C, 1, 1) against (N, C, H, W)
        m.node("PRelu", [ins[0], m.const(a.reshape(-1, 1, 1) if len(shapes["x"]) == 4 else a, f"{self.name}.a")], out)
        return True
