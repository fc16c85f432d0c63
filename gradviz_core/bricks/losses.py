"""Losses: each gives a scalar, the mean over the batch (N = the first dimension).

Per-sample losses are summed over a sample's elements and averaged over samples,
except MSE, which averages over every element.
"""
from __future__ import annotations

import math

import numpy as np

from gradviz_core import kernels
from gradviz_core.model.brick import Brick
from gradviz_core.errors import GraphError
from gradviz_core.params import ParamSpec
from gradviz_core.model.registry import register
from gradviz_core.shapes import fmt, numel


def batch_size(x: np.ndarray) -> int:
    return x.shape[0] if x.ndim >= 1 else 1


class _Loss(Brick):
    family = "Losses"
    onnx_training_only = True
    inputs = ("x", "target")
    scores_port = "x"
    #: the exported file's class predictions from the scores {s} (as ``predict_classes``), or None
    torch_predict: str | None = None

    def runtime_error(self, message: str) -> GraphError:
        return GraphError(f"{self.name}: {message}", node=self.name, port="target")


class _ElementwiseLoss(_Loss):
    """A loss that compares x and the target element by element."""

    def infer_shape(self, shapes):
        x, t = shapes["x"], shapes["target"]
        same_batch = (len(x) > 0 and x[0] is None) == (len(t) > 0 and t[0] is None)
        if not same_batch or numel(x) != numel(t):
            raise self.shape_error(f"the target {fmt(t)} does not match x {fmt(x)}: they need the "
                                   "same number of values per sample", "target")
        return ()

    def forward(self, inputs, training):
        x = inputs["x"]
        t = np.asarray(inputs["target"], dtype=x.dtype)
        self.check_target(t)
        tt = t.reshape(x.shape)
        n = batch_size(x)
        self.cache = {"x": x, "t": tt, "t_shape": t.shape, "n": n}
        return np.asarray(self.value(x, tt) / n, dtype=x.dtype)

    def backward(self, g):
        c = self.cache
        dx, dt = self.grad(c["x"], c["t"])
        scale = g / c["n"]
        return {"x": dx * scale, "target": None if dt is None else (dt * scale).reshape(c["t_shape"])}

    def check_target(self, t):
        pass


def _check_pm1(brick: _Loss, t):
    if not np.all(np.abs(t) == 1):
        raise brick.runtime_error("the target values must be −1 or +1; set the Target node's "
                                  "encoding to 'pm1'")


@register
class SquareLoss(_ElementwiseLoss):
    type_name = "SquareLoss"
    numpy_op = ("square_loss({x}, {target})", {"x": "{g} * square_loss_grad({x}, {target})"})
    torch_op = "square_loss({x}, {target})"
    symbol = '½²'
    doc = "½(x − d)², the lectures' square loss for regression."
    forward_text = "L = (1/N) Σ ½ (x − d)²"
    backward_text = "dL/dx = (x − d)/N"

    def value(self, x, t):
        return 0.5 * np.sum((x - t) ** 2)

    def grad(self, x, t):
        return x - t, t - x


@register
class MSELoss(_ElementwiseLoss):
    type_name = "MSELoss"
    numpy_op = ("mse_loss({x}, {target})", {"x": "{g} * mse_loss_grad({x}, {target})"})
    torch_op = "mse_loss({x}, {target})"
    symbol = 'mse'
    doc = "The mean of (x − d)² over every element."
    forward_text = "L = (1/(N·D)) Σ (x − d)²"
    backward_text = "dL/dx = 2(x − d)/(N·D)"

    def forward(self, inputs, training):
        out = super().forward(inputs, training)
        per = max(self.cache["x"].size // self.cache["n"], 1)
        self.cache["n"] *= per
        return np.asarray(out / per, dtype=out.dtype)

    def value(self, x, t):
        return np.sum((x - t) ** 2)

    def grad(self, x, t):
        return 2 * (x - t), 2 * (t - x)


@register
class BinaryCrossEntropy(_ElementwiseLoss):
    type_name = "BinaryCrossEntropy"
    numpy_op = ("binary_cross_entropy({x}, {target})", {"x": "{g} * binary_cross_entropy_grad({x}, {target})"})
    torch_predict = "({s}.reshape(len({s}), -1)[:, 0] > 0.5).long()"
    torch_op = "binary_cross_entropy({x}, {target})"
    symbol = 'bce'
    doc = "Cross-entropy of probabilities p ∈ (0, 1) (after a Sigmoid) against targets in [0, 1]."
    forward_text = "L = −(1/N) Σ [t ln p + (1 − t) ln(1 − p)]"
    backward_text = "dL/dp = (p − t) / (p(1 − p)) / N"

    def check_target(self, t):
        if np.any((t < 0) | (t > 1)):
            raise self.runtime_error("targets must lie in [0, 1]; use the Target encoding 'index' "
                                     "for 0/1 labels")

    def value(self, p, t):
        if np.any((p <= 0) | (p >= 1)):
            raise GraphError(f"{self.name}: the probabilities must lie strictly between 0 and 1 "
                             "(put a Sigmoid in front, or use BCEWithLogits)", node=self.name, port="x")
        return -np.sum(t * np.log(p) + (1 - t) * np.log1p(-p))

    def grad(self, p, t):
        return (p - t) / (p * (1 - p)), np.log1p(-p) - np.log(p)

    def predict_classes(self, scores):
        return (scores.reshape(len(scores), -1)[:, 0] > 0.5).astype(np.int64)

    def initial_loss(self, classes):
        return (math.log(2), "ln(2)") if classes else None


@register
class BCEWithLogits(_ElementwiseLoss):
    type_name = "BCEWithLogits"
    numpy_op = ("bce_with_logits({x}, {target})", {"x": "{g} * bce_with_logits_grad({x}, {target})"})
    torch_predict = "({s}.reshape(len({s}), -1)[:, 0] > 0).long()"
    torch_op = "bce_with_logits({x}, {target})"
    symbol = 'bcℓ'
    doc = "Binary cross-entropy on raw scores x (the sigmoid is built in, stable for large |x|)."
    forward_text = "L = (1/N) Σ [max(x, 0) − x·t + ln(1 + e^(−|x|))]"
    backward_text = "dL/dx = (σ(x) − t)/N"

    def value(self, x, t):
        return np.sum(np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))))

    def grad(self, x, t):
        return kernels.active().sigmoid(x) - t, -x

    def predict_classes(self, scores):
        return (scores.reshape(len(scores), -1)[:, 0] > 0).astype(np.int64)

    def initial_loss(self, classes):
        return (math.log(2), "ln(2)") if classes else None


@register
class LogisticLoss(_ElementwiseLoss):
    type_name = "LogisticLoss"
    numpy_op = ("logistic_loss({x}, {target})", {"x": "{g} * logistic_loss_grad({x}, {target})"})
    torch_predict = "({s}.reshape(len({s}), -1)[:, 0] > 0).long()"
    torch_op = "logistic_loss({x}, {target})"
    symbol = 'log'
    doc = "log(1 + e^(−c·x)) with labels c = ±1 (logistic regression)."
    forward_text = "L = (1/N) Σ ln(1 + e^(−c·x))"
    backward_text = "dL/dx = −c · σ(−c·x) / N"
    check_target = _check_pm1

    def value(self, x, c):
        return np.sum(np.logaddexp(0.0, -c * x))

    def grad(self, x, c):
        return -c * kernels.active().sigmoid(-c * x), None  # ±1 labels have no gradient

    def predict_classes(self, scores):
        return (scores.reshape(len(scores), -1)[:, 0] > 0).astype(np.int64)

    def initial_loss(self, classes):
        return (math.log(2), "ln(2)") if classes else None


@register
class HingeLoss(_ElementwiseLoss):
    type_name = "HingeLoss"
    numpy_op = ("hinge_loss({x}, {target}, {margin!r})", {"x": "{g} * hinge_loss_grad({x}, {target}, {margin!r})"})
    torch_predict = "({s}.reshape(len({s}), -1)[:, 0] > 0).long()"
    torch_op = "hinge_loss({x}, {target}, {margin!r})"
    symbol = '⌊⌋'
    doc = "max(0, m − c·x) with labels c = ±1 (the binary SVM loss)."
    forward_text = "L = (1/N) Σ max(0, m − c·x)"
    backward_text = "dL/dx = −c · [m − c·x > 0] / N"
    params = (ParamSpec("margin", "float", 1.0, "m, how far past 0 a score must be", low=0.0),)
    has_kink = True
    check_target = _check_pm1

    def value(self, x, c):
        return np.sum(np.maximum(0.0, self.config["margin"] - c * x))

    def grad(self, x, c):
        active = (self.config["margin"] - c * x) > 0
        return -c * active, None  # ±1 labels have no gradient

    def kink_distance(self):
        return float(np.min(np.abs(self.config["margin"] - self.cache["t"] * self.cache["x"])))

    def predict_classes(self, scores):
        return (scores.reshape(len(scores), -1)[:, 0] > 0).astype(np.int64)


class _ClassLoss(_Loss):
    """Scores (N, K) against class indices (N,) or one-hot rows (N, K)."""
    torch_predict = "{s}.argmax(1)"
    scores_classes = True

    def infer_shape(self, shapes):
        s, t = shapes["x"], shapes["target"]
        if len(s) != 2:
            raise self.shape_error(f"the scores must be (N, K), got {fmt(s)}", "x")
        if t == (s[0],):
            return ()
        if len(t) == 2 and t[1] != s[1]:
            raise self.shape_error(f"the one-hot target has {t[1]} classes but the scores have "
                                   f"{s[1]}", "target")
        if len(t) != 2:
            raise self.shape_error(f"the target must be class indices (N,) or one-hot (N, K), "
                                   f"got {fmt(t)}", "target")
        return ()

    def _targets(self, s, t):
        """-> (one-hot or soft target rows, class indices or None)"""
        if np.issubdtype(t.dtype, np.integer):
            k = s.shape[1]
            if t.size and (t.min() < 0 or t.max() >= k):
                raise self.runtime_error(f"class labels must be in 0..{k - 1}, found {t.min()}..{t.max()}")
            eye = self.__dict__.get("_eye")
            if eye is None or eye.shape[0] != k or eye.dtype != s.dtype:
                eye = self._eye = np.eye(k, dtype=s.dtype)  # kept: rebuilding it every step costs
            return eye[t], t
        if t.ndim != 2:
            raise self.runtime_error("the target holds real numbers, but a class loss needs class labels "
                                     "0..K−1: give it class data, with the Target's encoding 'index' or "
                                     "'onehot'")
        return t.astype(s.dtype, copy=False), None

    def predict_classes(self, scores):
        return scores.argmax(axis=1)


@register
class SoftmaxCrossEntropy(_ClassLoss):
    type_name = "SoftmaxCrossEntropy"
    numpy_op = ("softmax_cross_entropy({x}, {target})", {"x": "{g} * softmax_cross_entropy_grad({x}, {target})"})
    torch_op = "softmax_cross_entropy({x}, {target})"
    symbol = 'CE'
    doc = "The softmax classifier's loss: −log of the probability given to the right class."
    forward_text = "L = −(1/N) Σ_n ln p[n, y_n],  p = softmax(s)"
    backward_text = "dL/ds = (p − onehot(y)) / N"

    def forward(self, inputs, training):
        s, t = inputs["x"], inputs["target"]
        rows, idx = self._targets(s, t)
        loss, p, logp = kernels.active().softmax_xent_forward(s, rows)
        self.cache = {"p": p, "logp": logp, "rows": rows, "index_target": idx is not None}
        return np.asarray(loss, dtype=s.dtype)

    def backward(self, g):
        c = self.cache
        ds = kernels.active().softmax_xent_backward(c["p"], c["rows"]) * g
        dt = None if c["index_target"] else -c["logp"] * g / c["p"].shape[0]
        return {"x": ds, "target": dt}

    def initial_loss(self, classes):
        return (math.log(classes), f"ln({classes})") if classes else None


@register
class MaxMarginLoss(_ClassLoss):
    type_name = "MaxMarginLoss"
    numpy_op = ("max_margin_loss({x}, {target}, {margin!r}, {form!r})", {"x": "{g} * max_margin_loss_grad({x}, {target}, {margin!r}, {form!r})"})
    torch_op = "max_margin_loss({x}, {target}, {margin!r}, {form!r})"
    symbol = 'svm'
    doc = ("The multiclass SVM loss: every wrong class should score at least m below the right one. "
           "'sum' adds the violations of every wrong class (cs231n's SVM); 'max' counts only the worst.")
    forward_text = ("sum: L = (1/N) Σ_n Σ_{j≠y} max(0, s_j − s_y + m);  "
                    "max: L = (1/N) Σ_n max(0, max_{j≠y} s_j − s_y + m)")
    backward_text = ("sum: dL/ds_j = [s_j − s_y + m > 0]/N for j ≠ y, dL/ds_y = −(count of those)/N;  "
                     "max: dL/ds_j* = [margin > 0]/N for the worst wrong class j*, dL/ds_y = −that")
    params = (ParamSpec("margin", "float", 1.0, "m, the required gap (Δ in the lectures)", low=0.0),
              ParamSpec("form", "choice", "sum", "sum over the wrong classes, or only the worst one",
                        choices=("sum", "max")))
    has_kink = True

    def initial_loss(self, classes):
        if not classes:
            return None
        m = self.config["margin"]
        if self.config["form"] == "max":
            return m, f"Δ = {m:g}"
        return (classes - 1) * m, f"(K − 1)·Δ = {classes - 1}·{m:g}"

    def forward(self, inputs, training):
        s, t = inputs["x"], inputs["target"]
        _, idx = self._targets(s, t)
        if idx is None:
            idx = t.argmax(axis=1)
        n = s.shape[0]
        rows = np.arange(n)
        margins = s - s[rows, idx][:, None] + self.config["margin"]
        margins[rows, idx] = 0.0 if self.config["form"] == "sum" else -np.inf
        self.cache = {"margins": margins, "idx": idx, "n": n}
        if self.config["form"] == "max":
            worst = margins.argmax(axis=1)
            self.cache["worst"] = worst
            return np.asarray(np.maximum(0.0, margins[rows, worst]).sum() / n, dtype=s.dtype)
        return np.asarray(np.maximum(0.0, margins).sum() / n, dtype=s.dtype)

    def backward(self, g):
        c = self.cache
        rows = np.arange(c["n"])
        if self.config["form"] == "max":
            active = np.zeros_like(c["margins"])
            on = (c["margins"][rows, c["worst"]] > 0).astype(active.dtype)
            active[rows, c["worst"]] = on
            active[rows, c["idx"]] -= on
        else:
            active = (c["margins"] > 0).astype(c["margins"].dtype)
            active[rows, c["idx"]] = -active.sum(axis=1)
        return {"x": active * (g / c["n"]), "target": None}

    def kink_distance(self):
        m = self.cache["margins"].copy()
        rows = np.arange(self.cache["n"])
        if self.config["form"] == "max":  # the hinge of the worst class, and ties for the worst
            top = np.sort(np.where(np.isfinite(m), m, -np.inf), axis=1)
            tie = top[:, -1] - top[:, -2] if m.shape[1] > 2 else np.full(len(m), np.inf)
            return float(min(np.min(np.abs(top[:, -1])), np.min(tie)))
        m[rows, self.cache["idx"]] = np.inf
        return float(np.min(np.abs(m)))


@register
class WeightedSum(Brick):
    type_name = "WeightedSum"
    onnx_training_only = True
    symbol = 'Σw'
    family = "Losses"
    doc = "Combines several losses into one, Σ wᵢ·Lᵢ (multi-task learning). One port per weight."
    forward_text = "L = Σᵢ wᵢ · Lᵢ"
    backward_text = "dL/dLᵢ = wᵢ"
    params = (ParamSpec("weights", "floats", (1.0, 1.0), "w₀, w₁, …: one weight per input loss",
                        low=1),)

    def input_ports(self):
        return tuple(f"in{i}" for i in range(len(self.config["weights"])))

    def numpy_code(self, ins, out, g, w, shapes):
        ports = self.input_ports()
        return (" + ".join(f"{wi!r} * {ins[p]}" for wi, p in zip(self.config["weights"], ports)),
                {p: f"{wi!r} * {g}" for wi, p in zip(self.config["weights"], ports)}, {})

    def torch_expr(self, ins, shapes):
        return " + ".join(f"{w!r} * {ins[p]}" for w, p in zip(self.config["weights"], self.input_ports()))

    def infer_shape(self, shapes):
        for port, s in shapes.items():
            if s != ():
                raise self.shape_error(f"each input must be a scalar loss, got {fmt(s)}", port)
        return ()

    def forward(self, inputs, training):
        w = self.config["weights"]
        return np.asarray(sum(wi * inputs[p] for wi, p in zip(w, self.input_ports())), dtype=self.dtype)

    def backward(self, g):
        return {p: np.asarray(wi * g) for wi, p in zip(self.config["weights"], self.input_ports())}
