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
    panel, board, session = window.training_panel, window.dashboard, window.train_session
    panel.start.click()
    assert window.docks["Dashboard"].isVisible()  # training shows the dashboard
    assert board.isTabEnabled(board.tab_of(board.boundary))
    assert not board.isTabEnabled(board.tab_of(board.convnet))  # no convolution here
    board.show_view(board.boundary)
    view = board.boundary
    assert board.timer.isActive()  # while it trains, the dashboard's timer redraws the view in front
    panel.pause.click()  # paused at once, at its first steps
    assert session.state == "paused" and not board.timer.isActive()
    panel.one_step.click()  # one step more, after which the run pauses itself: its weights stay put
    qtbot.waitUntil(lambda: panel.status.text().startswith("Paused after"), timeout=60000)
    t, steps = session.trainer, session.trainer.steps
    _views_drawn(board, qtbot)
    frames = view.frames
    board.timer.timeout.emit()  # a frame as the timer gives it while training, of the paused weights
    _views_drawn(board, qtbot)
    assert view.frames == frames + 1 and t.steps == steps
    first = view.image.image.copy()
    assert first.shape[:2] == (200, 200)
    assert steps < t.settings.epochs  # (full batches: a step an epoch) far from its end
    with qtbot.waitSignal(session.finished, timeout=120000):
        panel.pause.click()  # Resume: live again, the timer redraws while it trains
        assert session.state == "running" and board.timer.isActive()
    _views_drawn(board, qtbot)  # the frames the end asked for
    r = session.result
    assert r.status == "done" and r.train_acc >= 0.95 and r.steps > steps
    assert not np.array_equal(first, view.image.image)  # the boundary moved while it learned
    assert view.frames >= frames + 2  # drawn mid-run (the timer's frame) and again at the end
    assert len(view.train_points.data) == 300
    hidden = view.hidden_items["relu1"].image
    assert hidden is not None and hidden.std() > 0  # the units' maps, drawn
    board.show_view(board.curves)  # each view draws while it is in front, and when brought there
    xs, ys = board.curves.train_curve.getData()
    assert len(xs) == len(r.history) > 10 and ys[-1] < ys[0]
    assert len(board.curves.acc_plot.listDataItems()[0].getData()[0]) == len(r.history)
    board.show_view(board.diagnostics)
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
    from gradviz_core.model.settings import LIVE, TRAINING
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


def _views_drawn(board, qtbot) -> None:
    """Every frame the dashboard asked its views' thread for is on screen: the thread has no job
    in hand or waiting (it announces a result before it takes the next job) and the results it
    sent are delivered."""
    from PySide6.QtCore import QCoreApplication
    qtbot.waitUntil(lambda: not board.compute.busy(), timeout=60000)
    QCoreApplication.sendPostedEvents()  # the results, queued to the window's thread


def _train_to_end(window, qtbot, timeout=120000):
    qtbot.waitUntil(lambda: window.train_session.result is not None, timeout=timeout)
    return window.train_session.result


def test_one_epoch_of_the_digits_convnet_fills_the_convnet_views(window, qtbot, examples_dir):
    from PySide6.QtCore import QPointF
    window.open(examples_dir / "digits_convnet.json")
    window.scene.push(__import__("gradviz_core.model.commands", fromlist=["SetTraining"]).SetTraining("epochs", 1))
    board, panel = window.dashboard, window.training_panel
    assert board.isTabEnabled(board.tab_of(board.convnet))
    assert not board.isTabEnabled(board.tab_of(board.boundary))  # images, not points
    board.show_view(board.convnet)
    panel.start.click()
    r = _train_to_end(window, qtbot)
    assert r.status == "done" and r.test_acc > 0.5
    view = board.convnet
    assert view.updates >= 1  # drawn by the time the end is announced (here and now, once the run is over)
    # filters: the 8 first-layer 3×3 filters in a mosaic (3 columns of 3 + 1-pixel gutters)
    assert view.filters.image.shape == (11, 11)
    # the confusion matrix counts every test sample, true classes as rows
    test = window.train_session.trainer.splits.test
    assert view.matrix.shape == (10, 10) and view.matrix.sum() == len(test)
    assert np.trace(view.matrix) / len(test) == pytest.approx(r.test_acc)
    # saliency: |∂score/∂x| of the chosen sample, one value per pixel
    assert view.saliency.image.shape == (8, 8) and view.saliency.image.std() > 0
    assert "predicted" in view.sample_text.text()
    # a click on a confusion cell shows that cell's images in the gallery
    i = int(np.argmax(np.diag(view.matrix)))
    view.cell_clicked(i, i)
    assert len(view.shown) == min(view.matrix[i, i], 40)
    assert all(view.truth[k] == i and view.pred[k] == i for k in view.shown)
    # a click on a gallery image picks it as the sample
    view.gallery_clicked(0, 10)  # second image of the first row
    assert view.sample.value() == view.shown[1]
    assert view.layer.count() == 6  # conv1, relu1, pool1, conv2, relu2, pool2
    view.layer.setCurrentText("conv2")
    view.draw_sample()
    assert view.maps.image.shape == (4 * 5 - 1, 4 * 5 - 1)  # 16 maps of 4×4 in 4 columns


def test_a_divergence_pauses_with_the_message_and_resumes_after_a_smaller_rate(window, qtbot, examples_dir):
    window.open(examples_dir / "spiral_mlp.json")
    panel, session = window.training_panel, window.train_session
    panel.lr.setText("1000")
    panel.lr.editingFinished.emit()
    panel.start.click()
    qtbot.waitUntil(lambda: session.state == "paused", timeout=30000)
    t = session.trainer
    # the message comes with the run's "diverged" event, after the pause: wait for it, not for a clock
    qtbot.waitUntil(lambda: "training diverged" in panel.alert.text(), timeout=60000)
    assert not panel.alert.isHidden()  # shown in the panel (whichever dock tab is in front)
    text = panel.alert.text()
    assert "training diverged" in text and "Try a smaller learning rate than 1000" in text
    assert "Resume" in text and panel.pause.text() == "Resume"
    assert t._all_finite()  # the last finite weights are kept
    assert panel.keep.isEnabled()
    panel.lr.setText("1.0")
    panel.lr.editingFinished.emit()
    from gradviz_core.model.commands import SetTraining
    window.scene.push(SetTraining("epochs", 50))  # live too
    panel.pause.click()  # Resume
    r = _train_to_end(window, qtbot)
    assert r.status == "done" and t.optimizer.lr == 1.0 and not panel.alert.isVisible()


def test_one_step_one_epoch_and_reset(window, qtbot, examples_dir):
    window.open(examples_dir / "mlp_softmax.json")
    panel, session = window.training_panel, window.train_session
    panel.reset.click()  # fresh weights, not trained: the views show the untrained net
    assert session.state == "ready" and "not trained yet" in panel.status.text()
    panel.one_step.click()
    qtbot.waitUntil(lambda: "Paused after 1 step (0 epochs done)." in panel.status.text(), timeout=30000)
    assert session.trainer.steps == 1 and session.state == "paused"
    panel.one_epoch.click()
    qtbot.waitUntil(lambda: session.state == "paused" and bool(session.trainer.history), timeout=30000)
    per_epoch = -(-len(session.trainer.training_run.train_set) // session.trainer.training_run.batch_size)
    assert session.trainer.steps == per_epoch
    qtbot.waitUntil(lambda: len(window.dashboard.curves.train_curve.getData()[0] or []) == 1, timeout=5000)
    old = session.trainer
    panel.reset.click()
    assert session.trainer is not old and session.state == "ready" and session.trainer.steps == 0
    assert window.dashboard.curves.train_curve.getData()[0] is None or \
        len(window.dashboard.curves.train_curve.getData()[0]) == 0


def test_two_runs_are_compared_labelled_by_what_differs_and_saved_with_the_graph(window, qtbot, examples_dir,
                                                                                 tmp_path):
    from gradviz_core.model import fileformat
    from gradviz_core.model.commands import SetTraining
    window.open(examples_dir / "spiral_mlp.json")
    window.scene.push(SetTraining("epochs", 20))
    panel, board = window.training_panel, window.dashboard
    panel.start.click()
    _train_to_end(window, qtbot)
    window.scene.push(SetTraining("lr", 0.1))
    panel.start.click()
    qtbot.waitUntil(lambda: len(window.train_session.runs) == 2, timeout=60000)
    view = board.compare
    assert [view.list.item(i).text().split("  ")[0] for i in range(2)] == ["lr=1", "lr=0.1"]
    assert len(view.curves) == 2 and all(len(c.getData()[0]) == 20 for c in view.curves)
    view.list.item(0).setCheckState(__import__("PySide6.QtCore", fromlist=["Qt"]).Qt.Unchecked)
    assert len(view.curves) == 1
    view.save.click()  # keep the runs in the graph: undoable, and saved with it
    assert len(window.graph.runs) == 2
    path = tmp_path / "spiral.json"
    window.path = path
    assert window.save()
    again = fileformat.load(path)
    assert [r["settings"]["training.lr"] for r in again.runs] == [1.0, 0.1]
    assert len(again.runs[1]["history"]) == 20
    window.undo.undo()
    assert window.graph.runs == []


def test_kept_weights_save_with_the_graph_and_training_resumes_from_them(window, qtbot, examples_dir, tmp_path):
    from gradviz_core.model.commands import SetTraining
    window.open(examples_dir / "spiral_mlp.json")
    window.scene.push(SetTraining("epochs", 200))
    panel = window.training_panel
    panel.start.click()
    first = _train_to_end(window, qtbot)
    panel.keep.click()
    path = tmp_path / "trained.json"
    window.path = path
    assert window.save()
    assert list(tmp_path.glob("trained.weights.*.npz"))
    window.open(path)
    assert set(window.graph.weights()) == {"fc1/W", "fc1/b", "fc2/W", "fc2/b"}
    assert panel.start_from.model().item(1).isEnabled()
    panel.start_from.setCurrentIndex(1)  # the graph's weights
    window.scene.push(SetTraining("epochs", 1))
    panel.start.click()
    resumed = _train_to_end(window, qtbot)
    fresh_first_epoch = first.history[0]["train_loss"]
    # it goes on from where the kept run stopped, far below where a fresh run starts
    assert resumed.history[0]["train_loss"] <= first.train_loss * 1.1 < 0.8 * fresh_first_epoch


def test_the_model_section_edits_nodes_and_warnings_reach_the_nodes(window, qtbot, examples_dir):
    from gradviz_core.model.commands import SetTraining
    window.open(examples_dir / "spiral_mlp.json")
    panel = window.training_panel
    every = panel.model_editors["*init"]
    every.setCurrentText("he")
    every.activated.emit(every.currentIndex())
    assert window.graph.brick("fc1").config["init"] == window.graph.brick("fc2").config["init"] == "he"
    window.undo.undo()  # one step for every layer
    assert window.graph.brick("fc1").config["init"] == "xavier"
    field = panel.model_editors["reg.lam"]
    field.setText("0.01")
    field.editingFinished.emit()
    assert window.graph.brick("reg").config["lam"] == 0.01
    panel.model_editors["fc1.frozen"].setChecked(True)
    assert window.graph.training["freeze"] == ["fc1"]
    add = panel.model_editors["+regularizer"]
    before = len(window.graph.nodes())
    add.activated.emit(1)  # L2
    assert len(window.graph.nodes()) == before + 1
    window.undo.undo()
    window.undo.undo()
    # a learning rate far too small: the update-ratio warning names fc1, on the canvas too
    window.scene.push(SetTraining("lr", 1e-7))
    window.scene.push(SetTraining("epochs", 6))
    panel.start.click()
    _train_to_end(window, qtbot)
    window.dashboard.draw_all()
    assert "too low" in window.scene.nodes["fc1"].warning
    assert "Training warning" in window.scene.nodes["fc1"].toolTip()
    assert window.dashboard.diagnostics.warnings.count() >= 1


def test_render_trains_offscreen_and_draws_the_dashboard(examples_dir, tmp_path, qapp, cli):
    from PySide6.QtGui import QImage
    run = cli
    code, out, err = run("render", examples_dir / "spiral_mlp.json", "--train", "30", "--view", "boundary",
                         "-o", tmp_path / "b.png", "--size", "900x500")
    assert code == 0, err
    img = QImage(str(tmp_path / "b.png"))
    assert (img.width(), img.height()) == (900, 500)
    # the class regions are drawn: many distinct colours, not a blank widget
    colours = {img.pixel(x, y) for x in range(0, 900, 9) for y in range(0, 500, 9)}
    assert len(colours) > 50
    code, _, err = run("render", examples_dir / "spiral_mlp.json", "--view", "loss", "-o", tmp_path / "l.png")
    assert code == 2 and "--view loss" in err and "--train" in err
    code, _, err = run("render", examples_dir / "circuit_xyz.json", "--train", "3", "-o", tmp_path / "c.png")
    assert code == 2 and "needs data" in err


def test_the_train_menu_follows_the_controls(window, qtbot, examples_dir):
    window.open(examples_dir / "mlp_softmax.json")
    actions = window.train_actions
    assert actions["start"].shortcut().toString() == "F9" and actions["start"].isEnabled()
    assert not actions["pause"].isEnabled() and not actions["keep"].isEnabled()
    actions["one_epoch"].trigger()
    # the controls follow the run's "paused" event, delivered by the bridge at the next frame
    qtbot.waitUntil(lambda: window.training_panel.pause.text() == "Resume", timeout=30000)
    assert actions["pause"].isEnabled() and actions["keep"].isEnabled() and actions["stop"].isEnabled()
    actions["stop"].trigger()
    qtbot.waitUntil(lambda: window.train_session.result is not None, timeout=30000)
    assert window.train_session.result.status == "cancelled"


def test_every_example_opens_validates_runs_briefly_and_shows_its_note(window, qtbot, examples_dir):
    """The lessons' smoke test: each example opens, has no problem, steps (a circuit) or
    trains briefly (a graph with data), and its note renders with working links."""
    import re

    from PySide6.QtCore import QUrl
    from gradviz_core.model.commands import SetTraining
    for path in sorted(examples_dir.glob("*.json")):
        window.open(path)
        assert not window.graph.problems, path.name
        assert window.lesson.toPlainText().strip() and "no lesson note" not in window.lesson.toPlainText()
        if window.graph.data is None:
            window.session.run_phase("forward")
            assert window.session.stepper.values, path.name
            if window.graph.playground is not None:  # the optimizer playground: shown, and it races
                assert window.playground.isVisible() and window.playground.view.surface is not None
                window.playground.view.advance(3)
                assert window.playground.view.race.steps == 3, path.name
            continue
        window.scene.push(SetTraining("epochs", 1))
        window.train_session.start()
        t = window.train_session.trainer
        # a lesson may diverge on purpose (no preprocessing): the window pauses there with the reason
        qtbot.waitUntil(lambda: window.train_session.result is not None or bool(t.diverged), timeout=120000)
        if t.diverged:
            window.train_session.stop(wait=True)
        r = _train_to_end(window, qtbot)
        assert r.status in ("done", "diverged") and (r.steps > 0 or t.diverged), (path.name, r.message)
        from gradviz_core.teach import lessons
        changing = [u for u in re.findall(r"\((gradviz:set[^)]*)\)", window.graph.note)
                    if lessons.command(window.graph, u)[1] is not None]
        for url in changing[:1]:  # the first variant link that changes something
            before = window.undo.count()
            window.lesson_link(QUrl(url))
            assert window.undo.count() == before + 1, (path.name, url)
            window.undo.undo()


def test_a_lesson_link_sets_the_variant_and_trains(window, qtbot, examples_dir):
    from PySide6.QtCore import QUrl
    window.open(examples_dir / "lesson_width.json")
    window.lesson_link(QUrl("gradviz:set?fc1.units=10"))
    assert window.graph.brick("fc1").config["units"] == 10
    window.lesson_link(QUrl("gradviz:train"))
    r = _train_to_end(window, qtbot)
    assert r.train_acc >= 0.97
    window.lesson_link(QUrl("gradviz:set?fc9.units=3"))
    assert "no node named 'fc9'" in window.statusBar().currentMessage()
    window.undo.undo()
    assert window.graph.brick("fc1").config["units"] == 2


def test_help_lessons_lists_the_lessons_in_order_and_opens_one(window, qtbot, monkeypatch):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QListWidget
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    seen = []

    def pick():
        dialog = window.lessons_dialog
        try:
            assert dialog.isVisible()  # it runs in the dialog's own event loop: the list is up
            items = dialog.findChild(QListWidget)
            seen.extend(items.item(i).text().splitlines()[0] for i in range(items.count()))
            items.setCurrentRow(2)
            dialog.accept()
        finally:
            dialog.isVisible() and dialog.reject()  # never left waiting: a failure shows below

    QTimer.singleShot(0, pick)  # at the first turn of an event loop: the dialog's own, once it is up
    window.show_lessons()
    assert seen[0].startswith("Lesson 1:") and seen[2].startswith("Lesson 3:")
    assert window.graph.title.startswith("Lesson 3:") and window.path is None  # an untitled copy
    assert "ln 10" in window.lesson.toPlainText()


def test_the_wheel_scrolls_past_a_choice_it_has_not_been_clicked(window, qtbot, examples_dir):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication
    window.open(examples_dir / "spiral_mlp.json")
    combo = window.training_panel.model_editors["fc1.init"]
    before = combo.currentText()
    event = QWheelEvent(QPointF(5, 5), QPointF(5, 5), QPoint(0, 0), QPoint(0, -120), Qt.NoButton,
                        Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(combo, event)
    assert combo.currentText() == before and window.graph.brick("fc1").config["init"] == before
    assert not event.isAccepted()  # left to the scroll area


def test_render_draws_the_compare_and_convnet_views(examples_dir, tmp_path, qapp, cli):
    for ex, view in (("spiral_mlp.json", "compare"), ("digits_convnet.json", "convnet"),
                     ("digits_convnet.json", "diagnostics")):
        code, _, err = cli("render", examples_dir / ex, "--train", "2", "--view", view, "-o", tmp_path / f"{view}.png")
        assert code == 0 and (tmp_path / f"{view}.png").stat().st_size > 5000, (view, err)
