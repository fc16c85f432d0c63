"""Stepping node by node: the lecture numbers, fan-out, exact step-back, updates."""
import numpy as np
import pytest

from gradviz_core import Graph, GraphError
from gradviz_core.model import fileformat
from gradviz_core.runs.stepper import Stepper


@pytest.fixture
def circuit(examples_dir):
    return fileformat.load(examples_dir / "circuit_xyz.json")


def test_circuit_gives_the_lecture_numbers(circuit):
    s = Stepper(circuit)
    assert [p for p, _ in s.plan] == ["forward"] * 5 + ["backward"] * 2
    s.run_forward()
    assert float(s.values["q"]) == 3 and float(s.values["f"]) == -12
    s.run_backward()
    assert {k: float(v) for k, v in s.grads.items()} == {"f": 1, "q": -4, "z": 3, "x": -4, "y": -4}
    assert s.loss() == -12


def test_records_carry_inputs_outputs_and_gradients(circuit):
    s = Stepper(circuit)
    recs = s.run_all()
    fwd_q = next(r for r in recs if r.phase == "forward" and r.node == "q")
    assert {k: float(v) for k, v in fwd_q.inputs.items()} == {"a": -2, "b": 5}
    assert float(fwd_q.output) == 3
    back_f = next(r for r in recs if r.phase == "backward" and r.node == "f")
    assert float(back_f.upstream) == 1
    assert {k: float(v) for k, v in back_f.input_grads.items()} == {"a": -4, "b": 3}


def test_fan_out_sums_and_records_each_contribution():
    g = Graph()  # f = x·x + x at x = 3: df/dx = 2x + 1 = 7
    g.add_node("Constant", "x", {"value": 3.0})
    g.add_node("Multiply", "sq")
    g.add_node("Add", "f")
    g.connect("x", "sq", "a")
    g.connect("x", "sq", "b")
    g.connect("sq", "f", "a")
    g.connect("x", "f", "b")
    s = Stepper(g)
    s.run_all()
    assert float(s.grads["x"]) == 7
    parts = {k: float(v) for k, v in s.contributions.items() if k[0] == "x"}
    assert parts == {("x", "sq", "a"): 3, ("x", "sq", "b"): 3, ("x", "f", "b"): 1}


def _state(stepper):
    g = stepper.graph
    weights = {k: v.copy() for k, v in g.weights().items()}
    grads = {f"{n}/{k}": v.copy() for n, b in g.bricks().items() for k, v in b.grads.items()}
    return (dict(stepper.values), dict(stepper.grads), dict(stepper.contributions), weights, grads,
            stepper.optimizer.state_copy())


def _same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b))
    return np.array_equal(a, b)


def test_step_back_restores_every_step_exactly(examples_dir):
    g = fileformat.load(examples_dir / "mlp_softmax.json")
    g.training["momentum"] = 0.9
    s = Stepper(g)
    states = [_state(s)]
    while not s.done:
        s.step()
        states.append(_state(s))
    assert [p for p, _ in s.plan].count("update") == 2  # fc1 and fc2
    for i in range(len(states) - 1, 0, -1):
        rec = s.step_back()
        assert rec.index == i - 1
        assert _same(_state(s), states[i - 1]), f"state after stepping back over {rec.phase} {rec.node}"
    assert s.step_back() is None


def test_update_step_shows_old_step_new_and_velocity(examples_dir):
    g = fileformat.load(examples_dir / "mlp_softmax.json")
    g.training.update(lr=0.5, momentum=0.9)
    s = Stepper(g)
    rec = s.run_to("fc2", "update")
    u = rec.update["W"]
    np.testing.assert_allclose(u["velocity"], -0.5 * u["grad"])  # v = μ·0 − η·∇
    np.testing.assert_allclose(u["new"], u["old"] + u["step"])
    np.testing.assert_array_equal(s.graph.brick("fc2").weights["W"], u["new"])
    s.reset()
    np.testing.assert_array_equal(s.graph.brick("fc2").weights["W"], u["old"])
    assert not g.brick("fc2").weights  # the stepper works on its own copy: the document has none


def test_regularizer_step_adds_lambda_w(examples_dir):
    g = fileformat.load(examples_dir / "mlp_softmax.json")
    s = Stepper(g)
    rec = s.run_to("reg", "backward")
    lam = g.brick("reg").config["lam"]
    np.testing.assert_allclose(rec.param_grads["fc1.W"], lam * s.graph.brick("fc1").weights["W"])
    assert set(rec.param_grads) == {"fc1.W", "fc2.W"}  # biases are left out by default


def test_run_to_is_a_breakpoint_and_events_fire(circuit):
    s = Stepper(circuit)
    seen = []
    s.events.subscribe("step", lambda record: seen.append((record.phase, record.node)))
    s.events.subscribe("step_back", lambda record: seen.append(("back", record.node)))
    s.run_to("q")
    assert seen == [("forward", "x"), ("forward", "y"), ("forward", "z"), ("forward", "q")]
    s.step_back()
    assert seen[-1] == ("back", "q") and "q" not in s.values
    with pytest.raises(GraphError, match="no backward step for 'x'"):
        s.run_to("x", "backward")


def test_training_flag_reaches_dropout():
    g = Graph()
    g.add_node("Constant", "x", {"value": np.ones((4, 8)).tolist()})
    g.add_node("Dropout", "d", {"p": 0.5})
    g.add_node("Sum", "s")
    g.connect("x", "d", "x")
    g.connect("d", "s", "x")
    train, test = Stepper(g, training=True), Stepper(g.clone(), training=False)
    train.run_forward(), test.run_forward()
    assert float(test.values["s"]) == 32
    assert set(np.unique(train.values["d"])) <= {0.0, 2.0} and float(train.values["s"]) != 32


def _with_batchnorm_and_dropout(examples_dir):
    """mlp_softmax with x → fc1 → bn → relu1 → drop → fc2: running averages and masks to restore."""
    import json
    d = json.loads((examples_dir / "mlp_softmax.json").read_text())
    d["nodes"] += [{"name": "bn", "type": "BatchNorm", "params": {"momentum": 0.9}, "pos": [0, 300]},
                   {"name": "drop", "type": "Dropout", "params": {"p": 0.5}, "pos": [200, 300]}]
    for e in d["edges"]:
        if e["from"] == "fc1":
            e["from"] = "bn"
        if e["from"] == "relu1":
            e["from"] = "drop"
    d["edges"] += [{"from": "fc1", "to": "bn", "port": "x"}, {"from": "relu1", "to": "drop", "port": "x"}]
    return fileformat.from_dict(d)


def _buffers(stepper):
    return {n: {k: np.copy(v) for k, v in b.buffers.items()} for n, b in stepper.graph.bricks().items()}


def test_step_back_restores_batchnorms_running_averages_and_dropouts_masks_exactly(examples_dir):
    g = _with_batchnorm_and_dropout(examples_dir)
    g.training["momentum"] = 0.9
    s = Stepper(g, training=True)
    states = [(_state(s), _buffers(s))]
    while not s.done:  # the iteration: the running averages move, a mask is drawn, the weights update
        s.step()
        states.append((_state(s), _buffers(s)))
    moved = [b["bn"]["running_mean"] for _, b in states]
    assert not np.array_equal(moved[0], moved[-1])  # the test has something to restore
    for i in range(len(states) - 1, 0, -1):
        rec = s.step_back()
        assert _same(_state(s), states[i - 1][0]), f"values after stepping back over {rec.phase} {rec.node}"
        assert _same(_buffers(s), states[i - 1][1]), f"buffers after stepping back over {rec.phase} {rec.node}"
    for i in range(1, len(states)):  # and forward again: the same masks, the same numbers, bit for bit
        s.step()
        assert _same(_state(s), states[i][0]) and _same(_buffers(s), states[i][1])
