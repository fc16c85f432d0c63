"""BatchNorm: normalize with the batch's statistics in training, running averages at test."""
from __future__ import annotations

import numpy as np

from gradviz_core import kernels
from gradviz_core.model.brick import Brick
from gradviz_core.params import ParamSpec
from gradviz_core.model.registry import register


@register
class BatchNorm(Brick):
    type_name = "BatchNorm"
    symbol = 'BN'
    family = "Layers"
    doc = ("Normalizes each feature (for (N, D)) or each channel (for (N, C, H, W)) to zero mean "
           "and unit variance over the batch, then scales by γ and shifts by β.")
    forward_text = ("training: x̂ = (x − μ_B)/√(σ²_B + ε);  test: x̂ = (x − μ_run)/√(σ²_run + ε);  "
                    "out = γ x̂ + β")
    backward_text = ("dL/dγ = Σ dL/dout · x̂;  dL/dβ = Σ dL/dout;  "
                     "dL/dx = (1/m)/√(σ²+ε) · (m·dx̂ − Σ dx̂ − x̂ Σ dx̂·x̂), dx̂ = γ·dL/dout")
    params = (
        ParamSpec("momentum", "float", 0.9, "running = momentum·running + (1 − momentum)·batch",
                  low=0.0, high=1.0),
        ParamSpec("eps", "float", 1e-5, "ε, added to the variance", low=1e-12, high=1.0),
    )

    def infer_shape(self, shapes):
        self.expect_rank(shapes, "x", (2, 4))
        return shapes["x"]

    def numpy_code(self, ins, out, g, w, shapes):
        key = out[2:-1]  # the node's name, quoted
        c = self.config
        return (f"batchnorm({ins['x']}, {w['gamma']}, {w['beta']}, P, {key}, {c['momentum']!r}, {c['eps']!r}, "
                f"training, C)",
                {"x": f"batchnorm_grad({g}, {w['gamma']}, C, {key})[0]"},
                {"gamma": f"batchnorm_grad({g}, {w['gamma']}, C, {key})[1]",
                 "beta": f"batchnorm_grad({g}, {w['gamma']}, C, {key})[2]"})

    def torch_module(self, shapes):
        # the exported file's BatchNorm: gradviz's running averages (momentum on the old value)
        # and the batch's biased variance (torch.nn.BatchNorm uses 1 − momentum and the unbiased one)
        return "BatchNorm", {"num_features": shapes["x"][1], "momentum": self.config["momentum"],
                             "eps": self.config["eps"]}

    def onnx(self, m, ins, out, shapes):
        # at test time: the running averages (ONNX's momentum is gradviz's: on the old value)
        m.node("BatchNormalization", [ins[0], *m.weights(self, "gamma", "beta", "running_mean", "running_var")],
               out, epsilon=float(self.config["eps"]), momentum=float(self.config["momentum"]))
        return True

    def weight_shapes(self, shapes):
        d = shapes["x"][1]
        return {"gamma": (d,), "beta": (d,)}

    def param_count_text(self, shapes):
        d = shapes["x"][1]
        return f"γ and β per {'channel' if len(shapes['x']) == 4 else 'feature'}: 2·{d} = {2 * d}"

    def init_weights(self, shapes, rng, dtype):
        d = shapes["x"][1]
        self.weights = {"gamma": np.ones(d, dtype), "beta": np.zeros(d, dtype)}
        self.buffers = {"running_mean": np.zeros(d, dtype), "running_var": np.ones(d, dtype)}

    def forward(self, inputs, training):
        x = inputs["x"]
        x3 = x.reshape(x.shape[0], x.shape[1], -1)  # (N, C, L): a view for (N, D) and (N, C, H, W)
        gamma, beta, eps = self.weights["gamma"], self.weights["beta"], self.config["eps"]
        if training:
            if x3.shape[0] * x3.shape[2] < 2:
                from gradviz_core.errors import GraphError
                raise GraphError(f"{self.name}: BatchNorm in training mode normalizes over the batch, and a "
                                 f"batch of {x3.shape[0]} gives each feature one value, so its output would "
                                 "be all zeros; use a batch of 2 or more, or test mode", node=self.name)
            out, xhat, mean, var, inv_std = kernels.active().batchnorm_forward(x3, gamma, beta, eps)
            m = self.config["momentum"]
            self.buffers["running_mean"] = m * self.buffers["running_mean"] + (1 - m) * mean
            self.buffers["running_var"] = m * self.buffers["running_var"] + (1 - m) * var
        else:
            inv_std = 1.0 / np.sqrt(self.buffers["running_var"] + eps)
            xhat = (x3 - self.buffers["running_mean"][:, None]) * inv_std[:, None]
            out = gamma[:, None] * xhat + beta[:, None]
        self.cache = {"xhat": xhat, "inv_std": inv_std, "training": training}
        return out.reshape(x.shape)

    def backward(self, g):
        c = self.cache
        g3 = g.reshape(g.shape[0], g.shape[1], -1)
        gamma = self.weights["gamma"]
        if c["training"]:
            dx, dgamma, dbeta = kernels.active().batchnorm_backward(g3, c["xhat"], gamma, c["inv_std"])
        else:
            dx = g3 * (gamma * c["inv_std"])[:, None]
            dgamma, dbeta = (g3 * c["xhat"]).sum(axis=(0, 2)), g3.sum(axis=(0, 2))
        self.add_grad("gamma", dgamma)
        self.add_grad("beta", dbeta)
        return {"x": dx.reshape(g.shape)}


def _channel_window_sum(a: np.ndarray, h: int) -> np.ndarray:
    """Σ over the channels c − h … c + h (those that exist) of a, for every channel c of (N, C, …)."""
    pad = [(0, 0)] * a.ndim
    pad[1] = (h + 1, h)
    c = np.cumsum(np.pad(a, pad), axis=1)
    return c[:, 2 * h + 1:] - c[:, :-2 * h - 1]


@register
class LRN(Brick):
    """Local response normalization across channels (AlexNet's)."""
    type_name = "LRN"
    symbol = 'LRN'
    family = "Layers"
    doc = ("Local response normalization (the lectures' \"contrast normalization\", AlexNet's): each "
           "value is divided by the energy of the same position in the n neighbouring channels, "
           "so strongly responding feature maps damp their neighbours. Not used since batch norm.")
    forward_text = "out_c = x_c / (k + (α/n) Σ_{c' = c − n//2 … c + n//2} x_{c'}²)^β"
    backward_text = ("dL/dx_j = dL/dout_j · d_j^(−β) − (2αβ/n) x_j Σ_{c near j} dL/dout_c · x_c · d_c^(−β−1),  "
                     "d_c = k + (α/n) Σ x²")
    params = (
        ParamSpec("size", "int", 5, "n, how many neighbouring channels (odd: centred on the channel)",
                  low=1, high=63),
        ParamSpec("alpha", "float", 1e-4, "α, the scale of the energy", low=0.0),
        ParamSpec("beta", "float", 0.75, "β, the exponent", low=0.0),
        ParamSpec("k", "float", 2.0, "k, added to the energy (AlexNet: 2; PyTorch's default: 1)", low=0.0),
    )

    def infer_shape(self, shapes):
        self.expect_rank(shapes, "x", (4,))
        if self.config["size"] % 2 == 0:
            raise self.shape_error(f"the window of n = {self.config['size']} channels must be odd, so that it "
                                   "is centred on each channel; use "
                                   f"{self.config['size'] - 1} or {self.config['size'] + 1}", "x")
        return shapes["x"]

    def param_count_text(self, shapes):
        return "0 (its α, β, k and n are settings, not weights)"

    def forward(self, inputs, training):
        x = inputs["x"]
        c = self.config
        n = c["size"]
        d = c["k"] + (c["alpha"] / n) * _channel_window_sum(x * x, n // 2)
        scale = d ** -c["beta"]
        self.cache = {"x": x, "d": d, "scale": scale}
        return (x * scale).astype(x.dtype, copy=False)

    def backward(self, g):
        x, d, scale = self.cache["x"], self.cache["d"], self.cache["scale"]
        c = self.config
        n = c["size"]
        back = _channel_window_sum(g * x * scale / d, n // 2)
        return {"x": (g * scale - (2 * c["alpha"] * c["beta"] / n) * x * back).astype(g.dtype, copy=False)}

    def numpy_code(self, ins, out, g, w, shapes):
        c = self.config
        args = f"{c['size']}, {c['alpha']!r}, {c['beta']!r}, {c['k']!r}"
        return f"lrn({ins['x']}, {args})", {"x": f"lrn_grad({g}, {ins['x']}, {args})"}, {}

    def torch_expr(self, ins, shapes):
        c = self.config
        return f"F.local_response_norm({ins['x']}, {c['size']}, {c['alpha']!r}, {c['beta']!r}, {c['k']!r})"

    def onnx(self, m, ins, out, shapes):
        c = self.config
        m.node("LRN", ins, out, size=int(c["size"]), alpha=float(c["alpha"]), beta=float(c["beta"]),
               bias=float(c["k"]))
        return True
