"""The brick contract (the lectures' "modular way", as in Caffe and Torch).

A brick declares its input ports, its parameters (settings), ``infer_shape``, its
learnable weights and their shapes, and its forward and backward formulas as text.

``forward(inputs, training)`` computes the output and keeps what backward needs in
``self.cache`` under names. ``backward(grad_out)`` returns one gradient per input
port (fresh arrays, or ``None`` for an input that has no gradient such as integer
labels) and *adds* the weight gradients into ``self.grads`` (weight gradients
accumulate, input gradients are returned fresh, as in Caffe).
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from gradviz_core.errors import ShapeError
from gradviz_core.params import ParamSpec
from gradviz_core.shapes import Shape, fmt


class Brick:
    type_name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    doc: ClassVar[str] = ""
    forward_text: ClassVar[str] = ""
    backward_text: ClassVar[str] = ""
    params: ClassVar[tuple[ParamSpec, ...]] = ()
    inputs: ClassVar[tuple[str, ...]] = ("x",)
    #: names of weights that weight decay applies to by default (biases are left out)
    decay: ClassVar[tuple[str, ...]] = ()
    #: True for bricks with a kink (ReLU, max, hinge ...): see ``kink_distance``
    has_kink: ClassVar[bool] = False
    #: True for data bricks whose output the runner provides (Input, Target)
    is_source: ClassVar[bool] = False
    #: True for regularizers: they read and write other nodes' weights (see ``bind``)
    acts_on_weights: ClassVar[bool] = False
    #: True for losses over K class scores (input "x", (N, K)): K must be the data's class count
    scores_classes: ClassVar[bool] = False
    #: for data bricks: which array of a batch the runner feeds them, "X" (samples) or "y" (labels)
    feeds: ClassVar[str | None] = None
    #: True for bricks that draw random numbers each iteration (Dropout): see ``begin_iteration``
    stochastic: ClassVar[bool] = False
    #: for losses: the input port that holds the model's scores (accuracy and predictions read it);
    #: None for bricks that are not such a loss (WeightedSum combines losses, it reads no scores)
    scores_port: ClassVar[str | None] = None
    #: True for activations whose units can die (output 0 for every sample): ReLU
    can_die: ClassVar[bool] = False
    #: for saturating activations, the output's bounds, where the gradient vanishes (sigmoid, tanh)
    saturates: ClassVar[tuple[float, float] | None] = None
    #: the palette's symbol for this brick (a short text); the first letters of the type when empty
    symbol: ClassVar[str] = ""
    #: set False (by the trainer, for one backward call) when no one reads the input gradient,
    #: e.g. a first layer fed by data; bricks that can skip that work do
    need_input_grad: bool = True

    def __init__(self, name: str = "", /, **config: Any) -> None:
        self.name = name or self.type_name.lower()
        self.config: dict[str, Any] = {}
        for spec in self.params:
            self.config[spec.name] = spec.coerce(config.pop(spec.name, spec.default), self.name)
        if config:
            from gradviz_core.errors import ParamError
            bad = ", ".join(sorted(config))
            known = ", ".join(s.name for s in self.params) or "none"
            raise ParamError(f"{self.name}: {self.type_name} has no parameter {bad} "
                             f"(its parameters: {known})", node=self.name)
        self.weights: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.cache: dict[str, Any] = {}
        #: the float type this brick computes in (float32 for training, float64 for checks)
        self.dtype = np.dtype(np.float64)

    # ---- declarations ------------------------------------------------------------
    @classmethod
    def spec(cls, name: str) -> ParamSpec:
        for s in cls.params:
            if s.name == name:
                return s
        raise KeyError(name)

    def input_ports(self) -> tuple[str, ...]:
        return self.inputs

    def infer_shape(self, shapes: dict[str, Shape]) -> Shape:
        raise NotImplementedError

    def weight_shapes(self, shapes: dict[str, Shape]) -> dict[str, tuple[int, ...]]:
        """Shapes of the learnable weights, given the input shapes."""
        return {}

    def param_count(self, shapes: dict[str, Shape]) -> int:
        return sum(math.prod(s) for s in self.weight_shapes(shapes).values())

    def param_count_text(self, shapes: dict[str, Shape]) -> str:
        """The parameter count with its formula, e.g. ``(2·16) + 16 = 48``."""
        n = self.param_count(shapes)
        return f"{n}"

    # ---- weights -------------------------------------------------------------------
    def init_weights(self, shapes: dict[str, Shape], rng: np.random.Generator, dtype) -> None:
        """Create the learnable weights (and buffers) for these input shapes."""
        self.weights = {}

    def ensure_weights(self, shapes: dict[str, Shape], rng_factory, dtype) -> None:
        """(Re)initialize weights whose shape no longer fits; keep the ones that do."""
        want = self.weight_shapes(shapes)
        have = {k: v.shape for k, v in self.weights.items()}
        if want != have:
            self.init_weights(shapes, rng_factory(), dtype)
        self.zero_grads()

    # Weight gradients accumulate (Caffe's rule). A weight with no entry in ``grads`` has
    # gradient 0, so clearing is free and the first contribution is stored as it is.
    def zero_grads(self) -> None:
        self.grads = {}

    def add_grad(self, name: str, value: np.ndarray) -> None:
        g = self.grads.get(name)
        self.grads[name] = value if g is None else g + value

    def grad(self, name: str) -> np.ndarray:
        g = self.grads.get(name)
        return np.zeros_like(self.weights[name]) if g is None else g

    def astype(self, dtype) -> None:
        self.dtype = np.dtype(dtype)
        for store in (self.weights, self.grads, self.buffers):
            for k, v in store.items():
                if np.issubdtype(v.dtype, np.floating):
                    store[k] = v.astype(dtype)

    # ---- computation ---------------------------------------------------------------
    def forward(self, inputs: dict[str, np.ndarray], training: bool) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> dict[str, np.ndarray | None]:
        raise NotImplementedError

    def begin_iteration(self, seed: int, step: int) -> None:
        """Called by the run before each iteration's forward pass on ``stochastic`` bricks: every
        forward pass within one iteration (a stepped pass, a gradient check) sees the same draw."""

    def arithmetic(self, shapes: dict[str, Shape]) -> list[str]:
        """Lines of the lectures' arithmetic for this node, numbers filled in (a convolution's output
        size, its neurons, its parameters with and without sharing); none for most bricks."""
        return []

    def formulas(self) -> tuple[str, str]:
        """(forward, backward) as this node computes them, its settings filled in where they change
        the formula (the inspector and the canvas's tooltip show these; the palette, the class's)."""
        return self.forward_text, self.backward_text

    def predict_classes(self, scores: np.ndarray) -> np.ndarray | None:
        """For losses: class predictions from the scores, or None (regression)."""
        return None

    def initial_loss(self, classes: int | None) -> tuple[float, str] | None:
        """For losses: the data loss expected with small random weights, with its formula."""
        return None

    def torch_layer(self, shapes: dict[str, Shape]) -> tuple[str, dict] | None:
        """The ``torch.nn`` module this brick corresponds to, as (class name, keyword arguments),
        or None when there is none (used by the bench's PyTorch side)."""
        return None

    #: the export's PyTorch expression of this node's output, with {port} for its inputs' values
    #: and {param} for its parameters ("torch.exp({x})"); None when the node is a module
    #: (``torch_layer``, or weights of its own) or has no counterpart
    torch_op: ClassVar[str | None] = None
    #: weights stored transposed in PyTorch (gradviz's Linear W is (D, K), PyTorch's (K, D))
    torch_transposed: ClassVar[tuple[str, ...]] = ()
    #: gradviz weight name -> PyTorch's (W -> weight, b -> bias, γ -> weight, β -> bias)
    torch_names: ClassVar[dict[str, str]] = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias"}

    def torch_expr(self, ins: dict[str, str], shapes: dict[str, Shape]) -> str | None:
        """This node's output as a PyTorch expression of its inputs' values (``ins``: port ->
        expression), for ``gradviz export``; None: no counterpart."""
        return None if self.torch_op is None else self.torch_op.format(**ins, **self.config)

    #: for an activation: its name in the fused MLP forward (kernels' MLP_ACTS), or None
    fused_act: ClassVar[str | None] = None
    #: a layer x W + b that the fused MLP forward can run (W, and b unless bias is off)
    fused_layer: ClassVar[bool] = False
    #: the activations (their ``fused_act``) this brick can apply to its own output inside its
    #: kernels: in whole training passes the engine runs such an activation node, when it is
    #: this node's only reader, as part of this one (``forward_fused``, ``backward_fused``)
    fuses: ClassVar[tuple[str, ...]] = ()

    def fused_alpha(self) -> float:
        """For an activation: the slope of its negative side in a fused kernel (leaky ReLU's α)."""
        return float(self.config.get("alpha", 0.0))

    def forward_fused(self, inputs: dict[str, np.ndarray], training: bool, act: "Brick") -> np.ndarray:
        """The output of activation brick ``act`` (one of ``fuses``) applied to this brick's."""
        raise NotImplementedError(f"{self.type_name} fuses no activation")

    def backward_fused(self, grad_out: np.ndarray, act_out: np.ndarray, act: "Brick") -> dict[str, np.ndarray | None]:
        """``backward`` from the gradient at the output ``act_out`` of the fused activation."""
        raise NotImplementedError(f"{self.type_name} fuses no activation")

    #: the NumPy study script's forward expression and, per input port, dL/d(input) as an
    #: expression of {g} (dL/d(output)), {out} and the inputs ({x}, {a}, …); None: no form yet
    numpy_op: ClassVar[tuple[str, dict[str, str]] | None] = None

    def numpy_code(self, ins: dict[str, str], out: str, g: str, w: dict[str, str],
                   shapes: dict[str, Shape]) -> tuple[str, dict[str, str], dict[str, str]] | None:
        """For ``gradviz export --to numpy``: (forward expression, {port: input gradient},
        {weight: its gradient}) with ``ins`` the inputs' values, ``out`` this node's, ``g``
        dL/d(out) and ``w`` the weights' names; None when there is no NumPy form."""
        if self.numpy_op is None:
            return None
        fwd, back = self.numpy_op
        names = {**ins, **self.config, "out": out, "g": g}
        return fwd.format(**names), {p: e.format(**names) for p, e in back.items()}, {}

    #: the ONNX operator this brick is, its inputs in port order ("Relu"); None when it has none
    #: or writes itself (``onnx``)
    onnx_op: ClassVar[str | None] = None
    #: a node that only training uses (a target, a loss, a regularizer): an exported model
    #: leaves it out
    onnx_training_only: ClassVar[bool] = False

    def onnx(self, m, ins: list[str], out: str, shapes: dict[str, Shape]) -> bool:
        """Write this node into the ONNX model ``m`` (``export_onnx.Model``): its inputs' tensor
        names in port order, its output's name. False when it has no ONNX form."""
        if self.onnx_op is None:
            return False
        m.node(self.onnx_op, ins, out)
        return True

    def torch_module(self, shapes: dict[str, Shape]) -> tuple[str, dict] | None:
        """For the export: the module that holds this node's weights or state, as (class, keyword
        arguments); the class is ``nn.X`` or one the exported file defines. None: an expression."""
        layer = self.torch_layer(shapes)
        return (f"nn.{layer[0]}", layer[1]) if layer is not None and self.weight_shapes(shapes) else None

    def kink_distance(self) -> float | None:
        """After forward: how close the inputs came to a kink (0 = on it). None if no kink."""
        return None

    # ---- helpers for subclasses ---------------------------------------------------------
    def shape_error(self, message: str, port: str | None = None) -> ShapeError:
        where = f"{self.name}" + (f" (port {port})" if port else "")
        return ShapeError(f"{where}: {message}", node=self.name, port=port)

    def expect_rank(self, shapes: dict[str, Shape], port: str, ranks: tuple[int, ...],
                    hint: str = "") -> Shape:
        s = shapes[port]
        if len(s) not in ranks:
            want = " or ".join({2: "(N, D)", 4: "(N, C, H, W)", 1: "(N,)", 0: "a scalar"}.get(r, f"rank {r}")
                               for r in ranks)
            raise self.shape_error(f"{self.type_name} expects {want} but gets {fmt(s)}"
                                   + (f"; {hint}" if hint else ""), port)
        return s

    def __repr__(self) -> str:
        return f"{self.type_name}({self.name})"


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a gradient over the dimensions that broadcasting stretched, back to ``shape``.
    The result is always a fresh array (never ``grad`` itself)."""
    given = grad = np.asarray(grad)
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, dim in enumerate(shape):
        if dim == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad.copy() if grad is given else grad
