"""Getting around a big graph: find a node by its name or its brick (Ctrl+F), and an overview
map of the whole canvas in the view's corner, its visible part framed, that moves the view
where it is clicked or dragged (shown when the graph does not fit the window)."""
from __future__ import annotations

from PySide6.QtCore import QRectF, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QCompleter, QFrame, QLineEdit

#: the overview map's size on screen, in pixels
MAP_W, MAP_H = 240, 170
#: how long the map waits after the canvas changed before it draws it again (a step redraws
#: a node or two; the map follows when the stepping pauses)
REDRAW_MS = 400


def _entry(name: str, type_name: str) -> str:
    return f"{name} · {type_name}"


class FindBar(QLineEdit):
    """Type part of a node's name or brick, pick it from the list, Enter: the view goes there
    and selects it. Escape closes the bar."""

    chosen = Signal(str)  # a node name

    def __init__(self, parent) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Find a node: its name or its brick (Enter goes there, Esc closes)")
        self.setClearButtonEnabled(True)
        self.setMinimumWidth(380)
        self.model = QStringListModel(self)
        c = QCompleter(self.model, self)
        c.setCaseSensitivity(Qt.CaseInsensitive)
        c.setFilterMode(Qt.MatchContains)
        c.setMaxVisibleItems(12)
        c.activated.connect(self._go)
        self.setCompleter(c)
        self.returnPressed.connect(lambda: self._go(self.text()))
        self.hide()

    def open(self, graph) -> None:
        self.model.setStringList([_entry(n, graph.brick(n).type_name) for n in graph.order or graph.nodes()])
        self._graph = graph
        self.clear()
        self.show()
        self.raise_()
        self.setFocus(Qt.ShortcutFocusReason)

    def _go(self, text: str) -> None:
        text = text.strip()
        name = text.split(" · ")[0]
        graph = getattr(self, "_graph", None)
        if graph is None or not text:
            return
        if name not in graph:  # a part of a name, typed: the first node it matches
            matches = [e for e in self.model.stringList() if text.lower() in e.lower()]
            if not matches:
                self.setStyleSheet("color: #c92a2a;")
                self.setToolTip(f"no node's name or brick holds {text!r}")
                return
            name = matches[0].split(" · ")[0]
        self.setStyleSheet("")
        self.hide()
        self.parentWidget().setFocus()  # back to the canvas: F10, Delete and the arrows act there
        self.chosen.emit(name)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_Escape:
            self.hide()
            self.parentWidget().setFocus()
            return
        super().keyPressEvent(event)


class OverviewMap(QFrame):
    """The whole canvas, small, with the part the view shows framed; a click or a drag centres
    the view there."""

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.setFixedSize(MAP_W, MAP_H)
        self.setFrameShape(QFrame.Box)
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip("The whole graph: click or drag to move the view (View > Overview map)")
        self.pixmap: QPixmap | None = None
        self.source = QRectF()   # the scene rectangle the pixmap shows
        self.wanted = True       # the View menu's toggle
        self._timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._timer.timeout.connect(self.follow)
        view.scene().changed.connect(lambda _=None: self._timer.start())
        for bar in (view.horizontalScrollBar(), view.verticalScrollBar()):
            bar.valueChanged.connect(self.update)
        self.hide()

    def follow(self) -> None:
        """Shown (when wanted) only while the graph is larger than the view."""
        scene = self.view.scene()
        if scene is None:  # the window is closing: its scene is gone first
            self.hide()
            return
        whole = scene.shown_rect()
        seen = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        big = not whole.isEmpty() and not seen.contains(whole)
        self.setVisible(self.wanted and big)
        if self.isVisible():
            self.redraw()

    def redraw(self) -> None:
        scene = self.view.scene()
        if not self.isVisible() or scene is None:
            return
        self.source = scene.shown_rect().adjusted(-40, -40, 40, 40)
        self.pixmap = QPixmap(self.size())
        self.pixmap.fill(QColor(scene.palette["background"]))
        s, ox, oy = self._fit()
        p = QPainter(self.pixmap)
        scene.render(p, QRectF(ox, oy, self.source.width() * s, self.source.height() * s), self.source,
                     Qt.IgnoreAspectRatio)  # the aspect kept by the target itself, centred as _fit says
        p.end()
        self.update()

    def _fit(self) -> tuple[float, float, float]:
        """(scale, x offset, y offset) from scene to map: the whole graph, centred, its aspect kept."""
        s = min(self.width() / max(self.source.width(), 1), self.height() / max(self.source.height(), 1))
        return s, (self.width() - self.source.width() * s) / 2, (self.height() - self.source.height() * s) / 2

    def visible_rect(self) -> QRectF:
        """The frame of what the view shows, in the map's pixels."""
        s, ox, oy = self._fit()
        seen = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        return QRectF(ox + (seen.left() - self.source.left()) * s, oy + (seen.top() - self.source.top()) * s,
                      seen.width() * s, seen.height() * s)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        if self.pixmap is not None:
            p.drawPixmap(0, 0, self.pixmap)
        p.setPen(QPen(QColor("#4c8bf5"), 2))
        p.setBrush(QColor(76, 139, 245, 40))
        p.drawRect(self.visible_rect().intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1)))
        p.end()
        super().paintEvent(event)

    def _centre(self, event) -> None:
        s, ox, oy = self._fit()
        pos = event.position()
        self.view.centerOn(self.source.left() + (pos.x() - ox) / s, self.source.top() + (pos.y() - oy) / s)
        self.update()

    def mousePressEvent(self, event) -> None:
        self._centre(event)

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.LeftButton:
            self._centre(event)
