"""The node editor's scene. It mirrors the core graph: every core event triggers a sync, and
every gesture becomes a core command on the undo stack."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QGraphicsScene, QGraphicsView, QMenu

import numpy as np

from gradviz.canvas.items import BlockItem, EdgeItem, NodeItem
from gradviz.look.heat import num
from gradviz.sessions.undo import push_command
from gradviz_core.model.commands import Connect, MoveNodes, RemoveNodes
from gradviz_core.errors import GradvizError

THEMES = {
    "light": {"background": "#f4f5f7", "node": "#ffffff", "text": "#222222", "edge": "#6b7280", "port": "#dde3ea",
              "muted": "#6b7280", "value": "#1864ab", "grad": "#c2255c", "active": "#f59f00"},
    "dark": {"background": "#1e1f22", "node": "#2b2d31", "text": "#e6e6e6", "edge": "#9aa0a6", "port": "#44474d",
             "muted": "#9aa0a6", "value": "#74c0fc", "grad": "#faa2c1", "active": "#fcc419"},
}


class GraphScene(QGraphicsScene):
    message = Signal(str)  # a refused gesture, with the core's reason
    run_to = Signal(str)   # "run to here" on a node: a breakpoint

    def __init__(self, graph, undo_stack, theme: str = "light") -> None:
        super().__init__()
        self.undo_stack = undo_stack
        self.palette = THEMES[theme]
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[tuple, EdgeItem] = {}
        #: folded blocks: their items by name, and the block each folded node is in
        self.blocks: dict[str, BlockItem] = {}
        self.folded: dict[str, str] = {}
        #: while blocks are folded, where each shown node and block is drawn (the folded graph
        #: laid out); empty when nothing is folded: every node where the document puts it
        self.view_pos: dict[str, tuple[float, float]] = {}
        self._drag_from: str | None = None
        self._rubber: QGraphicsPathItem | None = None
        self.graph = None
        self.set_graph(graph)

    def set_graph(self, graph) -> None:
        if self.graph is not None:
            self.graph.events.unsubscribe("*", self._on_event)
        self.graph = graph
        graph.events.subscribe("*", self._on_event)
        for item in list(self.nodes.values()) + list(self.edges.values()) + list(self.blocks.values()):
            self.removeItem(item)
        self.nodes, self.edges, self.blocks, self.folded, self.view_pos = {}, {}, {}, {}, {}
        self.sync()

    def set_theme(self, theme: str) -> None:
        self.palette = THEMES[theme]
        self.setBackgroundBrush(QColor(self.palette["background"]))
        self.sync()

    # ---- the view follows the model --------------------------------------------------------
    def _on_event(self, event: str, **payload) -> None:
        if event == "analyzed":
            self.show_check(None)  # a check of another graph: gone with the edit
        if event in ("analyzed", "node_moved"):
            self.sync()

    def sync(self) -> None:
        g = self.graph
        self.setBackgroundBrush(QColor(self.palette["background"]))
        for name in [n for n in self.nodes if n not in g]:
            self.removeItem(self.nodes.pop(name))
        want = {(e.src, e.dst, e.port) for e in g.edges()}
        for key in [k for k in self.edges if k not in want]:  # before any node moves and redraws them
            self.removeItem(self.edges.pop(key))
        added = False
        for name in g.nodes():
            if name not in self.nodes:
                self.nodes[name] = NodeItem(self, name)
                self.addItem(self.nodes[name])
                added = True
        if self.blocks:
            self._refresh_blocks()
        if self.blocks and added:  # a node added to a folded view takes its place in the folded layout
            self._relayout()
        for item in self.nodes.values():
            item.refresh()
        for key in want:
            if key not in self.edges:
                self.edges[key] = EdgeItem(self, *key)
                self.addItem(self.edges[key])
            self.edges[key].refresh()

    # ---- folded blocks ---------------------------------------------------------------------
    def anchor(self, name: str):
        """The item a wire to or from node ``name`` ends on: its block's when it is folded."""
        block = self.folded.get(name)
        return self.blocks[block] if block is not None else self.nodes[name]

    def fold_blocks(self) -> int:
        """View > Fold blocks: every residual block, inception module and dense layer the graph
        repeats (``gradviz_core.model.blocks``) becomes one node; -> how many were folded."""
        from gradviz_core.model.blocks import find_blocks
        done = 0
        for block in find_blocks(self.graph):
            if block.name not in self.blocks and not any(n in self.folded for n in block.nodes):
                item = BlockItem(self, block)
                self.addItem(item)
                self.blocks[block.name] = item
                for n in block.nodes:
                    self.folded[n] = block.name
                    self.nodes[n].setVisible(False)
                    self.nodes[n].setSelected(False)
                done += 1
        self._relayout()
        return done

    def unfold(self, name: str) -> None:
        item = self.blocks.pop(name, None)
        if item is None:
            return
        for n in item.block.nodes:
            self.folded.pop(n, None)
            if n in self.nodes:
                self.nodes[n].setVisible(True)
        self.removeItem(item)
        self._relayout()

    def _refresh_blocks(self) -> None:
        """After an edit: a folded block that is still one shows its new shape and parameters; one
        that an edit broke (a node taken away, a wire changed) unfolds."""
        from gradviz_core.model.blocks import find_blocks
        now = {b.name: b for b in find_blocks(self.graph)}
        for name, item in list(self.blocks.items()):
            block = now.get(name)
            if block is None or block.nodes != item.block.nodes:
                self.unfold(name)
            elif block != item.block:
                item.set_block(block)

    def reveal(self, name: str) -> None:
        """Show node ``name``: the folded block it is in unfolds."""
        if name in self.folded:
            self.unfold(self.folded[name])

    def unfold_all(self) -> None:
        for name in list(self.blocks):
            self.unfold(name)

    def shown_rect(self) -> QRectF:
        """The canvas's drawn part: every shown node and block (a folded block's nodes are not)."""
        if not self.blocks:
            return self.itemsBoundingRect()
        rect = QRectF()
        for item in [*self.nodes.values(), *self.blocks.values()]:
            if item.isVisible():
                rect = rect.united(item.sceneBoundingRect())
        return rect

    def _relayout(self) -> None:
        """Place the shown nodes and blocks: the folded graph laid out, or the document's places."""
        from gradviz_core.model.blocks import folded_positions
        self.view_pos = folded_positions(self.graph, [b.block for b in self.blocks.values()]) if self.blocks else {}
        for name, item in self.nodes.items():
            if name in self.graph:  # (an edit may have taken it away: sync removes its item)
                item.setPos(*(self.view_pos.get(name) or self.graph.pos(name)))
            # a folded view is a view: its nodes move in the document's layout only (unfold to drag)
            item.setFlag(QGraphicsItem.ItemIsMovable, not self.blocks)
        for name, item in self.blocks.items():
            item.setPos(*self.view_pos.get(name, (item.pos().x(), item.pos().y())))
        for edge in self.edges.values():
            edge.refresh()
        # the scroll bars reach the shown graph, not where the folded nodes wait
        self.setSceneRect(self.shown_rect().adjusted(-300, -300, 300, 300) if self.blocks else QRectF())

    def show_step(self, stepper) -> None:
        """Draw a stepper's state on the canvas: each computed node's value, each gradient the
        backward pass has reached, the active node; on a scalar circuit, every wire's value
        above it and its gradient below it. None clears it all."""
        values = stepper.values if stepper else {}
        grads = stepper.grads if stepper else {}
        contributions = stepper.contributions if stepper else {}
        last = stepper.records[-1] if stepper and stepper.records else None
        if last is not None and last.node in self.folded:  # a step inside a block unfolds it
            self.unfold(self.folded[last.node])
        objective = (stepper.program.objective[0] if stepper and len(stepper.program.objective) == 1 else "L")
        for name, item in self.nodes.items():
            overlay = {"objective": objective} if name in values else {}
            if name in values:
                overlay["value"] = values[name]
            if name in grads and np.issubdtype(np.asarray(grads[name]).dtype, np.floating):
                overlay["grad"] = grads[name]
            if last is not None and last.node == name:
                overlay["active"] = last.phase
            item.set_overlay(overlay)
        scalar = bool(values) and all(np.ndim(v) == 0 for v in values.values())
        for (src, dst, port), edge in self.edges.items():
            g = contributions.get((src, dst, port))
            text = num(values[src]) if scalar and src in values else ""
            grad_text = f"∂ {num(g)}" if scalar and g is not None and np.ndim(g) == 0 else ""
            if (text, grad_text) != (edge.text, edge.grad_text):  # a step redraws what it changed
                edge.text, edge.grad_text = text, grad_text
                edge.refresh()

    def set_warning(self, node: str, message: str) -> None:
        """A training warning on its node (several are joined)."""
        item = self.nodes.get(node)
        if item is not None and message not in item.warning:
            item.set_warning("\n".join(filter(None, (item.warning, message))))

    def clear_warnings(self) -> None:
        for item in self.nodes.values():
            item.set_warning("")

    def show_check(self, report) -> None:
        """Colour each checked node by its gradient check: green passed, amber explained by a
        kink, red failed; the relative error is written on the node. None clears it."""
        failed = set(report.failed()) if report else set()
        for name, item in self.nodes.items():
            c = report.nodes.get(name) if report else None
            item.set_check(None if c is None else ("fail" if name in failed else "kink" if not all(
                i.ok(report.tol) for i in c.items) else "ok", c.error))

    def node_dragged(self, item: NodeItem) -> None:
        for (src, dst, _), edge in self.edges.items():
            if item.name in (src, dst):
                edge.refresh()

    # ---- gestures ---------------------------------------------------------------------------
    def push(self, command) -> bool:
        try:
            push_command(self.undo_stack, self.graph, command)
            return True
        except GradvizError as exc:
            self.message.emit(str(exc))
            return False

    def node_at(self, pos: QPointF) -> NodeItem | None:
        for item in self.items(pos):
            if isinstance(item, NodeItem):
                return item
        return None

    def mousePressEvent(self, event) -> None:
        node = self.node_at(event.scenePos())
        hit = node.port_at(event.scenePos()) if node else None
        if event.button() == Qt.LeftButton and hit and hit[0] == "out":
            self._drag_from = node.name
            self._rubber = QGraphicsPathItem()
            self._rubber.setPen(QPen(QColor(self.palette["edge"]), 2, Qt.DashLine))
            self.addItem(self._rubber)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._drag_from:
            path = QPainterPath(self.nodes[self._drag_from].out_port_pos())
            path.lineTo(event.scenePos())
            self._rubber.setPath(path)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._drag_from:
            src, self._drag_from = self._drag_from, None
            self.removeItem(self._rubber)
            node = self.node_at(event.scenePos())
            hit = node.port_at(event.scenePos()) if node else None
            if node and hit and hit[0] == "in":
                reason = self.graph.connection_error(src, node.name, hit[1])
                held = self.graph.source_of(node.name, hit[1])
                if not reason and held is not None and held != src and not event.modifiers() & Qt.ShiftModifier:
                    reason = (f"{node.name}.{hit[1]} is already connected to {held}; drop with Shift held "
                              "to replace that edge, or delete it first")
                if reason:  # an incompatible port refuses the drop and says why, on the node too
                    node.show_refusal(reason)
                    self.message.emit(reason)
                else:
                    self.push(Connect(src, node.name, hit[1]))
            return
        super().mouseReleaseEvent(event)
        moves = {}
        for name, item in self.nodes.items():
            if name in self.view_pos or name in self.folded:
                continue  # a folded view's places are not the document's (its nodes do not move)
            old = self.graph.pos(name)
            new = (item.pos().x(), item.pos().y())
            if (abs(old[0] - new[0]) > 0.5 or abs(old[1] - new[1]) > 0.5):
                moves[name] = (old, new)
        if moves:
            self.push(MoveNodes(moves))

    def contextMenuEvent(self, event) -> None:
        node = self.node_at(event.scenePos())
        if node is None:
            return super().contextMenuEvent(event)
        menu = QMenu()
        menu.addAction(f"Run to here ({node.name})", lambda n=node.name: self.run_to.emit(n))
        menu.exec(event.screenPos())

    def delete_selected(self) -> None:
        names = [i.name for i in self.selectedItems() if isinstance(i, NodeItem)]
        if names:
            self.push(RemoveNodes(names))


BRICK_MIME = "application/x-gradviz-brick"


class GraphView(QGraphicsView):
    """Zoom around the cursor with the wheel, pan by dragging with the middle button (or the
    scroll bars), F fits everything, and bricks dropped from the palette."""

    brick_dropped = Signal(str, QPointF)  # type name, scene position

    def __init__(self, scene: GraphScene) -> None:
        super().__init__(scene)
        self.setAcceptDrops(True)
        self._pan_from = None
        self.setRenderHints(self.renderHints())
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        from gradviz.canvas.navigate import FindBar, OverviewMap
        self.find_bar = FindBar(self)
        self.find_bar.chosen.connect(self.go_to)
        self.overview = OverviewMap(self)

    # ---- getting around ------------------------------------------------------------------------
    def show_find(self) -> None:
        """Edit > Find node (Ctrl+F): the find bar over the canvas."""
        self.find_bar.open(self.scene().graph)

    def go_to(self, name: str) -> None:
        """Select node ``name`` and bring it to the middle of the view, at a legible zoom."""
        self.scene().reveal(name)  # a node inside a folded block: the block opens
        item = self.scene().nodes.get(name)
        if item is None:
            return
        if self.transform().m11() < self.MIN_FIT:
            self.resetTransform()
            self.scale(1.0, 1.0)
        self.scene().clearSelection()
        item.setSelected(True)
        self.centerOn(item)
        self.overview.follow()

    def set_overview(self, on: bool) -> None:
        """View > Overview map: shown while the graph is larger than the view."""
        self.overview.wanted = bool(on)
        self.overview.follow()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.find_bar.move(12, 10)
        self.find_bar.resize(min(480, self.viewport().width() - 24), self.find_bar.sizeHint().height())
        vp = self.viewport()
        self.overview.move(vp.width() - self.overview.width() - 10, vp.height() - self.overview.height() - 10)
        self.overview.follow()

    def wheelEvent(self, event) -> None:
        factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
        self.scale(factor, factor)
        self.overview.follow()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MiddleButton:
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            d = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(d.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(d.y()))
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MiddleButton and self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            return
        super().mouseReleaseEvent(event)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(BRICK_MIME):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(BRICK_MIME):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        if event.mimeData().hasFormat(BRICK_MIME):
            name = bytes(event.mimeData().data(BRICK_MIME)).decode()
            self.brick_dropped.emit(name, self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()

    #: fitting never zooms out below this (text stays at 9 pt or more) nor in beyond that
    MIN_FIT, MAX_FIT = 0.9, 1.4

    def fit(self) -> None:
        """Show everything, at a zoom that keeps the text legible: a graph too large for the
        window at 90% is shown from its top left corner, and scrolls."""
        rect = self.scene().shown_rect()
        if rect.isEmpty():  # File > New: an empty canvas at 100%
            self.actual_size()
            return
        rect = rect.adjusted(-40, -40, 40, 40)
        self.fitInView(rect, Qt.KeepAspectRatio)
        scale = self.transform().m11()
        if not self.MIN_FIT <= scale <= self.MAX_FIT:
            s = min(max(scale, self.MIN_FIT), self.MAX_FIT)
            self.resetTransform()
            self.scale(s, s)
            if scale < self.MIN_FIT:
                self.ensureVisible(QRectF(rect.topLeft(), rect.topLeft() + QPointF(10, 10)), 0, 0)
            else:
                self.centerOn(rect.center())
        self.overview.follow()

    def actual_size(self) -> None:
        self.resetTransform()
        self.overview.follow()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_F:
            self.fit()
        elif event.key() in (Qt.Key_Delete, Qt.Key_Backspace):
            self.scene().delete_selected()
        else:
            super().keyPressEvent(event)
