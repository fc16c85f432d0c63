"""Flatten: (N, C, H, W) -> (N, C·H·W), so a Linear layer can follow a ConvNet; Pad2D: a
border of zeros (or −∞), as wide on each side as asked."""
from __future__ import annotations

import math

import numpy as np

from gradviz_core.model.brick import Brick
from gradviz_core.model.registry import register
from gradviz_core.params import ParamSpec
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


#: what a Pad2D border holds: zeros (before a convolution), or −∞ (before a max pool, where a
#: border must never win)
FILLS = {"zeros": 0.0, "-inf": -np.inf}


def place(x: np.ndarray, h: int, w: int, top: int, left: int, fill: float) -> np.ndarray:
    """An (N, C, h, w) array of ``fill`` with ``x`` placed at row ``top``, column ``left`` (negative:
    x's first rows or columns are cut off), and whatever falls outside cut off too."""
    out = np.full(x.shape[:2] + (h, w), fill, dtype=x.dtype)
    r0, c0, sr, sc = max(top, 0), max(left, 0), max(-top, 0), max(-left, 0)
    rows, cols = min(x.shape[2] - sr, h - r0), min(x.shape[3] - sc, w - c0)
    if rows > 0 and cols > 0:
        out[:, :, r0:r0 + rows, c0:c0 + cols] = x[:, :, sr:sr + rows, sc:sc + cols]
    return out


@register
class Pad2D(Brick):
    type_name = "Pad2D"
    family = "Layers"
    symbol = '▢'
    doc = ("Adds a border around each image, as wide on each side as asked: zeros (a convolution's "
           "padding, on one side only if need be), or −∞ before a max pool. A negative side cuts rows "
           "or columns off instead (what a framework's windows leave unread at the end).")
    forward_text = "out = x with `top` rows above, `bottom` below, `left` columns before and `right` after"
    backward_text = "dL/dx = dL/dout without the border (0 for what was cut off)"
    params = tuple(ParamSpec(side, "int", 1, f"rows or columns added {where} (negative: cut off)", low=-64, high=64)
                   for side, where in (("top", "above"), ("bottom", "below"), ("left", "on the left"),
                                       ("right", "on the right"))) + (
        ParamSpec("fill", "choice", "zeros", "what the border holds", choices=tuple(FILLS)),)

    def _sides(self):
        c = self.config
        return c["top"], c["bottom"], c["left"], c["right"]

    def infer_shape(self, shapes):
        n, c, h, w = self.expect_rank(shapes, "x", (4,))
        t, b, l, r = self._sides()
        if h + t + b < 1 or w + l + r < 1:
            raise self.shape_error(f"cutting {-min(t, 0) - min(b, 0)} rows and {-min(l, 0) - min(r, 0)} columns "
                                   f"off a {h}×{w} image leaves nothing", "x")
        return (n, c, h + t + b, w + l + r)

    def forward(self, inputs, training):
        x = inputs["x"]
        t, b, l, r = self._sides()
        self.cache = {"shape": x.shape}
        return place(x, x.shape[2] + t + b, x.shape[3] + l + r, t, l, FILLS[self.config["fill"]])

    def backward(self, g):
        t, b, l, r = self._sides()
        _, _, h, w = self.cache["shape"]
        return {"x": place(g, h, w, -t, -l, 0.0)}

    def torch_expr(self, ins, shapes):
        t, b, l, r = self._sides()
        value = "float('-inf')" if self.config["fill"] == "-inf" else "0.0"
        return f"F.pad({ins['x']}, ({l}, {r}, {t}, {b}), value={value})"

    def numpy_code(self, ins, out, g, w, shapes):
        t, b, l, r = self._sides()
        _, _, h, wd = shapes["x"]
        fill = "-np.inf" if self.config["fill"] == "-inf" else "0.0"
        return (f"place({ins['x']}, {h + t + b}, {wd + l + r}, {t}, {l}, {fill})",
                {"x": f"place({g}, {h}, {wd}, {-t}, {-l}, 0.0)"}, {})

    def onnx(self, m, ins, out, shapes):
        t, b, l, r = self._sides()
        m.node("Pad", [ins[0], m.const(np.array([0, 0, t, l, 0, 0, b, r], np.int64), f"{self.name}.pads"),
                       m.const(np.array(FILLS[self.config["fill"]]), f"{self.name}.fill")], out)
        return True


@register
class ChannelShuffle(Brick):
    type_name = "ChannelShuffle"
    family = "Layers"
    symbol = '⇄'
    doc = ("Interleaves the channels of g groups (ShuffleNet): channel j of group i moves to position "
           "j·g + i, so that the next grouped convolution mixes every group.")
    forward_text = "out = x reshaped to (N, g, C/g, H, W), axes 1 and 2 swapped, reshaped back to (N, C, H, W)"
    backward_text = "dL/dx = dL/dout shuffled back: reshaped to (N, C/g, g, H, W), axes 1 and 2 swapped"
    params = (ParamSpec("groups", "int", 2, "g, how many groups of channels are interleaved", low=1, high=1024),)

    def infer_shape(self, shapes):
        n, c, h, w = self.expect_rank(shapes, "x", (4,))
        g = self.config["groups"]
        if c % g:
            raise self.shape_error(f"{c} channels do not split into {g} groups; use groups that divide {c}", "x")
        return shapes["x"]

    def param_count_text(self, shapes):
        return "0 (a shuffle has no weights)"

    def _shuffle(self, x, g):
        n, c, h, w = x.shape
        return x.reshape(n, g, c // g, h, w).transpose(0, 2, 1, 3, 4).reshape(n, c, h, w).copy()  # fresh, never a view

    def forward(self, inputs, training):
        return self._shuffle(inputs["x"], self.config["groups"])

    def backward(self, g):
        return {"x": self._shuffle(g, g.shape[1] // self.config["groups"])}

    def torch_expr(self, ins, shapes):
        _, c, h, w = shapes["x"]
        g = self.config["groups"]
        return f"{ins['x']}.reshape(-1, {g}, {c // g}, {h}, {w}).transpose(1, 2).reshape(-1, {c}, {h}, {w})"

    def numpy_code(self, ins, out, g, w, shapes):
        _, c, h, wd = shapes["x"]
        k = self.config["groups"]
        return (f"{ins['x']}.reshape(-1, {k}, {c // k}, {h}, {wd}).transpose(0, 2, 1, 3, 4).reshape(-1, {c}, {h}, {wd})",
                {"x": f"{g}.reshape(-1, {c // k}, {k}, {h}, {wd}).transpose(0, 2, 1, 3, 4).reshape(-1, {c}, {h}, {wd})"},
                {})

    def onnx(self, m, ins, out, shapes):
        _, c, h, w = shapes["x"]
        g = self.config["groups"]
        five, back = f"{self.name}.groups", f"{self.name}.swapped"
        m.node("Reshape", [ins[0], m.const(np.array([0, g, c // g, h, w], np.int64), f"{self.name}.shape5")], five)
        m.node("Transpose", [five], back, perm=[0, 2, 1, 3, 4])
        m.node("Reshape", [back, m.const(np.array([0, c, h, w], np.int64), f"{self.name}.shape4")], out)
        return True
