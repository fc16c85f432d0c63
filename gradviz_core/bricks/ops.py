"""Scalar and elementwise gates: the building blocks of the lectures' circuits.

Broadcasting follows NumPy: shapes are compared from the right, and two dimensions
fit when they are equal or one of them is 1 (a missing dimension counts as 1). So a
scalar combines with anything, and a (D,) vector combines with an (N, D) batch row
by row. In backward, a gradient is summed over every dimension that was stretched.
"""
from __future__ import annotations

import numpy as np

from gradviz_core.model.brick import Brick, unbroadcast
from gradviz_core.params import ParamSpec
from gradviz_core.model.registry import register
from gradviz_core.shapes import broadcast, fmt


class _Binary(Brick):
    family = "Gates"
    inputs = ("a", "b")

    def infer_shape(self, shapes):
        return broadcast(shapes["a"], shapes["b"], f"{self.name}: {self.type_name}(a, b)")

    def forward(self, inputs, training):
        a, b = inputs["a"], inputs["b"]
        self.cache = {"a": a, "b": b}
        return np.asarray(self.fn(a, b))

    def backward(self, grad_out):
        a, b = self.cache["a"], self.cache["b"]
        da, db = self.local(grad_out, a, b)
        return {"a": unbroadcast(da, np.shape(a)), "b": unbroadcast(db, np.shape(b))}


@register
class Add(_Binary):
    type_name = "Add"
    onnx_op = "Add"
    numpy_op = ('{a} + {b}', {'a': '{g}', 'b': '{g}'})
    torch_op = "{a} + {b}"
    symbol = '+'
    doc = "a + b: distributes the gradient unchanged to both inputs."
    forward_text = "out = a + b"
    backward_text = "dL/da = dL/dout;  dL/db = dL/dout"
    fn = staticmethod(np.add)

    def local(self, g, a, b):
        return g, g


@register
class Subtract(_Binary):
    type_name = "Subtract"
    onnx_op = "Sub"
    numpy_op = ('{a} - {b}', {'a': '{g}', 'b': '-{g}'})
    torch_op = "{a} - {b}"
    symbol = '−'
    doc = "a − b"
    forward_text = "out = a − b"
    backward_text = "dL/da = dL/dout;  dL/db = −dL/dout"
    fn = staticmethod(np.subtract)

    def local(self, g, a, b):
        return g, -g


@register
class Multiply(_Binary):
    type_name = "Multiply"
    onnx_op = "Mul"
    numpy_op = ('{a} * {b}', {'a': '{g} * {b}', 'b': '{g} * {a}'})
    torch_op = "{a} * {b}"
    symbol = '×'
    doc = "a · b: each input's gradient is the other input times the upstream gradient."
    forward_text = "out = a · b"
    backward_text = "dL/da = b · dL/dout;  dL/db = a · dL/dout"
    fn = staticmethod(np.multiply)

    def local(self, g, a, b):
        return g * b, g * a


@register
class Divide(_Binary):
    type_name = "Divide"
    onnx_op = "Div"
    numpy_op = ('{a} / {b}', {'a': '{g} / {b}', 'b': '-{g} * {a} / ({b} * {b})'})
    torch_op = "{a} / {b}"
    symbol = '÷'
    doc = "a / b"
    forward_text = "out = a / b"
    backward_text = "dL/da = dL/dout / b;  dL/db = −a / b² · dL/dout"
    fn = staticmethod(np.divide)

    def local(self, g, a, b):
        return g / b, -g * a / (b * b)


@register
class Max(_Binary):
    type_name = "Max"
    onnx_op = "Max"
    numpy_op = ('np.maximum({a}, {b})', {'a': '{g} * ({a} >= {b})', 'b': '{g} * ({a} < {b})'})
    torch_op = "torch.maximum({a}, {b})"
    symbol = 'max'
    doc = ("max(a, b): routes the gradient to the larger input. At a tie max has no derivative and the "
           "lectures' rule does not decide which input wins: gradviz gives the whole gradient to a, one "
           "subgradient of many (any split that adds up to it is one).")
    forward_text = "out = max(a, b)"
    backward_text = "dL/da = dL/dout · [a ≥ b];  dL/db = dL/dout · [a < b]"
    has_kink = True
    fn = staticmethod(np.maximum)

    def local(self, g, a, b):
        pick_a = a >= b
        return g * pick_a, g * ~pick_a

    def kink_distance(self):
        return float(np.min(np.abs(self.cache["a"] - self.cache["b"])))


@register
class Min(Max):
    type_name = "Min"
    onnx_op = "Min"
    numpy_op = ('np.minimum({a}, {b})', {'a': '{g} * ({a} <= {b})', 'b': '{g} * ({a} > {b})'})
    torch_op = "torch.minimum({a}, {b})"
    symbol = 'min'
    doc = "min(a, b): routes the gradient to the smaller input (to a on a tie)."
    forward_text = "out = min(a, b)"
    backward_text = "dL/da = dL/dout · [a ≤ b];  dL/db = dL/dout · [a > b]"
    fn = staticmethod(np.minimum)

    def local(self, g, a, b):
        pick_a = a <= b
        return g * pick_a, g * ~pick_a


@register
class MatMul(Brick):
    type_name = "MatMul"
    onnx_op = "MatMul"
    numpy_op = ('{a} @ {b}', {'a': '{g} @ {b}.T', 'b': '{a}.T @ {g}'})
    torch_op = "{a} @ {b}"
    symbol = '@'
    family = "Gates"
    doc = "a @ b, a matrix product: a is (N, k) or (k,), b is (k, m)."
    forward_text = "out[n, j] = Σ_i a[n, i] · b[i, j]"
    backward_text = "dL/da = dL/dout @ bᵀ;  dL/db = aᵀ @ dL/dout"
    inputs = ("a", "b")

    def infer_shape(self, shapes):
        a, b = shapes["a"], shapes["b"]
        if len(a) not in (1, 2):
            raise self.shape_error(f"a must be (N, k) or (k,), got {fmt(a)}", "a")
        if len(b) != 2:
            raise self.shape_error(f"b must be a (k, m) matrix, got {fmt(b)}", "b")
        if a[-1] != b[0]:
            raise self.shape_error(f"inner sizes differ: a is {fmt(a)} and b is {fmt(b)}; "
                                   f"a's last size {a[-1]} must equal b's first size {b[0]}", "b")
        return a[:-1] + (b[1],)

    def forward(self, inputs, training):
        a, b = inputs["a"], inputs["b"]
        self.cache = {"a": a, "b": b}
        return a @ b

    def backward(self, g):
        a, b = self.cache["a"], self.cache["b"]
        db = np.outer(a, g) if a.ndim == 1 else a.T @ g
        return {"a": g @ b.T, "b": db}


class _Unary(Brick):
    family = "Gates"

    def infer_shape(self, shapes):
        return shapes["x"]

    def forward(self, inputs, training):
        x = inputs["x"]
        out = np.asarray(self.fn(x))
        self.cache = {"x": x, "out": out}
        return out

    def backward(self, g):
        return {"x": g * self.local(self.cache["x"], self.cache["out"])}


@register
class Exp(_Unary):
    type_name = "Exp"
    onnx_op = "Exp"
    numpy_op = ('np.exp({x})', {'x': '{g} * {out}'})
    torch_op = "torch.exp({x})"
    symbol = 'eˣ'
    doc = "eˣ; its local gradient is its own output."
    forward_text = "out = eˣ"
    backward_text = "dL/dx = eˣ · dL/dout"
    fn = staticmethod(np.exp)

    def local(self, x, out):
        return out


@register
class Log(_Unary):
    type_name = "Log"
    onnx_op = "Log"
    numpy_op = ('np.log({x})', {'x': '{g} / {x}'})
    torch_op = "torch.log({x})"
    symbol = 'ln'
    doc = "ln x (natural logarithm), for x > 0."
    forward_text = "out = ln x"
    backward_text = "dL/dx = dL/dout / x"
    fn = staticmethod(np.log)

    def local(self, x, out):
        return 1.0 / x


@register
class Reciprocal(_Unary):
    type_name = "Reciprocal"
    onnx_op = "Reciprocal"
    numpy_op = ('1.0 / {x}', {'x': '-{g} * {out} * {out}'})
    torch_op = "1 / {x}"
    symbol = '1/x'
    doc = "1/x"
    forward_text = "out = 1/x"
    backward_text = "dL/dx = −1/x² · dL/dout"
    fn = staticmethod(np.reciprocal)

    def forward(self, inputs, training):
        x = np.asarray(inputs["x"], dtype=self.dtype)
        out = 1.0 / x
        self.cache = {"x": x, "out": out}
        return out

    def local(self, x, out):
        return -out * out


@register
class Negate(_Unary):
    type_name = "Negate"
    onnx_op = "Neg"
    numpy_op = ('-{x}', {'x': '-{g}'})
    torch_op = "-{x}"
    symbol = '−x'
    doc = "−x"
    forward_text = "out = −x"
    backward_text = "dL/dx = −dL/dout"
    fn = staticmethod(np.negative)

    def local(self, x, out):
        return -np.ones_like(x)


@register
class Abs(_Unary):
    type_name = "Abs"
    onnx_op = "Abs"
    numpy_op = ('np.abs({x})', {'x': '{g} * np.sign({x})'})
    torch_op = "torch.abs({x})"
    symbol = '|x|'
    doc = "|x|: the gradient is the sign of x (a kink at 0)."
    forward_text = "out = |x|"
    backward_text = "dL/dx = sign(x) · dL/dout"
    has_kink = True
    fn = staticmethod(np.abs)

    def local(self, x, out):
        return np.sign(x)

    def kink_distance(self):
        return float(np.min(np.abs(self.cache["x"]))) if np.size(self.cache["x"]) else None


@register
class Power(_Unary):
    type_name = "Power"
    numpy_op = ('np.power({x}, {p!r})', {'x': '{g} * {p!r} * np.power({x}, {p!r} - 1)'})
    torch_op = "{x} ** {p!r}"
    symbol = 'xᵖ'
    doc = "xᵖ (Square when p = 2)."
    forward_text = "out = xᵖ"
    backward_text = "dL/dx = p · xᵖ⁻¹ · dL/dout"
    params = (ParamSpec("p", "float", 2.0, "the exponent"),)

    def fn(self, x):
        return np.power(x, self.config["p"])

    def local(self, x, out):
        p = self.config["p"]
        return p * np.power(x, p - 1)

    def onnx(self, m, ins, out, shapes):
        m.node("Pow", [ins[0], m.const(np.array(self.config.get("p", 2.0)), f"{self.name}.p")], out)
        return True


@register
class Square(Power):
    type_name = "Square"
    numpy_op = ('{x} * {x}', {'x': '{g} * 2 * {x}'})
    torch_op = "{x} ** 2"
    symbol = 'x²'
    doc = "x²"
    forward_text = "out = x²"
    backward_text = "dL/dx = 2x · dL/dout"
    params = ()

    def fn(self, x):
        return x * x

    def local(self, x, out):
        return 2 * x


@register
class AddConstant(_Unary):
    type_name = "AddConstant"
    numpy_op = ('{x} + {c!r}', {'x': '{g}'})
    torch_op = "{x} + {c!r}"
    symbol = '+c'
    doc = "x + c for a fixed number c (the '+1' gate of the sigmoid circuit)."
    forward_text = "out = x + c"
    backward_text = "dL/dx = dL/dout"
    params = (ParamSpec("c", "float", 1.0, "the number to add"),)

    def fn(self, x):
        return x + self.config["c"]

    def local(self, x, out):
        return np.ones_like(x)

    def onnx(self, m, ins, out, shapes):
        m.node("Add", [ins[0], m.const(np.array(self.config["c"]), f"{self.name}.c")], out)
        return True


@register
class Scale(_Unary):
    type_name = "Scale"
    numpy_op = ('{c!r} * {x}', {'x': '{c!r} * {g}'})
    torch_op = "{c!r} * {x}"
    symbol = '·c'
    doc = "c · x for a fixed number c (the '×−1' gate of the sigmoid circuit)."
    forward_text = "out = c · x"
    backward_text = "dL/dx = c · dL/dout"
    params = (ParamSpec("c", "float", -1.0, "the factor"),)

    def fn(self, x):
        return self.config["c"] * x

    def local(self, x, out):
        return np.full_like(x, self.config["c"])

    def onnx(self, m, ins, out, shapes):
        m.node("Mul", [m.const(np.array(self.config["c"]), f"{self.name}.c"), ins[0]], out)
        return True


_AXIS = ParamSpec("over", "choice", "all",
                  "all: to a scalar; batch: over samples (axis 0); features: over all but axis 0",
                  choices=("all", "batch", "features"))


class _Reduce(Brick):
    family = "Gates"
    params = (_AXIS,)

    def _axes(self, ndim: int):
        over = self.config["over"]
        if over == "all" or ndim == 0:
            return tuple(range(ndim))
        return (0,) if over == "batch" else tuple(range(1, ndim))

    def infer_shape(self, shapes):
        s = shapes["x"]
        if self.config["over"] != "all" and len(s) == 0:
            raise self.shape_error(f"cannot reduce a scalar over '{self.config['over']}'", "x")
        axes = self._axes(len(s))
        return tuple(d for i, d in enumerate(s) if i not in axes)

    def numpy_code(self, ins, out, g, w, shapes):
        axes = self._axes(len(shapes["x"]))
        x = ins["x"]
        count = " * ".join(f"{x}.shape[{a}]" for a in axes) or "1"
        scale = "" if self.torch_reduce == "sum" else f" / ({count})"
        grad = (f"np.broadcast_to(np.expand_dims({g}, {tuple(axes)!r}){scale}, {x}.shape)" if axes
                else f"{g}{scale}")
        return (f"{x}.sum(axis={tuple(axes)!r}){scale}" if axes else x), {"x": grad}, {}

    def torch_expr(self, ins, shapes):
        axes = self._axes(len(shapes["x"]))
        return f"{ins['x']}.{self.torch_reduce}({tuple(axes)!r})" if axes else ins["x"]

    def onnx(self, m, ins, out, shapes):
        axes = list(self._axes(len(shapes["x"])))
        if not axes:
            m.node("Identity", ins, out)
        elif self.torch_reduce == "sum":  # (opset 17: ReduceSum's axes are an input, ReduceMean's an attribute)
            m.node("ReduceSum", [ins[0], m.const(np.array(axes, np.int64), f"{self.name}.axes")], out, keepdims=0)
        else:
            m.node("ReduceMean", ins, out, axes=axes, keepdims=0)
        return True

    def _count(self, x) -> int:
        return int(np.prod([x.shape[a] for a in self._axes(x.ndim)]))

    def forward(self, inputs, training):
        x = inputs["x"]
        self.cache = {"shape": x.shape, "axes": self._axes(x.ndim), "count": self._count(x)}
        return np.asarray(x.sum(axis=self.cache["axes"]) * self.factor(self.cache["count"]))

    def backward(self, g):
        c = self.cache
        g = np.expand_dims(g, c["axes"]) if c["axes"] else g
        return {"x": np.broadcast_to(g * self.factor(c["count"]), c["shape"]).copy()}


@register
class Sum(_Reduce):
    torch_reduce = "sum"
    type_name = "Sum"
    symbol = 'Σ'
    doc = "Σ x over all elements, the samples, or each sample's features."
    forward_text = "out = Σᵢ xᵢ"
    backward_text = "dL/dxᵢ = dL/dout (copied to every summed element)"

    def factor(self, count):
        return 1.0


@register
class Mean(_Reduce):
    torch_reduce = "mean"
    type_name = "Mean"
    symbol = 'μ'
    doc = "the mean of x over all elements, the samples, or each sample's features."
    forward_text = "out = (1/n) Σᵢ xᵢ"
    backward_text = "dL/dxᵢ = dL/dout / n"

    def factor(self, count):
        return 1.0 / max(count, 1)
