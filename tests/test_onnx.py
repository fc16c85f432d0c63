"""ONNX out and in: every example exports, runs in onnxruntime as gradviz computes it, and
imports back; models written with onnx.helper (and one exported by PyTorch) import with their
weights and compute what onnxruntime computes."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from gradviz_core.model import fileformat  # noqa: E402
from gradviz_core.errors import GradvizError  # noqa: E402
from gradviz_core.formats.onnx_export import to_onnx  # noqa: E402
from gradviz_core.formats.onnx_import import from_onnx  # noqa: E402
from gradviz_core.runs.run import Run  # noqa: E402


def run_onnx(model, X=None):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {} if X is None else {sess.get_inputs()[0].name: X.astype(np.float32)}
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


def forward(graph, X=None, weights="fresh"):
    """gradviz's forward pass at test time, in float32, on X (or the first training batch)."""
    run = Run(graph, np.float32, weights=weights)
    if run.splits is not None:
        if X is None:
            X, y = run.batch(1)
        run.feed(X, np.zeros(len(X), int), step=1)
    return X, run.program.forward(False)


@pytest.mark.parametrize("name", sorted(p.name for p in fileformat.Path(__file__).resolve().parents[1]
                                        .joinpath("examples").glob("*.json"))
                         # and a test graph with every brick the model zoo brought (issue 28)
                         + [str(fileformat.Path(__file__).resolve().parent / "data" / "new_bricks.json")])
def test_every_example_exports_runs_in_onnxruntime_and_imports_back(examples_dir, tmp_path, name):
    g = fileformat.load(examples_dir / name)
    model = to_onnx(g)
    X, ours = forward(g)
    theirs = run_onnx(model, X)
    assert theirs and set(theirs) <= set(ours)
    for out, value in theirs.items():
        np.testing.assert_allclose(value, ours[out], rtol=1e-5, atol=1e-5, err_msg=f"{name}: {out}")
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    back = from_onnx(path)
    _, again = forward(back, X, weights="document")
    for out, value in theirs.items():  # the round trip computes what the original does
        np.testing.assert_allclose(again[out], ours[out], rtol=1e-5, atol=1e-6, err_msg=f"{name}: {out}")


def test_the_export_leaves_training_out_and_names_a_node_without_an_onnx_form(examples_dir, monkeypatch):
    model = to_onnx(fileformat.load(examples_dir / "lesson_multitask.json"))
    ops = {n.op_type for n in model.graph.node}
    assert [o.name for o in model.graph.output] == ["scores", "recon"] and "SoftmaxCrossEntropy" not in ops
    assert [i.name for i in model.graph.input] == ["x"] and ops == {"Gemm", "Relu"}
    from gradviz_core.bricks.ops import Exp
    monkeypatch.setattr(Exp, "onnx_op", None)
    with pytest.raises(GradvizError, match=r"e \(Exp\): no ONNX form"):
        to_onnx(fileformat.load(examples_dir / "sigmoid_neuron.json"))


def test_every_brick_has_an_onnx_form_or_only_trains():
    from gradviz_core.model.brick import Brick
    from gradviz_core.model.registry import brick_types, get_brick_class
    for name in brick_types():
        cls = get_brick_class(name)
        assert cls.onnx_training_only or cls.onnx_op or cls.onnx is not Brick.onnx, name


def _model(nodes, inits, shape, out, out_shape):
    g = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *shape])],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)],
                          initializer=[numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(m)
    return m


def _imports_as_onnxruntime_computes(model, tmp_path, shape, n=5):
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    g = from_onnx(path)
    X = np.random.default_rng(1).standard_normal((n, *shape)).astype(np.float32)
    theirs = run_onnx(model, X)
    _, ours = forward(g, X, weights="document")
    out = model.graph.output[0].name
    node = next(k for k in ours if k == out or k == out.replace("/", "_").strip("_"))
    np.testing.assert_allclose(ours[node], theirs[out], rtol=1e-5, atol=1e-5)
    return g


def test_an_mlp_of_gemm_relu_sigmoid_tanh_leakyrelu_and_softmax_imports(tmp_path):
    rng = np.random.default_rng(0)
    inits = {"W1": rng.standard_normal((8, 4)), "b1": rng.standard_normal(8),   # PyTorch's (out, in): transB
             "W2": rng.standard_normal((8, 8)), "W3": rng.standard_normal((8, 3)), "b3": rng.standard_normal(3)}
    nodes = [helper.make_node("Gemm", ["input", "W1", "b1"], ["h1"], transB=1),
             helper.make_node("Relu", ["h1"], ["a1"]),
             helper.make_node("MatMul", ["a1", "W2"], ["h2"]),
             helper.make_node("Tanh", ["h2"], ["a2"]),
             helper.make_node("LeakyRelu", ["a2"], ["a3"], alpha=0.2),
             helper.make_node("Sigmoid", ["a3"], ["a4"]),
             helper.make_node("MatMul", ["a4", "W3"], ["h3"]),
             helper.make_node("Add", ["h3", "b3"], ["scores"]),        # the MatMul's bias: one Linear
             helper.make_node("Softmax", ["scores"], ["p"], axis=-1)]
    g = _imports_as_onnxruntime_computes(_model(nodes, inits, (4,), "p", ["N", 3]), tmp_path, (4,))
    types = {n: g.brick(n).type_name for n in g.nodes()}
    assert types["h1"] == "Linear" and types["h3"] == "Linear" and g.brick("h3").config["bias"]
    assert types["a3"] == "LeakyReLU" and g.brick("a3").config["alpha"] == pytest.approx(0.2)
    assert "scores" not in types  # folded into h3
    assert types["loss"] == "SoftmaxCrossEntropy" and g.inputs_of("loss")["x"] == "h3"  # on the scores
    assert g.data["classes"] == 3 and g.data["shape"] == [4]
    assert not g.problems and len({g.pos(n) for n in g.nodes()}) == len(g.nodes())  # laid out


def test_a_convnet_with_groups_pools_batchnorm_dropout_reshape_and_a_constant_imports(tmp_path):
    rng = np.random.default_rng(0)
    inits = {"Wc": rng.standard_normal((4, 1, 3, 3)), "bc": rng.standard_normal(4),
             "Wg": rng.standard_normal((4, 2, 3, 3)),
             "scale": rng.uniform(0.5, 2, 4), "bias": rng.standard_normal(4), "mean": rng.standard_normal(4),
             "var": rng.uniform(0.5, 2, 4), "shape": np.array([-1, 16]), "W": rng.standard_normal((16, 5))}
    inits["shape"] = inits["shape"].astype(np.int64)
    nodes = [helper.make_node("Conv", ["input", "Wc", "bc"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c1", "scale", "bias", "mean", "var"], ["bn"], epsilon=1e-3),
             helper.make_node("Relu", ["bn"], ["r1"]),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p1", "Wg"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=2),
             helper.make_node("AveragePool", ["c2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Dropout", ["p2"], ["d"]),
             helper.make_node("Reshape", ["d", "shape"], ["flat"]),
             helper.make_node("Constant", [], ["two"], value=numpy_helper.from_array(np.float32(2.0))),
             helper.make_node("Mul", ["flat", "two"], ["m"]),
             helper.make_node("Gemm", ["m", "W"], ["out"])]
    model = helper.make_model(helper.make_graph(
        nodes, "convnet", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 5])],
        initializer=[numpy_helper.from_array(v if v.dtype == np.int64 else v.astype(np.float32), k)
                     for k, v in inits.items()]), opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    g = _imports_as_onnxruntime_computes(model, tmp_path, (1, 8, 8))
    assert g.brick("c2").config["groups"] == 2 and g.brick("c1").config["padding"] == 1
    assert g.brick("bn").config["eps"] == pytest.approx(1e-3)
    assert [g.brick(n).type_name for n in ("p1", "p2", "d", "flat", "two")] == \
        ["MaxPool2D", "AvgPool2D", "Dropout", "Flatten", "Constant"]
    from gradviz_core.runs.stepper import Stepper
    s = Stepper(g, weights="document")  # ready to step: forward and backward
    s.run_phase("backward")
    assert s.loss() is not None and np.all(np.isfinite(s.grads["input"]))


@pytest.mark.parametrize("nodes,inits,says", [
    ([helper.make_node("Gather", ["input", "idx"], ["out"], axis=1)], {"idx": np.array([0])},
     "node 'out' (Gather): gradviz has no brick for the operator Gather"),
    ([helper.make_node("Conv", ["input", "W"], ["out"], kernel_shape=[3, 3], dilations=[2, 2])],
     {"W": np.ones((2, 1, 3, 3))}, "dilated windows have no gradviz brick"),
    ([helper.make_node("Reshape", ["input", "shape"], ["out"])], {"shape": np.array([-1, 4, 4], np.int64)},
     "it reshapes [None, 1, 4, 4] to [-1, 4, 4]: gradviz has a brick only for a reshape to (N, D)"),
])
def test_what_has_no_brick_is_refused_with_the_operator_and_the_node(tmp_path, nodes, inits, says):
    g = helper.make_graph(nodes, "bad", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 4, 4])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                          initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    path = tmp_path / "bad.onnx"
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    with pytest.raises(GradvizError, match=str(path).replace(".", r"\.") + ".*" + says.replace("(", r"\(")
                       .replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        from_onnx(path)


def test_the_command_line_exports_and_imports_and_the_imported_graph_steps(examples_dir, tmp_path, cli):
    code, out, err = cli("export", examples_dir / "digits_convnet.json", "--to", "onnx", "-o", tmp_path / "d.onnx")
    assert code == 0 and "wrote" in out, err
    code, out, err = cli("import", tmp_path / "d.onnx", "-o", tmp_path / "d.json")
    assert code == 0 and "11 nodes, 1,898 parameters" in out, err
    code, out, err = cli("step", tmp_path / "d.json", "--json")
    assert code == 0, err
    import json
    assert np.isfinite(json.loads(out)["loss"])
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    code, _, err = cli("import", tmp_path / "junk.onnx", "-o", tmp_path / "j.json")
    assert code == 2 and "junk.onnx: not an ONNX model (its bytes are not a model written by ONNX)" in err
    code, _, err = cli("export", examples_dir / "digits_convnet.json", "--to", "onnx", "-o", tmp_path / "d.py")
    assert code == 2 and "the ONNX model must end in .onnx" in err


def test_a_model_exported_by_pytorch_imports(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                              torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()
    path = tmp_path / "torch.onnx"
    torch.onnx.export(net, torch.zeros(1, 1, 8, 8), str(path), input_names=["input"], output_names=["scores"],
                      dynamic_axes={"input": {0: "N"}, "scores": {0: "N"}}, opset_version=17, dynamo=False)
    model = onnx.load(str(path))
    _imports_as_onnxruntime_computes(model, tmp_path, (1, 8, 8))


def _torch_zoo(torch):
    """The lectures' architectures' building blocks as PyTorch writes them (torchvision's
    definitions, small): AlexNet's groups, a ResNet basic block with its downsampling
    shortcut, an inception-like concatenation, a SqueezeNet fire module, a dense layer,
    ShuffleNet's channel shuffle, and the activations exporters write (PReLU, SELU, Softplus,
    LogSoftmax)."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, c_in, c, stride):
            super().__init__()
            self.main = nn.Sequential(nn.Conv2d(c_in, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                      nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
            self.short = nn.Sequential(nn.Conv2d(c_in, c, 1, stride, bias=False), nn.BatchNorm2d(c))

        def forward(self, x):
            return torch.relu(self.main(x) + self.short(x))

    class Zoo(nn.Module):
        def __init__(self):
            super().__init__()
            # (nn.LocalResponseNorm is exported as a decomposition of reshapes and an average pool
            # over 5 axes, not as ONNX's LRN: gradviz refuses it by name; ONNX's LRN imports)
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3), nn.PReLU(8), nn.MaxPool2d(3, 2, 1))
            self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=2)
            self.block = Block(8, 12, 2)
            self.squeeze = nn.Conv2d(12, 4, 1)
            self.e1, self.e3 = nn.Conv2d(4, 6, 1), nn.Conv2d(4, 6, 3, padding=1)
            self.dense = nn.Sequential(nn.BatchNorm2d(12), nn.ReLU(), nn.Conv2d(12, 4, 3, padding=1))
            self.head = nn.Sequential(nn.Linear(16, 10), nn.SELU(), nn.Linear(10, 8), nn.Softplus(),
                                      nn.Linear(8, 5), nn.LogSoftmax(dim=1))

        def forward(self, x):
            x = torch.relu(self.grouped(self.stem(x)))
            x = self.block(x)
            s = torch.relu(self.squeeze(x))
            x = torch.cat([torch.relu(self.e1(s)), torch.relu(self.e3(s))], 1)   # a fire module
            x = _shuffle(x, 3)
            x = torch.cat([x, self.dense(x)], 1)                                  # a dense layer
            x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
            return self.head(x)

    def _shuffle(x, g):  # ShuffleNet v2's channel_shuffle, as torchvision writes it
        n, c, h, w = x.shape
        return x.view(n, g, c // g, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)
    return Zoo()


def test_the_zoo_s_building_blocks_exported_by_pytorch_import(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = _torch_zoo(torch).eval()
    path = tmp_path / "zoo.onnx"
    torch.onnx.export(net, torch.zeros(1, 3, 32, 32), str(path), input_names=["input"], output_names=["logp"],
                      opset_version=17, dynamo=False)
    model = onnx.load(str(path))
    g = _imports_as_onnxruntime_computes(model, tmp_path, (3, 32, 32), n=1)
    types = {g.brick(n).type_name for n in g.nodes()}
    assert {"PReLU", "Concat", "ChannelShuffle", "GlobalAvgPool2D", "SELU", "Softplus", "LogSoftmax"} <= types
