"""The editor's acceptance test: build graphs by gestures, save, reopen, undo and redo them."""
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QAction  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from gradviz.app.main_window import MainWindow  # noqa: E402
from gradviz_core.model import fileformat  # noqa: E402
from gradviz_core.runs.stepper import Stepper  # noqa: E402
from test_gui_editor import drag_wire  # noqa: E402


@pytest.fixture
def empty(qtbot, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    next(a for a in w.findChildren(QAction) if a.text() == "&New").trigger()  # File > New
    assert w.graph.nodes() == []
    return w


def add(w, qtbot, type_name):
    tree = w.palette.tree
    item = tree.findItems(type_name, Qt.MatchRecursive)[0]
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    before = set(w.graph.nodes())
    qtbot.mouseClick(tree.viewport(), Qt.LeftButton, pos=rect.center())
    qtbot.mouseDClick(tree.viewport(), Qt.LeftButton, pos=rect.center())
    [name] = set(w.graph.nodes()) - before
    return name


def type_into(w, qtbot, node, param, text):
    w.select_node(node)
    editor = w.inspector.editors[param]
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key_Return)


def layout(w, qtbot):
    qtbot.keyClick(w, Qt.Key_L, Qt.ControlModifier)
    w.view.fit()


def round_trip(w, qtbot, tmp_path):
    built = fileformat.to_dict(w.graph)
    w.path = tmp_path / "built.json"
    qtbot.keyClick(w, Qt.Key_S, Qt.ControlModifier)
    assert w.undo.isClean()
    w.open(tmp_path / "built.json")
    assert fileformat.to_dict(w.graph) == built


def test_build_the_circuit_by_gestures(empty, qtbot, tmp_path):
    w = empty
    x, y, z = (add(w, qtbot, "Constant") for _ in range(3))
    q, f = add(w, qtbot, "Add"), add(w, qtbot, "Multiply")
    for node, value in ((x, "-2"), (y, "5"), (z, "-4")):
        type_into(w, qtbot, node, "value", value)
    layout(w, qtbot)
    for src, dst, port in ((x, q, "a"), (y, q, "b"), (q, f, "a"), (z, f, "b")):
        drag_wire(w, qtbot, src, dst, port)
        layout(w, qtbot)
    assert w.graph.problems == []
    s = Stepper(w.graph.clone())
    s.run_all()
    assert float(s.values[f]) == -12 and float(s.grads[x]) == -4 and float(s.grads[z]) == 3
    built = fileformat.to_dict(w.graph)
    steps = w.undo.count()
    for _ in range(steps):
        w.undo.undo()
    assert w.graph.nodes() == []
    for _ in range(steps):
        w.undo.redo()
    assert fileformat.to_dict(w.graph) == built
    round_trip(w, qtbot, tmp_path)


def test_build_a_small_convnet_by_gestures(empty, qtbot, tmp_path):
    w = empty
    w.graph.set_data({"source": "digits"})  # the data panel is not built yet
    chain = [add(w, qtbot, t) for t in ("Input", "Conv2D", "ReLU", "MaxPool2D", "Flatten", "Linear")]
    y, loss = add(w, qtbot, "Target"), add(w, qtbot, "SoftmaxCrossEntropy")
    type_into(w, qtbot, chain[1], "padding", "1")
    type_into(w, qtbot, chain[5], "units", "10")
    layout(w, qtbot)
    for a, b in zip(chain, chain[1:]):
        drag_wire(w, qtbot, a, b, "x")
        layout(w, qtbot)
    drag_wire(w, qtbot, chain[-1], loss, "x")
    layout(w, qtbot)
    drag_wire(w, qtbot, y, loss, "target")
    assert w.graph.problems == []
    assert w.graph.shapes[chain[3]] == (None, 8, 4, 4) and w.graph.param_count(chain[5]) == 128 * 10 + 10
    built = fileformat.to_dict(w.graph)
    steps = w.undo.count()
    for _ in range(steps):
        w.undo.undo()
    for _ in range(steps):
        w.undo.redo()
    assert fileformat.to_dict(w.graph) == built
    round_trip(w, qtbot, tmp_path)
