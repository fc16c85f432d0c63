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
        ParamSpec("size_w", "int", 0, "the window's width, when it is not F; 0: square", low=0, high=64),
        ParamSpec("stride_w", "int", 0, "the step across, when it is not the step down; 0: the same",
                  low=0, high=64),
    )

    def _fsp(self):
        f = self.config["size"]
        return f, self.config["stride"] or f, self.config["padding"]

    def _dims(self) -> tuple[int, int, int, int]:
        """(F_h, F_w, S_h, S_w)."""
        c = self.config
        fh, fw = c["size"], c["size_w"] or c["size"]
        sh = c["stride"] or fh
        return fh, fw, sh, c["stride_w"] or (sh if c["size_w"] == 0 or c["stride"] else fw)

    def _square(self) -> bool:
        fh, fw, sh, sw = self._dims()
        return fh == fw and sh == sw

    def _kernels(self):
        """(kernels, size, stride, padding): a rectangular window runs on the NumPy reference."""
        if self._square():
            f, s, p = self._fsp()
            return kernels.active(), f, s, p
        from gradviz_core.kernels import reference
        fh, fw, sh, sw = self._dims()
        return reference, (fh, fw), (sh, sw), self.config["padding"]

    def numpy_code(self, ins, out, g, w, shapes):
        if not self._square():
            return None  # the study script's windows are square
        f, s, p = self._fsp()
        fn = self.torch_fn.replace("_pool2d", "_pool")  # max_pool, avg_pool: the script's own
        return f"{fn}({ins['x']}, {f}, {s}, {p})", {"x": f"{fn}_grad({g}, {ins['x']}, {f}, {s}, {p})"}, {}

    def torch_expr(self, ins, shapes):
        fh, fw, sh, sw = self._dims()  # PyTorch's average pooling counts the padding, as gradviz's does
        p = self.config["padding"]
        if self._square():
            return f"F.{self.torch_fn}({ins['x']}, {fh}, {sh}, {p})"
        return f"F.{self.torch_fn}({ins['x']}, ({fh}, {fw}), ({sh}, {sw}), {p})"

    def infer_shape(self, shapes):
        n, c, h, w = self.expect_rank(shapes, "x", (4,))
        fh, fw, sh, sw = self._dims()
        p = self.config["padding"]
        if p > min(fh, fw) // 2:
            raise self.shape_error(f"padding P = {p} is more than half the window F = {min(fh, fw)}: "
                                   "some windows would see only padding", "x")
        return (n, c, window_output(self, "x", "H", h, fh, sh, p), window_output(self, "x", "W", w, fw, sw, p))

    def param_count_text(self, shapes):
        return "0 (pooling has no weights)"

    def onnx(self, m, ins, out, shapes):
        fh, fw, sh, sw = self._dims()
        p = self.config["padding"]
        extra = {"count_include_pad": 1} if self.onnx_pool == "AveragePool" else {}  # padding counts as 0
        m.node(self.onnx_pool, ins, out, kernel_shape=[fh, fw], strides=[sh, sw], pads=[p] * 4, **extra)
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
        k, f, s, p = self._kernels()
        out, arg = k.maxpool_forward(x, f, s, p)
        self.cache = {"x": x, "arg": arg}
        return out

    def backward(self, g):
        k, f, s, p = self._kernels()
        return {"x": k.maxpool_backward(g, self.cache["arg"], self.cache["x"].shape, f, s, p)}

    def kink_distance(self):
        """The smallest gap between a window's largest and second-largest value."""
        from gradviz_core.kernels.reference import _pad, _windows
        fh, fw, sh, sw = self._dims()
        cols = _windows(_pad(self.cache["x"], self.config["padding"], -np.inf), (fh, fw), (sh, sw))
        flat = np.sort(cols.reshape(cols.shape[:4] + (fh * fw,)), axis=-1)
        if fh * fw < 2:
            return None
        gap = flat[..., -1] - flat[..., -2]
        return float(np.min(gap[np.isfinite(gap)])) if np.isfinite(gap).any() else None

    def torch_layer(self, shapes):
        fh, fw, sh, sw = self._dims()
        return "MaxPool2d", {"kernel_size": fh if fh == fw else (fh, fw), "stride": sh if sh == sw else (sh, sw),
                             "padding": self.config["padding"]}


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
        k, f, s, p = self._kernels()
        self.cache = {"shape": x.shape}
        return k.avgpool_forward(x, f, s, p)

    def backward(self, g):
        k, f, s, p = self._kernels()
        return {"x": k.avgpool_backward(g, self.cache["shape"], f, s, p)}


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
