"""Node and edge items. They draw what the core model says; they never hold model state."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QGraphicsPathItem, QGraphicsSimpleTextItem

from gradviz.look.colors import FAMILY_COLORS
from gradviz.look.heat import heat_image, num
from gradviz_core.shapes import fmt

WIDTH, ROW = 200.0, 18.0
PORT_R = 5.0
THUMB = 40.0  # heatmap thumbnails of a node's value and gradient, inside the node while stepping
#: text sizes on the canvas at 100% zoom (the view never fits below 90%, so nothing is under 9 pt)
TEXT_PT, SMALL_PT = 10.0, 9.5


def canvas_font(size: float = TEXT_PT, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSizeF(size)
    f.setBold(bold)
    return f


class NodeItem(QGraphicsObject):
    """A node: its name and type, key parameters, output shape and parameter count; input ports
    on the left, the output port on the right. Red outline and a tooltip when it has a problem."""

    def __init__(self, scene, name: str) -> None:
        super().__init__()
        self.gscene, self.name = scene, name
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        # draw once into a pixmap and reuse it while panning (refresh() and selection invalidate it)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.lines: list[str] = []
        self.ports: list[str] = []
        self.family, self.problem = "Data", ""
        self.refusal = ""  # why a connection dropped here was refused (shown for a few seconds)
        #: what the stepper shows on this node: {"value", "grad"} arrays (or absent), "active"
        self.overlay: dict = {}
        #: the gradient check's verdict on this node: ("ok" | "kink" | "fail", relative error)
        self.check: tuple | None = None
        #: the training run's babysitting warnings about this node ("" when none)
        self.warning = ""
        self.refresh()

    # ---- drawn from the model ---------------------------------------------------------------
    def refresh(self) -> None:
        g = self.gscene.graph
        b = g.brick(self.name)
        self.prepareGeometryChange()
        self.family, self.ports = b.family, list(b.input_ports())
        changed = g.node_spec(self.name)["params"]  # the settings that differ from the defaults
        keys = [f"{k}={_short(v)}" for k, v in list(changed.items())[:3] if len(_short(v)) <= 14]
        count = g.param_count(self.name)
        self.lines = [", ".join(keys)] if keys else []
        self.lines.append(f"→ {fmt(g.shapes.get(self.name))}")
        if count:
            self.lines.append(f"{count:,} parameter{'' if count == 1 else 's'}")
        problems = g.node_problems(self.name)
        self.problem = "\n".join(p.message for p in problems)
        self._tooltip()
        x, y = self.gscene.view_pos.get(self.name, g.pos(self.name))  # a folded graph's layout, or the document's
        self.setPos(x, y)
        self.update()

    def _tooltip(self) -> None:
        b = self.gscene.graph.brick(self.name)
        text = self.problem or f"{b.type_name}: {b.formulas()[0]}"
        if self.warning:
            text = f"Training warning: {self.warning}\n\n{text}"
        self.setToolTip(f"Refused: {self.refusal}\n\n{text}" if self.refusal else text)

    def show_refusal(self, message: str, ms: int = 5000) -> None:
        """Mark the node where a connection was refused, with the reason, for a few seconds."""
        self.refusal = message
        self._tooltip()
        self.update()
        QTimer.singleShot(ms, self.clear_refusal)

    def clear_refusal(self) -> None:
        if self.refusal:
            self.refusal = ""
            self._tooltip()
            self.update()

    def set_warning(self, text: str) -> None:
        if text != self.warning:
            self.warning = text
            self._tooltip()
            self.update()

    def set_check(self, check: tuple | None) -> None:
        if check != self.check:
            self.check = check
            self.update()

    def set_overlay(self, overlay: dict) -> None:
        if overlay != self.overlay:
            self.prepareGeometryChange()
            self.overlay = overlay
            self.update()

    def overlay_rows(self) -> list[tuple[str, str, object]]:
        """[(kind "value"|"grad", text, array)] for the stepper's rows on this node."""
        rows = []
        obj = self.overlay.get("objective", "L")
        for kind, sign in (("value", "="), ("grad", f"∂{obj}/∂{self.name} =")):
            a = self.overlay.get(kind)
            if a is None:
                continue
            arr = np.asarray(a)
            text = f"{sign} {num(arr)}" if arr.ndim == 0 else ("value" if kind == "value" else f"∂{obj}/∂{self.name}")
            rows.append((kind, text, arr))
        return rows

    def tensor_overlay(self) -> bool:
        return any(np.ndim(a) > 0 for _, _, a in self.overlay_rows())

    def overlay_layout(self) -> list[tuple[str, str, QRectF]]:
        """Where the stepper's numbers are written below the body: [(kind, text, its box)]. The
        value on the left and the gradient on the right share a row when both fit with a gap;
        otherwise each has a row of its own, so they never run into each other. A text longer
        than the node is elided. (Tensors show as thumbnails instead: none.)"""
        rows = self.overlay_rows()
        if not rows or self.tensor_overlay():
            return []
        metrics = QFontMetricsF(canvas_font(TEXT_PT, bold=True))
        room = WIDTH - 18
        texts = [(kind, metrics.elidedText(text, Qt.ElideRight, room)) for kind, text, _ in rows]
        widths = [metrics.horizontalAdvance(text) for _, text in texts]
        one_row = sum(widths) + 16 <= room
        top, out = self.body_height(), []
        for i, ((kind, text), w) in enumerate(zip(texts, widths)):
            x = WIDTH - 8 - w if one_row and kind == "grad" else 10
            out.append((kind, text, QRectF(x, top + (0 if one_row else ROW * i), w, ROW)))
        return out

    def overlay_height(self) -> float:
        """Scalars add rows below the body (one, or two when value and gradient do not both fit);
        tensor thumbnails sit inside it, on the right."""
        boxes = self.overlay_layout()
        return max(box.bottom() for _, _, box in boxes) - self.body_height() if boxes else 0.0

    def body_height(self) -> float:
        rows = max(len(self.lines), len(self.ports), 3 if self.tensor_overlay() else 0)
        return 24 + ROW * rows

    def text_width(self) -> float:
        """Room for the body's text: the thumbnails take the right part while stepping."""
        return WIDTH - (2 * (THUMB + 6) if self.tensor_overlay() else 0)

    def height(self) -> float:
        return self.body_height() + self.overlay_height()

    def boundingRect(self) -> QRectF:
        return QRectF(-PORT_R - 8, -8, WIDTH + 2 * PORT_R + 16, self.height() + 16)

    def in_port_pos(self, port: str) -> QPointF:
        i = self.ports.index(port) if port in self.ports else 0
        return self.pos() + QPointF(0, 24 + ROW * i + ROW / 2)

    def out_port_pos(self) -> QPointF:
        return self.pos() + QPointF(WIDTH, 12)

    def port_at(self, scene_pos: QPointF) -> tuple[str, str] | None:
        """("in", port) or ("out", "") when scene_pos is on a port of this node."""
        p = scene_pos - self.pos()
        if (p - QPointF(WIDTH, 12)).manhattanLength() <= 2 * PORT_R:
            return "out", ""
        for i, port in enumerate(self.ports):
            if (p - QPointF(0, 24 + ROW * i + ROW / 2)).manhattanLength() <= 2 * PORT_R:
                return "in", port
        return None

    def paint(self, painter, option, widget=None) -> None:
        g = self.gscene.graph
        rect = QRectF(0, 0, WIDTH, self.height())
        if option is not None and option.levelOfDetailFromTransform(painter.worldTransform()) < 0.3:  # the map
            colour = QColor("#4c8bf5") if self.isSelected() else QColor(FAMILY_COLORS.get(self.family, "#888"))
            painter.fillRect(rect, colour.lighter(150) if not self.overlay.get("active") else QColor("#f59f00"))
            painter.fillRect(QRectF(0, 0, WIDTH, 22), colour)
            return
        if self.isSelected():  # a halo, so a selected node with a problem looks different too
            painter.setPen(QPen(QColor("#4c8bf5"), 6))
            painter.setBrush(Qt.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-4, -4, 4, 4), 9, 9)
        if self.overlay.get("active"):  # the node the last step computed
            painter.setPen(QPen(QColor(self.gscene.palette["active"]), 5))
            painter.setBrush(Qt.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-3, -3, 3, 3), 8, 8)
        painter.setBrush(QBrush(QColor(self.gscene.palette["node"])))
        edge = QColor("#e03131") if self.problem else QColor(FAMILY_COLORS.get(self.family, "#888"))
        painter.setPen(QPen(edge, 3 if self.problem else 1.5))
        painter.drawRoundedRect(rect, 6, 6)
        if self.refusal:
            painter.setPen(QPen(QColor("#e03131"), 2, Qt.DashLine))
            painter.drawRoundedRect(rect.adjusted(-3, -3, 3, 3), 8, 8)
        painter.fillRect(QRectF(1.5, 1.5, WIDTH - 3, 20), QColor(FAMILY_COLORS.get(self.family, "#888")))
        painter.setPen(QColor("white"))
        title = f"{self.name} · {g.brick(self.name).type_name}"
        size = TEXT_PT
        painter.setFont(canvas_font(size, bold=True))
        while painter.fontMetrics().horizontalAdvance(title) > WIDTH - 12 and size > 9.0:
            size -= 0.5  # shrink a long title down to 9 pt before anything is cut
            painter.setFont(canvas_font(size, bold=True))
        if painter.fontMetrics().horizontalAdvance(title) > WIDTH - 12:
            title = self.name  # the name always shows whole; the type is in the tooltip
        painter.drawText(QRectF(6, 2, WIDTH - 12, 18), Qt.AlignVCenter, title)
        painter.setFont(canvas_font(TEXT_PT))
        metrics = painter.fontMetrics()
        indent = 10 + (max(metrics.horizontalAdvance(p) for p in self.ports) + 6 if self.ports else 0)
        painter.setFont(canvas_font(SMALL_PT))
        painter.setPen(QColor(self.gscene.palette["muted"]))
        for i, port in enumerate(self.ports):  # every input port is labelled, connected or not
            painter.drawText(QRectF(9, 24 + ROW * i, indent, ROW), Qt.AlignVCenter, port)
        stepping = self.tensor_overlay()  # thumbnails take the right: the text gets compact
        painter.setFont(canvas_font(SMALL_PT if stepping else TEXT_PT))
        painter.setPen(QColor(self.gscene.palette["text"]))
        for i, line in enumerate(self.lines):
            room = self.text_width() - indent - 4
            if stepping:
                line = line.replace("→ ", "").replace(", ", ",").replace(" parameters", " w")
            painter.drawText(QRectF(indent, 24 + ROW * i, room, ROW), Qt.AlignVCenter,
                             painter.fontMetrics().elidedText(line, Qt.ElideRight, int(room)))
        self._paint_overlay(painter)
        if self.check:  # a badge over the title bar's right end: the check's verdict and error
            verdict, error = self.check
            colour = {"ok": "#2f9e44", "kink": "#f08c00", "fail": "#e03131"}[verdict]
            badge = QRectF(WIDTH - 78, -10, 76, 16)
            painter.setPen(Qt.NoPen)
            painter.setBrush(QColor(colour))
            painter.drawRoundedRect(badge, 4, 4)
            painter.setPen(QColor("white"))
            painter.setFont(canvas_font(SMALL_PT, bold=True))
            painter.drawText(badge, Qt.AlignCenter, f"err {error:.0e}" if np.isfinite(error) else "err NaN")
        if self.warning:  # an amber "!" at the title bar's left end: a training warning (tooltip)
            badge = QRectF(-10, -10, 18, 18)
            painter.setPen(QPen(QColor("white"), 1.5))
            painter.setBrush(QColor("#f08c00"))
            painter.drawEllipse(badge)
            painter.setFont(canvas_font(SMALL_PT, bold=True))
            painter.drawText(badge, Qt.AlignCenter, "!")
        painter.setBrush(QColor(self.gscene.palette["port"]))
        painter.setPen(QPen(QColor(self.gscene.palette["text"]), 1))
        for i, port in enumerate(self.ports):
            c = QPointF(0, 24 + ROW * i + ROW / 2)
            painter.drawEllipse(c, PORT_R, PORT_R)
        painter.drawEllipse(QPointF(WIDTH, 12), PORT_R, PORT_R)

    def _paint_overlay(self, painter) -> None:
        rows = self.overlay_rows()
        if not rows:
            return
        pal = self.gscene.palette
        if not self.tensor_overlay():  # numbers, in a row below the body: value left, gradient right
            top = self.body_height()
            painter.setPen(QPen(QColor(pal["port"]), 1))
            painter.drawLine(QPointF(6, top), QPointF(WIDTH - 6, top))
            painter.setFont(canvas_font(TEXT_PT, bold=True))
            for kind, text, box in self.overlay_layout():
                painter.setPen(QColor(pal[kind]))
                painter.drawText(box.adjusted(0, 0, 2, 0), Qt.AlignLeft | Qt.AlignVCenter, text)
            return
        # heatmap thumbnails on the right of the body: the value (blue frame), the gradient (red)
        for i, (kind, text, a) in enumerate(rows):
            x = WIDTH - (2 - i) * (THUMB + 6)
            target = QRectF(x, 24 + (self.body_height() - 24 - THUMB) / 2, THUMB, THUMB)
            painter.drawImage(target, heat_image(a))
            painter.setPen(QPen(QColor(pal[kind]), 2))
            painter.setBrush(Qt.NoBrush)
            painter.drawRect(target)

    # ---- gestures become commands ------------------------------------------------------------
    def itemChange(self, change, value):
        if change == QGraphicsItem.ItemPositionHasChanged:
            self.gscene.node_dragged(self)
        return super().itemChange(change, value)


class EdgeItem(QGraphicsPathItem):
    """An edge from a node's output to an input port, labelled with the shape it carries."""

    def __init__(self, scene, src: str, dst: str, port: str) -> None:
        super().__init__()
        self.gscene, self.src, self.dst, self.port = scene, src, dst, port
        self.text = ""  # what the stepper writes on the edge (a value); the shape otherwise
        self.grad_text = ""  # the gradient the backward pass sent back along this edge
        self.setZValue(-1)
        self.label = QGraphicsSimpleTextItem(self)
        self.grad_label = QGraphicsSimpleTextItem(self)
        self.refresh()

    def refresh(self) -> None:
        src, dst = self.gscene.anchor(self.src), self.gscene.anchor(self.dst)
        self.setVisible(src is not dst)  # a wire inside a folded block
        if src is dst:
            return
        a = src.out_port_pos()
        b = dst.in_port_pos(self.port)
        path = QPainterPath(a)
        if b.x() < a.x() + 20 and b.y() > a.y() + 40:
            # a wrapped chain: down the right, along the gap above the target's row, into its port
            gap = dst.pos().y() - 22
            path.lineTo(a.x() + 18, a.y())
            path.lineTo(a.x() + 18, gap)
            path.lineTo(b.x() - 18, gap)
            path.lineTo(b.x() - 18, b.y())
            path.lineTo(b)
            ports = getattr(dst, "ports", [])
            shift = 70 * (ports.index(self.port) if self.port in ports else 0)  # two wires, two labels
            mid = QPointF(b.x() + 30 + shift, gap - 18)
            wrapped = True
        else:
            wrapped = False
            dx = max(40.0, abs(b.x() - a.x()) / 2)
            path.cubicTo(a + QPointF(dx, 0), b - QPointF(dx, 0), b)
            mid = path.pointAtPercent(0.5) + QPointF(-20, -20)
        self.setPath(path)
        self.setPen(QPen(QColor(self.gscene.palette["edge"]), 2))
        pal = self.gscene.palette
        self.label.setFont(canvas_font(TEXT_PT if self.text else SMALL_PT, bold=bool(self.text)))
        text = self.text or fmt(self.gscene.graph.shapes.get(self.src))
        self.label.setText(text)
        self.label.setBrush(QColor(pal["value"] if self.text else pal["text"]))
        self.label.setPos(mid)
        # the circuit diagrams' convention: the value above the wire, its gradient below it
        self.grad_label.setFont(canvas_font(TEXT_PT, bold=True))
        self.grad_label.setText(self.grad_text)
        self.grad_label.setBrush(QColor(pal["grad"]))
        self.grad_label.setPos(mid + QPointF(0, 24))
        # a label that does not fit between the nodes is left out (the node shows it too)
        room = b.x() - a.x() if not wrapped else (400 if self.text else 0)
        self.grad_label.setVisible(bool(self.grad_text) and self.grad_label.boundingRect().width() < room - 8)
        self.label.setVisible(bool(text) and self.label.boundingRect().width() < room - 8)


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if hasattr(v, "tolist"):
        return str(v.tolist())
    return str(v)


#: a folded block's colour (its header), apart from every brick family's
BLOCK_COLOUR = "#495057"


class BlockItem(QGraphicsObject):
    """A folded block (``gradviz_core.model.blocks``): one box where its nodes were, with its
    name, how many nodes it holds, its output shape and its parameter count. Wires into any of
    its nodes end on its input port, the merge's wires leave from its output port. A
    double-click unfolds it; so does a step that reaches one of its nodes."""

    def __init__(self, scene, block) -> None:
        super().__init__()
        self.gscene, self.name = scene, block.name
        self.setZValue(1)
        self.set_block(block)
        self.setPos(scene.nodes[block.nodes[0]].pos())

    def set_block(self, block) -> None:
        """What the block shows (again, after an edit changed its shape or its parameters)."""
        self.prepareGeometryChange()
        self.block = block
        counts = f"{block.params:,} parameters" if block.params else "no parameters"
        self.lines = [f"{len(block.nodes)} nodes, from {block.entry}", f"→ {fmt(block.shape)}", counts,
                      "double-click to unfold"]
        self.setToolTip("A folded block: " + ", ".join(block.nodes))
        self.update()

    def height(self) -> float:
        return 24 + ROW * len(self.lines)

    def boundingRect(self) -> QRectF:
        return QRectF(-PORT_R - 4, -4, WIDTH + 2 * PORT_R + 8, self.height() + 8)

    def in_port_pos(self, port: str) -> QPointF:
        return self.pos() + QPointF(0, 24 + ROW / 2)

    def out_port_pos(self) -> QPointF:
        return self.pos() + QPointF(WIDTH, 12)

    def paint(self, painter, option, widget=None) -> None:
        rect = QRectF(0, 0, WIDTH, self.height())
        pal = self.gscene.palette
        painter.setBrush(QBrush(QColor(pal["node"])))
        painter.setPen(QPen(QColor(BLOCK_COLOUR), 2))
        painter.drawRoundedRect(rect.adjusted(3, 3, 3, 3), 6, 6)  # a stack: more than one node
        painter.drawRoundedRect(rect, 6, 6)
        painter.fillRect(QRectF(1.5, 1.5, WIDTH - 3, 20), QColor(BLOCK_COLOUR))
        painter.setPen(QColor("white"))
        painter.setFont(canvas_font(TEXT_PT, bold=True))
        title = painter.fontMetrics().elidedText(f"▸ {self.name} · block", Qt.ElideMiddle, int(WIDTH - 12))
        painter.drawText(QRectF(6, 2, WIDTH - 12, 18), Qt.AlignVCenter, title)
        painter.setFont(canvas_font(SMALL_PT))
        for i, line in enumerate(self.lines):
            painter.setPen(QColor(pal["muted"] if i == len(self.lines) - 1 else pal["text"]))
            painter.drawText(QRectF(10, 24 + ROW * i, WIDTH - 16, ROW), Qt.AlignVCenter, line)
        painter.setPen(QPen(QColor(pal["edge"]), 1.5))
        painter.setBrush(QBrush(QColor(pal["port"])))
        painter.drawEllipse(QPointF(0, 24 + ROW / 2), PORT_R, PORT_R)
        painter.drawEllipse(QPointF(WIDTH, 12), PORT_R, PORT_R)

    def mouseDoubleClickEvent(self, event) -> None:
        self.gscene.unfold(self.name)
        event.accept()
