"""Conv2D: a bank of K filters of size F×F slid over the input with stride S and padding P."""
from __future__ import annotations

from gradviz_core import kernels
from gradviz_core.model.brick import Brick
from gradviz_core.model.init import init_array, weight_param_specs
from gradviz_core.params import ParamSpec
from gradviz_core.model.registry import register


def window_output(brick: Brick, port: str, axis: str, w: int, f: int, s: int, p: int) -> int:
    """(W − F + 2P)/S + 1, or a ShapeError that shows the arithmetic and a fix."""
    span = w - f + 2 * p
    if span < 0:
        raise brick.shape_error(
            f"the {f}×{f} window is larger than the padded input: {axis} + 2P = {w} + {2 * p} "
            f"= {w + 2 * p} < F = {f}; use a smaller size or more padding", port)
    if span % s:
        tries = [f"stride {t}" for t in range(s - 1, 0, -1) if span % t == 0][:1]
        tries += [f"padding {q}" for q in range(p + 1, p + f + 1) if (w - f + 2 * q) % s == 0][:1]
        tries += [f"size {k}" for k in sorted(range(1, w + 2 * p + 1), key=lambda k: (abs(k - f), k))
                  if k != f and (w - k + 2 * p) % s == 0][:1]
        raise brick.shape_error(
            f"({axis} − F + 2P)/S + 1 = ({w} − {f} + {2 * p})/{s} + 1 = {span / s + 1:g} is not a "
            f"whole number; try {' or '.join(tries)}", port)
    return span // s + 1


@register
class Conv2D(Brick):
    type_name = "Conv2D"
    symbol = '✱'
    family = "Layers"
    doc = "K filters of size F×F slide over the input; each output map is one filter's response."
    forward_text = ("out[n,k,h,w] = Σ_c Σ_ij W[k,c,i,j] · xpad[n,c,S·h+i,S·w+j] + b[k];  "
                    "Ho = (H − F + 2P)/S + 1")
    backward_text = ("dL/dW[k,c,i,j] = Σ_n,h,w dL/dout[n,k,h,w] · xpad[n,c,S·h+i,S·w+j];  "
                     "dL/db[k] = Σ dL/dout[:,k];  dL/dx = the same windows, weighted by W, added back")
    params = (
        ParamSpec("filters", "int", 8, "K, the number of filters (output channels)", low=1, high=4096),
        ParamSpec("size", "int", 3, "F, each filter is F×F", low=1, high=64),
        ParamSpec("stride", "int", 1, "S, the step between windows", low=1, high=64),
        ParamSpec("padding", "int", 0, "P, zeros added on each border", low=0, high=64),
        ParamSpec("groups", "int", 1, "G: split channels and filters in G groups (AlexNet used 2)",
                  low=1, high=4096),
        ParamSpec("size_w", "int", 0, "the filter's width, when it is not F (a 1×7 filter: F = 1, 7); 0: square",
                  low=0, high=64),
        ParamSpec("stride_w", "int", 0, "the step across, when it is not S; 0: S both ways", low=0, high=64),
    ) + weight_param_specs("he")
    decay = ("W",)
    fan_in_axes = {"W": (1, 2, 3)}

    def _dims(self) -> tuple[int, int, int, int]:
        """(F_h, F_w, S_h, S_w): the filter's height and width, the steps down and across."""
        c = self.config
        return c["size"], c["size_w"] or c["size"], c["stride"], c["stride_w"] or c["stride"]

    def _square(self) -> bool:
        fh, fw, sh, sw = self._dims()
        return fh == fw and sh == sw

    def infer_shape(self, shapes):
        n, c, h, w = self.expect_rank(shapes, "x", (4,))
        k, p, g = (self.config[x] for x in ("filters", "padding", "groups"))
        fh, fw, sh, sw = self._dims()
        if c % g or k % g:
            raise self.shape_error(f"groups G = {g} must divide both the {c} input channels and the "
                                   f"{k} filters", "x")
        return (n, k, window_output(self, "x", "H", h, fh, sh, p), window_output(self, "x", "W", w, fw, sw, p))

    def weight_shapes(self, shapes):
        c, k = shapes["x"][1], self.config["filters"]
        fh, fw, _, _ = self._dims()
        out = {"W": (k, c // self.config["groups"], fh, fw)}
        if self.config["bias"]:
            out["b"] = (k,)
        return out

    def param_count_text(self, shapes):
        c, k, g = shapes["x"][1], self.config["filters"], self.config["groups"]
        fh, fw, _, _ = self._dims()
        n = self.param_count(shapes)
        d = f"{c}/{g}" if g > 1 else f"{c}"
        ff = "F·F" if fh == fw else "F_h·F_w"
        if self.config["bias"]:
            return f"({ff}·D)·K + K = ({fh}·{fw}·{d})·{k} + {k} = {n}"
        return f"({ff}·D)·K = ({fh}·{fw}·{d})·{k} = {n}"

    def arithmetic(self, shapes):
        """The output size, the neurons, and the parameters with and without parameter sharing."""
        _, c, h, w = shapes["x"]
        k, p, g = (self.config[x] for x in ("filters", "padding", "groups"))
        fh, fw, sh, sw = self._dims()
        oh, ow = (h - fh + 2 * p) // sh + 1, (w - fw + 2 * p) // sw + 1
        lines = []
        for axis, size, f, st, out in (("H", h, fh, sh, oh), ("W", w, fw, sw, ow)):
            if axis == "W" and (h, fh, sh) == (w, fw, sw):
                break
            name = "W" if (h, fh, sh) == (w, fw, sw) else axis
            lines.append(f"output {name}′ = ({name} − F + 2P)/S + 1 = ({size} − {f} + 2·{p})/{st} + 1 = {out}")
        neurons = k * oh * ow
        lines.append(f"neurons: K·H′·W′ = {k}·{oh}·{ow} = {neurons:,}")
        each = fh * fw * (c // g) + (1 if self.config["bias"] else 0)
        seen = f"{fh}·{fw}·{c // g}" + (" + 1" if self.config["bias"] else "")
        lines.append(f"parameters: {self.param_count(shapes):,} shared (one filter slides over the whole input); "
                     f"without sharing each neuron has its own {seen} = {each:,}: {neurons:,}·{each:,} = "
                     f"{neurons * each:,}")
        return lines

    def init_weights(self, shapes, rng, dtype):
        c = self.config
        ws = self.weight_shapes(shapes)
        kk, cg, fh, fw = ws["W"]
        fan_in, fan_out = cg * fh * fw, kk * fh * fw // c["groups"]
        self.weights = {"W": init_array(c["init"], ws["W"], fan_in, fan_out, c["init_scale"], rng, dtype)}
        if c["bias"]:
            self.weights["b"] = init_array("constant", (kk,), fan_in, fan_out, c["bias_init"], rng, dtype)

    def numpy_code(self, ins, out, g, w, shapes):
        if not self._square():
            return None  # the study script's windows are square
        c, x = self.config, ins["x"]
        args = f"{w['W']}, {c['stride']}, {c['padding']}, {c['groups']}"
        grads = f"conv2d_grads({g}, {x}, {args}, C, {out[2:-1]})"
        return (f"conv2d({x}, {w['W']}, {w.get('b', 'None')}, {c['stride']}, {c['padding']}, {c['groups']})",
                {"x": f"{grads}[0]"}, {"W": f"{grads}[1]", **({"b": f"{grads}[2]"} if "b" in w else {})})

    def forward(self, inputs, training):
        return self._forward(inputs, None, 0.0)

    def backward(self, g):
        return self._backward(g, None, 0.0)

    fuses = ("relu", "leaky_relu")

    def forward_fused(self, inputs, training, act):
        return self._forward(inputs, act.fused_act, act.fused_alpha())

    def backward_fused(self, g, act_out, act):
        return self._backward(g, act_out, act.fused_alpha())

    def _kernels(self):
        """(the kernels, the stride they take): a rectangular filter or stride runs on the NumPy
        reference (the fast kernels' windows are square)."""
        if self._square():
            return kernels.active(), self.config["stride"]
        from gradviz_core.kernels import reference
        fh, fw, sh, sw = self._dims()
        return reference, (sh, sw)

    def _forward(self, inputs, act, alpha):
        x = inputs["x"]
        self.cache = {"x": x}
        c = self.config
        k, stride = self._kernels()
        return k.conv2d_forward(x, self.weights["W"], self.weights.get("b"), stride, c["padding"], c["groups"],
                                act, alpha)

    def _backward(self, g, act_out, alpha):
        c = self.config
        k, stride = self._kernels()
        dx, dw, db = k.conv2d_backward(g, self.cache["x"], self.weights["W"], stride, c["padding"], c["groups"],
                                       "b" in self.weights, self.need_input_grad, act_out, alpha)
        self.add_grad("W", dw)
        if db is not None:
            self.add_grad("b", db)
        return {"x": dx}

    def onnx(self, m, ins, out, shapes):
        c = self.config
        fh, fw, sh, sw = self._dims()
        m.node("Conv", [ins[0], *m.weights(self, "W", "b")], out, kernel_shape=[fh, fw],
               strides=[sh, sw], pads=[c["padding"]] * 4, group=c["groups"])
        return True

    def torch_layer(self, shapes):
        c = self.config
        fh, fw, sh, sw = self._dims()
        return "Conv2d", {"in_channels": shapes["x"][1], "out_channels": c["filters"],
                          "kernel_size": c["size"] if fh == fw else (fh, fw),
                          "stride": c["stride"] if sh == sw else (sh, sw), "padding": c["padding"],
                          "groups": c["groups"], "bias": c["bias"]}
