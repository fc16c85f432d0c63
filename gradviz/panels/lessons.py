"""The lesson note beside the canvas, its checkpoints ticked as the student reaches them; and
Help > Lessons: the lessons in the lectures' order, each with the first paragraph of its note."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QListWidget, QListWidgetItem, QTextBrowser,
                               QVBoxLayout)

from gradviz.sessions.lessons import LessonProgress


class LessonNote(QTextBrowser):
    """A graph's Markdown note, painted from its ``LessonProgress`` (checkpoints ticked). Its
    links are the window's to act on (``anchorClicked``)."""

    def __init__(self) -> None:
        super().__init__()
        self.setOpenLinks(False)  # lesson links act (gradviz:set?…, gradviz:train); others open outside
        self.progress = LessonProgress()

    @property
    def note(self) -> str:
        return self.progress.note

    def show_progress(self, progress: LessonProgress) -> None:
        """A document's lesson, from the top."""
        self.progress = progress
        self.setMarkdown(progress.markdown())

    def redraw(self) -> None:
        """The ticks changed: redraw where the student is reading."""
        bar = self.verticalScrollBar()
        at = bar.value()
        self.setMarkdown(self.progress.markdown())
        bar.setValue(at)


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
