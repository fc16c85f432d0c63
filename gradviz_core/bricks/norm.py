"""BatchNorm: normalize with the batch's statistics in training, running averages at test."""
from __future__ import annotations

import numpy as np

from gradviz_core import kernels
from gradviz_core.brick import Brick
from gradviz_core.params import ParamSpec
from gradviz_core.registry import register


@register
class BatchNorm(Brick):
    type_name = "BatchNorm"
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

    @staticmethod
    def _rows(x):
        """(N, D) stays; (N, C, H, W) -> (N·H·W, C) so each channel is one column."""
        return x if x.ndim == 2 else x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])

    @staticmethod
    def _unrows(rows, shape):
        if len(shape) == 2:
            return rows
        n, c, h, w = shape
        return np.ascontiguousarray(rows.reshape(n, h, w, c).transpose(0, 3, 1, 2))

    def forward(self, inputs, training):
        x = inputs["x"]
        rows = self._rows(x)
        gamma, beta, eps = self.weights["gamma"], self.weights["beta"], self.config["eps"]
        if training:
            out, xhat, mean, var, inv_std = kernels.active().batchnorm_forward(rows, gamma, beta, eps)
            m = self.config["momentum"]
            self.buffers["running_mean"] = m * self.buffers["running_mean"] + (1 - m) * mean
            self.buffers["running_var"] = m * self.buffers["running_var"] + (1 - m) * var
        else:
            inv_std = 1.0 / np.sqrt(self.buffers["running_var"] + eps)
            xhat = (rows - self.buffers["running_mean"]) * inv_std
            out = gamma * xhat + beta
        self.cache = {"xhat": xhat, "inv_std": inv_std, "shape": x.shape, "training": training}
        return self._unrows(out, x.shape)

    def backward(self, g):
        c = self.cache
        rows = self._rows(g)
        gamma = self.weights["gamma"]
        if c["training"]:
            dx, dgamma, dbeta = kernels.active().batchnorm_backward(rows, c["xhat"], gamma, c["inv_std"])
        else:
            dx, dgamma, dbeta = rows * gamma * c["inv_std"], (rows * c["xhat"]).sum(0), rows.sum(0)
        self.add_grad("gamma", dgamma)
        self.add_grad("beta", dbeta)
        return {"x": self._unrows(dx, c["shape"])}
