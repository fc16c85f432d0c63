"""Linear (fully connected) layer: out = x W + b."""
from __future__ import annotations

from gradviz_core import kernels
from gradviz_core.model.brick import Brick
from gradviz_core.model.init import init_array, weight_param_specs
from gradviz_core.params import ParamSpec
from gradviz_core.model.registry import register


@register
class Linear(Brick):
    type_name = "Linear"
    symbol = 'Wx'
    family = "Layers"
    doc = "A fully connected layer: every output unit sees every input feature."
    forward_text = "out = x W + b        x (N, D), W (D, K), b (K,) → out (N, K)"
    backward_text = "dL/dx = dL/dout Wᵀ;  dL/dW = xᵀ dL/dout;  dL/db = Σₙ dL/dout"
    params = (ParamSpec("units", "int", 16, "K, the number of output units", low=1, high=100000),
              ) + weight_param_specs("he")
    decay = ("W",)
    #: the axes of W that make up one unit's incoming weights (for max-norm)
    fan_in_axes = {"W": (0,)}
    torch_transposed = ("W",)
    fused_layer = True

    def numpy_code(self, ins, out, g, w, shapes):
        x = ins["x"]
        fwd = f"{x} @ {w['W']}" + (f" + {w['b']}" if "b" in w else "")
        grads = {"W": f"{x}.T @ {g}", **({"b": f"{g}.sum(axis=0)"} if "b" in w else {})}
        return fwd, {"x": f"{g} @ {w['W']}.T"}, grads

    def infer_shape(self, shapes):
        self.expect_rank(shapes, "x", (2,), hint="put a Flatten in front of this layer"
                         if len(shapes["x"]) > 2 else "")
        return (shapes["x"][0], self.config["units"])

    def weight_shapes(self, shapes):
        d, k = shapes["x"][-1], self.config["units"]
        return {"W": (d, k), "b": (k,)} if self.config["bias"] else {"W": (d, k)}

    def param_count_text(self, shapes):
        d, k = shapes["x"][-1], self.config["units"]
        n = self.param_count(shapes)
        return f"D·K + K = {d}·{k} + {k} = {n}" if self.config["bias"] else f"D·K = {d}·{k} = {n}"

    def init_weights(self, shapes, rng, dtype):
        c = self.config
        d, k = shapes["x"][-1], c["units"]
        self.weights = {"W": init_array(c["init"], (d, k), d, k, c["init_scale"], rng, dtype)}
        if c["bias"]:
            self.weights["b"] = init_array("constant", (k,), d, k, c["bias_init"], rng, dtype)

    def forward(self, inputs, training):
        x = inputs["x"]
        self.cache = {"x": x}
        return kernels.active().linear_forward(x, self.weights["W"], self.weights.get("b"))

    def backward(self, g):
        dx, dw, db = kernels.active().linear_backward(g, self.cache["x"], self.weights["W"], "b" in self.weights,
                                                      self.need_input_grad)
        self.add_grad("W", dw)
        if db is not None:
            self.add_grad("b", db)
        return {"x": dx}

    def torch_layer(self, shapes):
        return "Linear", {"in_features": shapes["x"][-1], "out_features": self.config["units"],
                          "bias": self.config["bias"]}

    def onnx(self, m, ins, out, shapes):
        # Gemm: x·W + b, with gradviz's W (D, K) as it is (transB = 0)
        m.node("Gemm", [ins[0], *m.weights(self, "W", "b")], out)
        return True
