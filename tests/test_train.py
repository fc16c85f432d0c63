"""The trainer: learning, reproducibility, control from another thread, guards and tools."""
import threading
import time

import numpy as np
import pytest

from gradviz_core import Graph, GraphError
from gradviz_core.model import fileformat
from gradviz_core.errors import GradvizError
from gradviz_core.runs.trainer import Trainer
from waits import until


def spiral(hidden=32, **training):
    g = Graph()
    g.set_data({"source": "spiral", "n": 150, "classes": 3, "val": 0.2})
    for name, t, p in [("x", "Input", {}), ("fc1", "Linear", {"units": hidden, "bias_init": 0.01}),
                       ("relu1", "ReLU", {}), ("fc2", "Linear", {"units": 3, "init": "xavier"}),
                       ("y", "Target", {}), ("loss", "SoftmaxCrossEntropy", {}), ("reg", "L2", {"lam": 1e-3})]:
        g.add_node(t, name, p)
    for a, b in [("x", "fc1"), ("fc1", "relu1"), ("relu1", "fc2"), ("fc2", "loss")]:
        g.connect(a, b, "x")
    g.connect("y", "loss", "target")
    g.training.update({"lr": 1.0, "batch_size": 0, "epochs": 300, **training})
    return g


def test_spiral_example_reaches_98_percent(examples_dir):
    result = Trainer(fileformat.load(examples_dir / "spiral_mlp.json")).run()
    assert result.status == "done" and result.train_acc >= 0.98


def test_the_digits_example_reports_its_test_confusion_matrix(examples_dir):
    # (its 98% after 40 epochs is lesson 13's claim, tests/test_lessons.py)
    g = fileformat.load(examples_dir / "digits_convnet.json")
    g.set_training("epochs", 3)
    result = Trainer(g).run()
    confusion = np.array(result.confusion)
    assert confusion.shape == (10, 10) and confusion.sum() == 359
    assert np.trace(confusion) == round(result.test_acc * 359) and result.test_acc > 0.5


def test_training_is_reproducible_for_a_seed():
    a, b = spiral(epochs=20, batch_size=16), spiral(epochs=20, batch_size=16)
    ta, tb = Trainer(a), Trainer(b)
    ra, rb = ta.run(), tb.run()
    assert ra.train_loss == rb.train_loss
    for k, v in ta.graph.weights().items():
        np.testing.assert_array_equal(v, tb.graph.weights()[k])
    c = spiral(epochs=20, batch_size=16, seed=1)
    assert Trainer(c).run().train_loss != ra.train_loss


def test_records_reach_the_listeners_and_losses_are_separate():
    seen = {"step": 0, "epoch": [], "diagnostics": [], "warning": [], "done": 0}

    def cb(event, record):
        if event in ("step", "done"):
            seen[event] += 1
        else:
            seen[event].append(record)
    trainer = Trainer(spiral(epochs=5, batch_size=40, diagnostics_every=2))
    trainer.events.subscribe("*", cb)
    result = trainer.run()
    assert seen["step"] == result.steps == 5 * 3 and seen["done"] == 1
    ep = seen["epoch"][-1]
    assert ep["reg_loss"] > 0 and ep["train_loss"] > 0 and ep["val_acc"] is not None
    diag = seen["diagnostics"][-1]
    assert set(diag["layers"]) == {"fc1/W", "fc1/b", "fc2/W", "fc2/b"}
    assert 0 < diag["layers"]["fc1/W"]["update_ratio"] < 1
    act = diag["activations"]["relu1"]
    assert 0 <= act["dead"] <= 1 and sum(act["hist"]) == 40 * 32 and len(act["edges"]) == 21


def test_divergence_stops_cleanly_with_finite_weights():
    g = spiral(lr=100.0, epochs=50)
    trainer = Trainer(g)
    start = {k: v.copy() for k, v in trainer.graph.weights().items()}
    result = trainer.run()
    assert result.status == "diverged"
    assert result.message.startswith("training diverged at epoch 3, step 3: the loss grew to")
    assert "more than 100 × its first value" in result.message and "smaller learning rate than 100" in result.message
    assert all(np.all(np.isfinite(v)) for v in trainer.graph.weights().values())
    for k, v in start.items():  # restored to the last healthy snapshot: here, the start
        np.testing.assert_array_equal(trainer.graph.weights()[k], v)


def test_nan_divergence_names_the_node():
    g = spiral(lr=1e6, epochs=50, diverge_factor=1e30)
    trainer = Trainer(g)
    result = trainer.run()
    assert result.status == "diverged"
    assert "the loss became NaN" in result.message or "the loss became infinite" in result.message
    assert "first non-finite value appeared at node" in result.message
    assert all(np.all(np.isfinite(v)) for v in trainer.graph.weights().values())


def test_cancel_and_pause_from_another_thread():
    tr = Trainer(spiral(epochs=100000, batch_size=8))
    tr.start()
    until(lambda: tr.steps > 0)  # (a fresh process loads its kernels first)
    tr.pause()
    time.sleep(0.1)
    steps = tr.steps
    time.sleep(0.2)
    assert tr.steps in (steps, steps + 1)  # at most the step in flight finishes
    tr.resume()
    until(lambda: tr.steps > steps + 1)
    tr.cancel()
    result = tr.join(5)
    assert result is not None and result.status == "cancelled"
    assert threading.active_count() < 10


def test_frozen_layers_do_not_move():
    g = spiral(epochs=10, freeze=["fc1"])
    tr = Trainer(g)
    before = tr.graph.brick("fc1").weights["W"].copy(), tr.graph.brick("fc2").weights["W"].copy()
    tr.run()
    np.testing.assert_array_equal(tr.graph.brick("fc1").weights["W"], before[0])
    assert not np.array_equal(tr.graph.brick("fc2").weights["W"], before[1])
    with pytest.raises(GraphError, match="training.freeze: there is no node named 'fc9'"):
        Trainer(spiral(freeze=["fc9"]))


def test_transfer_learning_loads_matching_weights(tmp_path):
    donor = spiral(epochs=50)
    trained = Trainer(donor)
    trained.run()
    trained.keep_command().do(donor)  # "keep the trained weights" into the document
    fileformat.save(donor, tmp_path / "donor.json", with_weights=True)
    student = spiral(epochs=1, lr=1e-9, init_from=str(tmp_path / "donor.json"))
    tr = Trainer(student)
    assert "fc1/W" in tr.loaded and "fc2/b" in tr.loaded
    np.testing.assert_allclose(tr.graph.brick("fc1").weights["W"], donor.brick("fc1").weights["W"])


def test_early_stopping_keeps_the_best_epoch():
    g = spiral(hidden=64, epochs=400, early_stopping=3, lr=3.0)
    g.set_data({"source": "spiral", "n": 60, "classes": 3, "val": 0.5, "noise": 0.6})
    trainer = Trainer(g)
    result = trainer.run()
    assert result.status == "early_stopped" and "stopped early at epoch" in result.message
    kept = int(result.message.rsplit("epoch ", 1)[1])
    best = min(result.history, key=lambda r: r["val_loss"])
    assert kept == best["epoch"] < result.history[-1]["epoch"]
    # the summary describes the kept epoch, whose weights are the ones the trainer ends with
    assert (result.train_loss, result.train_acc, result.val_acc) == (best["train_loss"], best["train_acc"], best["val_acc"])
    assert trainer.evaluate(trainer.splits.val)["loss"] == pytest.approx(best["val_loss"], rel=1e-6)


def test_overfit_mode_and_initial_loss_check():
    g = spiral(hidden=64, epochs=300, overfit=20)
    tr = Trainer(g)
    check = tr.initial_loss_check()
    assert check["formula"] == "ln(3)" and check["expected"] == pytest.approx(np.log(3))
    result = tr.run()
    assert result.train_acc == 1.0 and result.reg_loss == 0.0  # regularization is off when overfitting


def test_predict_and_grid():
    g = spiral(epochs=100)
    tr = Trainer(g)
    tr.run()
    scores = tr.predict(np.zeros((5, 2)))
    assert scores.shape == (5, 3)
    grid = tr.grid((-1, 1, -1, 1), res=64)
    assert grid.shape == (64, 64, 3) and len(np.unique(grid.argmax(-1))) == 3


def test_settings_are_checked():
    with pytest.raises(GradvizError, match="training: unknown setting 'learning_rate'"):
        Trainer(spiral(learning_rate=0.1))
    with pytest.raises(GradvizError, match="training.lr must be ≥ 1e-12 and ≤ 1e.06, got -1"):
        Trainer(spiral(lr=-1.0))
    with pytest.raises(GradvizError, match="training.optimizer must be one of"):
        Trainer(spiral(optimizer="lbfgs"))
    with pytest.raises(GradvizError, match="training needs data"):
        g = Graph()
        g.add_node("Constant", "c")
        g.add_node("Square", "s")
        g.connect("c", "s", "x")
        g.add_node("Sum", "t")
        g.connect("s", "t", "x")
        Trainer(g)


def test_stepper_and_trainer_gradients_agree(examples_dir):
    from gradviz_core.runs.stepper import Stepper
    g = fileformat.load(examples_dir / "mlp_softmax.json")
    s = Stepper(g, dtype=np.float64)
    s.run_backward()
    tr = Trainer(g, dtype=np.float64)
    tr.training_run.feed(*tr.training_run.batch(1), step=1)
    values = tr.program.forward(True)
    tr.program.backward(values)
    for name in ("fc1", "fc2"):
        for w in ("W", "b"):
            np.testing.assert_allclose(tr.program.bricks[name].grad(w), s.graph.brick(name).grad(w), rtol=1e-12)


def test_a_multi_task_graph_reports_each_term_and_supervises_each_task():
    """Two tasks on one trunk: classify the spiral arm (column 0) and predict the radius
    (column 1) from a table of labels, with a WeightedSum of the two losses and L2."""
    from gradviz_core.data import load_dataset
    base = load_dataset({"source": "spiral", "n": 90, "classes": 3})
    radius = np.linalg.norm(base.X, axis=1)
    g = Graph()
    g.set_data({"source": "inline", "X": base.X.tolist(), "y": np.c_[base.y, radius].tolist()})
    for name, t, p in [("x", "Input", {}), ("fc", "Linear", {"units": 32}), ("relu", "ReLU", {}),
                       ("cls", "Linear", {"units": 3}), ("reg_out", "Linear", {"units": 1}),
                       ("y_cls", "Target", {"column": 0}), ("y_r", "Target", {"column": 1, "encoding": "real"}),
                       ("ce", "SoftmaxCrossEntropy", {}), ("sq", "SquareLoss", {}),
                       ("total", "WeightedSum", {"weights": [1.0, 0.5]}), ("l2", "L2", {"lam": 1e-4})]:
        g.add_node(t, name, p)
    for a, b, port in [("x", "fc", "x"), ("fc", "relu", "x"), ("relu", "cls", "x"), ("relu", "reg_out", "x"),
                       ("cls", "ce", "x"), ("y_cls", "ce", "target"), ("reg_out", "sq", "x"), ("y_r", "sq", "target"),
                       ("ce", "total", "in0"), ("sq", "total", "in1")]:
        g.connect(a, b, port)
    g.training.update(lr=0.5, batch_size=0, epochs=200)
    assert g.problems == []
    result = Trainer(g).run()
    first, last = result.history[0]["terms"], result.history[-1]["terms"]
    assert set(last) == {"ce", "sq", "total", "l2"}
    assert last["total"] == pytest.approx(last["ce"] + 0.5 * last["sq"], rel=1e-5)
    assert last["ce"] < first["ce"] and last["sq"] < first["sq"]  # both tasks learn
    assert result.train_acc > 0.6


def test_the_loss_parts_are_the_nodes_values_whatever_the_nodes_are_named():
    """An epoch's data and regularization losses are the values of the loss and regularizer
    nodes, also when those are named "data" and "reg" (the epoch's totals once added the node
    "reg" onto the regularization loss: lesson 3 reported twice its L2 term)."""
    def train(loss, reg):
        g = Graph()
        g.set_data({"source": "blobs", "n": 60})
        for name, t, p in [("x", "Input", {}), ("fc", "Linear", {"units": 3}), ("y", "Target", {}),
                           (loss, "SoftmaxCrossEntropy", {}), (reg, "L2", {"lam": 0.1})]:
            g.add_node(t, name, p)
        for a, b, port in [("x", "fc", "x"), ("fc", loss, "x"), ("y", loss, "target")]:
            g.connect(a, b, port)
        g.training.update(batch_size=0, epochs=2)
        result = Trainer(g).run()
        last = result.history[-1]
        assert last["reg_loss"] == pytest.approx(last["terms"][reg]) and result.reg_loss == last["reg_loss"]
        return [(r["train_loss"], r["reg_loss"]) for r in result.history]

    assert train("data", "reg") == train("ce", "l2")


def test_a_reconstruction_target_is_the_input_itself():
    g = Graph()
    g.set_data({"source": "blobs", "n": 60})
    for name, t, p in [("x", "Input", {}), ("enc", "Linear", {"units": 1}), ("dec", "Linear", {"units": 2}),
                       ("t", "Target", {"of": "input", "encoding": "real"}), ("loss", "SquareLoss", {})]:
        g.add_node(t, name, p)
    for a, b, port in [("x", "enc", "x"), ("enc", "dec", "x"), ("dec", "loss", "x"), ("t", "loss", "target")]:
        g.connect(a, b, port)
    g.training.update(lr=0.05, batch_size=0, epochs=100)
    result = Trainer(g).run()
    assert result.history[-1]["train_loss"] < 0.5 * result.history[0]["train_loss"]


def test_babysitting_warnings_name_the_number_and_the_node():
    g = spiral(epochs=10, lr=0.1)
    g.set_param("fc1", "bias_init", -3.0)  # every ReLU starts dead (the new user's 33%)
    result = Trainer(g).run()
    codes = {(w["code"], w["node"]) for w in result.warnings}
    assert ("dead_relu", "relu1") in codes
    dead = next(w for w in result.warnings if w["code"] == "dead_relu")
    assert dead["value"] > 0.5 and "ReLUs are dead" in dead["message"]
    assert ("loss_flat", None) in codes
    assert len(result.warnings) == len(codes)  # each once
    g = spiral(epochs=6, lr=10.0)
    codes = {w["code"] for w in Trainer(g).run().warnings}
    assert "update_ratio_high" in codes
    g = spiral(epochs=2)
    g.set_param("fc2", "init", "normal")
    g.set_param("fc2", "init_scale", 30.0)
    codes = {w["code"] for w in Trainer(g).run().warnings}
    assert "initial_loss" in codes


def test_saturated_units_and_a_collapsing_std_are_warned_about():
    g = Graph()
    g.set_data({"source": "spiral", "n": 90})
    names = ["x"]
    g.add_node("Input", "x")
    for i in range(6):
        g.add_node("Linear", f"fc{i}", {"units": 32, "init": "normal", "init_scale": 0.01})
        g.add_node("Tanh", f"t{i}")
        g.connect(names[-1], f"fc{i}", "x")
        g.connect(f"fc{i}", f"t{i}", "x")
        names.append(f"t{i}")
    g.add_node("Linear", "out", {"units": 3})
    g.connect(names[-1], "out", "x")
    g.add_node("Target", "y")
    g.add_node("SoftmaxCrossEntropy", "loss")
    g.connect("out", "loss", "x")
    g.connect("y", "loss", "target")
    g.training.update(epochs=1, batch_size=0)
    codes = {w["code"] for w in Trainer(g).run().warnings}
    assert "std_collapse" in codes
    g.set_param("fc0", "init_scale", 20.0)
    codes = {(w["code"], w["node"]) for w in Trainer(g).run().warnings}
    assert ("saturated", "t0") in codes


def test_one_step_one_epoch_and_a_divergence_that_pauses(examples_dir):
    """The window's controls: run one step, or to the end of the epoch, then pause; a
    divergence restores the last finite weights and pauses, and resuming with a smaller η
    trains on."""
    g = fileformat.load(examples_dir / "mlp_softmax.json")
    g.training.update(epochs=5, lr=0.1, optimizer="sgd")
    t = Trainer(g, pause_on_diverge=True, threads=1)
    per_epoch = -(-len(t.splits.train) // t.training_run.batch_size)
    t.pause_after("step")
    t.start()
    until(lambda: t.state == "paused")
    assert t.steps == 1
    t.pause_after("step", 3)
    until(lambda: t.state == "paused" and t.steps == 4)
    t.pause_after("epoch")
    until(lambda: t.state == "paused" and t.steps == per_epoch)
    assert len(t.history) == 1
    t.pause_after("epoch")
    until(lambda: t.state == "paused" and t.steps == 2 * per_epoch)
    t.cancel()
    t.join(10)
    assert t.result.status == "cancelled"

    g.training.update(lr=1e4, epochs=3)
    t = Trainer(g, pause_on_diverge=True)
    seen = []
    t.events.subscribe("diverged", lambda record: seen.append(record["message"]))
    t.start()
    until(lambda: t.state == "paused" and t.diverged)
    assert "diverged" in t.diverged and "Try a smaller learning rate" in t.diverged and seen
    assert t._all_finite()
    from gradviz_core.model.commands import SetTraining
    SetTraining("lr", 0.05).do(g)  # a live setting: the paused run takes it at its next step
    t.resume()
    t.join(30)
    assert t.result.status == "done" and t.optimizer.lr == 0.05 and np.isfinite(t.result.train_loss)


def test_a_circuit_of_scalars_given_data_trains_and_reports_its_activations(examples_dir):
    """Found by tools/fuzz_cli.py: a scalar activation (a gate circuit) broke the diagnostics."""
    from gradviz_core.model.overrides import apply_set
    g = fileformat.load(examples_dir / "lesson_saturation.json")
    apply_set(g, "data.source=spiral")
    t = Trainer(g, max_steps=3)
    r = t.run()
    assert r.steps == 3 and t.diagnostics and "sig_mid" in t.diagnostics[0]["activations"]
