"""QUndoCommand around a core command: the Qt undo stack drives the core, never the view."""
from __future__ import annotations

from PySide6.QtGui import QUndoCommand, QUndoStack

from gradviz_core.model.commands import Command
from gradviz_core.model.graph import Graph


class CoreCommand(QUndoCommand):
    def __init__(self, graph: Graph, command: Command) -> None:
        super().__init__(command.text)
        self.graph, self.command = graph, command
        self._first = True

    def redo(self) -> None:
        if self._first:  # already done by push_command, so that errors surface before the push
            self._first = False
            return
        self.command.do(self.graph)

    def undo(self) -> None:
        self.command.undo(self.graph)


def push_command(stack: QUndoStack, graph: Graph, command: Command) -> None:
    """Do the command (raising GradvizError with its message if it cannot be done), then
    record it on the stack."""
    command.do(graph)
    stack.push(CoreCommand(graph, command))
