"""The editor driven by gestures (offscreen): palette, keys, inspector, port-to-port drags, undo."""
import json

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from gradviz.app.main_window import MainWindow  # noqa: E402
from gradviz_core.model import fileformat  # noqa: E402
from gradviz_core.model.commands import MoveNodes, AddNode  # noqa: E402


@pytest.fixture
def window(qtbot, examples_dir, monkeypatch):
    # closing with unsaved changes asks; in a test, answer "discard" instead of blocking
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    w = MainWindow(str(examples_dir / "circuit_xyz.json"))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.view.fit()
    return w


def view_point(w, scene_point):
    return w.view.mapFromScene(scene_point)


def drag_wire(w, qtbot, src: str, dst: str, port: str) -> None:
    """Press on src's output port, move to dst's input port, release: the user's gesture."""
    a = view_point(w, w.scene.nodes[src].out_port_pos())
    b = view_point(w, w.scene.nodes[dst].in_port_pos(port))
    vp = w.view.viewport()
    qtbot.mousePress(vp, Qt.LeftButton, pos=a)
    qtbot.mouseMove(vp, pos=b)
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=b)


def test_palette_double_click_adds_and_undo_redo(window, qtbot):
    tree = window.palette.tree
    item = tree.findItems("Exp", Qt.MatchRecursive)[0]
    rect = tree.visualItemRect(item)
    qtbot.mouseClick(tree.viewport(), Qt.LeftButton, pos=rect.center())
    qtbot.mouseDClick(tree.viewport(), Qt.LeftButton, pos=rect.center())
    assert "exp1" in window.graph and "exp1" in window.scene.nodes
    window.undo.undo()
    assert "exp1" not in window.graph and "exp1" not in window.scene.nodes
    window.undo.redo()
    assert "exp1" in window.scene.nodes


def test_palette_search_filters(window):
    window.palette.search.setText("relu")
    visible = [window.palette.tree.topLevelItem(i).child(j).text(0)
               for i in range(window.palette.tree.topLevelItemCount())
               for j in range(window.palette.tree.topLevelItem(i).childCount())
               if not window.palette.tree.topLevelItem(i).child(j).isHidden()]
    assert set(visible) >= {"ReLU", "LeakyReLU"} and "Conv2D" not in visible


def test_delete_key_and_ctrl_z(window, qtbot):
    window.select_node("q")
    qtbot.keyClick(window.view, Qt.Key_Delete)
    assert "q" not in window.graph and window.graph.source_of("f", "a") is None
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    assert "q" in window.graph and window.graph.source_of("f", "a") == "q"


def test_drag_from_output_port_to_input_port(window, qtbot, settle):
    window.scene.push(AddNode("Exp", "e", pos=(540, 300)))
    window.view.fit()
    settle()  # what the edit and the fit posted (the scene's growth, the scroll bars), delivered
    drag_wire(window, qtbot, "f", "e", "x")
    assert window.graph.source_of("e", "x") == "f"


def test_a_bad_connection_is_refused_with_the_reason(window, qtbot):
    messages = []
    window.scene.message.connect(messages.append)
    drag_wire(window, qtbot, "f", "q", "a")
    assert window.graph.source_of("q", "a") == "x"
    assert messages and "would close a cycle" in messages[-1]
    q = window.scene.nodes["q"]
    assert "would close a cycle" in q.refusal and q.toolTip().startswith("Refused: connecting f → q")
    q.clear_refusal()
    assert not q.toolTip().startswith("Refused")


def test_inspector_edit_is_undoable_and_a_bad_value_shows_on_the_node(window, qtbot, examples_dir):
    window.open(examples_dir / "digits_convnet.json")
    window.select_node("conv1")
    stride = window.inspector.editors["stride"]
    stride.selectAll()
    qtbot.keyClicks(stride, "2")
    qtbot.keyClick(stride, Qt.Key_Return)
    assert window.graph.brick("conv1").config["stride"] == 2
    item = window.scene.nodes["conv1"]
    assert item.problem and "is not a whole number" in item.toolTip()
    assert window.problems.count() >= 1 and "conv1" in window.problems.item(0).text()
    window.undo.undo()
    assert window.graph.brick("conv1").config["stride"] == 1 and not window.scene.nodes["conv1"].problem


def test_save_reopen_gives_the_same_graph(window, tmp_path):
    before = fileformat.to_dict(window.graph)
    path = tmp_path / "c.json"
    window.path = path
    assert window.save() and window.undo.isClean()
    window.open(path)
    assert fileformat.to_dict(window.graph) == before


def test_broken_file_leaves_the_document_untouched(window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "gradviz-graph", "version": 1, "nodes": [')
    before = fileformat.to_dict(window.graph)
    assert window.open(bad) is False
    assert fileformat.to_dict(window.graph) == before and "not valid JSON" in shown[0]


def test_inspector_shows_only_the_selected_node(window):
    window.select_node("q")
    previous = window.inspector.form_host
    window.select_node("x")
    assert previous.isHidden() and not window.inspector.form_host.isHidden()
    assert set(window.inspector.editors) == {"value", "trainable"}


def test_auto_layout_is_one_undoable_step(window, qtbot, examples_dir):
    window.open(examples_dir / "digits_convnet.json")
    window.scene.push(MoveNodes({"conv1": (window.graph.pos("conv1"), (900.0, 900.0))}))
    before = {n: window.graph.pos(n) for n in window.graph.nodes()}
    qtbot.keyClick(window, Qt.Key_L, Qt.ControlModifier)
    after = {n: window.graph.pos(n) for n in window.graph.nodes()}
    assert after != before
    assert after["conv1"][0] > after["x"][0] and after["conv1"][1] == after["x"][1]
    # a long chain wraps into rows of three columns, top to bottom
    assert after["pool1"][1] > after["x"][1] and after["pool1"][0] == after["x"][0]
    assert after["loss"][1] > after["fc"][1]
    assert after["y"][1] == after["fc"][1] + 100  # the target sits under the layer whose scores it judges
    window.undo.undo()
    assert {n: window.graph.pos(n) for n in window.graph.nodes()} == before


def test_export_png_and_svg(window, tmp_path):
    window.export_image(tmp_path / "c.png")
    window.export_image(tmp_path / "c.svg")
    from PySide6.QtGui import QImage
    img = QImage(str(tmp_path / "c.png"))
    assert img.width() > 400 and img.height() > 200
    assert "<svg" in (tmp_path / "c.svg").read_text()


def test_kernels_warm_up_in_the_background(qtbot, monkeypatch):
    from gradviz.sessions.worker import KernelWarmUp
    monkeypatch.setattr(KernelWarmUp, "_started", False)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    w = MainWindow()
    qtbot.addWidget(w)
    assert w.kernels_label.text() == "Compiling kernels in the background…"  # the window is already up
    qtbot.waitUntil(lambda: w.kernels_label.text().startswith("Kernels ready ("), timeout=240_000)


def test_autosave_and_recovery_after_a_crash(window, qtbot, monkeypatch, examples_dir):
    from gradviz.app import safety
    window.scene.push(AddNode("Exp", "lost_work"))
    window.save_recovery()  # what the 30 s timer does
    assert window.autosave.interval() == 30_000 and window.autosave.isActive()
    # a crash: the window goes away without closeEvent; a new session starts
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    again = MainWindow()
    qtbot.addWidget(again)
    assert "lost_work" in again.graph and not again.undo.isClean()
    assert again.path == examples_dir / "circuit_xyz.json" or again.path.name == "circuit_xyz.json"
    assert safety.pending_recovery() is None


def test_open_recent_remembers_files(window, examples_dir):
    from gradviz.app import safety
    window.open(examples_dir / "mlp_softmax.json")
    recent = safety.recent_files()
    assert recent[0].endswith("mlp_softmax.json") and any(f.endswith("circuit_xyz.json") for f in recent)
    window._fill_recent()
    assert [a.text() for a in window.recent_menu.actions()] == recent


def test_copy_paste_keeps_internal_edges_and_is_one_undo(window, qtbot):
    for n in ("x", "y", "q"):
        window.scene.nodes[n].setSelected(True)
    qtbot.keyClick(window, Qt.Key_C, Qt.ControlModifier)
    qtbot.keyClick(window, Qt.Key_V, Qt.ControlModifier)
    new = [n for n in window.graph.nodes() if n not in ("x", "y", "z", "q", "f")]
    assert len(new) == 3
    q2 = next(n for n in new if window.graph.brick(n).type_name == "Add")
    assert {window.graph.source_of(q2, "a"), window.graph.source_of(q2, "b")} <= set(new)
    window.undo.undo()
    assert sorted(window.graph.nodes()) == ["f", "q", "x", "y", "z"]


def test_dropping_a_brick_from_the_palette(window):
    from PySide6.QtCore import QByteArray, QMimeData, QPointF
    from PySide6.QtGui import QDropEvent
    from gradviz.canvas.scene import BRICK_MIME
    item = window.palette.tree.findItems("Sigmoid", Qt.MatchRecursive)[0]
    mime = window.palette.tree.mimeData([item])
    assert bytes(mime.data(BRICK_MIME)).decode() == "Sigmoid"
    event = QDropEvent(QPointF(100, 100), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.view.dropEvent(event)
    assert "sigmoid1" in window.graph


def test_dark_theme_is_app_wide(window):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication
    window.set_theme("dark")
    assert QApplication.instance().palette().color(QPalette.Window).name() == "#2b2d31"
    assert window.scene.backgroundBrush().color().name() == "#1e1f22"
    window.set_theme("light")


def test_canvas_benchmark_runs(qtbot):
    from gradviz.bench.canvas import measure
    r = measure(40, frames=4)  # timings are reported by the benchmark, never asserted here
    assert r["nodes"] == 40 and r["zoom_ms_per_frame"] > 0 and r["pan_ms_per_frame"] > 0


def test_middle_button_drag_pans_and_wheel_zooms(window, qtbot):
    from PySide6.QtCore import QPoint
    window.view.scale(4, 4)
    bar = window.view.horizontalScrollBar()
    start = bar.value()
    vp = window.view.viewport()
    qtbot.mousePress(vp, Qt.MiddleButton, pos=QPoint(400, 300))
    qtbot.mouseMove(vp, pos=QPoint(300, 300))
    qtbot.mouseRelease(vp, Qt.MiddleButton, pos=QPoint(300, 300))
    assert bar.value() == start + 100
    scale = window.view.transform().m11()
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    wheel = QWheelEvent(QPointF(300, 300), QPointF(300, 300), QPoint(), QPoint(0, 120), Qt.NoButton,
                        Qt.NoModifier, Qt.NoScrollPhase, False)
    window.view.wheelEvent(wheel)
    assert window.view.transform().m11() == pytest.approx(scale * 1.15)


def test_every_brick_has_an_icon_with_its_symbol(window):
    from gradviz_core import brick_types, get_brick_class
    # the symbol is declared on the brick, so a new brick needs only its own module
    assert all(get_brick_class(t).symbol for t in brick_types())
    tree = window.palette.tree
    for i in range(tree.topLevelItemCount()):
        for j in range(tree.topLevelItem(i).childCount()):
            icon = tree.topLevelItem(i).child(j).icon(0)
            assert not icon.isNull() and icon.availableSizes()


def test_dragging_a_node_moves_it_in_the_model_and_undo_moves_it_back(window, qtbot):
    item = window.scene.nodes["z"]
    start = window.graph.pos("z")
    grip = view_point(window, item.pos() + QPointF(60, 30))  # the body, not a port
    vp = window.view.viewport()
    qtbot.mousePress(vp, Qt.LeftButton, pos=grip)
    qtbot.mouseMove(vp, pos=grip + QPoint(40, 25))
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=grip + QPoint(40, 25))
    moved = window.graph.pos("z")
    assert moved != start and window.undo.undoText().startswith("move z")
    window.undo.undo()
    assert window.graph.pos("z") == start and (item.pos().x(), item.pos().y()) == start


def test_clicking_a_problem_selects_its_node(window, qtbot):
    window.graph.disconnect("f", "b")
    assert window.problems.count() == 1
    rect = window.problems.visualItemRect(window.problems.item(0))
    qtbot.mouseClick(window.problems.viewport(), Qt.LeftButton, pos=rect.center())
    assert window.scene.nodes["f"].isSelected() and window.inspector.node == "f"
