"""Max and average pooling over F×F windows with stride S (S = F when left at 0)."""
from __future__ import annotations

import numpy as np

from gradviz_core import kernels
from gradviz_core.model.brick import Brick
from gradviz_core.bricks.conv import window_output
from gradviz_core.params import ParamSpec
from gradviz_core.model.registry import register


class _Pool(Brick):
    family = "Layers"
    params = (
        ParamSpec("size", "int", 2, "F, the window is F×F", low=1, high=64),
        ParamSpec("stride", "int", 0, "S, the step between windows (0 means S = F)", low=0, high=64),
        ParamSpec("padding", "int", 0, "P, border added on each side", low=0, high=32),
    )

    def _fsp(self):
        f = self.config["size"]
        return f, self.config["stride"] or f, self.config["padding"]

    def numpy_code(self, ins, out, g, w, shapes):
        f, s, p = self._fsp()
        fn = self.torch_fn.replace("_pool2d", "_pool")  # max_pool, avg_pool: the script's own
        return f"{fn}({ins['x']}, {f}, {s}, {p})", {"x": f"{fn}_grad({g}, {ins['x']}, {f}, {s}, {p})"}, {}

    def torch_expr(self, ins, shapes):
        f, s, p = self._fsp()  # PyTorch's average pooling counts the padding, as gradviz's does
        return f"F.{self.torch_fn}({ins['x']}, {f}, {s}, {p})"

    def infer_shape(self, shapes):
        n, c, h, w = self.expect_rank(shapes, "x", (4,))
        f, s, p = self._fsp()
        if p > f // 2:
            raise self.shape_error(f"padding P = {p} is more than half the window F = {f}: "
                                   "some windows would see only padding", "x")
        return (n, c, window_output(self, "x", "H", h, f, s, p), window_output(self, "x", "W", w, f, s, p))

    def param_count_text(self, shapes):
        return "0 (pooling has no weights)"

    def onnx(self, m, ins, out, shapes):
        f, s, p = self._fsp()
        extra = {"count_include_pad": 1} if self.onnx_pool == "AveragePool" else {}  # padding counts as 0
        m.node(self.onnx_pool, ins, out, kernel_shape=[f, f], strides=[s, s], pads=[p] * 4, **extra)
        return True


@register
class MaxPool2D(_Pool):
    onnx_pool = "MaxPool"
    torch_fn = "max_pool2d"
    type_name = "MaxPool2D"
    symbol = '⌈⌉'
    doc = "Keeps the largest value of each window; the gradient goes only to that value."
    forward_text = "out[n,c,h,w] = max over the window of x"
    backward_text = "dL/dx = dL/dout at the position of each window's max, 0 elsewhere"
    has_kink = True

    def forward(self, inputs, training):
        x = inputs["x"]
        f, s, p = self._fsp()
        out, arg = kernels.active().maxpool_forward(x, f, s, p)
        self.cache = {"x": x, "arg": arg}
        return out

    def backward(self, g):
        f, s, p = self._fsp()
        return {"x": kernels.active().maxpool_backward(g, self.cache["arg"], self.cache["x"].shape, f, s, p)}

    def kink_distance(self):
        """The smallest gap between a window's largest and second-largest value."""
        from gradviz_core.kernels.reference import _pad, _windows
        f, s, p = self._fsp()
        cols = _windows(_pad(self.cache["x"], p, -np.inf), f, s)
        flat = np.sort(cols.reshape(cols.shape[:4] + (f * f,)), axis=-1)
        if f * f < 2:
            return None
        gap = flat[..., -1] - flat[..., -2]
        return float(np.min(gap[np.isfinite(gap)])) if np.isfinite(gap).any() else None

    def torch_layer(self, shapes):
        c = self.config
        return "MaxPool2d", {"kernel_size": c["size"], "stride": c["stride"] or c["size"],
                             "padding": c["padding"]}


@register
class AvgPool2D(_Pool):
    torch_fn = "avg_pool2d"
    onnx_pool = "AveragePool"
    type_name = "AvgPool2D"
    symbol = 'avg'
    doc = "Averages each window; the gradient is shared equally by the window's elements."
    forward_text = "out[n,c,h,w] = mean over the F×F window of x (padding counts as 0)"
    backward_text = "dL/dx = dL/dout / F², added to every element of the window"

    def forward(self, inputs, training):
        x = inputs["x"]
        f, s, p = self._fsp()
        self.cache = {"shape": x.shape}
        return kernels.active().avgpool_forward(x, f, s, p)

    def backward(self, g):
        f, s, p = self._fsp()
        return {"x": kernels.active().avgpool_backward(g, self.cache["shape"], f, s, p)}


@register
class GlobalAvgPool2D(Brick):
    type_name = "GlobalAvgPool2D"
    family = "Layers"
    symbol = 'gap'
    doc = ("Averages each channel over the whole image, (N, C, H, W) → (N, C, 1, 1): how GoogLeNet, "
           "ResNet and SqueezeNet end, instead of big fully connected layers.")
    forward_text = "out[n,c] = (1/(H·W)) Σ_h Σ_w x[n,c,h,w]"
    backward_text = "dL/dx[n,c,h,w] = dL/dout[n,c] / (H·W)"
    torch_op = "F.adaptive_avg_pool2d({x}, 1)"
    onnx_op = "GlobalAveragePool"

    def infer_shape(self, shapes):
        n, c, _, _ = self.expect_rank(shapes, "x", (4,))
        return (n, c, 1, 1)

    def param_count_text(self, shapes):
        return "0 (pooling has no weights)"

    def forward(self, inputs, training):
        x = inputs["x"]
        self.cache = {"shape": x.shape}
        return x.mean(axis=(2, 3), keepdims=True)

    def backward(self, g):
        n, c, h, w = self.cache["shape"]
        return {"x": np.broadcast_to(g / (h * w), (n, c, h, w)).astype(g.dtype, copy=True)}

    def numpy_code(self, ins, out, g, w, shapes):
        return (f"{ins['x']}.mean(axis=(2, 3), keepdims=True)",
                {"x": f"np.broadcast_to({g} / ({ins['x']}.shape[2] * {ins['x']}.shape[3]), {ins['x']}.shape).copy()"},
                {})
