"""The gradient checker itself: it passes good gradients, catches bad ones, explains kinks."""
import numpy as np
import pytest

from gradviz_core import Graph, GraphError
from gradviz_core.model import fileformat
from gradviz_core.bricks.ops import Multiply
from gradviz_core.runs.gradcheck import check_graph


def test_examples_pass(examples_dir):
    from conftest import HEAVY
    for path in sorted(p for p in examples_dir.glob("*.json") if p.name not in HEAVY):
        report = check_graph(fileformat.load(path), samples=32)
        assert report.passed, (path.name, report.to_json())
        # away from kinks, every gradient agrees to 1e-6, but for those that are rounding noise
        # (a bias just before BatchNorm has a true gradient of exactly 0)
        smooth = {(n, i.what): i.error for n, c in report.nodes.items() if not c.kink
                  for i in c.items if i.abs_error > i.noise}
        assert report.nodes and max(smooth.values(), default=0.0) < 1e-6, (path.name, smooth)


def test_digits_ties_in_max_pooling_are_explained(examples_dir):
    # 8×8 digits have constant backgrounds: max-pool windows hold exact ties, where max
    # has no derivative. The report must say so rather than fail.
    report = check_graph(fileformat.load(examples_dir / "digits_convnet.json"), samples=32)
    assert report.passed
    assert "pool" in report.nodes["conv2"].kink and "from its kink" in report.nodes["conv2"].kink
    assert report.nodes["loss"].kink is None and report.nodes["loss"].error < 1e-6


def test_a_wrong_gradient_is_caught(examples_dir, monkeypatch):
    def wrong(self, g, a, b):
        return g * b, g * a * 1.01  # 1% off in dL/db

    monkeypatch.setattr(Multiply, "local", wrong)
    report = check_graph(fileformat.load(examples_dir / "circuit_xyz.json"))
    assert not report.passed
    assert report.failed() == ["f"]
    assert report.nodes["f"].error == pytest.approx(0.01 / 1.01, rel=1e-3)


def test_a_kink_is_reported_and_explains_the_mismatch():
    g = Graph()  # relu(x) at x = 0 exactly: finite differences give 1/2, the rule gives 0
    g.add_node("Constant", "x", {"value": [0.0, 1.0]})
    g.add_node("ReLU", "r")
    g.add_node("Sum", "s")
    g.connect("x", "r", "x")
    g.connect("r", "s", "x")
    report = check_graph(g)
    assert report.nodes["r"].error > 0.1
    assert "kink" in report.nodes["r"].kink and "r (ReLU)" in report.nodes["r"].kink
    assert report.passed and report.failed() == []
    assert "r" in report.to_json()["kinks"]


def test_nothing_to_check_without_a_scalar_output():
    g = Graph()
    g.add_node("Constant", "x", {"value": [1.0, 2.0]})
    g.add_node("Exp", "e")
    g.connect("x", "e", "x")
    with pytest.raises(GraphError, match="no scalar output"):
        check_graph(g)


def test_convnet_with_batchnorm_and_dropout_checks_in_both_modes():
    rng = np.random.default_rng(0)
    g = Graph()
    g.set_data({"source": "inline", "X": rng.standard_normal((6, 1 * 6 * 6)).reshape(6, 1, 6, 6).tolist(),
                "y": [0, 1, 2, 0, 1, 2]})
    g.training["batch_size"] = 6
    for name, t, p in [("x", "Input", {}), ("conv", "Conv2D", {"filters": 4, "size": 3, "padding": 1}),
                       ("bn", "BatchNorm", {}), ("act", "Tanh", {}), ("pool", "AvgPool2D", {}),
                       ("flat", "Flatten", {}), ("drop", "Dropout", {"p": 0.3}),
                       ("fc", "Linear", {"units": 3}), ("y", "Target", {}),
                       ("loss", "SoftmaxCrossEntropy", {}), ("reg", "L2", {"lam": 0.01})]:
        g.add_node(t, name, p)
    for a, b in [("x", "conv"), ("conv", "bn"), ("bn", "act"), ("act", "pool"), ("pool", "flat"),
                 ("flat", "drop"), ("drop", "fc"), ("fc", "loss")]:
        g.connect(a, b, "x")
    g.connect("y", "loss", "target")
    assert g.problems == []
    for training in (True, False):
        report = check_graph(g, training=training)
        assert report.passed and report.max_rel_error < 1e-6, (training, report.to_json())
        assert {"conv", "bn", "fc", "pool"} <= set(report.nodes)


def test_a_nan_error_fails():
    from gradviz_core.runs.gradcheck import Item, NodeCheck, Report
    report = Report({"n": NodeCheck("n", "Log", [Item("input x", float("nan"), 1, 1)])}, 1e-6, 1e-5)
    assert not report.passed and report.failed() == ["n"]
    assert report.to_json()["max_rel_error"] is None


def bias_before_batchnorm(activation: str) -> Graph:
    """x → Linear → BatchNorm → activation → Linear → softmax loss: the first Linear's bias has
    a true gradient of exactly 0 (BatchNorm takes the mean away)."""
    g = Graph()
    g.set_data({"source": "spiral", "n": 60})
    for name, t in [("x", "Input"), ("fc", "Linear"), ("bn", "BatchNorm"), ("act", activation),
                    ("out", "Linear"), ("y", "Target"), ("loss", "SoftmaxCrossEntropy")]:
        g.add_node(t, name, {"units": 3} if name == "out" else {})
    for a, b in [("x", "fc"), ("fc", "bn"), ("bn", "act"), ("act", "out"), ("out", "loss")]:
        g.connect(a, b, "x")
    g.connect("y", "loss", "target")
    return g


def test_a_true_gradient_of_zero_passes_and_a_kink_does_not_excuse_a_wrong_gradient():
    from gradviz_core.runs.gradcheck import Item, NodeCheck, Report
    report = check_graph(bias_before_batchnorm("ReLU"))
    # the bias before BatchNorm has a true gradient of exactly 0: rounding noise, not an error
    assert "fc" not in report.failed(), report.nodes["fc"]
    assert report.passed
    # at a kink, a value between the one-sided differences is a valid subgradient; anything else
    # is wrong, kink or not
    wrong = NodeCheck("m", "Max", [Item("input a (from x)", 1.0, 1, 1, 0.5, 1e-9, False)], kink="m is on its kink")
    assert Report({"m": wrong}, 1e-6, 1e-5).failed() == ["m"]
    sub = NodeCheck("m", "Max", [Item("input a (from x)", 1.0, 1, 1, 0.5, 1e-9, True)], kink="m is on its kink")
    assert Report({"m": sub}, 1e-6, 1e-5).passed
    part = NodeCheck("m", "Max", [Item("input a (from x)", 0.2, 1, 1, 0.5, 1e-9, False)], kink="m is on its kink")
    assert Report({"m": part}, 1e-6, 1e-5).passed


def _gradcheck_json(graph, tmp_path, capsys):
    from gradviz.cli import main
    path = tmp_path / "g.json"
    fileformat.save(graph, path)
    code = main(["gradcheck", str(path), "--json"])
    import json
    return code, json.loads(capsys.readouterr().out)


def test_gradcheck_json_names_the_rule_that_passed_or_failed_each_array(tmp_path, capsys, examples_dir, monkeypatch):
    # noise: a bias just before BatchNorm has a true gradient of exactly 0
    code, d = _gradcheck_json(bias_before_batchnorm("Tanh"), tmp_path, capsys)
    bias = d["nodes"]["fc"]["arrays"]["weight b"]
    assert code == 0 and d["passed"] and bias["verdict"] == "noise"
    assert bias["error"] > d["tol"] and bias["abs_error"] <= bias["noise_bound"]
    assert d["nodes"]["out"]["arrays"]["weight W"]["verdict"] == "ok"
    assert d["nodes"]["out"]["arrays"]["weight W"]["error"] < 1e-6
    # kink: relu(x) at x = 0 exactly, where the rule's 0 is a valid subgradient
    g = Graph()
    g.add_node("Constant", "x", {"value": [0.0, 1.0]})
    g.add_node("ReLU", "r")
    g.add_node("Sum", "s")
    g.connect("x", "r", "x")
    g.connect("r", "s", "x")
    code, d = _gradcheck_json(g, tmp_path, capsys)
    arr = d["nodes"]["r"]["arrays"]["input x (from x)"]
    assert code == 0 and arr["verdict"] == "kink" and "r (ReLU)" in arr["kink"] and d["nodes"]["r"]["verdict"] == "kink"
    # fail: a multiply gate 1% off in dL/db
    monkeypatch.setattr(Multiply, "local", lambda self, g, a, b: (g * b, g * a * 1.01))
    code, d = _gradcheck_json(fileformat.load(examples_dir / "circuit_xyz.json"), tmp_path, capsys)
    f = d["nodes"]["f"]
    assert code != 0 and not d["passed"] and f["verdict"] == "fail"
    assert f["arrays"]["input a (from q)"]["verdict"] == "ok" and f["arrays"]["input b (from z)"]["verdict"] == "fail"
    assert d["nodes"]["q"]["verdict"] == "ok"
