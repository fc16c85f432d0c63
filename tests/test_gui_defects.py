"""The editor defects a new user hit, each driven as the user does it (offscreen)."""
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QAction, QKeySequence  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402

from gradviz.app.main_window import EXAMPLES, MainWindow  # noqa: E402
from gradviz_core.model import fileformat  # noqa: E402
from test_gui_editor import drag_wire, window  # noqa: E402,F401


def action(w, text):
    return next(a for a in w.findChildren(QAction) if a.text() == text)


def test_tab_through_a_field_changes_nothing(window, qtbot, examples_dir):
    window.open(examples_dir / "mlp_softmax.json")
    window.graph.build()  # weights the document holds (as if loaded with a weights file)
    w_before = window.graph.brick("reg").config["lam"]
    window.select_node("reg")
    editor = window.inspector.editors["lam"]
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key_Tab)
    assert window.undo.count() == 0 and window.undo.isClean()
    assert window.graph.brick("reg").config["lam"] == w_before
    assert window.graph.brick("fc1").weights  # nothing dropped


def test_a_replaced_form_never_edits_the_node_selected_now(window, qtbot):
    window.select_node("x")
    old = window.inspector.editors["value"]
    window.select_node("y")
    old.setText("42")
    old.editingFinished.emit()  # what a stale form did on focus-out
    assert window.graph.brick("y").config["value"] == 5.0 and window.graph.brick("x").config["value"] == -2.0
    assert window.undo.count() == 0
    from PySide6.QtWidgets import QFormLayout, QWidget
    forms = [c for c in window.inspector.children() if isinstance(c, QWidget) and c.isVisible()
             and isinstance(c.layout(), QFormLayout)]
    assert len(forms) == 1  # one form on screen, never a stack of orphans


def test_small_numbers_keep_every_digit_and_bad_text_is_marked(window, qtbot, examples_dir):
    window.open(examples_dir / "mlp_softmax.json")
    window.select_node("reg")
    editor = window.inspector.editors["lam"]
    editor.selectAll()
    qtbot.keyClicks(editor, "1e-7")
    qtbot.keyClick(editor, Qt.Key_Return)
    assert window.graph.brick("reg").config["lam"] == 1e-7
    editor = window.inspector.editors["lam"]
    assert editor.text() == "1e-07"
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key_Tab)  # click and Tab: still 1e-07, not 0
    assert window.graph.brick("reg").config["lam"] == 1e-7 and window.undo.count() == 1
    editor = window.inspector.editors["lam"]
    editor.selectAll()
    qtbot.keyClicks(editor, "abc")
    qtbot.keyClick(editor, Qt.Key_Return)
    assert "must be a number" in window.inspector.error.text()
    assert "#e03131" in editor.styleSheet() and editor.text() == "1e-07"


def test_examples_ask_first_and_open_as_untitled_copies(window, qtbot, monkeypatch):
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(1) or QMessageBox.Cancel)
    window.select_node("x")
    window.inspector.editors["value"].setText("7")
    window.inspector.editors["value"].editingFinished.emit()
    assert not window.undo.isClean()
    action(window, "Lesson 13: a ConvNet on the digits").trigger()
    assert asked and "conv1" not in window.graph  # cancelled: the work is still there
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    action(window, "Lesson 13: a ConvNet on the digits").trigger()
    assert "conv1" in window.graph and window.path is None
    assert "untitled" in window.windowTitle()
    saved = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: saved.append(1) or ("", ""))
    qtbot.keyClick(window, Qt.Key_S, Qt.ControlModifier)
    assert saved  # Ctrl+S asks where, never overwrites the shipped lesson


def test_undo_and_redo_shortcuts_are_bound_once(window):
    keys = {}
    for a in window.findChildren(QAction):
        for seq in a.shortcuts():
            keys.setdefault(seq.toString(), []).append(a.text())
    assert all(len(v) == 1 for v in keys.values()), {k: v for k, v in keys.items() if len(v) > 1}
    assert "Ctrl+Y" in keys and "Ctrl+Shift+Z" in keys


def test_save_as_adds_json_and_quit_and_window_menus_exist(window, tmp_path, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "mine"), ""))
    assert window.save_as()
    assert (tmp_path / "mine.json").exists() and window.path.name == "mine.json"
    assert action(window, "&Quit").shortcut() == QKeySequence("Ctrl+Q")
    lesson = window.docks["Lesson"]
    lesson.close()
    assert not lesson.isVisible()
    lesson.toggleViewAction().trigger()  # Window > Lesson brings it back
    assert lesson.isVisible()


def test_every_example_opens_legible_at_the_default_size(qtbot, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    for path in sorted(EXAMPLES.glob("*.json")):
        w.open_example(path)
        scale = w.view.transform().m11()
        assert scale >= 0.9, (path.name, scale)  # 10 pt text stays at 9 pt or more
        # (2 px of slack: a node's outline reaches 8 px above it, where the view may stop)
        seen = w.view.mapToScene(w.view.viewport().rect()).boundingRect().adjusted(-2, -2, 2, 2)
        whole = w.scene.itemsBoundingRect()
        if whole.width() * 0.9 <= w.view.viewport().width() and whole.height() * 0.9 <= w.view.viewport().height():
            for name, item in w.scene.nodes.items():  # a graph that fits at 90% is shown whole
                assert seen.contains(item.sceneBoundingRect()), (path.name, name)
        else:  # a deep net is legible first: it opens at 90% at its first node, and scrolls
            assert seen.contains(w.scene.nodes[w.graph.order[0]].sceneBoundingRect()), path.name
        rects = [i.sceneBoundingRect().adjusted(6, 6, -6, -6) for i in w.scene.nodes.values()]
        assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:]), path.name
        assert w.lesson.toPlainText().strip()  # the lesson note is shown beside the canvas


def test_new_opens_at_actual_size_and_added_bricks_do_not_stack(window, qtbot):
    action(window, "&New").trigger()
    assert window.view.transform().m11() == 1.0
    for _ in range(3):
        window.add_brick("Exp")
    spots = {window.graph.pos(n) for n in window.graph.nodes()}
    assert len(spots) == 3


def test_a_wire_dropped_on_a_used_input_is_refused_unless_shift_is_held(window, qtbot):
    messages = []
    window.scene.message.connect(messages.append)
    drag_wire(window, qtbot, "z", "q", "a")  # q.a already holds x
    assert window.graph.source_of("q", "a") == "x"
    assert "q.a is already connected to x" in messages[-1]


def test_a_selected_node_with_a_problem_looks_different(window, qtbot):
    from PySide6.QtGui import QImage, QPainter
    window.graph.disconnect("q", "b")  # q now has a problem
    item = window.scene.nodes["q"]

    def draw():
        img = QImage(240, 140, QImage.Format_ARGB32)
        img.fill(0)
        p = QPainter(img)
        p.translate(15, 15)
        item.paint(p, None)
        p.end()
        return img
    plain = draw()
    item.setSelected(True)
    assert draw() != plain


def test_added_bricks_land_on_free_spots_next_to_the_selection(window, qtbot):
    """Bricks added one after another never overlap (not a cascade of 40-px offsets over each
    other), and one added while a node is selected lands to its right, on the same row."""
    action(window, "&New").trigger()
    for _ in range(6):
        window.add_brick("Exp")
    rects = [i.sceneBoundingRect() for i in window.scene.nodes.values()]
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    first = window.graph.nodes()[0]
    window.select_node(first)
    before = set(window.graph.nodes())
    window.add_brick("ReLU")
    new = (set(window.graph.nodes()) - before).pop()
    a, b = window.scene.nodes[first].sceneBoundingRect(), window.scene.nodes[new].sceneBoundingRect()
    assert b.left() >= a.right() and abs(b.center().y() - a.center().y()) < 160
    assert not any(b.intersects(window.scene.nodes[n].sceneBoundingRect()) for n in before)


def test_long_problems_wrap_in_the_problems_panel(window, qtbot, examples_dir, settle):
    from gradviz_core.model.commands import SetParam
    window.resize(1280, 800)
    window.open(examples_dir / "spiral_mlp.json")
    window.scene.push(SetParam("fc2", "units", 16))
    problems = window.problems
    text = [problems.item(i).text() for i in range(problems.count())]
    assert any("fc2 gives 16 scores per sample, but the data has 3 classes" in t for t in text), text
    window.docks["Problems"].show()
    window.docks["Problems"].raise_()
    settle()  # the dock laid out in front: every posted layout request delivered
    row = next(i for i in range(problems.count()) if "16 scores" in problems.item(i).text())
    box = problems.visualItemRect(problems.item(row))
    assert box.right() <= problems.viewport().width() + 1  # within the dock, not cut at its edge
    assert box.height() > 2 * problems.fontMetrics().height()  # wrapped onto several lines


def test_a_save_to_a_folder_that_is_gone_says_so_and_keeps_the_work(window, qtbot, examples_dir, tmp_path,
                                                                     monkeypatch):
    """The file's folder was removed (a USB stick pulled) between open and save: the warning names
    the path and the missing folder, nothing is written, and the work stays unsaved, not lost."""
    window.open(examples_dir / "mlp_softmax.json")
    window.graph.build()
    window.select_node("reg")
    editor = window.inspector.editors["lam"]
    editor.setText("0.5")
    editor.editingFinished.emit()  # an edit: the document is dirty
    assert not window.undo.isClean()
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append((title, text)))
    docs = tmp_path / "docs"
    docs.mkdir()
    window.path = docs / "stick" / "net.json"
    assert window.save() is False
    assert shown and shown[0][0] == "Cannot save"
    assert f"{docs / 'stick' / 'net.json'}: cannot be written: there is no folder {docs / 'stick'}" in shown[0][1]
    assert not window.undo.isClean() and window.graph.brick("reg").config["lam"] == 0.5
    assert list(docs.iterdir()) == []
