"""The lectures' famous ConvNets import from ONNX (issue 28): each architecture's structure as the
ONNX model zoo and PyTorch's exporter write it (AlexNet's LRN and two groups, VGG's Reshape to a
fixed (1, D), GoogLeNet's inception modules with ceil-mode pools, ResNet's residual blocks with
floor-mode windows and a Sum, SqueezeNet's fire modules, DenseNet's concatenations, weights that
come as ConstantOfShape), built here with ``onnx.helper`` at a small size and random weights.
gradviz's forward pass computes what onnxruntime computes (float32, relative error ≤ 1e-4),
and the imported graph steps backward to finite gradients."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from gradviz_core.formats.onnx_import import from_onnx  # noqa: E402
from gradviz_core.runs.run import Run  # noqa: E402
from gradviz_core.runs.stepper import Stepper  # noqa: E402


class Net:
    """An ONNX graph written layer by layer, as an exporter writes it."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], {}, 0

    def _name(self, op: str) -> str:
        self.count += 1
        return f"/{op}_{self.count}_output_0"   # the exporter's generated names

    def init(self, name: str, value) -> str:
        self.inits[name] = np.asarray(value)
        return name

    def op(self, op: str, inputs: list[str], **attrs) -> str:
        out = self._name(op)
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, x: str, c_in: int, c_out: int, k: int, s: int = 1, p=0, group: int = 1, bias=True) -> str:
        w = self.init(f"conv{self.count}.weight", self.rng.standard_normal((c_out, c_in // group, k, k))
                      * np.sqrt(2.0 / (c_in // group * k * k)))
        ins = [x, w] + ([self.init(f"conv{self.count}.bias", self.rng.standard_normal(c_out) * 0.1)] if bias else [])
        pads = [p] * 4 if isinstance(p, int) else list(p)
        return self.op("Conv", ins, kernel_shape=[k, k], strides=[s, s], pads=pads, group=group)

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def bn(self, x: str, c: int) -> str:
        r = self.rng
        ins = [self.init(f"bn{self.count}.{k}", v) for k, v in
               (("scale", r.uniform(0.5, 1.5, c)), ("bias", r.standard_normal(c) * 0.1),
                ("mean", r.standard_normal(c) * 0.1), ("var", r.uniform(0.5, 1.5, c)))]
        return self.op("BatchNormalization", [x, *ins], epsilon=1e-5)

    def pool(self, x: str, op: str, k: int, s: int, p: int = 0, ceil: int = 0) -> str:
        return self.op(op, [x], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4, ceil_mode=ceil)

    def gemm(self, x: str, d: int, k: int, bias_as_constant_of_shape: bool = False) -> str:
        w = self.init(f"fc{self.count}.weight", self.rng.standard_normal((k, d)) / np.sqrt(d))
        if bias_as_constant_of_shape:  # how some exporters write a zero bias: computed in the graph
            shape = self.init(f"fc{self.count}.bias_shape", np.array([k], np.int64))
            b = self._name("ConstantOfShape")
            self.nodes.append(helper.make_node("ConstantOfShape", [shape], [b],
                                               value=numpy_helper.from_array(np.array([0.0], np.float32))))
        else:
            b = self.init(f"fc{self.count}.bias", self.rng.standard_normal(k) * 0.1)
        return self.op("Gemm", [x, w, b], transB=1)

    def model(self, shape: list, out: str, opset: int = 13):
        inits = [numpy_helper.from_array(v if v.dtype == np.int64 else v.astype(np.float32), k)
                 for k, v in self.inits.items()]
        g = helper.make_graph(self.nodes, "zoo", [helper.make_tensor_value_info("data", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", "K"])], initializer=inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
        onnx.checker.check_model(m)
        return m


def _imports_and_agrees(model, tmp_path, n: int = 2):
    """Import ``model``; gradviz's forward pass at test time against onnxruntime's on the same
    batch (float32, relative error ≤ 1e-4); the graph steps backward to finite gradients."""
    path = tmp_path / "zoo.onnx"
    path.write_bytes(model.SerializeToString())
    g = from_onnx(path)
    assert not g.problems, g.problems
    dims = [d.dim_value or n for d in model.graph.input[0].type.tensor_type.shape.dim]
    X = np.random.default_rng(1).standard_normal(dims).astype(np.float32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    theirs = sess.run(None, {"data": X})[0]
    run = Run(g, np.float32, weights="document")
    run.feed(X, np.zeros(len(X), int), step=1)
    values = run.program.forward(False)
    ours = values[_output_node(g)]
    scale = np.abs(theirs).max()
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-4 * scale, np.abs(ours - theirs).max() / scale
    s = Stepper(g, weights="document", training=False)
    s.run_phase("backward")
    assert s.loss() is not None and np.isfinite(s.loss())
    assert all(np.all(np.isfinite(v)) for v in s.grads.values())
    return g


def _output_node(g) -> str:
    """The imported node that computes the model's output: a softmax after the scores the loss
    reads, or the scores themselves."""
    loss = next(n for n in g.nodes() if g.brick(n).type_name == "SoftmaxCrossEntropy")
    scores = g.inputs_of(loss)["x"]
    after = [v for v, _ in g.consumers(scores) if v != loss]
    return after[0] if after else scores


def _types(g) -> list[str]:
    return [g.brick(n).type_name for n in g.order]


def test_alexnet_with_its_lrn_its_two_groups_and_a_bias_from_constant_of_shape(tmp_path):
    """BVLC AlexNet's order (conv → relu → LRN → pool), its groups of 2 in conv2, conv4 and conv5,
    and a classifier bias written as ConstantOfShape; 67×67 instead of 227×227."""
    net = Net()
    x = net.pool(net.op("LRN", [net.relu(net.conv("data", 3, 8, 11, 4))], size=5, alpha=1e-4, beta=0.75, bias=1.0),
                 "MaxPool", 3, 2)
    x = net.pool(net.op("LRN", [net.relu(net.conv(x, 8, 12, 5, 1, 2, group=2))], size=5, alpha=1e-4, beta=0.75,
                        bias=1.0), "MaxPool", 3, 2)
    x = net.relu(net.conv(x, 12, 16, 3, 1, 1))
    x = net.relu(net.conv(x, 16, 16, 3, 1, 1, group=2))
    x = net.pool(net.relu(net.conv(x, 16, 12, 3, 1, 1, group=2)), "MaxPool", 3, 2)
    x = net.op("Flatten", [x], axis=1)
    x = net.op("Dropout", [net.relu(net.gemm(x, 12, 10))])
    x = net.op("Softmax", [net.gemm(x, 10, 5, bias_as_constant_of_shape=True)], axis=1)
    g = _imports_and_agrees(net.model(["N", 3, 67, 67], x), tmp_path)
    types = _types(g)
    assert types.count("LRN") == 2 and sum(g.brick(n).config.get("groups", 1) == 2 for n in g.nodes()) == 3
    assert g.brick(next(n for n in g.nodes() if g.brick(n).type_name == "LRN")).config["k"] == 1.0


def test_vgg_with_its_reshape_to_a_fixed_batch_of_one(tmp_path):
    net = Net()
    x = net.pool(net.relu(net.conv(net.relu(net.conv("data", 3, 4, 3, 1, 1)), 4, 4, 3, 1, 1)), "MaxPool", 2, 2)
    x = net.pool(net.relu(net.conv(net.relu(net.conv(x, 4, 8, 3, 1, 1)), 8, 8, 3, 1, 1)), "MaxPool", 2, 2)
    x = net.op("Reshape", [x, net.init("shape", np.array([1, 8 * 4 * 4], np.int64))])  # VGG19's (1, 25088)
    x = net.gemm(net.relu(net.gemm(x, 128, 16)), 16, 4)
    g = _imports_and_agrees(net.model([1, 3, 16, 16], x), tmp_path, n=1)
    assert "Flatten" in _types(g) and _types(g).count("Conv2D") == 4


def _inception(net: Net, x: str, c_in: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, cp: int) -> str:
    b1 = net.relu(net.conv(x, c_in, c1, 1))
    b2 = net.relu(net.conv(net.relu(net.conv(x, c_in, c3r, 1)), c3r, c3, 3, 1, 1))
    b3 = net.relu(net.conv(net.relu(net.conv(x, c_in, c5r, 1)), c5r, c5, 5, 1, 2))
    b4 = net.relu(net.conv(net.pool(x, "MaxPool", 3, 1, 1), c_in, cp, 1))
    return net.op("Concat", [b1, b2, b3, b4], axis=1)


def test_googlenet_with_inception_modules_ceil_mode_pools_and_global_average_pooling(tmp_path):
    net = Net()
    x = net.pool(net.relu(net.conv("data", 3, 8, 7, 2, 3)), "MaxPool", 3, 2, ceil=1)   # 23 → 12 → 6 (ceil)
    x = net.op("LRN", [x], size=5, alpha=1e-4, beta=0.75, bias=1.0)
    x = _inception(net, x, 8, 4, 4, 6, 2, 3, 3)
    x = net.pool(_inception(net, x, 16, 6, 4, 8, 2, 4, 4), "MaxPool", 3, 2, ceil=1)
    x = net.op("Flatten", [net.op("GlobalAveragePool", [x])], axis=1)
    g = _imports_and_agrees(net.model(["N", 3, 23, 23], net.gemm(x, 22, 6)), tmp_path)
    types = _types(g)
    assert types.count("Concat") == 2 and "GlobalAvgPool2D" in types and "Pad2D" in types
    from gradviz_core.model.blocks import find_blocks
    modules = find_blocks(g)  # each inception module folds into one node: its 4 branches, 6 convolutions
    assert [g.brick(b.join).type_name for b in modules] == ["Concat", "Concat"]
    assert [sum(g.brick(n).type_name == "Conv2D" for n in b.nodes) for b in modules] == [6, 6]


def _basic_block(net: Net, x: str, c_in: int, c: int, stride: int, sum_op: str) -> str:
    y = net.relu(net.bn(net.conv(x, c_in, c, 3, stride, 1, bias=False), c))
    y = net.bn(net.conv(y, c, c, 3, 1, 1, bias=False), c)
    short = x if stride == 1 and c_in == c else net.bn(net.conv(x, c_in, c, 1, stride, bias=False), c)
    return net.relu(net.op(sum_op, [y, short]))


@pytest.mark.parametrize("sum_op", ["Add", "Sum"])
def test_resnet_with_residual_blocks_floor_mode_windows_and_a_projection_shortcut(tmp_path, sum_op):
    """ResNet's stem (7×7 stride 2 pad 3 and 3×3 stride 2 pad 1 max pool, which leave a row over:
    PyTorch's floor), a basic block, a block with a projection shortcut at stride 2; the old
    model zoo joins them with Sum, PyTorch's exporter with Add."""
    net = Net()
    x = net.pool(net.relu(net.bn(net.conv("data", 3, 8, 7, 2, 3, bias=False), 8)), "MaxPool", 3, 2, 1)  # 32→16→8
    x = _basic_block(net, x, 8, 8, 1, sum_op)
    x = _basic_block(net, x, 8, 12, 2, sum_op)
    x = net.op("Flatten", [net.op("GlobalAveragePool", [x])], axis=1)
    g = _imports_and_agrees(net.model(["N", 3, 32, 32], net.gemm(x, 12, 5)), tmp_path)
    types = _types(g)
    assert types.count("AddN" if sum_op == "Sum" else "Add") == 2
    # the stem's two windows, the strided 3×3 and the 1×1 shortcut each leave a row and a column
    # unread at the end: a Pad2D one smaller there (the shortcut's cuts them off)
    pads = [g.brick(n).config for n in g.order if g.brick(n).type_name == "Pad2D"]
    assert [(p["top"], p["bottom"], p["fill"]) for p in pads] == \
        [(3, 2, "zeros"), (1, 0, "-inf"), (1, 0, "zeros"), (0, -1, "zeros")]


def test_squeezenet_with_fire_modules(tmp_path):
    net = Net()
    x = net.pool(net.relu(net.conv("data", 3, 8, 3, 2)), "MaxPool", 3, 2, ceil=1)   # 33 → 16 → 8 (ceil)
    for c_in, s, e in ((8, 4, 6), (12, 4, 6)):
        sq = net.relu(net.conv(x, c_in, s, 1))
        x = net.op("Concat", [net.relu(net.conv(sq, s, e, 1)), net.relu(net.conv(sq, s, e, 3, 1, 1))], axis=1)
    x = net.relu(net.conv(net.op("Dropout", [x]), 12, 5, 1))
    x = net.op("Softmax", [net.op("Flatten", [net.op("GlobalAveragePool", [x])], axis=1)], axis=1)
    g = _imports_and_agrees(net.model(["N", 3, 33, 33], x), tmp_path)
    assert _types(g).count("Concat") == 2


def test_densenet_with_dense_blocks_transitions_and_constant_shapes(tmp_path):
    """Dense blocks concatenate every layer's features onto their input; a transition halves the
    image with a 2×2 average pool; the classifier's Reshape reads a shape computed from constants
    (Unsqueeze and Concat, as DenseNet's export does)."""
    net = Net()
    x = net.pool(net.relu(net.bn(net.conv("data", 3, 8, 7, 2, 3, bias=False), 8)), "MaxPool", 3, 2, 1)  # 32→16→8
    c = 8
    for _ in range(2):
        y = net.conv(net.relu(net.bn(x, c)), c, 8, 1, bias=False)
        y = net.conv(net.relu(net.bn(y, 8)), 8, 4, 3, 1, 1, bias=False)
        x, c = net.op("Concat", [x, y], axis=1), c + 4
    x = net.pool(net.conv(net.relu(net.bn(x, c)), c, 8, 1, bias=False), "AveragePool", 2, 2)
    x = net.op("GlobalAveragePool", [net.relu(net.bn(x, 8))])
    minus1 = net.op("Unsqueeze", [net.init("minus1", np.array(-1, np.int64)), net.init("axes0", np.array([0], np.int64))])
    shape = net.op("Concat", [net.init("batch", np.array([0], np.int64)), minus1], axis=0)
    x = net.op("Reshape", [x, shape])
    g = _imports_and_agrees(net.model(["N", 3, 32, 32], net.gemm(x, 8, 4)), tmp_path)
    types = _types(g)
    assert types.count("Concat") == 2 and "AvgPool2D" in types and "Flatten" in types
    from gradviz_core.model.blocks import find_blocks
    layers = find_blocks(g)  # each dense layer: BN, ReLU, 1×1 conv, BN, ReLU, 3×3 conv, Concat
    assert [len(b.nodes) for b in layers] == [7, 7]


def test_shufflenet_with_grouped_convolutions_and_its_channel_shuffle(tmp_path):
    """ShuffleNet's unit: a grouped 1×1 convolution, the channel shuffle as PyTorch exports it (a
    Reshape to 5 axes, a Transpose, a Reshape back: one ChannelShuffle), a depthwise 3×3, another
    grouped 1×1, the shortcut added; and the Abs and Sqrt that exporters write elsewhere."""
    net = Net()
    x = net.relu(net.conv("data", 3, 12, 3, 1, 1))
    y = net.relu(net.bn(net.conv(x, 12, 6, 1, group=3, bias=False), 6))
    shape5 = net.init("shape5", np.array([0, 3, 2, 6, 6], np.int64))
    y = net.op("Reshape", [net.op("Transpose", [net.op("Reshape", [y, shape5])], perm=[0, 2, 1, 3, 4]),
                           net.init("shape4", np.array([0, -1, 6, 6], np.int64))])
    y = net.bn(net.conv(y, 6, 6, 3, 1, 1, group=6, bias=False), 6)
    y = net.bn(net.conv(y, 6, 12, 1, group=3, bias=False), 12)
    x = net.relu(net.op("Add", [x, y]))
    x = net.op("Sqrt", [net.op("Abs", [net.op("Flatten", [net.op("GlobalAveragePool", [x])], axis=1)])])
    g = _imports_and_agrees(net.model(["N", 3, 6, 6], net.gemm(x, 12, 4)), tmp_path)
    types = _types(g)
    assert types.count("ChannelShuffle") == 1 and "Abs" in types and "Power" in types
    assert g.brick(next(n for n in g.nodes() if g.brick(n).type_name == "ChannelShuffle")).config["groups"] == 3


def test_inception_v3_with_factorized_rectangular_filters(tmp_path):
    """Inception v3 factorizes a 7×7 filter into 1×7 then 7×1 (pads (0, 3) and (3, 0): a Pad2D),
    and a pool may step differently down and across."""
    net = Net()
    x = net.relu(net.conv("data", 3, 6, 3, 1, 1))
    w17 = net.init("w17", net.rng.standard_normal((6, 6, 1, 7)) * 0.2)
    w71 = net.init("w71", net.rng.standard_normal((6, 6, 7, 1)) * 0.2)
    a = net.relu(net.op("Conv", [x, w17], kernel_shape=[1, 7], pads=[0, 3, 0, 3]))
    a = net.relu(net.op("Conv", [a, w71], kernel_shape=[7, 1], pads=[3, 0, 3, 0]))
    x = net.op("Concat", [x, a], axis=1)
    x = net.op("MaxPool", [x], kernel_shape=[2, 3], strides=[2, 1])
    x = net.op("Flatten", [net.op("GlobalAveragePool", [x])], axis=1)
    g = _imports_and_agrees(net.model(["N", 3, 8, 8], net.gemm(x, 12, 3)), tmp_path)
    shapes = sorted((g.brick(n).config["size"], g.brick(n).config["size_w"]) for n in g.nodes()
                    if g.brick(n).type_name == "Conv2D")
    assert shapes == [(1, 7), (3, 0), (7, 1)]
    pool = next(g.brick(n).config for n in g.nodes() if g.brick(n).type_name == "MaxPool2D")
    assert (pool["size"], pool["size_w"], pool["stride"], pool["stride_w"]) == (2, 3, 2, 1)
    from gradviz_core.formats.onnx_export import to_onnx  # and back out: onnxruntime agrees again
    back = to_onnx(g)
    ops = {(n.op_type, tuple(a.ints)) for n in back.graph.node for a in n.attribute if a.name == "kernel_shape"}
    assert ("Conv", (1, 7)) in ops and ("MaxPool", (2, 3)) in ops


def test_a_shape_gradviz_cannot_express_is_refused_with_the_operator_the_node_and_why(tmp_path):
    """ShuffleNet's channel shuffle reshapes to 5 axes: refused by name, not imported wrong."""
    net = Net()
    x = net.relu(net.conv("data", 3, 4, 1))
    x = net.op("Reshape", [x, net.init("five", np.array([0, 2, 2, 4, 4], np.int64))])
    path = tmp_path / "shuffle.onnx"
    path.write_bytes(net.model(["N", 3, 4, 4], x).SerializeToString())
    from gradviz_core.errors import GradvizError
    with pytest.raises(GradvizError, match=r"shuffle\.onnx: node .*\(Reshape\): it reshapes \[None, 4, 4, 4\] "
                                           r"to \[0, 2, 2, 4, 4\]"):
        from_onnx(path)


def test_a_big_model_imports_with_a_batch_a_step_can_take(tmp_path, monkeypatch):
    """A model whose batch of 32 would take more than a step should (or than this machine has)
    imports with the largest batch that fits, and the note says so, instead of a stepper refused
    as too big: ResNet50 at 224×224 steps one image."""
    from gradviz_core import memory
    from gradviz_core.formats import onnx_import
    net = Net()
    x = net.op("Flatten", [net.relu(net.conv("data", 3, 16, 3, 1, 1))], axis=1)
    model = net.model(["N", 3, 32, 32], net.gemm(x, 16 * 32 * 32, 10))
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    assert from_onnx(path).training["batch_size"] == 32 and "batches of" not in from_onnx(path).note
    monkeypatch.setattr(onnx_import, "STEP_BUDGET", 8 << 20)  # 8 MB for a step
    g = from_onnx(path)
    b = g.training["batch_size"]
    assert 1 < b < 32 and not g.problems and f"batches of {b}" in g.note
    assert sum(memory.graph_bytes(g, b, 8)) <= 8 << 20 < sum(memory.graph_bytes(g, 2 * b, 8))
    from gradviz_core.runs.stepper import Stepper
    s = Stepper(g, weights="document")
    s.run_phase("backward")
    assert s.loss() is not None and len(s.values[g.order[0]]) == b


@pytest.mark.parametrize("h,k,s,p", [(5, 2, 2, 1), (6, 3, 2, 0), (7, 3, 2, 1), (9, 3, 2, 0)])
def test_ceil_mode_max_pools_drop_a_last_window_that_would_start_in_the_padding(tmp_path, h, k, s, p):
    """ONNX's (and PyTorch's) ceil mode adds a last window only where it starts inside the input or
    its left padding: 2×2 stride 2 pad 1 on 5×5 gives 3×3, not 4×4."""
    net = Net()
    x = net.pool(net.relu(net.conv("data", 1, 2, 1)), "MaxPool", k, s, p, ceil=1)
    x = net.op("Flatten", [net.op("GlobalAveragePool", [x])], axis=1)  # (ONNX's shape inference says 4×4)
    out = -(-(h + 2 * p - k) // s) + 1
    out -= (out - 1) * s >= h + p
    g = _imports_and_agrees(net.model(["N", 1, h, h], net.gemm(x, 2, 3)), tmp_path)  # an extra window: −∞ in it
    pool = next(n for n in g.nodes() if g.brick(n).type_name == "MaxPool2D")
    assert g.shapes[pool][2:] == (out, out)


def test_average_pools_read_with_their_counting_rules(tmp_path):
    """A floor-mode average pool that only cuts a row off imports (no padding is counted); a
    ceil-mode one whose last window reaches past the padding is refused, saying why (ONNX divides
    by what the window covers there, gradviz by the whole window)."""
    net = Net()
    x = net.op("AveragePool", [net.relu(net.conv("data", 1, 2, 1))], kernel_shape=[2, 2], strides=[2, 2])
    _imports_and_agrees(net.model(["N", 1, 7, 7], net.gemm(net.op("Flatten", [x], axis=1), 18, 3)), tmp_path)
    net = Net()
    x = net.op("AveragePool", [net.relu(net.conv("data", 1, 2, 1))], kernel_shape=[3, 3], strides=[2, 2],
               ceil_mode=1, count_include_pad=1)
    path = tmp_path / "avg.onnx"
    path.write_bytes(net.model(["N", 1, 6, 6], net.gemm(net.op("Flatten", [x], axis=1), 18, 3)).SerializeToString())
    from gradviz_core.errors import GradvizError
    with pytest.raises(GradvizError, match=r"\(AveragePool\): ceil_mode adds a window that reaches past the padding"):
        from_onnx(path)


def test_a_1d_pool_and_a_slope_along_the_wrong_axis_are_refused_by_name(tmp_path):
    from gradviz_core.errors import GradvizError
    net = Net()
    x = net.op("MaxPool", ["data"], kernel_shape=[2], strides=[2])
    path = tmp_path / "p1.onnx"
    path.write_bytes(net.model(["N", 1, 8], x).SerializeToString())
    with pytest.raises(GradvizError, match=r"\(MaxPool\): gradviz's windows are 2-D \(images\), not 1-D"):
        from_onnx(path)
    net = Net()
    x = net.op("PRelu", [net.relu(net.conv("data", 3, 4, 1)), net.init("slope", np.full(4, 0.1))])  # (C,): along W
    path = tmp_path / "pr.onnx"
    path.write_bytes(net.model(["N", 3, 4, 4], net.gemm(net.op("Flatten", [x], axis=1), 64, 2)).SerializeToString())
    with pytest.raises(GradvizError, match=r"\(PRelu\): its slope of shape \[4\] is not one per channel"):
        from_onnx(path)
