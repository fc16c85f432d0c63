"""Help > Lessons: the lessons in the lectures' order, each with the first line of its note."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QListWidget, QListWidgetItem, QVBoxLayout


def pick_lesson(parent, catalogue) -> str | None:
    """A modal list of ``lessons.catalogue`` entries; the path of the one opened, or None.
    The dialog is kept as ``parent.lessons_dialog`` while it is open (for the tests)."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("Lessons")
    dialog.resize(640, 460)
    items = QListWidget()
    items.setWordWrap(True)
    for title, path, prose in catalogue:
        item = QListWidgetItem(f"{title}\n    {prose}")
        item.setData(Qt.UserRole, str(path))
        items.addItem(item)
    buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Close)
    lay = QVBoxLayout(dialog)
    lay.addWidget(items)
    lay.addWidget(buttons)
    buttons.rejected.connect(dialog.reject)
    buttons.accepted.connect(dialog.accept)
    items.itemDoubleClicked.connect(lambda _: dialog.accept())
    items.setCurrentRow(0)
    parent.lessons_dialog = dialog
    if dialog.exec() and items.currentItem() is not None:
        return items.currentItem().data(Qt.UserRole)
    return None
