"""Training in the window: the controls, the dashboard's live views (curves, boundary, hidden
units, the ConvNet views, diagnostics, runs compared), a mid-run learning-rate change, a
divergence, keeping and saving the weights, closing mid-run. The trainer runs on its own thread."""
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from test_gui_editor import window  # noqa: E402,F401


def test_training_the_spiral_from_the_window(window, qtbot, examples_dir):
    from gradviz_core import kernels
    window.open(examples_dir / "spiral_mlp.json")
    # the window compiles the kernels in the background; the boundary waits for them (a first
    # compile never freezes the window), and so does this test, so its first frames show the start
    qtbot.waitUntil(kernels.ready, timeout=300000)
    panel, board = window.training_panel, window.dashboard
    panel.start.click()
    assert window.docks["Dashboard"].isVisible()  # training shows the dashboard
    assert board.isTabEnabled(board.indexOf(board.boundary))
    assert not board.isTabEnabled(board.indexOf(board.convnet))  # no convolution here
    board.setCurrentWidget(board.boundary)
    view = board.boundary
    qtbot.waitUntil(lambda: view.frames >= 2, timeout=20000)
    first = view.image.image.copy()
    assert first.shape[:2] == (200, 200)
    qtbot.waitUntil(lambda: window.train_session.result is not None, timeout=60000)
    r = window.train_session.result
    assert r.status == "done" and r.train_acc >= 0.95
    assert not np.array_equal(first, view.image.image)  # the boundary moved while it learned
    assert view.frames >= 5  # it was redrawn while training, not only at the end
    assert len(view.train_points.data) == 300
    hidden = view.hidden_items["relu1"].image
    assert hidden is not None and hidden.std() > 0  # the units' maps, drawn
    xs, ys = board.curves.train_curve.getData()
    assert len(xs) == len(r.history) > 10 and ys[-1] < ys[0]
    assert len(board.curves.acc_plot.listDataItems()[0].getData()[0]) == len(r.history)
    assert board.diagnostics.ratio_curves and len(window.train_session.trainer.diagnostics) > 5
    assert "training accuracy" in panel.status.text()
    assert not window.graph.weights()  # the document is not trained...
    panel.keep.click()  # ...until the student keeps the weights
    assert set(window.graph.weights()) == {"fc1/W", "fc1/b", "fc2/W", "fc2/b"}
    window.undo.undo()
    assert not window.graph.weights()


def test_a_learning_rate_changed_mid_run_reaches_the_trainer(window, qtbot, examples_dir):
    window.open(examples_dir / "spiral_mlp.json")
    window.graph.training["epochs"] = 100000
    window.training_panel.start.click()
    t = window.train_session.trainer
    qtbot.waitUntil(lambda: t.steps > 5, timeout=20000)
    window.training_panel.lr.setText("0.0125")
    window.training_panel.lr.editingFinished.emit()
    qtbot.waitUntil(lambda: t.optimizer.lr == 0.0125, timeout=20000)
    assert window.graph.training["lr"] == 0.0125 and t.state == "running"
    window.training_panel.stop.click()
    qtbot.waitUntil(lambda: not window.train_session.running, timeout=20000)


def test_closing_the_window_mid_run_stops_it_and_offers_the_weights(window, qtbot, examples_dir, monkeypatch):
    window.open(examples_dir / "spiral_mlp.json")
    window.graph.training["epochs"] = 100000
    window.training_panel.start.click()
    t = window.train_session.trainer
    qtbot.waitUntil(lambda: t.steps > 3, timeout=20000)
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or (QMessageBox.Yes if "Keep" in a[2] else QMessageBox.Discard))
    window.close()
    assert t.state == "finished" and t.result.status == "cancelled"
    assert asked and "Keep the weights trained so far" in asked[0]
    assert "fc1/W" in window.graph.weights()


def test_every_training_setting_has_a_field_and_each_change_is_undoable(window, qtbot, examples_dir):
    from gradviz_core.settings import LIVE, TRAINING
    window.open(examples_dir / "spiral_mlp.json")
    panel = window.training_panel
    assert set(panel.setting_editors) == {s.name for s in TRAINING} - {"lr"}
    panel.setting_editors["optimizer"].setCurrentText("adam")
    assert window.graph.training["optimizer"] == "adam"
    field = panel.setting_editors["momentum"]
    field.setText("2")
    field.editingFinished.emit()
    assert "training.momentum must be ≥ 0 and ≤ 0.999, got 2" in panel.settings_note.text()
    assert window.graph.training.get("momentum", 0.0) == 0.0
    window.undo.undo()
    assert window.graph.training["optimizer"] == "sgd"
    assert "epochs" in LIVE and "batch_size" not in LIVE  # marked * in the form: needs a new run
