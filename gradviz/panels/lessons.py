"""The lesson note beside the canvas, its checkpoints ticked as the student reaches them; and
Help > Lessons: the lessons in the lectures' order, each with the first paragraph of its note."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QListWidget, QListWidgetItem, QTextBrowser,
                               QVBoxLayout)

from gradviz_core.teach import lessons


class LessonNote(QTextBrowser):
    """A graph's Markdown note. Its links are the window's to act on (``anchorClicked``);
    ``reach`` records milestones (a node stepped, a run trained…) and ticks the checkpoints
    that wait for them."""

    def __init__(self) -> None:
        super().__init__()
        self.setOpenLinks(False)  # lesson links act (gradviz:set?…, gradviz:train); others open outside
        self.note = ""
        #: the milestones reached on this graph
        self.reached: set[str] = set()

    def show_note(self, note: str) -> None:
        """A new graph's note, nothing reached yet."""
        self.note, self.reached = note.strip(), set()
        self._render()

    def _render(self) -> None:
        self.setMarkdown(lessons.ticked(self.note, self.reached) if self.note else "*This graph has no lesson note.*")

    def reach(self, milestones: set[str]) -> tuple[int, int] | None:
        """Record milestones; when that ticks a checkpoint, redraw the note where the student is
        reading and return (checkpoints reached, checkpoints in the note); else None."""
        new = set(milestones) - self.reached
        if not new:
            return None
        self.reached |= new
        waiting = set(lessons.checkpoints(self.note)) if "gradviz:check" in self.note else set()
        if not new & waiting:
            return None
        bar = self.verticalScrollBar()
        at = bar.value()
        self._render()
        bar.setValue(at)
        return len(waiting & self.reached), len(waiting)


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
