"""``gradviz import model.onnx -o graph.json``: a small ONNX model as a gradviz graph, with its
weights, laid out and ready to step.

Each ONNX operator becomes the brick that computes the same: Gemm, and MatMul by a weight
matrix (with the Add of a bias after it), become Linear; Conv becomes Conv2D (groups too);
MaxPool, AveragePool, Flatten (and a Reshape to (N, D)), BatchNormalization, Dropout, Relu,
Sigmoid, Tanh, LeakyRelu, Elu, Softmax and Clip(−1, 1) their bricks; Add, Sub, Mul, Div, Max,
Min, MatMul, Exp, Log, Reciprocal, Neg, Pow and the reductions their gates; initializers and
Constant nodes that a gate reads become Constant nodes. An operator gradviz has no brick for,
or an attribute it cannot follow (a non-square kernel, asymmetric padding), is refused with
the operator, the node and the reason.

The file is read and checked by ``onnx_model``, constant subgraphs are computed by ``onnx_fold``;
this module turns the operators into bricks.

The model's input becomes an Input fed by random samples of its shape (the data section is
yours to change: your CSV, the digits…). When the output is a batch of K scores, a Target and
a softmax cross-entropy loss are added on the scores, so the backward pass can be stepped.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from gradviz_core.errors import GradvizError
from gradviz_core.formats.onnx_fold import fold as _fold
from gradviz_core.formats.onnx_model import OnnxImportError, attrs as _attrs, constant as _constant, initializer
from gradviz_core.formats.onnx_model import load_model as _load_model
from gradviz_core.model.graph import Graph

#: gates and activations that are one brick each, inputs in order
SIMPLE = {"Add": "Add", "Sub": "Subtract", "Mul": "Multiply", "Div": "Divide", "Max": "Max", "Min": "Min",
          "MatMul": "MatMul", "Exp": "Exp", "Log": "Log", "Reciprocal": "Reciprocal", "Neg": "Negate",
          "Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh"}


#: a short name for a node whose tensor has an exporter's generated name ("/0/Conv_output_0")
SHORT = {"Conv2D": "conv", "Linear": "fc", "ReLU": "relu", "LeakyReLU": "lrelu", "MaxPool2D": "pool",
         "AvgPool2D": "avgpool", "Flatten": "flat", "BatchNorm": "bn", "Dropout": "drop", "Constant": "c",
         "Softmax": "softmax", "Sigmoid": "sigmoid", "Tanh": "tanh"}


def _name(tensor: str, type_name: str, taken: set[str]) -> str:
    """The tensor's own name where it is a plain one ("scores", "h1"); otherwise the brick's
    short name, numbered (conv1, relu1, pool1, …)."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,47}", tensor) and "output" not in tensor.lower() \
            and tensor not in taken:
        taken.add(tensor)
        return tensor
    base = SHORT.get(type_name, type_name.lower())
    i = 1
    while f"{base}{i}" in taken:
        i += 1
    taken.add(f"{base}{i}")
    return f"{base}{i}"


class _Reader:
    def __init__(self, model, where: str) -> None:
        from onnx import numpy_helper
        self.where = where
        self.g = Graph()
        self.taken: set[str] = set()
        self.tensor: dict[str, str] = {}     # ONNX tensor -> the gradviz node that computes it
        self.values = {t.name: initializer(t, where, numpy_helper) for t in model.graph.initializer}
        self.consumers: dict[str, int] = {}
        self.readers: dict[str, list] = {}   # tensor -> the nodes that read it
        self.skip: set[str] = set()          # outputs of nodes read as part of an earlier one (a shuffle's)
        for node in model.graph.node:
            for i in node.input:
                self.consumers[i] = self.consumers.get(i, 0) + 1
                self.readers.setdefault(i, []).append(node)
            if node.op_type == "Constant":
                self.values[node.output[0]] = _constant(node)
        self.folded: dict[str, str] = {}     # MatMul output -> its Linear, for the Add of a bias
        self.weights: dict[str, dict] = {}  # node -> its arrays, set once the graph is built
        self.shapes: dict[str, tuple] = {}  # node -> its output shape, inferred as it is read
        self.sample_shape: tuple = ()        # the model input's, without its batch axis
        self.pool_average = False            # while an AveragePool's window is read
        self.padded = False                  # whether the last window's Pad2D added a border

    def shape(self, name: str) -> tuple:
        """The output shape of gradviz node ``name``, inferred from its inputs' (each node once, in
        the order read: the reader's graph is analysed once, at the end)."""
        if name not in self.shapes:
            b = self.g.brick(name)
            if b.is_source:
                self.shapes[name] = (None, *self.sample_shape)
            else:
                ins = {p: self.shape(src) for p, src in self.g.inputs_of(name).items()}
                self.shapes[name] = tuple(b.infer_shape(ins))
        return self.shapes[name]

    def shape_of(self, tensor: str, node) -> tuple:
        try:
            return self.shape(self.source(tensor, node))
        except GradvizError as exc:
            raise self.fail(node, f"the shape of its input is not known ({exc})") from None

    def fail(self, node, why: str) -> OnnxImportError:
        return OnnxImportError(f"{self.where}: node {node.name or node.output[0]!r} ({node.op_type}): {why}")

    def add(self, type_name: str, tensor: str, params: dict | None = None) -> str:
        name = _name(tensor, type_name, self.taken)
        self.g.add_node(type_name, name, params or {})
        self.tensor[tensor] = name
        return name

    def source(self, tensor: str, node) -> str:
        """The gradviz node that gives ``tensor``: a computed one, or a Constant of a value."""
        if tensor in self.tensor:
            return self.tensor[tensor]
        if tensor in self.values:
            value = np.asarray(self.values[tensor], dtype=np.float64)
            return self.add("Constant", tensor, {"value": value.tolist()})
        raise self.fail(node, f"its input {tensor!r} is computed by nothing gradviz read")

    def value(self, node, i: int, what: str):
        if len(node.input) <= i or not node.input[i]:
            return None
        if node.input[i] not in self.values:
            raise self.fail(node, f"its {what} must be a constant (an initializer), not a computed tensor")
        return self.values[node.input[i]]


def _window(r: _Reader, node, a: dict, kernels, fill: str = "zeros") -> tuple[str, tuple, int]:
    """(the tensor the window brick reads, its strides (down, across), its padding). ``kernels``:
    the window's (height, width). Padding that is not the same on every side, and the rows a
    framework's floor or ceil mode drops or adds at the end, become a Pad2D before the window
    (zeros, or −∞ before a max pool) and the brick pads nothing."""
    src = node.input[0]
    strides = [int(v) for v in a.get("strides", [1, 1])]
    if len(strides) != 2 or len(kernels) != 2:
        raise r.fail(node, f"gradviz's windows are 2-D (images), not {len(kernels)}-D")
    pads = list(a.get("pads", [0, 0, 0, 0]))
    if any(d != 1 for d in a.get("dilations", [1])):
        raise r.fail(node, "dilated windows have no gradviz brick")
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    h, w = r.shape_of(src, node)[2:]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, stride, kernel in zip((h, w), strides, kernels):
            total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
            small = total // 2
            pads.append((small, total - small) if auto == "SAME_UPPER" else (total - small, small))
        pads = [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]
    elif auto not in ("NOTSET", "VALID"):
        raise r.fail(node, f"auto_pad {auto} is not read")
    top, left, bottom, right = pads
    ends, beyond = [], False
    for size, lo, hi, stride, kernel in ((h, top, bottom, strides[0], kernels[0]),
                                         (w, left, right, strides[1], kernels[1])):
        span = size + lo + hi - kernel
        if span < 0:
            raise r.fail(node, f"its {kernels[0]}×{kernels[1]} window is larger than the padded input "
                               f"({size} + {lo} + {hi})")
        out = span // stride + 1         # floor: the last rows no window reaches are cut off
        if span % stride and a.get("ceil_mode", 0):
            out += 1                     # ceil: one more window, over a border at the end…
            if (out - 1) * stride >= size + lo:
                out -= 1                 # …unless it would start in the padding (as ONNX and PyTorch)
        end = (out - 1) * stride + kernel - size - lo
        beyond |= end > hi
        ends.append(end)
    bottom, right = ends
    if beyond and fill == "zeros" and r.pool_average:
        raise r.fail(node, "ceil_mode adds a window that reaches past the padding, where an average counts "
                           "only what it covers; gradviz's average divides by the whole window")
    if top == bottom == left == right:
        return src, strides, top
    pad = r.add("Pad2D", f"{node.output[0]}_pad", {"top": top, "bottom": bottom, "left": left, "right": right,
                                                 "fill": fill})
    r.g.connect(r.source(src, node), pad, "x")
    r.padded = any(v > 0 for v in (top, bottom, left, right))
    return f"{node.output[0]}_pad", strides, 0


def _across(kh: int, kw: int, sh: int, sw: int, pool: bool = False) -> dict:
    """A window's width and step across, as its brick's settings (none when square)."""
    out = {}
    if kw != kh:
        out["size_w"] = kw
    if sw != sh or (pool and kw != kh):
        out["stride_w"] = sw
    return out


def _gemm(r: _Reader, node) -> None:
    a = _attrs(node)
    if a.get("transA", 0):
        raise r.fail(node, "transA = 1 is not read")
    W = r.value(node, 1, "weight matrix B")
    if W is None or W.ndim != 2:
        raise r.fail(node, "B must be a weight matrix")
    W = (W.T if a.get("transB", 0) else W) * a.get("alpha", 1.0)
    b = r.value(node, 2, "bias C")
    name = r.add("Linear", node.output[0], {"units": int(W.shape[1]), "bias": b is not None})
    r.g.connect(r.source(node.input[0], node), name, "x")
    weights = {"W": W}
    if b is not None:
        weights["b"] = np.broadcast_to(np.asarray(b) * a.get("beta", 1.0), (W.shape[1],))
    r.weights[name] = weights


def _matmul(r: _Reader, node) -> None:
    if node.input[1] in r.values and np.ndim(r.values[node.input[1]]) == 2 and node.input[0] not in r.values:
        W = r.values[node.input[1]]
        name = r.add("Linear", node.output[0], {"units": int(W.shape[1]), "bias": False})
        r.g.connect(r.source(node.input[0], node), name, "x")
        r.weights[name] = {"W": W}
        if r.consumers.get(node.output[0]) == 1:
            r.folded[node.output[0]] = name
        return
    _simple(r, node)


def _add(r: _Reader, node) -> None:
    """The bias of a MatMul by a weight matrix (PyTorch's older Linear export) folds into its
    Linear; any other Add is the gate."""
    lin = r.folded.get(node.input[0])
    b = r.values.get(node.input[1])
    if lin is not None and b is not None and np.size(b) == r.weights[lin]["W"].shape[1]:
        r.g.set_param(lin, "bias", True)
        r.weights[lin]["b"] = np.asarray(b).reshape(-1)
        r.tensor[node.output[0]] = lin
        return
    _simple(r, node)


def _simple(r: _Reader, node) -> None:
    brick = SIMPLE[node.op_type]
    ports = ("a", "b") if len(node.input) == 2 else ("x",)
    if len(node.input) != len(ports) or (brick in ("Max", "Min") and len(node.input) != 2):
        raise r.fail(node, f"{len(node.input)} inputs; the {brick} brick takes {len(ports)}")
    srcs = [r.source(t, node) for t in node.input]
    name = r.add(brick, node.output[0])
    for port, src in zip(ports, srcs):
        r.g.connect(src, name, port)


def _unary(brick: str, **params):
    def read(r: _Reader, node) -> None:
        a = _attrs(node)
        name = r.add(brick, node.output[0], {k: float(a.get(k, v)) for k, v in params.items()})
        r.g.connect(r.source(node.input[0], node), name, "x")
    return read


def _softmax(r: _Reader, node) -> None:
    axis = _attrs(node).get("axis", -1)
    if axis not in (-1, 1):
        raise r.fail(node, f"softmax over axis {axis}: gradviz's Softmax is over the last axis")
    _unary("Softmax")(r, node)


def _clip(r: _Reader, node) -> None:
    lo, hi = r.value(node, 1, "min"), r.value(node, 2, "max")
    if lo is not None and hi is not None and float(lo) == -1.0 and float(hi) == 1.0:
        return _unary("Ramp")(r, node)
    if lo is not None and float(lo) == 0.0 and (hi is None or np.isinf(float(hi))):
        return _unary("ReLU")(r, node)
    raise r.fail(node, "only Clip to [−1, 1] (Ramp) or [0, ∞) (ReLU) has a brick")


def _pow(r: _Reader, node) -> None:
    p = r.value(node, 1, "exponent")
    if p is None or np.size(p) != 1:
        raise r.fail(node, "the exponent must be one number")
    name = r.add("Power", node.output[0], {"p": float(p)})
    r.g.connect(r.source(node.input[0], node), name, "x")


def _conv(r: _Reader, node) -> None:
    a = _attrs(node)
    W = r.value(node, 1, "weights")
    if W is None or W.ndim != 4:
        raise r.fail(node, "gradviz convolves images (N, C, H, W) with 4-D weights")
    kh, kw = (int(d) for d in W.shape[2:])
    src, (sh, sw), pad = _window(r, node, a, (kh, kw))
    b = r.value(node, 2, "bias")
    name = r.add("Conv2D", node.output[0], {"filters": int(W.shape[0]), "size": kh, "stride": sh,
                                            "padding": pad, "groups": int(a.get("group", 1)),
                                            "bias": b is not None, **_across(kh, kw, sh, sw)})
    r.g.connect(r.source(src, node), name, "x")
    r.weights[name] = {"W": W, **({"b": b} if b is not None else {})}


def _pool(brick: str):
    def read(r: _Reader, node) -> None:
        a = _attrs(node)
        if len(a["kernel_shape"]) != 2:
            raise r.fail(node, f"gradviz's windows are 2-D (images), not {len(a['kernel_shape'])}-D")
        kh, kw = (int(d) for d in a["kernel_shape"])
        r.pool_average, r.padded = brick == "AvgPool2D", False
        try:
            src, (sh, sw), pad = _window(r, node, a, (kh, kw), "-inf" if brick == "MaxPool2D" else "zeros")
        finally:
            r.pool_average = False
        padded = r.padded or pad  # a border of zeros counted (a Pad2D that only cuts off adds none)
        if brick == "AvgPool2D" and padded and not a.get("count_include_pad", 0):
            raise r.fail(node, "gradviz's average counts the padding (count_include_pad = 1)")
        name = r.add(brick, node.output[0], {"size": kh, "stride": sh, "padding": pad,
                                             **_across(kh, kw, sh, sw, pool=True)})
        r.g.connect(r.source(src, node), name, "x")
    return read


def _flatten(r: _Reader, node) -> None:
    if _attrs(node).get("axis", 1) != 1:
        raise r.fail(node, "only Flatten from axis 1 (to (N, D)) has a brick")
    _unary("Flatten")(r, node)


def _reshape(r: _Reader, node) -> None:
    """A Reshape, Squeeze or Flatten that lays each sample out as one row, (N, …) → (N, D), is a
    Flatten (VGG's Reshape to a fixed (1, 25088) too); one that keeps the shape is nothing."""
    shape_in = r.shape_of(node.input[0], node)
    if node.op_type == "Reshape":
        target = r.value(node, 1, "shape")
        target = None if target is None else [int(d) for d in np.asarray(target).reshape(-1)]
    else:  # Squeeze: the axes it drops must be of size 1
        axes = _attrs(node).get("axes")
        if axes is None and len(node.input) > 1:
            axes = [int(v) for v in np.asarray(r.value(node, 1, "axes")).reshape(-1)]
        axes = [a % len(shape_in) for a in (axes if axes is not None else
                                             [i for i, d in enumerate(shape_in) if d == 1])]
        if 0 in axes or any(shape_in[a] != 1 for a in axes):
            raise r.fail(node, f"it squeezes axes {axes} of {list(shape_in)}, not only axes of size 1")
        target = [0] + [d for i, d in enumerate(shape_in) if i and i not in axes]
    per_sample = int(np.prod(shape_in[1:]))
    if target is not None and len(target) >= 1:
        rest = target[1:]
        known = int(np.prod([d for d in rest if d > 0])) if rest else 1
        dims = [per_sample // known if d == -1 else d for d in rest]
        if target[0] in (0, -1, 1) and int(np.prod(dims)) == per_sample and \
                (-1 not in rest or known and per_sample % known == 0):
            if tuple(dims) == tuple(shape_in[1:]):
                return _identity(r, node)
            if len(dims) == 1:
                return _unary("Flatten")(r, node)
            if len(dims) == 4 and len(shape_in) == 4 and _shuffle(r, node, shape_in, dims):
                return
    raise r.fail(node, f"it reshapes {list(shape_in)} to {target}: gradviz has a brick only for a reshape to "
                       "(N, D), a Flatten")


def _shuffle(r: _Reader, node, shape_in, dims) -> bool:
    """ShuffleNet's channel shuffle, three nodes: a Reshape to (N, g, C/g, H, W), a Transpose of
    axes 1 and 2, a Reshape back to (N, C, H, W): one ChannelShuffle. False: not that pattern."""
    c, h, w = shape_in[1:]
    g = dims[0]
    if dims[1] * g != c or tuple(dims[2:]) != (h, w):
        return False
    after = r.readers.get(node.output[0], [])
    if len(after) != 1 or after[0].op_type != "Transpose" or list(_attrs(after[0]).get("perm", [])) != [0, 2, 1, 3, 4]:
        return False
    back = r.readers.get(after[0].output[0], [])
    if len(back) != 1 or back[0].op_type != "Reshape" or back[0].input[1] not in r.values:
        return False
    target = [int(d) for d in np.asarray(r.values[back[0].input[1]]).reshape(-1)]
    if len(target) != 4 or target[0] not in (0, -1, 1) or [d for d in target[1:] if d != -1] not in ([c, h, w], [h, w]):
        return False
    name = r.add("ChannelShuffle", back[0].output[0], {"groups": int(g)})
    r.g.connect(r.source(node.input[0], node), name, "x")
    r.skip.update((after[0].output[0], back[0].output[0]))
    return True


def _pad(r: _Reader, node) -> None:
    a = _attrs(node)
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = a.get("pads")
    if pads is None:
        pads = r.value(node, 1, "pads")
    value = a.get("value", 0.0)
    if len(node.input) > 2 and node.input[2]:
        value = r.value(node, 2, "constant value")
    pads = [int(v) for v in np.asarray(pads).reshape(-1)]
    value = float(np.asarray(value).reshape(-1)[0])
    if mode != "constant" or value not in (0.0, -np.inf):
        raise r.fail(node, f"only padding with zeros (or −∞) has a brick, not {mode} padding with {value:g}")
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
        raise r.fail(node, f"gradviz pads the height and width of images (N, C, H, W) only, not {pads}")
    name = r.add("Pad2D", node.output[0], {"top": pads[2], "left": pads[3], "bottom": pads[6], "right": pads[7],
                                           "fill": "zeros" if value == 0.0 else "-inf"})
    r.g.connect(r.source(node.input[0], node), name, "x")


def _prelu(r: _Reader, node) -> None:
    slope = r.value(node, 1, "slope")
    shape_in = r.shape_of(node.input[0], node)
    c = shape_in[1]
    # ONNX broadcasts from the right: one per channel is (C, 1, 1) on images, (C,) on (N, C)
    per_channel = [(c,)] if len(shape_in) == 2 else [(c, 1, 1), (1, c, 1, 1)]
    if slope is None or not (np.size(slope) == 1 or np.shape(slope) in per_channel):
        raise r.fail(node, f"its slope of shape {list(np.shape(slope))} is not one per channel "
                           f"({' or '.join(str(list(p)) for p in per_channel)}) nor one for all")
    name = r.add("PReLU", node.output[0])
    r.g.connect(r.source(node.input[0], node), name, "x")
    r.weights[name] = {"a": np.broadcast_to(np.asarray(slope, np.float64).reshape(-1), (c,)).copy()}


def _selu(r: _Reader, node) -> None:
    from gradviz_core.bricks.activations import SELU_ALPHA, SELU_LAMBDA
    a = _attrs(node)
    if abs(a.get("alpha", SELU_ALPHA) - SELU_ALPHA) > 1e-5 or abs(a.get("gamma", SELU_LAMBDA) - SELU_LAMBDA) > 1e-5:
        raise r.fail(node, "only SELU's own constants (α ≈ 1.6733, λ ≈ 1.0507) have a brick")
    _unary("SELU")(r, node)


def _sqrt(r: _Reader, node) -> None:
    name = r.add("Power", node.output[0], {"p": 0.5})
    r.g.connect(r.source(node.input[0], node), name, "x")


def _logsoftmax(r: _Reader, node) -> None:
    axis = _attrs(node).get("axis", -1)
    if axis not in (-1, len(r.shape_of(node.input[0], node)) - 1):
        raise r.fail(node, f"log-softmax over axis {axis}: gradviz's LogSoftmax is over the last axis")
    _unary("LogSoftmax")(r, node)


def _lrn(r: _Reader, node) -> None:
    a = _attrs(node)
    size = int(a["size"])
    if size % 2 == 0:
        raise r.fail(node, f"a window of {size} channels is not centred; gradviz's LRN takes an odd size")
    name = r.add("LRN", node.output[0], {"size": size, "alpha": float(a.get("alpha", 1e-4)),
                                         "beta": float(a.get("beta", 0.75)), "k": float(a.get("bias", 1.0))})
    r.g.connect(r.source(node.input[0], node), name, "x")


def _merge(brick: str):
    def read(r: _Reader, node) -> None:
        ins = [t for t in node.input if t]
        if brick == "Concat":
            axis = _attrs(node).get("axis", 1)
            if axis not in (1, 1 - len(r.shape_of(ins[0], node))):
                raise r.fail(node, f"concatenation along axis {axis}: gradviz's Concat joins channels (axis 1)")
        if len(ins) == 1:
            return _identity(r, node)
        srcs = [r.source(t, node) for t in ins]
        name = r.add(brick, node.output[0], {"inputs": len(ins)})
        for i, src in enumerate(srcs):
            r.g.connect(src, name, f"in{i}")
    return read


def _batchnorm(r: _Reader, node) -> None:
    a = _attrs(node)
    gamma, beta, mean, var = (r.value(node, i, what) for i, what in
                              ((1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")))
    name = r.add("BatchNorm", node.output[0], {"eps": float(a.get("epsilon", 1e-5)),
                                               "momentum": float(a.get("momentum", 0.9))})
    r.g.connect(r.source(node.input[0], node), name, "x")
    r.weights[name] = {"gamma": gamma, "beta": beta, "running_mean": mean, "running_var": var}


def _dropout(r: _Reader, node) -> None:
    ratio = r.value(node, 1, "ratio") if len(node.input) > 1 else _attrs(node).get("ratio", 0.5)
    name = r.add("Dropout", node.output[0], {"p": float(0.5 if ratio is None else ratio)})
    r.g.connect(r.source(node.input[0], node), name, "x")


def _reduce(brick: str):
    def read(r: _Reader, node) -> None:
        a = _attrs(node)
        axes = a.get("axes")
        if axes is None and len(node.input) > 1:
            axes = r.value(node, 1, "axes")
        if a.get("keepdims", 1):
            raise r.fail(node, "keepdims = 1 is not read (gradviz's reductions drop the axes)")
        rank = len(r.shape_of(node.input[0], node))
        axes = sorted({int(v) % rank for v in np.asarray(axes).reshape(-1)}) if axes is not None else []
        if not axes or axes == list(range(rank)):
            over = "all"
        elif axes == [0]:
            over = "batch"
        elif axes == list(range(1, rank)):
            over = "features"
        else:
            raise r.fail(node, f"a reduction over axes {axes} of {rank}: gradviz's reduce all axes, the batch "
                               "axis (0) or every axis but the batch")
        name = r.add(brick, node.output[0], {"over": over})
        r.g.connect(r.source(node.input[0], node), name, "x")
    return read


def _identity(r: _Reader, node) -> None:
    r.tensor[node.output[0]] = r.source(node.input[0], node)


OPS = {"Gemm": _gemm, "MatMul": _matmul, "Add": _add, "Conv": _conv, "MaxPool": _pool("MaxPool2D"),
       "AveragePool": _pool("AvgPool2D"), "Flatten": _flatten, "Reshape": _reshape, "Squeeze": _reshape,
       "Pad": _pad, "PRelu": _prelu, "Selu": _selu, "Softplus": _unary("Softplus"), "LogSoftmax": _logsoftmax,
       "GlobalAveragePool": _unary("GlobalAvgPool2D"), "LRN": _lrn, "Concat": _merge("Concat"),
       "Sum": _merge("AddN"), "Abs": _unary("Abs"), "Sqrt": _sqrt,
       "BatchNormalization": _batchnorm, "Dropout": _dropout, "Softmax": _softmax, "Clip": _clip,
       "LeakyRelu": _unary("LeakyReLU", alpha=0.01), "Elu": _unary("ELU", alpha=1.0), "Pow": _pow,
       "ReduceSum": _reduce("Sum"), "ReduceMean": _reduce("Mean"), "Identity": _identity,
       **{op: _simple for op in SIMPLE if op not in ("Add", "MatMul")}}


def from_onnx(path) -> Graph:
    """The graph of the ONNX model at ``path``, its weights set, laid out."""
    where = str(path)
    model = _load_model(path, where)
    r = _Reader(model, where)
    inputs = [i for i in model.graph.input if i.name not in r.values]
    if len(inputs) > 1:
        raise OnnxImportError(f"{where}: the model has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
                              "gradviz reads models with one")
    data = None
    if inputs:
        dims = [d.dim_value if d.HasField("dim_value") else None for d in inputs[0].type.tensor_type.shape.dim]
        if len(dims) < 2 or any(d is None or d <= 0 for d in dims[1:]):
            raise OnnxImportError(f"{where}: input {inputs[0].name!r} has shape {dims}; gradviz needs a batch "
                                  "axis first and a fixed size for every other axis")
        r.add("Input", inputs[0].name)
        r.sample_shape = tuple(dims[1:])
        data = {"source": "random", "n": 64, "shape": list(dims[1:])}
    with r.g.batch():  # analysed once, when every node is in
        for node in model.graph.node:
            if node.op_type == "Constant" or (node.output and node.output[0] in r.skip) or _fold(r, node):
                continue
            read = OPS.get(node.op_type)
            if read is None or node.domain not in ("", "ai.onnx"):
                known = ", ".join(sorted(OPS))
                raise r.fail(node, f"gradviz has no brick for the operator {node.op_type}"
                             f"{'' if not node.domain else f' of {node.domain}'} (it reads {known})")
            read(r, node)
    outputs = [o.name for o in model.graph.output]
    missing = [o for o in outputs if o not in r.tensor]
    if missing:
        raise OnnxImportError(f"{where}: the output {missing[0]!r} is computed by no node gradviz read")
    g = r.g
    if data is not None:
        g.set_data({**data, "classes": 2})
        _add_loss(g, r, model, outputs, data)
    g.title = f"{model.graph.name or Path(where).stem} (from {Path(where).name})"
    g.note = (f"# {g.title}\n\nImported from the ONNX model `{Path(where).name}`"
              + (f" (written by {model.producer_name} {model.producer_version})" if model.producer_name else "")
              + ". The input is fed random samples of its shape: set the data section (the Data panel) to "
              "your own data. Step it (F10) to see every value.")
    from gradviz_core.model.layout import layered_positions
    if data is not None and (batch := _fitting_batch(g)) < 32:
        g.note += (f" It steps and trains in batches of {batch}: a batch of 32 of a model this size would "
                   "take more memory and time than a step should (`gradviz info` shows what it needs).")
    g.analyze()
    g.check()
    g.build(np.float64)
    g.set_weights({f"{n}/{k}": np.asarray(v, np.float64) for n, ws in r.weights.items() for k, v in ws.items()})
    for name, pos in layered_positions(g).items():
        g.move_node(name, pos)
    return g


#: what a step of an imported model may take: a big model steps a smaller batch, so a student's
#: step stays a matter of seconds (a ResNet50 at 224×224 takes about 0.9 GB a sample in float64)
STEP_BUDGET = 2 << 30


def _fitting_batch(g: Graph) -> int:
    """The batch an imported model steps (in float64, the stepper's) and trains in: 32, or fewer
    for a big model, down to 1, so that a step needs at most STEP_BUDGET and fits this machine;
    -> it."""
    from gradviz_core.memory import SHARE, available_bytes, graph_bytes
    g.analyze()
    budget = min(STEP_BUDGET, SHARE * available_bytes())
    batch = 32
    while batch > 1 and sum(graph_bytes(g, batch, 8)) > budget:
        batch //= 2
    if batch != g.training.get("batch_size"):
        g.set_training("batch_size", batch)
    return batch


def _add_loss(g: Graph, r: _Reader, model, outputs: list[str], data: dict) -> None:
    """A Target and a softmax cross-entropy on the scores, when the one output is (N, K)."""
    if len(outputs) != 1:
        return
    g.analyze()
    out = r.tensor[outputs[0]]
    shape = g.shapes.get(out)
    if shape is None or len(shape) != 2 or not shape[1] or shape[1] < 2:
        return
    scores = out
    if g.brick(out).type_name == "Softmax":  # the loss takes the scores before the softmax
        scores = g.inputs_of(out)["x"]
    g.set_data({**data, "classes": int(shape[1])})
    y = g.add_node("Target", _name("y", "Target", r.taken), {})
    loss = g.add_node("SoftmaxCrossEntropy", _name("loss", "SoftmaxCrossEntropy", r.taken), {})
    g.connect(scores, loss, "x")
    g.connect(y, loss, "target")
