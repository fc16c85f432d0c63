"""A document's lesson: its note, the milestones the student has reached on it (a node
stepped, a run trained, a race run), and what its links ask for. The panel paints
``markdown()``; the window acts on ``link()``. One per document: a new graph starts with
nothing reached."""
from __future__ import annotations

from dataclasses import dataclass

from gradviz_core.model.commands import Command
from gradviz_core.teach import lessons

catalogue = lessons.catalogue  # Help > Lessons: the lessons in the lectures' order, then the rest


@dataclass
class Link:
    """What a ``gradviz:`` link asks for: ``action`` (set, train, step, play, check, open), the
    undoable command that makes its settings (or None), and its argument (a file, a milestone)."""
    action: str
    command: Command | None
    argument: str | None = None


class LessonProgress:
    def __init__(self, note: str = "") -> None:
        self.note = (note or "").strip()
        self.reached: set[str] = set()

    def markdown(self) -> str:
        """The note with its reached checkpoints ticked."""
        return lessons.ticked(self.note, self.reached) if self.note else "*This graph has no lesson note.*"

    def reach(self, milestones: set[str]) -> tuple[int, int] | None:
        """Record milestones; when that ticks a checkpoint: (checkpoints reached, checkpoints in
        the note), else None."""
        new = set(milestones) - self.reached
        if not new:
            return None
        self.reached |= new
        waiting = set(lessons.checkpoints(self.note)) if "gradviz:check" in self.note else set()
        if not new & waiting:
            return None
        return len(waiting & self.reached), len(waiting)

    def reach_steps(self, records) -> tuple[int, int] | None:
        """What a stepper's records reached (each node's value, its gradient, the update)."""
        return self.reach(lessons.milestones_of_steps(records))

    @staticmethod
    def link(graph, url: str) -> Link:
        """The link's meaning on ``graph``; a bad link raises GradvizError with its reason."""
        action, command = lessons.command(graph, url)
        argument = None
        if action in ("open", "check"):
            argument = str(dict(lessons.parse(url)[1])["file" if action == "open" else "milestone"])
        return Link(action, command, argument)
