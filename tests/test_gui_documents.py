"""Each document has its own session: nothing of one graph (its curves, its warnings, its runs,
its quiz) shows on the next, a run's last message after another graph opened reaches no one,
and a view that waited for the kernels draws when they are ready. Read from what is shown."""
import threading

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402

from test_gui_editor import window  # noqa: E402,F401
from test_gui_stepper import press  # noqa: E402


def _train(window, qtbot, epochs=5):
    from gradviz_core.model.commands import SetTraining
    window.scene.push(SetTraining("epochs", epochs))
    # the run's end as the window hears it: the bridge delivers "done" after every epoch and
    # warning the run sent before it (the trainer's own state says finished sooner)
    with qtbot.waitSignal(window.train_session.finished, timeout=120000):
        window.training_panel.start.click()
    window.dashboard.draw_all()


def test_a_new_lesson_starts_with_an_empty_dashboard(window, qtbot, examples_dir):
    from gradviz_core.model.commands import SetTraining
    board = window.dashboard
    window.open(examples_dir / "mlp_softmax.json")
    window.scene.push(SetTraining("lr", 1e-7))  # a rate the babysitter warns about (updates too small)
    _train(window, qtbot)
    assert board.diagnostics.warnings.count() > 0, "the test needs a run that warns"
    assert board.curves.points() > 0
    first_session = window.train_session
    window.open(examples_dir / "spiral_mlp.json")
    assert window.train_session is not first_session  # a session of its own
    board.draw_all()
    xs, _ = board.curves.train_curve.getData()
    assert xs is None or len(xs) == 0, "the last lesson's curve is still drawn"
    assert board.diagnostics.warnings.count() == 0 and not board.diagnostics.empty.isHidden()
    assert board.compare.list.count() == len(window.graph.runs)  # only the runs saved with this graph
    assert board.boundary.image.image is None  # no boundary from another graph
    assert window.training_panel.status.text() != "" and "epoch" not in window.training_panel.status.text()


def test_the_quiz_line_does_not_survive_a_new_document(window, qtbot):
    panel = window.stepper_panel
    panel.quiz.setChecked(True)
    press(window, qtbot, Qt.Key_F5)
    press(window, qtbot, Qt.Key_F10)
    qtbot.keyClicks(panel.guess, "-4")
    qtbot.keyClick(panel.guess, Qt.Key_Return)
    assert panel.result.text().startswith("✓ Right")
    window.new()
    assert panel.result.text() == "" and panel.quiz_box.isHidden()
    assert panel.quiz.isChecked() and window.session.quiz  # the mode stays; the score starts over
    assert window.session.score == [0, 0]


def test_a_run_that_ends_after_another_graph_opened_reaches_no_one(window, qtbot, examples_dir, settle):
    """Its trainer is stopped and joined when its document closes; whatever it still sent is dropped
    (before, the "done" message raised AttributeError in the new document's session)."""
    from gradviz_core.model.commands import SetTraining
    window.open(examples_dir / "spiral_mlp.json")
    window.scene.push(SetTraining("epochs", 2000))
    window.training_panel.start.click()
    qtbot.waitUntil(lambda: window.train_session.trainer.steps > 0, timeout=60000)
    old_doc, old = window.doc, window.train_session
    assert old.running  # under way when the next graph opens (2000 epochs: many seconds)
    messages = []
    window.statusBar().messageChanged.connect(messages.append)
    window.open(examples_dir / "mlp_softmax.json")
    assert not any(t.name == "gradviz-trainer" and t.is_alive() for t in threading.enumerate())
    assert old.trainer.result.status == "cancelled"
    shown = list(messages)
    # the run's last message, arriving after its document closed, and a frame of every bridge,
    # old and new (each bridge's timer slot), then everything posted for the window: nothing
    # raises (pytest-qt fails the test if a slot does) and nothing reaches the window
    old.trainer.events.emit("done", record=old.trainer.result)
    old.trainer.events.emit("warning", record={"code": "late", "node": "fc1", "message": "a late warning"})
    for bridge in (old_doc.bridge, old.bridge, old_doc.race.bridge,
                   window.doc.bridge, window.train_session.bridge, window.doc.race.bridge):
        bridge.flush()
    settle()
    assert messages == shown, messages[len(shown):]  # the status bar heard nothing of the old run
    assert "late" not in (window.scene.nodes["fc1"].warning or "")  # nor did the new graph's canvas
    assert window.train_session is not old and window.train_session.state == "none"
    assert window.dashboard.curves.train_curve.getData()[0] is None or \
        len(window.dashboard.curves.train_curve.getData()[0]) == 0


def test_the_boundary_draws_when_the_kernels_become_ready(window, qtbot, examples_dir, monkeypatch):
    from gradviz_core import kernels
    if not kernels.active().__name__.endswith("fast"):
        pytest.skip("the reference kernels need no compiling")
    qtbot.waitUntil(kernels.ready, timeout=300000)
    window.open(examples_dir / "spiral_mlp.json")
    monkeypatch.setattr(kernels, "ready", lambda: False)  # as on a fresh install, still compiling
    _train(window, qtbot, epochs=3)
    board = window.dashboard
    board.show_view(board.boundary)
    board.draw_all()
    assert board.boundary.image.image is None  # it waits for the kernels
    monkeypatch.setattr(kernels, "ready", lambda: True)
    window.warm_up.finished.emit(1.0)
    qtbot.waitUntil(lambda: board.boundary.image.image is not None, timeout=20000)
    assert "Kernels ready" in window.kernels_label.text()
