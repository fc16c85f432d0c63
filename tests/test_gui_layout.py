"""The window's workspaces as a student sees them at 1280×800: the canvas keeps at least half
the window each way, no dock tab or button is cut, every control of the stepper is in a menu
with a key, plots are in their own units, and the layout is remembered. Read from the widgets'
geometry and text on screen."""
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402

from test_gui_editor import window  # noqa: E402,F401

WORKSPACES = ("Build", "Step", "Train", "Playground")


def _cut_tabs(w):
    from PySide6.QtWidgets import QTabBar
    out = []
    for bar in w.findChildren(QTabBar):
        if not bar.isVisible():
            continue
        for i in range(bar.count()):
            need = bar.fontMetrics().horizontalAdvance(bar.tabText(i))
            rect = bar.tabRect(i)
            if rect.width() < need + 8 or rect.right() > bar.width() + 1:
                out.append(bar.tabText(i))
    return out


def _cut_buttons(w):
    from PySide6.QtWidgets import QAbstractButton
    return [b.text() for b in w.findChildren(QAbstractButton)
            if b.isVisible() and b.text() and b.width() < b.fontMetrics().horizontalAdvance(b.text().replace("&", ""))]


@pytest.mark.parametrize("graph", ["lesson_width.json", "lesson_saddle.json", "lesson_saturation.json"])
def test_every_workspace_leaves_the_canvas_half_the_window_and_cuts_nothing(window, qtbot, examples_dir, graph,
                                                                            settle):
    window.resize(1280, 800)
    window.open(examples_dir / graph)
    for name in WORKSPACES:
        window.workspace_actions[name].trigger()  # View > Build … Playground
        settle()  # laid out: every posted layout request delivered
        assert window.workspace == name and window.workspace_actions[name].isChecked()
        view = window.view
        assert view.width() >= window.width() / 2 and view.height() >= window.height() / 2, \
            (name, view.width(), view.height())
        assert not _cut_tabs(window), (name, _cut_tabs(window))
        assert not _cut_buttons(window), (name, _cut_buttons(window))
        shown = [t for t in ("Stepper", "Dashboard", "Playground") if window.docks[t].isVisible()]
        assert shown == {"Build": [], "Step": ["Stepper"], "Train": ["Dashboard"],
                         "Playground": ["Playground"]}[name]  # the playground replaces the dashboard
        tabs = [d for t, d in window.docks.items() if d.isVisible() and t in
                ("Inspector", "Problems", "Lesson", "Values", "Data", "Training")]
        assert len(tabs) <= 4


def test_the_workspaces_have_keys_and_follow_the_work(window, qtbot, examples_dir):
    keys = {name: window.workspace_actions[name].shortcut().toString() for name in WORKSPACES}
    assert keys == {"Build": "Ctrl+1", "Step": "Ctrl+2", "Train": "Ctrl+3", "Playground": "Ctrl+4"}
    window.set_workspace("Build")
    qtbot.keyClick(window, Qt.Key_F10)  # a step: the stepper comes
    assert window.workspace == "Step" and window.docks["Stepper"].isVisible()
    window.open(examples_dir / "lesson_saddle.json")  # a loss of two numbers: the race
    assert window.workspace == "Playground"
    window.open(examples_dir / "spiral_mlp.json")
    assert window.workspace == "Build"
    window.training_panel.start.click()
    assert window.workspace == "Train" and window.docks["Dashboard"].isVisible()
    window.train_session.stop(wait=True)


def test_the_stepper_strip_hides_nothing_and_every_control_is_in_the_step_menu(window, qtbot, settle):
    from PySide6.QtWidgets import QToolButton
    window.resize(1280, 800)
    window.set_workspace("Step")
    settle()
    panel = window.stepper_panel
    for widget in (panel.samples, panel.training, panel.quiz, panel.timeline):
        assert widget.isVisible() and widget.visibleRegion().boundingRect().width() >= widget.width() - 1
    folds = [b for b in panel.findChildren(QToolButton) if b.objectName() == "qt_toolbar_ext_button"]
    assert not any(b.isVisible() for b in folds)  # no "»" that opens nothing
    menu = {a.text().replace("&", ""): a for a in window.menuBar().actions()}["Step"].menu()
    actions = {a.text().replace("&", ""): a for a in menu.actions()}
    quiz = actions["Quiz: predict each gradient"]
    assert quiz.shortcut().toString() == "Ctrl+Shift+Q" and quiz.isCheckable()
    quiz.trigger()
    assert panel.quiz.isChecked() and window.session.quiz
    panel.quiz.setChecked(False)
    assert not quiz.isChecked()
    assert actions["Training mode"].shortcut().toString() == "Ctrl+Shift+M"
    actions["Training mode"].trigger()
    assert not panel.training.isChecked()
    for name in ("Step", "Step back", "Run the forward pass", "Run the backward pass", "Apply the update",
                 "Reset", "Play", "Samples to step…", "Check gradients numerically"):
        assert actions[name].shortcut().toString(), name
    train = {a.text().replace("&", ""): a for a in
             {a.text().replace("&", ""): a for a in window.menuBar().actions()}["Train"].menu().actions()}
    assert all(a.shortcut().toString() for t, a in train.items() if t), \
        [t for t, a in train.items() if t and not a.shortcut().toString()]


def test_the_loss_axis_is_in_the_losss_own_units(window, qtbot, settle):
    import numpy as np
    curves = window.dashboard.curves
    curves.train_curve.setData(np.arange(10.0), np.linspace(0.0007, 0.0001, 10))
    curves.loss_plot.enableAutoRange()
    curves.loss_plot.vb.autoRange()
    settle()
    axis = curves.loss_plot.getAxis("left")
    assert "x0.001" not in axis.labelString() and "(x" not in axis.labelString()
    assert axis.autoSIPrefixScale == 1.0
    ticks = [t for level in axis.tickValues(*axis.range, axis.height()) for t in level[1]]
    texts = axis.tickStrings(ticks, axis.autoSIPrefixScale, ticks[1] - ticks[0] if len(ticks) > 1 else 1)
    assert all(abs(float(t.replace("−", "-"))) < 0.01 for t in texts if t), texts  # 0.0007, not 700


def test_the_window_remembers_its_workspace_and_size(qtbot, examples_dir, monkeypatch, settle):
    from PySide6.QtWidgets import QMessageBox
    from gradviz.app.main_window import MainWindow
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    first = MainWindow(str(examples_dir / "circuit_xyz.json"))
    qtbot.addWidget(first)
    first.show()
    first.resize(1100, 700)
    first.set_workspace("Step")
    settle()
    first.close()
    again = MainWindow(str(examples_dir / "circuit_xyz.json"))
    qtbot.addWidget(again)
    assert again.workspace == "Step" and (again.width(), again.height()) == (1100, 700)
    from gradviz.app import safety
    safety.settings().setValue("layout/version", 0)  # another version's layout is not restored
    third = MainWindow(str(examples_dir / "circuit_xyz.json"))
    qtbot.addWidget(third)
    assert third.workspace == "Build"
