"""Every validation problem of the graph; clicking one selects its node."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem


class ProblemsList(QListWidget):
    node_clicked = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)  # a long message wraps within the dock, never cut at its edge
        self.setResizeMode(QListWidget.Adjust)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setSpacing(2)
        self.itemClicked.connect(lambda item: self.node_clicked.emit(item.data(Qt.UserRole) or ""))

    def show_problems(self, problems) -> None:
        self.clear()
        for p in problems:
            item = QListWidgetItem(p.message)
            item.setData(Qt.UserRole, p.node)
            self.addItem(item)
        if not problems:
            self.addItem("No problems")
