"""The optimizer playground in the window: a lesson opens it, its link races the rules live,
a click on the plot starts them elsewhere and a typed learning rate is the graph's (both
undoable); a graph that is not a loss of two numbers says why."""
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPointF, Qt, QUrl  # noqa: E402

from gradviz.sessions.racing import TICKS  # noqa: E402
from test_gui_editor import window  # noqa: E402,F401


def _a_fresh_race(event, payload) -> bool:
    """The race's event that it starts again from its start (after an edit or an undo)."""
    return event == "advanced" and payload["steps"] == 0


def test_the_valley_lesson_races_the_six_rules_live(window, qtbot, examples_dir):
    window.open_example(examples_dir / "lesson_optimizers.json")
    dock, view = window.playground, window.playground.view
    assert dock.isVisible() and view.surface is not None
    assert len(view.contours) > 5 and view.image.image.shape[:2] == (120, 120)
    assert [view.lr_field[r].text() for r in ("sgd", "adam")] == ["0.9", "0.2"]
    window.lesson_link(QUrl("gradviz:play"))
    assert view.timer.isActive() and view.play_button.text() == "Pause"
    assert view.race.steps == 0          # it starts from the start: no frame has run yet
    per_frame = -(-view.total // TICKS)  # the race plays in TICKS frames of the timer
    for _ in range(10):                  # ten frames of the live race, each as the timer gives it
        view.timer.timeout.emit()
    assert view.race.steps == 10 * per_frame < view.total and view.timer.isActive()  # still racing
    xs, _ = view.paths["sgd"].getData()
    assert len(xs) == 10 * per_frame + 1  # drawn while it races, not only at the end
    assert view.progress.text() == f"step {10 * per_frame} of {view.total}"
    with qtbot.waitSignal(view.raced, timeout=60000):  # the race's last step
        view.timer.setInterval(1)        # the rest of the race at full speed (30 ms a frame live)
    assert not view.timer.isActive() and view.play_button.text() == "Race"  # it stops there
    assert view.race.steps == 150 and view.progress.text() == "step 150 of 150"
    assert all(view.race.losses[r][-1] < 1e-3 for r in view.race.rules)
    assert view.state["adam"].text().startswith("f = ")
    assert len(view.curves["sgd"].getData()[0]) == 151
    assert len(view.heads.data) == 6


def test_a_click_starts_the_rules_there_and_undo_puts_the_start_back(window, qtbot, examples_dir):
    window.open_example(examples_dir / "lesson_optimizers.json")
    view = window.playground.view
    vb = view.plot.plotItem.vb
    qtbot.waitExposed(view.plot) if view.plot.isVisible() else None
    target = vb.mapViewToScene(QPointF(-2.0, -1.0))
    at = view.plot.mapFromScene(target)
    qtbot.mouseClick(view.plot.viewport(), Qt.LeftButton, pos=at)
    a, b = window.graph.playground["start"]
    assert abs(a + 2.0) < 0.1 and abs(b + 1.0) < 0.1
    assert np.allclose(view.race.start, [a, b]) and view.timer.isActive()
    with qtbot.waitSignal(view.session.bridge.event, check_params_cb=_a_fresh_race, timeout=30000):
        window.undo.undo()                 # the race starts again, at the next turn of the event loop
    assert window.graph.playground["start"] == (-4.5, 1.2)
    assert np.allclose(view.race.start, [-4.5, 1.2]) and view.race.steps == 0


def test_a_typed_learning_rate_is_the_graphs_and_a_bad_one_is_named(window, qtbot, examples_dir):
    window.open_example(examples_dir / "lesson_optimizers.json")
    view = window.playground.view
    view.lr_field["sgd"].setText("1.05")
    view.lr_field["sgd"].editingFinished.emit()
    assert window.graph.playground["lr"]["sgd"] == 1.05
    qtbot.waitUntil(lambda: view.race.lr["sgd"] == 1.05, timeout=2000)
    view.advance(150)
    assert view.race.stopped["sgd"].startswith("diverg")
    assert "diverging" in view.state["sgd"].text()
    view.lr_field["sgd"].setText("-3")
    view.lr_field["sgd"].editingFinished.emit()
    assert "playground.lr.sgd must be a number > 0" in window.statusBar().currentMessage()
    view.lr_field["adam"].setText("fast")
    view.lr_field["adam"].editingFinished.emit()
    assert "must be a number" in view.message.text()
    window.undo.undo()
    assert window.graph.playground["lr"]["sgd"] == 0.9
    steps = view.race.steps
    view.show_rule["adagrad"].setChecked(False)  # hidden, not raced again
    assert view.race.steps == steps and not view.state["adagrad"].text()
    assert len(view.paths["adagrad"].getData()[0] or []) == 0 and len(view.paths["adam"].getData()[0]) > 1
    view.show_rule["adagrad"].setChecked(True)
    assert len(view.paths["adagrad"].getData()[0]) == steps + 1


def test_editing_the_surface_redraws_it_and_other_graphs_hide_the_playground(window, qtbot, examples_dir):
    window.open_example(examples_dir / "lesson_optimizers.json")
    view = window.playground.view
    before = view.surface.grid(9)[2]
    with qtbot.waitSignal(view.session.bridge.event, check_params_cb=_a_fresh_race, timeout=30000):
        window.set_param("shallow", "c", 0.5)  # redrawn at the next turn of the event loop, raced afresh
    assert not np.allclose(view.surface.grid(9)[2], before)
    window.lesson_link(QUrl("gradviz:open?file=lesson_saddle.json"))
    assert window.example == "lesson_saddle.json" and view.surface.names == ["a", "b"]
    import pyqtgraph as pg
    drawn = [i for i in view.plot.scene().items() if isinstance(i, pg.IsocurveItem)]
    assert len(drawn) == len(view.contours)  # the valley's contours went with the valley
    assert view.race.start.tolist() == [-2.0, 0.001]
    window.open(examples_dir / "spiral_mlp.json")
    assert not window.playground.isVisible()
    window.playground.show()
    assert "reads data" in view.message.text() and not view.play_button.isEnabled()


def test_file_export_writes_pytorch_and_numpy_and_names_what_it_cannot(window, tmp_path, examples_dir, monkeypatch):
    from PySide6.QtWidgets import QMessageBox
    window.open_example(examples_dir / "lesson_batchnorm.json")
    assert window.export_code("pytorch", str(tmp_path / "bn.py"))
    assert "class BatchNorm(nn.Module)" in (tmp_path / "bn.py").read_text()
    assert (tmp_path / "bn.arrays.npz").stat().st_size > 0 and "bn.arrays.npz" in window.statusBar().currentMessage()
    assert window.export_code("numpy", str(tmp_path / "bn_study.py"))
    assert "def backward(P, v, C):" in (tmp_path / "bn_study.py").read_text()
    said = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: said.append(a[2]))
    from gradviz_core.model.brick import Brick
    from gradviz_core.bricks.conv import Conv2D
    monkeypatch.setattr(Conv2D, "numpy_code", Brick.numpy_code)  # a brick without a NumPy form
    window.open_example(examples_dir / "digits_convnet.json")
    assert not window.export_code("numpy", str(tmp_path / "conv.py"))
    assert said and "conv1 (Conv2D)" in said[0] and not (tmp_path / "conv.py").exists()


def test_file_export_to_onnx_and_open_of_an_onnx_model(window, tmp_path, examples_dir):
    pytest.importorskip("onnx")
    window.open_example(examples_dir / "digits_convnet.json")
    assert window.export_code("onnx", str(tmp_path / "digits.onnx"))
    assert (tmp_path / "digits.onnx").read_bytes()[:2] and "Wrote" in window.statusBar().currentMessage()
    assert window.open(tmp_path / "digits.onnx")           # imported as an untitled graph
    assert window.path is None and window.graph.brick("conv1").type_name == "Conv2D"
    assert "Imported digits.onnx: 11 nodes, 1,898 parameters" in window.statusBar().currentMessage()
    assert set(window.scene.nodes) == set(window.graph.nodes()) and not window.graph.problems


def test_a_lessons_checkpoints_tick_themselves_as_the_student_gets_there(window, qtbot, examples_dir):
    from PySide6.QtGui import QTextBlockFormat
    window.open_example(examples_dir / "circuit_xyz.json")

    def marks():
        doc, out = window.lesson.document(), []
        block = doc.begin()
        while block.isValid():
            state = block.blockFormat().marker()
            if state != QTextBlockFormat.MarkerType.NoMarker:
                out.append(state == QTextBlockFormat.MarkerType.Checked)
            block = block.next()
        return out

    assert marks() == [False, False, False, False]
    window.session.run_to("f")                       # the forward pass, to f
    assert marks() == [True, False, False, False]
    window.session.run_phase("backward")             # through the multiply and the add gates
    assert marks() == [True, True, True, False]
    assert "3 of 4" in window.statusBar().currentMessage()
    window.lesson_link(QUrl("gradviz:check?checked"))  # clicking a checkpoint only says what it is
    assert marks() == [True, True, True, False] and "not reached yet" in window.statusBar().currentMessage()
    window.open_example(examples_dir / "lesson_optimizers.json")
    assert marks() == [False, False]                 # a new lesson starts unticked
    window.playground.view.advance(150)
    assert marks() == [True, False]
