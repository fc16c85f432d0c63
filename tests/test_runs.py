"""Runs: stepping, training and gradient checks on their own copy of the document, one run
path, staleness on edits, live settings, "keep the trained weights", thread-safe control."""
import threading
import time

import numpy as np
import pytest

from gradviz_core import Graph
from gradviz_core.model import fileformat
from gradviz_core.model.commands import KeepWeights, SetParam, SetTraining
from gradviz_core.errors import GradvizError
from gradviz_core.runs.run import Run, StaleRunError
from gradviz_core.runs.stepper import Stepper
from gradviz_core.runs.trainer import Probe, Trainer
from waits import until


def mlp(dropout=True, batchnorm=True, **training):
    """2 → 16 (BatchNorm, ReLU, Dropout) → 3 with L2, on the spiral."""
    g = Graph()
    g.set_data({"source": "spiral", "n": 120, "classes": 3, "val": 0.25})
    # no bias before BatchNorm (it has no effect there: its true gradient is exactly 0, and Adam
    # turns the rounding noise of a zero gradient into full-size steps)
    chain = [("x", "Input", {}), ("fc1", "Linear", {"units": 16, "bias": not batchnorm})]
    if batchnorm:
        chain.append(("bn1", "BatchNorm", {}))
    chain.append(("relu1", "ReLU", {}))
    if dropout:
        chain.append(("drop1", "Dropout", {"p": 0.3}))
    chain.append(("fc2", "Linear", {"units": 3, "init": "xavier"}))
    for name, t, p in chain + [("y", "Target", {}), ("loss", "SoftmaxCrossEntropy", {}),
                               ("reg", "L2", {"lam": 1e-2})]:
        g.add_node(t, name, p)
    names = [c[0] for c in chain] + ["loss"]
    for a, b in zip(names, names[1:]):
        g.connect(a, b, "x")
    g.connect("y", "loss", "target")
    g.training.update({"lr": 0.3, "momentum": 0.9, "batch_size": 16, "epochs": 3, "seed": 4, **training})
    return g


def trained_weights(trainer):
    return {k: v for k, v in trainer.graph.weights().items()}


# ---- a document and its runs ---------------------------------------------------------------
def test_runs_never_change_the_document():
    g = mlp()
    before = fileformat.to_dict(g)
    s = Stepper(g)
    s.run_all()
    t = Trainer(g)
    t.run()
    assert fileformat.to_dict(g) == before
    assert all(not b.weights for b in g.bricks().values())  # no weights were written into it
    assert t.graph is not g and s.graph is not g


def test_a_trainer_leaves_a_live_stepper_alone():
    g = mlp()
    s = Stepper(g)
    s.run_forward()
    Trainer(g)  # used to turn the stepper's weights into float32
    assert s.graph.brick("fc1").weights["W"].dtype == np.float64
    s.run_all()
    assert s.done


def test_a_run_starts_fresh_or_from_the_documents_weights():
    g = mlp(dropout=False)
    t = Trainer(g)
    t.run()
    KeepWeights(t.training_run.weights_copy()).do(g)
    fresh = Run(g, np.float32)
    cont = Run(g, np.float32, weights="document")
    np.testing.assert_array_equal(cont.graph.brick("fc1").weights["W"], t.graph.brick("fc1").weights["W"])
    np.testing.assert_array_equal(cont.graph.brick("bn1").buffers["running_mean"],
                                  t.graph.brick("bn1").buffers["running_mean"])
    assert not np.array_equal(fresh.graph.brick("fc1").weights["W"], t.graph.brick("fc1").weights["W"])
    np.testing.assert_array_equal(fresh.graph.brick("fc1").weights["W"],
                                  Run(mlp(dropout=False), np.float32).graph.brick("fc1").weights["W"])


def test_keeping_the_trained_weights_is_undoable():
    g = mlp()
    t = Trainer(g, max_steps=5)
    t.run()
    cmd = t.keep_command()
    cmd.do(g)
    for k, v in trained_weights(t).items():
        np.testing.assert_array_equal(g.weights()[k], v)
    cmd.undo(g)
    assert g.weights() == {}
    cmd.do(g)  # redo
    assert set(g.weights()) == set(trained_weights(t))


def test_a_parameter_change_keeps_the_weights_that_still_fit_and_undo_restores_them():
    g = mlp(dropout=False)
    t = Trainer(g, max_steps=3)
    t.run()
    t.keep_command().do(g)
    w1, w2 = g.brick("fc1").weights["W"].copy(), g.brick("fc2").weights["W"].copy()
    same_shape = SetParam("fc1", "init", "xavier")
    same_shape.do(g)
    np.testing.assert_array_equal(g.brick("fc1").weights["W"], w1)  # a new init keeps W
    new_shape = SetParam("fc1", "units", 8)
    new_shape.do(g)
    assert "W" not in g.brick("fc1").weights  # (2, 8) no longer fits
    new_shape.undo(g)
    same_shape.undo(g)
    np.testing.assert_array_equal(g.brick("fc1").weights["W"], w1)
    np.testing.assert_array_equal(g.brick("fc2").weights["W"], w2)
    assert g.brick("fc1").config["units"] == 16 and g.brick("fc1").config["init"] == "he"
    new_shape.do(g)  # redo puts back the same new brick
    assert g.brick("fc1").config["units"] == 8


# ---- editing while a run is live -------------------------------------------------------------
def test_editing_makes_a_stepper_stale_with_a_message_that_names_the_change():
    g = mlp()
    s = Stepper(g)
    seen = []
    s.events.subscribe("stale", lambda reason, change: seen.append((reason, change)))
    s.step()
    g.move_node("fc1", (500, 500))  # moving a node changes nothing a run depends on
    assert s.stale is None
    s.step()
    SetParam("fc1", "units", 8).do(g)
    assert seen and "fc1.units changed to 8" in seen[0][0]
    with pytest.raises(StaleRunError, match="this stepper is out of date: fc1.units changed to 8"):
        s.step()
    assert isinstance(StaleRunError("x"), GradvizError)  # reported as a message, never a traceback
    s2 = Stepper(g)  # the next run starts over from the edited graph
    s2.run_forward()
    assert s2.values["fc1"].shape[1] == 8


@pytest.mark.parametrize("edit,expect", [
    (lambda g: g.add_node("Exp", "e"), "node e was added"),
    (lambda g: g.disconnect("loss", "target"), "y was disconnected from loss.target"),
    (lambda g: g.set_data({"source": "circles", "n": 50}), "the data changed"),
    (lambda g: g.set_training("batch_size", 4), "training.batch_size changed to 4"),
])
def test_every_kind_of_edit_makes_a_stepper_stale(edit, expect):
    g = mlp()
    s = Stepper(g)
    edit(g)
    assert expect in s.stale


def test_training_takes_a_learning_rate_change_at_its_next_step():
    g = mlp(dropout=False, epochs=1000)
    t = Trainer(g)
    applied, lrs = [], []
    t.events.subscribe("settings_applied", lambda changes: applied.append(changes))
    t.events.subscribe("step", lambda record: lrs.append(record.lr))
    t.start()
    until(lambda: len(lrs) >= 3, what="3 steps")
    SetTraining("lr", 0.01).do(g)
    SetParam("reg", "lam", 0.5).do(g)  # λ keeps every shape: it flows in too
    until(lambda: len(lrs) >= 30, what="30 steps")
    t.cancel()
    result = t.join(10)
    assert result.status == "cancelled" and t.training_run.stale is None
    assert lrs[0] == 0.3 and lrs[-1] == 0.01
    flat = [c for changes in applied for c in changes]
    assert flat == ["training.lr = 0.01", "reg.lam = 0.5"]
    assert t.graph.brick("reg").config["lam"] == 0.5


def test_a_shape_change_during_training_stops_it_as_stale_and_keeps_its_weights():
    g = mlp(dropout=False, epochs=1000)
    t = Trainer(g)
    steps = []
    t.events.subscribe("step", lambda record: steps.append(record.step))
    t.start()
    until(lambda: len(steps) >= 3, what="3 steps")
    SetParam("fc1", "units", 4).do(g)
    result = t.join(10)
    assert result.status == "stale"
    assert "fc1.units changed to 4" in result.message and "kept in this run" in result.message
    kept = t.keep_command()
    kept.do(g)  # the weights that still fit the edited graph reach the document
    assert "fc2/W" not in g.weights() and "fc1/W" not in g.weights()  # both shapes changed
    np.testing.assert_array_equal(g.weights()["fc2/b"], t.graph.brick("fc2").weights["b"])


def test_momentum_switched_on_for_plain_sgd_needs_a_new_run():
    g = mlp(dropout=False, momentum=0.0, epochs=1000)
    t = Trainer(g)
    t.start()
    SetTraining("momentum", 0.9).do(g)
    result = t.join(10)
    assert result.status == "stale" and "training.momentum changed to 0.9, which needs a new run" in result.message


# ---- one run path ----------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_one_stepped_iteration_equals_the_trainers_first_step(optimizer):
    g = mlp(optimizer=optimizer, lr=0.05)
    t = Trainer(g, max_steps=1)
    t.run()
    s32 = Stepper(g, dtype=np.float32)
    s32.run_all()
    s64 = Stepper(g)
    s64.run_all()
    want = trained_weights(t)
    assert set(want) == set(s32.graph.weights())
    for k, v in want.items():
        np.testing.assert_array_equal(s32.graph.weights()[k], v, err_msg=k)  # bit for bit
        np.testing.assert_allclose(s64.graph.weights()[k], v, rtol=2e-5, atol=1e-6, err_msg=k)
    assert not np.array_equal(want["fc1/W"], Run(g, np.float32).graph.weights()["fc1/W"])  # it moved


def test_a_convnet_with_augmentation_steps_as_it_trains(examples_dir):
    g = fileformat.load(examples_dir / "digits_convnet.json")
    g.set_data({**g.data, "augment": {"shift": 1, "flip": True}})
    t = Trainer(g, max_steps=1)
    t.run()
    s = Stepper(g, dtype=np.float32)
    s.run_all()
    for k, v in trained_weights(t).items():
        np.testing.assert_array_equal(s.graph.weights()[k], v, err_msg=k)


def test_a_trainer_runs_each_activation_inside_the_layer_before_it_with_the_same_bits(examples_dir):
    """The engine fuses from the bricks' declarations: a convolution (fuses ReLU and leaky ReLU)
    runs the activation that alone reads it; not one that something else also reads, nor an
    activation it does not declare, nor any layer of a stepper. The trained weights are the
    stepper's, bit for bit."""
    from gradviz_core.runs.engine import fusions
    g = fileformat.load(examples_dir / "digits_convnet.json")
    convs = [n for n in g.order if g.brick(n).type_name == "Conv2D"]
    first, second = (g.consumers(n)[0][0] for n in convs)
    after = g.consumers(second)
    g.remove_node(second)  # the second activation becomes a leaky ReLU
    g.add_node("LeakyReLU", second, {"alpha": 0.1})
    g.connect(convs[1], second, "x")
    for node, port in after:
        g.connect(second, node, port)
    t = Trainer(g, max_steps=1)
    assert t.program.fused == {convs[0]: first, convs[1]: second}
    assert Stepper(g).program.fused == {}
    t.run()
    s = Stepper(g, dtype=np.float32)
    s.run_all()
    for k, v in trained_weights(t).items():
        np.testing.assert_array_equal(s.graph.weights()[k], v, err_msg=k)
    # a second reader of the convolution, or an activation it does not declare: no fusion
    g.add_node("Sigmoid", "watch")
    g.connect(convs[0], "watch", "x")
    assert fusions(g, g.order, set()) == {convs[1]: second}
    assert fusions(g, g.order, {convs[1]}) == {}  # a node that must keep its value
    assert g.brick("watch").fused_act not in g.brick(convs[0]).fuses


def test_the_training_seed_drives_the_dropout_masks():
    def mask(seed):
        s = Stepper(mlp(batchnorm=False, seed=seed))
        s.run_to("drop1")
        return s.graph.brick("drop1").cache["scale"] != 0
    assert np.array_equal(mask(1), mask(1))
    assert not np.array_equal(mask(1), mask(2))


def test_the_gradient_checker_checks_the_stepped_batch_with_its_masks():
    from gradviz_core.runs.gradcheck import check_graph
    g = mlp(batchnorm=False)
    report = check_graph(g)
    assert report.passed, report.failed()
    assert "drop1" in report.nodes


# ---- observable from any thread --------------------------------------------------------------
def test_cancel_then_pause_ends_the_thread():
    t = Trainer(mlp(epochs=100000))
    thread = t.start()
    t.cancel()
    t.pause()
    thread.join(5)
    assert not thread.is_alive() and t.result.status == "cancelled"


def test_starting_a_running_trainer_is_refused():
    t = Trainer(mlp(epochs=100000))
    t.start()
    with pytest.raises(GradvizError, match="already running"):
        t.start()
    with pytest.raises(GradvizError, match="already running"):
        t.run()
    t.cancel()
    t.join(5)
    with pytest.raises(GradvizError, match="has finished"):
        t.start()


def test_pause_and_resume_from_another_thread():
    t = Trainer(mlp(epochs=100000))
    steps = []
    t.events.subscribe("step", lambda record: steps.append(record.step))
    t.start()
    until(lambda: steps, what="a first step")
    t.pause()
    n = len(steps)
    time.sleep(0.3)  # long enough for many steps (each well under a millisecond)
    assert len(steps) in (n, n + 1) and t.state == "paused"  # at most the step in flight ends
    n = len(steps)
    t.resume()
    until(lambda: len(steps) >= n + 3, what="3 more steps after resuming")
    t.cancel()
    assert t.join(5).status == "cancelled"


def test_a_boundary_grid_read_during_training_equals_predict_on_the_same_weights():
    t = Trainer(mlp(epochs=100000))
    steps, grids = [], []
    t.events.subscribe("step", lambda record: steps.append(record.step))
    t.start()
    until(lambda: len(steps) >= 5, what="5 steps")
    probe = t.probe()
    snap = t.snapshot()
    grids.append(probe.load(snap).grid((-1, 1, -1, 1), res=64))  # while the trainer goes on
    until(lambda: len(steps) >= snap.step + 3, what="3 steps after the snapshot")  # it trains on while we read
    t.cancel()
    t.join(5)
    assert t.steps > snap.step
    # the same weights, put into the trainer's own bricks afterwards, give the same grid
    for key, value in snap.weights.items():
        node, _, w = key.partition("/")
        b = t.graph.brick(node)
        (b.weights if w in b.weights else b.buffers)[w] = value
    np.testing.assert_array_equal(grids[0], t.grid((-1, 1, -1, 1), res=64))
    acts = Probe(t.training_run).load(snap).activations(np.array([[0.1, 0.2]]))
    assert acts["fc1"].shape == (1, 16) and "loss" not in acts


def test_events_come_from_one_mechanism_and_listeners_may_live_on_other_threads():
    g = mlp(epochs=2)
    t = Trainer(g)
    threads, kinds = set(), []

    def listen(event, **payload):
        threads.add(threading.current_thread().name)
        kinds.append(event)
    t.events.subscribe("*", listen)
    t.start().join(30)
    assert threads == {"gradviz-trainer"}
    assert kinds[-1] == "done" and "step" in kinds and "epoch" in kinds and "diagnostics" in kinds


def test_done_is_heard_once_the_run_is_finished():
    """A window closed the moment "done" arrives must not find the run still running (it would
    ask whether to keep the weights of a live run; offscreen, that question hung the suite)."""
    t = Trainer(mlp(epochs=2))
    seen = []
    t.events.subscribe("done", lambda record: seen.append((t.state, record.status)))
    t.start().join(30)
    assert seen == [("finished", "done")]
    t = Trainer(mlp(epochs=2))
    seen.clear()
    t.events.subscribe("done", lambda record: seen.append((t.state, record.status)))
    assert t.run().status == "done" and seen == [("finished", "done")]  # on the caller's thread too


# ---- fresh input gradients ---------------------------------------------------------------------
def test_input_gradients_are_fresh_arrays():
    from brick_cases import CASES
    from test_bricks import make
    rng = np.random.default_rng(0)
    for type_name, cases in sorted(CASES.items()):
        for params, inputs, training in cases(rng):
            brick = make(type_name, params, inputs)
            out = np.asarray(brick.forward(inputs, training))
            g = np.ones_like(out)
            grads = brick.backward(g)
            for port, d in grads.items():
                if d is None:
                    continue
                assert not np.shares_memory(d, g), f"{type_name}: d{port} is the caller's gradient"
                for x in inputs.values():
                    assert not np.shares_memory(d, x), f"{type_name}: d{port} is an input"
            for w in brick.weights.values():
                assert not np.shares_memory(out, w), f"{type_name}: its output is its weight"


def test_a_divergence_in_a_fused_layer_names_the_layer(examples_dir):
    g = fileformat.load(examples_dir / "digits_convnet.json")
    t = Trainer(g, max_steps=1)
    t.program.bricks["conv1"].weights["W"][...] = 3e38
    message = t.run().message
    assert "at node conv1 (Conv2D) or its activation relu1" in message
