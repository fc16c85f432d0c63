"""Flatten: (N, C, H, W) -> (N, C·H·W), so a Linear layer can follow a ConvNet."""
from __future__ import annotations

import math

from gradviz_core.model.brick import Brick
from gradviz_core.model.registry import register
from gradviz_core.shapes import fmt


@register
class Flatten(Brick):
    type_name = "Flatten"
    numpy_op = ("{x}.reshape(len({x}), -1)", {"x": "{g}.reshape({x}.shape)"})
    torch_op = "torch.flatten({x}, 1)"
    symbol = '≡'
    family = "Layers"
    doc = "Lays each sample out as one row of numbers."
    forward_text = "out = x reshaped to (N, C·H·W)"
    backward_text = "dL/dx = dL/dout reshaped back to x's shape"

    def infer_shape(self, shapes):
        s = shapes["x"]
        if len(s) < 2:
            raise self.shape_error(f"Flatten expects a batch (N, ...) but gets {fmt(s)}", "x")
        return (s[0], math.prod(s[1:]))

    def forward(self, inputs, training):
        x = inputs["x"]
        self.cache = {"shape": x.shape}
        return x.reshape(x.shape[0], -1)

    def backward(self, g):
        return {"x": g.reshape(self.cache["shape"]).copy()}  # fresh, never a view of g

    def torch_layer(self, shapes):
        return "Flatten", {}

    def onnx(self, m, ins, out, shapes):
        m.node("Flatten", ins, out, axis=1)
        return True
