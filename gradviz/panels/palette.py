"""The layer palette: bricks grouped by family, with a search box. Double-click adds one."""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData, QSize, Qt, Signal
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from gradviz.look.icons import brick_icon
from gradviz_core.model.registry import FAMILIES, brick_types, get_brick_class


class Palette(QWidget):
    add_requested = Signal(str)  # a brick type name

    def __init__(self) -> None:
        super().__init__()
        self.search = QLineEdit(placeholderText="Search bricks…")
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(20, 20))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.search)
        lay.addWidget(self.tree)
        for family in FAMILIES:
            top = QTreeWidgetItem([family])
            top.setFlags(top.flags() & ~Qt.ItemIsSelectable)
            self.tree.addTopLevelItem(top)
            for name in brick_types(family):
                cls = get_brick_class(name)
                item = QTreeWidgetItem([name])
                item.setToolTip(0, f"{cls.doc}\n\nforward: {cls.forward_text}\nbackward: {cls.backward_text}")
                item.setData(0, Qt.UserRole, name)
                item.setIcon(0, brick_icon(name))
                top.addChild(item)
        self.tree.expandAll()
        self.tree.setDragEnabled(True)
        self.tree.mimeData = self._mime  # what a drag onto the canvas carries
        self.tree.itemDoubleClicked.connect(self._activated)
        self.search.textChanged.connect(self.filter)

    def _mime(self, items):
        from gradviz.canvas.scene import BRICK_MIME
        data = QMimeData()
        names = [i.data(0, Qt.UserRole) for i in items if i.data(0, Qt.UserRole)]
        if names:
            data.setData(BRICK_MIME, QByteArray(names[0].encode()))
        return data

    def _activated(self, item, _column) -> None:
        name = item.data(0, Qt.UserRole)
        if name:
            self.add_requested.emit(name)

    def filter(self, text: str) -> None:
        text = text.lower().strip()
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            shown = 0
            for j in range(top.childCount()):
                child = top.child(j)
                hit = not text or text in child.text(0).lower() or text in child.toolTip(0).lower()
                child.setHidden(not hit)
                shown += hit
            top.setHidden(shown == 0)
