"""Bricks that merge several branches into one: a sum of n inputs (a residual block's shortcut
joining its main path) and a concatenation along the channels (an inception module, a dense
block). One input port per branch: ``in0``, ``in1``, … as many as the ``inputs`` setting."""
from __future__ import annotations

import numpy as np

from gradviz_core.model.brick import Brick
from gradviz_core.model.registry import register
from gradviz_core.params import ParamSpec
from gradviz_core.shapes import fmt


class _Merge(Brick):
    family = "Gates"
    params = (ParamSpec("inputs", "int", 2, "how many branches come in (one port each)", low=2, high=64),)

    def input_ports(self):
        return tuple(f"in{i}" for i in range(self.config["inputs"]))

    def _shapes(self, shapes):
        ports = self.input_ports()
        return ports, [shapes[p] for p in ports]


@register
class AddN(_Merge):
    type_name = "AddN"
    symbol = '+ₙ'
    doc = ("Adds n inputs of one shape: where a residual block's shortcut meets its main path "
           "(ResNet's x + F(x)). The gradient flows back unchanged into every branch.")
    forward_text = "out = in₀ + in₁ + … + inₙ₋₁"
    backward_text = "dL/dinᵢ = dL/dout for every i (an add gate distributes the gradient)"

    def infer_shape(self, shapes):
        ports, ss = self._shapes(shapes)
        for p, s in zip(ports[1:], ss[1:]):
            if s != ss[0]:
                raise self.shape_error(f"every input must have one shape: in0 is {fmt(ss[0])} but {p} is "
                                       f"{fmt(s)}", p)
        return ss[0]

    def forward(self, inputs, training):
        ports = self.input_ports()
        out = np.array(inputs[ports[0]], dtype=self.dtype, copy=True)
        for p in ports[1:]:
            out += inputs[p]
        return out

    def backward(self, g):
        return {p: np.array(g, copy=True) for p in self.input_ports()}

    def torch_expr(self, ins, shapes):
        return "(" + " + ".join(ins[p] for p in self.input_ports()) + ")"

    def numpy_code(self, ins, out, g, w, shapes):
        return " + ".join(ins[p] for p in self.input_ports()), {p: g for p in self.input_ports()}, {}

    def onnx(self, m, ins, out, shapes):
        m.node("Sum", ins, out)
        return True


@register
class Concat(_Merge):
    type_name = "Concat"
    symbol = '⧺'
    doc = ("Stacks its inputs along the channels (axis 1): an inception module's branches, a dense "
           "block's growing features. The gradient is cut back into each input's slice.")
    forward_text = "out = [in₀, in₁, …] along axis 1 (channels, or features)"
    backward_text = "dL/dinᵢ = the slice of dL/dout along axis 1 that inᵢ filled"

    def infer_shape(self, shapes):
        ports, ss = self._shapes(shapes)
        first = ss[0]
        if len(first) < 2:
            raise self.shape_error(f"Concat joins batches (N, C, …) along axis 1, not {fmt(first)}", ports[0])
        for p, s in zip(ports[1:], ss[1:]):
            if len(s) != len(first) or s[:1] + s[2:] != first[:1] + first[2:]:
                raise self.shape_error(f"inputs must agree on every axis but the channels (axis 1): in0 is "
                                       f"{fmt(first)}, {p} is {fmt(s)}", p)
        return (first[0], sum(s[1] for s in ss), *first[2:])

    def forward(self, inputs, training):
        parts = [inputs[p] for p in self.input_ports()]
        self.cache = {"sizes": [a.shape[1] for a in parts]}
        return np.concatenate(parts, axis=1).astype(self.dtype, copy=False)

    def backward(self, g):
        ends = np.cumsum(self.cache["sizes"])
        return {p: np.array(g[:, e - k:e], copy=True)
                for p, k, e in zip(self.input_ports(), self.cache["sizes"], ends)}

    def param_count_text(self, shapes):
        return "0 (a concatenation has no weights)"

    def torch_expr(self, ins, shapes):
        return "torch.cat([" + ", ".join(ins[p] for p in self.input_ports()) + "], dim=1)"

    def numpy_code(self, ins, out, g, w, shapes):
        ports = self.input_ports()
        ends = np.cumsum([shapes[p][1] for p in ports])
        return (f"np.concatenate([{', '.join(ins[p] for p in ports)}], axis=1)",
                {p: f"{g}[:, {e - shapes[p][1]}:{e}]" for p, e in zip(ports, ends)}, {})

    def onnx(self, m, ins, out, shapes):
        m.node("Concat", ins, out, axis=1)
        return True
