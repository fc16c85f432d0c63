"""What the student sees, read off the screen: the widgets and the canvas are grabbed as images
and their pixels (or the painted items' text) are compared with what the engine computed. Each
test here failed on a planted bug that every model-reading test let through: the values heatmap
ignoring its channel selector, the wires' gradient labels never shown, the gradient check's badge
colours swapped, the training panel printing a wrong accuracy."""
import re

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtWidgets import QGraphicsItem  # noqa: E402

from gradviz.canvas.items import WIDTH  # noqa: E402
from gradviz.look.heat import diverging_rgb  # noqa: E402
from test_gui_editor import window  # noqa: E402,F401


def rgb(img, x: int, y: int) -> tuple[int, int, int]:
    c = QColor(img.pixel(x, y))
    return c.red(), c.green(), c.blue()


def near(a, b, tol: int = 12) -> bool:
    return all(abs(int(p) - int(q)) <= tol for p, q in zip(a, b))


def canvas_pixels(w, scene_rect: QRectF):
    """The viewport's painted pixels inside a scene rectangle: an (n, 3) array."""
    img = w.view.viewport().grab().toImage()
    r = w.view.mapFromScene(scene_rect).boundingRect().intersected(img.rect())
    return np.array([rgb(img, x, y) for x in range(r.left(), r.right() + 1) for y in range(r.top(), r.bottom() + 1)])


def share(pixels, colour: str, tol: int = 30) -> float:
    want = np.array(QColor(colour).getRgb()[:3])
    return float(np.mean(np.all(np.abs(pixels - want) <= tol, axis=1))) if len(pixels) else 0.0


def test_the_values_heatmap_paints_the_channel_the_selector_names(window, qtbot, examples_dir):
    window.open(examples_dir / "digits_convnet.json")
    qtbot.keyClick(window, Qt.Key_F5)  # the forward pass
    window.select_node("conv1")
    heat = window.values.value_map
    out = window.session.stepper.values["conv1"]
    for c in (0, 3, 7):
        heat.channel.setValue(c)
        want = diverging_rgb(np.asarray(out[0, c], np.float64))
        img = heat.view.grab().toImage()
        cells = [(i, j) for i in range(8) for j in range(8)]
        seen = []
        for i, j in cells:  # the centre of each painted cell against the colour of that value
            p = heat.view.mapFromScene(heat.image.mapToScene(QPointF(j + 0.5, i + 0.5)))
            seen.append(near(rgb(img, p.x(), p.y()), want[i, j]))
        assert all(seen), f"channel {c}: {seen.count(False)} of 64 cells painted another channel's colour"
    channels = [diverging_rgb(np.asarray(out[0, c], np.float64)) for c in range(8)]
    assert len({a.tobytes() for a in channels}) == 8  # the channels do differ, so the test can tell


def test_the_wires_carry_their_gradients_below_them_after_the_backward_pass(window, qtbot):
    for _ in range(5 + 5):  # the circuit's forward pass and its backward pass, node by node
        qtbot.keyClick(window, Qt.Key_F10)
    grad = QColor(window.scene.palette["grad"]).name()
    want = {("z", "f", "b"): "∂ 3", ("q", "f", "a"): "∂ −4"}  # df/dz = q = 3, df/dq = z = −4
    for key, text in want.items():
        label = window.scene.edges[key].grad_label
        assert label.isVisible() and label.text() == text
        painted = canvas_pixels(window, label.sceneBoundingRect())
        assert share(painted, grad, 60) > 0.03, f"{key}: no gradient-coloured text painted under the wire"
        value = window.scene.edges[key].label
        assert value.sceneBoundingRect().bottom() <= label.sceneBoundingRect().top() + 1  # value above


def test_the_gradient_check_badges_are_green_for_a_pass_and_red_for_a_failure(window, qtbot, examples_dir,
                                                                              monkeypatch):
    from gradviz_core.bricks.activations import ReLU
    window.open(examples_dir / "mlp_softmax.json")
    backward = ReLU.df
    monkeypatch.setattr(ReLU, "df", lambda self, g, x, out: 2.0 * backward(self, g, x, out))  # a wrong rule
    qtbot.keyClick(window, Qt.Key_G, Qt.ControlModifier)
    qtbot.waitUntil(lambda: window.scene.nodes["fc2"].check is not None, timeout=30000)
    window.view.centerOn(window.scene.nodes["relu1"])

    def badge(name):
        item = window.scene.nodes[name]
        window.view.ensureVisible(item)
        return canvas_pixels(window, item.mapRectToScene(QRectF(WIDTH - 76, -8, 72, 12)))

    assert window.scene.nodes["relu1"].check[0] == "fail"
    assert share(badge("relu1"), "#e03131") > 0.5  # the broken rule: red
    assert window.scene.nodes["fc2"].check[0] == "ok"
    assert share(badge("fc2"), "#2f9e44") > 0.5  # a rule that holds: green
    assert share(badge("fc2"), "#e03131") < 0.05


def test_the_training_panel_prints_the_accuracy_of_the_weights_it_trained(window, qtbot, examples_dir):
    window.open(examples_dir / "spiral_mlp.json")
    window.graph.training["epochs"] = 60
    with qtbot.waitSignal(window.train_session.finished, timeout=120000):
        window.training_panel.start.click()
    shown = re.search(r"training accuracy (\d+\.\d)%", window.training_panel.status.text())
    assert shown, window.training_panel.status.text()
    window.training_panel.keep.click()  # the trained weights into the document
    W = window.graph.weights()
    ds = window.graph.dataset()
    X, y = ds.X.reshape(len(ds.X), -1), ds.y
    hidden = np.maximum(0.0, X @ W["fc1/W"].reshape(X.shape[1], -1) + W["fc1/b"])
    scores = hidden @ W["fc2/W"].reshape(hidden.shape[1], -1) + W["fc2/b"]
    accuracy = 100 * np.mean(scores.argmax(1) == y)  # by hand, from the kept weights and the data
    assert abs(float(shown.group(1)) - accuracy) <= 0.05 + 1e-9
    assert 40 < accuracy < 100  # a run that learned something and is not at 100%: a wrong figure shows


def test_a_step_on_a_big_graph_redraws_only_the_nodes_it_changed(window, qtbot, monkeypatch):
    """On a 201-node chain, F10 repaints the node it computed (and the one it leaves), and no
    wire: a step costs the same at any size (issue 28)."""
    import json

    from gradviz.canvas.items import EdgeItem, NodeItem
    from gradviz_core.model import fileformat
    from gradviz_core.perf.sizes import chain_doc

    window.set_document(fileformat.loads(json.dumps(chain_doc(201))), None)
    qtbot.wait(50)
    refreshed, updated = [], []
    real_refresh, real_update = EdgeItem.refresh, NodeItem.update
    monkeypatch.setattr(EdgeItem, "refresh", lambda self: refreshed.append(self.dst) or real_refresh(self))
    monkeypatch.setattr(NodeItem, "update", lambda self, *a: updated.append(self.name) or real_update(self, *a))
    for _ in range(3):
        qtbot.keyClick(window, Qt.Key_F10)
    stepped = [r.node for r in window.session.stepper.records]
    assert stepped == ["x", "fc0", "t0"]
    assert not refreshed
    assert set(updated) <= set(stepped) and len(updated) <= 2 * len(stepped)
    assert window.scene.nodes["t0"].overlay_rows()[0][0] == "value"  # what the step drew on it


def _big_chain(window, qtbot, n=301):
    import json

    from gradviz_core.model import fileformat
    from gradviz_core.perf.sizes import chain_doc
    window.set_document(fileformat.loads(json.dumps(chain_doc(n))), None)
    qtbot.wait(50)


def _seen(window):
    return window.view.mapToScene(window.view.viewport().rect()).boundingRect()


def test_ctrl_f_finds_a_node_by_name_or_brick_and_goes_there(window, qtbot):
    _big_chain(window, qtbot)
    assert not _seen(window).intersects(window.scene.nodes["t120"].sceneBoundingRect())  # far off
    qtbot.keyClick(window, Qt.Key_F, Qt.ControlModifier)
    bar = window.view.find_bar
    assert bar.isVisible() and bar.hasFocus()
    qtbot.keyClicks(bar, "nothing-like-it")
    qtbot.keyClick(bar, Qt.Key_Return)
    assert bar.isVisible() and "no node" in bar.toolTip()  # says so, and stays open
    bar.clear()
    qtbot.keyClicks(bar, "t120")
    qtbot.keyClick(bar, Qt.Key_Return)
    assert not bar.isVisible()
    assert [i.name for i in window.scene.selectedItems()] == ["t120"]
    assert _seen(window).contains(window.scene.nodes["t120"].sceneBoundingRect())
    assert "t120" in window.inspector.title.text()  # and the inspector shows it
    qtbot.keyClick(window, Qt.Key_F, Qt.ControlModifier)  # a brick's name finds its first node
    qtbot.keyClicks(bar, "SoftmaxCross")
    qtbot.keyClick(bar, Qt.Key_Return)
    assert [i.name for i in window.scene.selectedItems()] == ["loss"]


def test_the_overview_map_shows_the_whole_big_graph_and_moves_the_view(window, qtbot):
    assert not window.view.overview.isVisible()  # the circuit fits: no map
    _big_chain(window, qtbot)
    overview = window.view.overview
    assert overview.isVisible()
    img = overview.grab().toImage()
    from gradviz.look.colors import FAMILY_COLORS
    teal = QColor(FAMILY_COLORS["Layers"])
    painted = sum(near(rgb(img, x, y), (teal.red(), teal.green(), teal.blue()), 40)
                  for x in range(0, img.width(), 2) for y in range(0, img.height(), 2))
    assert painted > 20, "no node drawn on the map"
    last = window.scene.nodes["loss"].sceneBoundingRect()
    assert not _seen(window).intersects(last)
    frame = overview.visible_rect()
    # a click where the map draws the last node brings the view there
    s, ox, oy = overview._fit()
    at = QPointF(ox + (last.center().x() - overview.source.left()) * s, oy + (last.center().y() - overview.source.top()) * s)
    qtbot.mouseClick(overview, Qt.LeftButton, pos=at.toPoint())
    assert _seen(window).intersects(last)
    assert overview.visible_rect().top() > frame.top()  # the frame followed the view
    window.overview_action.setChecked(False)  # View > Overview map: off
    assert not overview.isVisible()


def test_folding_shows_each_residual_block_as_one_node_and_a_step_inside_unfolds_it(window, qtbot):
    from gradviz.canvas.items import BLOCK_COLOUR
    from test_big_graphs import residual_net
    window.set_document(residual_net(2), None)
    qtbot.wait(50)
    scene = window.scene
    spread = scene.itemsBoundingRect()
    places = {n: window.graph.pos(n) for n in window.graph.nodes()}
    qtbot.keyClick(window, Qt.Key_B, Qt.ControlModifier | Qt.ShiftModifier)  # View > Fold blocks
    assert sorted(scene.blocks) == ["add1", "add2"]
    assert not any(scene.nodes[n].isVisible() for n in ("c1a", "r1a", "c1b", "add1"))
    block = scene.blocks["add1"]
    assert block.isVisible() and "168 parameters" == block.lines[2] and block.lines[0] == "4 nodes, from r0"
    window.view.centerOn(block)
    header = block.mapRectToScene(QRectF(20, 4, 120, 12))
    assert share(canvas_pixels(window, header), QColor(BLOCK_COLOUR).name(), 30) > 0.3  # painted
    # the wires from r0 and into r1 end on the block's ports; the wires inside are hidden
    assert scene.edges[("r0", "c1a", "x")].path().pointAtPercent(1.0) == block.in_port_pos("x")
    assert scene.edges[("add1", "r1", "x")].path().pointAtPercent(0.0) == block.out_port_pos()
    assert not scene.edges[("c1a", "r1a", "x")].isVisible()
    # the folded graph is laid out anew: shorter, nothing on top of anything, the document unmoved
    shown = [i for i in [*scene.nodes.values(), *scene.blocks.values()] if i.isVisible()]
    rects = [i.sceneBoundingRect().adjusted(8, 8, -8, -8) for i in shown]
    assert sum(r.height() * r.width() for r in rects) and not any(
        a.intersects(b) for k, a in enumerate(rects) for b in rects[k + 1:])
    folded = QRectF()
    for r in rects:
        folded = folded.united(r)
    assert folded.height() < spread.height()
    assert {n: window.graph.pos(n) for n in places} == places and window.undo.isClean()  # not an edit
    for _ in range(4):  # x, stem, r0, then the block's first node: the step unfolds it
        qtbot.keyClick(window, Qt.Key_F10)
    assert "add1" not in scene.blocks and scene.nodes["c1a"].isVisible() and "add2" in scene.blocks
    assert scene.edges[("c1a", "r1a", "x")].isVisible()
    qtbot.keyClick(window, Qt.Key_U, Qt.ControlModifier | Qt.ShiftModifier)  # View > Unfold all
    assert not scene.blocks and all(item.isVisible() for item in scene.nodes.values())
    assert all((item.pos().x(), item.pos().y()) == window.graph.pos(n) for n, item in scene.nodes.items())


def test_folds_follow_edits_and_find_opens_a_folded_block(window, qtbot):
    """An edit inside a folded block unfolds it (a node taken away) or updates what it shows (a
    setting changed); undo brings the fold's view back in order; Find opens the block a node is
    in; a folded view's nodes do not move (dragging is for the document's layout)."""
    from gradviz_core.model.commands import RemoveNodes, SetParam
    from test_big_graphs import residual_net
    window.set_document(residual_net(2), None)
    scene = window.scene
    assert scene.fold_blocks() == 2
    window.scene.push(SetParam("c1a", "filters", 5))  # the block's parameters change
    assert "add1" in scene.blocks and scene.blocks["add1"].lines[2] == f"{window.graph.param_count('c1a') + window.graph.param_count('c1b'):,} parameters"
    assert not scene.nodes["c2a"].flags() & QGraphicsItem.ItemIsMovable
    window.scene.push(RemoveNodes(["r2a"]))  # a node of add2 taken away: add2 unfolds, no error
    assert "add2" not in scene.blocks and "r2a" not in scene.nodes and scene.nodes["c2a"].isVisible()
    window.undo.undo()
    window.undo.undo()
    assert "r2a" in scene.nodes and "add1" in scene.blocks  # still folded, and consistent
    assert scene.blocks["add1"].lines[2] == "168 parameters"
    qtbot.keyClick(window, Qt.Key_F, Qt.ControlModifier)
    qtbot.keyClicks(window.view.find_bar, "r1a")
    qtbot.keyClick(window.view.find_bar, Qt.Key_Return)
    assert "add1" not in scene.blocks and [i.name for i in scene.selectedItems()] == ["r1a"]
    assert _seen(window).contains(scene.nodes["r1a"].sceneBoundingRect())
