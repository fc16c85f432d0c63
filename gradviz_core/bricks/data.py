"""Data bricks: Input (a batch of samples), Target (their labels), Constant and Variable."""
from __future__ import annotations

import numpy as np

from gradviz_core.model.brick import Brick
from gradviz_core.params import ParamSpec
from gradviz_core.model.registry import register


class _Source(Brick):
    """A brick whose output the runner feeds from the graph's dataset."""

    family = "Data"
    inputs = ()
    is_source = True

    def __init__(self, name: str = "", /, **config):
        super().__init__(name, **config)
        self.fed: np.ndarray | None = None
        #: set by the graph from its dataset: (sample shape, number of classes, label kind)
        self.data_info: dict | None = None

    def _need_data(self) -> dict:
        if self.data_info is None:
            raise self.shape_error("no data: give the graph a data source "
                                   "(a toy set, an image set or a file)")
        return self.data_info

    def feed(self, array: np.ndarray) -> None:
        self.fed = array

    def forward(self, inputs, training):
        if self.fed is None:
            raise self.shape_error("no batch was fed to this data node")
        return self.fed

    def backward(self, grad_out):
        return {}


@register
class Input(_Source):
    type_name = "Input"
    symbol = 'x'
    feeds = "X"
    symbol = "x"
    doc = "A batch of samples from the graph's dataset."
    forward_text = "x = the next batch of samples, shape (N, ...)"
    backward_text = "no inputs: the gradient stops here (dL/dx is shown, nothing is updated)"

    def infer_shape(self, shapes):
        return (None,) + tuple(self._need_data()["sample_shape"])

    def torch_expr(self, ins, shapes):
        return "x"

    def onnx(self, m, ins, out, shapes):
        m.input(out)
        return True

    def numpy_code(self, ins, out, g, w, shapes):
        return "x", {}, {}

    def encode(self, X: np.ndarray, dtype) -> np.ndarray:
        return X.astype(dtype, copy=False)


@register
class Target(_Source):
    onnx_training_only = True
    type_name = "Target"
    symbol = "y"
    feeds = "y"
    doc = ("What the loss compares with: the batch's labels (one column of a label table, for "
           "multi-task data), or the samples themselves (reconstruction).")
    forward_text = ("index: y ∈ {0..K−1};  onehot: t[n, y] = 1;  pm1: c = 2y − 1 ∈ {−1, +1};  "
                    "real: d = y (or d = x, for reconstruction)")
    backward_text = "labels are data: nothing is updated"
    params = (ParamSpec("encoding", "choice", "index",
                        "how labels reach the loss: class index, one-hot row, ±1, or real values",
                        choices=("index", "onehot", "pm1", "real")),
              ParamSpec("of", "choice", "labels", "the labels, or the samples themselves (reconstruction)",
                        choices=("labels", "input")),
              ParamSpec("column", "int", -1, "for a table of labels (N, T): the task's column (−1: all)",
                        low=-1, high=10**4))

    def __init__(self, name: str = "", /, **config):
        super().__init__(name, **config)
        if self.config["of"] == "input":
            self.feeds = "X"  # reconstruction: the target is the batch of samples

    def infer_shape(self, shapes):
        info = self._need_data()
        enc, col = self.config["encoding"], self.config["column"]
        if self.config["of"] == "input":
            if enc != "real":
                raise self.shape_error("a reconstruction target holds the samples: use encoding 'real'")
            return (None,) + tuple(info["sample_shape"])
        label_shape = tuple(info["label_shape"])
        if col >= 0:
            if len(label_shape) != 1 or col >= label_shape[0]:
                have = f"a table of {label_shape[0]} label columns" if len(label_shape) == 1 else "one label per sample"
                raise self.shape_error(f"column {col} does not exist: the data has {have}")
            label_shape = ()
        if enc == "real":
            return (None,) + label_shape
        if info["classes"] is None:
            raise self.shape_error(f"encoding '{enc}' needs class labels, but the data has real "
                                   "values; use encoding 'real'")
        if label_shape:
            raise self.shape_error(f"the data has a table of {label_shape[0]} labels per sample; pick "
                                   "one task with 'column'")
        if enc == "onehot":
            return (None, info["classes"])
        if enc == "pm1" and info["classes"] != 2:
            raise self.shape_error(f"encoding 'pm1' needs 2 classes, the data has {info['classes']}; "
                                   "use 'index' or 'onehot' with a softmax or max-margin loss")
        return (None,)

    def numpy_code(self, ins, out, g, w, shapes):
        """The labels as the loss takes them (``encode``, written out)."""
        if self.config["of"] == "input":
            return "x", {}, {}
        y = "y" if self.config["column"] < 0 else f"y[:, {self.config['column']}]"
        enc = self.config["encoding"]
        fwd = {"index": f"{y}.astype(np.int64)", "onehot": f"np.eye({self._need_data()['classes']})[{y}.astype(np.int64)]",
               "pm1": f"2.0 * {y} - 1.0", "real": f"{y}.astype(np.float64)"}[enc]
        return fwd, {}, {}

    def torch_expr(self, ins, shapes):
        """The labels as the loss takes them (``encode``'s PyTorch twin)."""
        if self.config["of"] == "input":
            return "x"
        y = "y" if self.config["column"] < 0 else f"y[:, {self.config['column']}]"
        enc = self.config["encoding"]
        if enc == "index":
            return f"{y}.long()"
        if enc == "onehot":
            return f"F.one_hot({y}.long(), {self._need_data()['classes']}).to(DTYPE)"
        if enc == "pm1":
            return f"(2 * {y} - 1).to(DTYPE)"
        return f"{y}.to(DTYPE)"

    def encode(self, y: np.ndarray, dtype) -> np.ndarray:
        if self.config["of"] == "input":
            return y.astype(dtype, copy=True)
        if self.config["column"] >= 0:
            y = y[:, self.config["column"]]
        enc = self.config["encoding"]
        if enc != "real" and y.dtype.kind == "f" and not np.all(y == np.round(y)):
            raise self.shape_error(f"encoding '{enc}' needs class labels, but these labels are real "
                                   "numbers; use encoding 'real' (or another column)")
        if enc == "index":
            return y.astype(np.int64)
        if enc == "onehot":
            return np.eye(self._need_data()["classes"], dtype=dtype)[y.astype(np.int64)]
        if enc == "pm1":
            return (2.0 * y - 1.0).astype(dtype)
        return y.astype(dtype)


@register
class Constant(Brick):
    type_name = "Constant"
    symbol = 'c'
    family = "Data"
    doc = "A number or tensor that you type in; trainable if you tick it."
    forward_text = "out = value"
    backward_text = "dL/dvalue = dL/dout  (added to the gradient when trainable)"
    inputs = ()
    params = (
        ParamSpec("value", "tensor", 1.0, "the value: 3, or 1, 2, 3, or [[1, 2], [3, 4]]"),
        ParamSpec("trainable", "bool", False, "whether the update step changes it"),
    )

    def infer_shape(self, shapes):
        return tuple(np.shape(self.config["value"]))

    def weight_shapes(self, shapes):
        return {"value": tuple(np.shape(self.config["value"]))} if self.config["trainable"] else {}

    def numpy_code(self, ins, out, g, w, shapes):
        if "value" in w:
            return w["value"], {}, {"value": g}
        return f"np.array({np.asarray(self.config['value'], float).tolist()!r})", {}, {}

    def torch_module(self, shapes):
        return "Value", {"value": np.asarray(self.config["value"], float).tolist(),
                         "trainable": bool(self.config["trainable"])}

    def onnx(self, m, ins, out, shapes):
        m.const(self.weights["value"] if "value" in self.weights else np.asarray(self.config["value"]), out)
        return True

    def init_weights(self, shapes, rng, dtype):
        self.weights = ({"value": np.array(self.config["value"], dtype=dtype)}
                        if self.config["trainable"] else {})

    def forward(self, inputs, training):
        # a copy: whoever changes the output in place must not change the value itself
        if "value" in self.weights:
            return self.weights["value"].copy()
        return np.array(self.config["value"], dtype=self.dtype)

    def backward(self, grad_out):
        if "value" in self.weights:
            self.add_grad("value", np.array(grad_out, copy=True))
        return {}


@register
class Variable(Constant):
    type_name = "Variable"
    symbol = 'v'
    doc = "A trainable number or tensor that you type in (a Constant with trainable on)."
    params = (
        ParamSpec("value", "tensor", 1.0, "the starting value: 3, or 1, 2, 3, or [[1, 2], [3, 4]]"),
        ParamSpec("trainable", "bool", True, "whether the update step changes it"),
    )
