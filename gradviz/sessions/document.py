"""One open document and everything that belongs to it alone.

A ``DocumentSession`` is made when a graph is opened (or made new) and thrown away when another
takes its place: its stepper (with the quiz and its score), its training runs (with the
dashboard's history, the babysitting warnings and the list of runs to compare), its
playground race, and the milestones reached in its lesson. Nothing of one document can leak
into the next: the panels are bound to the new session and draw what it holds, which starts
empty. ``close`` stops the threads the document started (a training run is cancelled and
joined) and silences everything still queued for it, so a run's last message, arriving after
another graph opened, reaches no one.
"""
from __future__ import annotations

from PySide6.QtCore import QObject

from gradviz.sessions.bridge import Bridge
from gradviz.sessions.lessons import LessonProgress
from gradviz.sessions.racing import RaceSession
from gradviz.sessions.stepping import StepSession
from gradviz.sessions.training import TrainSession


class DocumentSession(QObject):
    def __init__(self, graph, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.bridge = Bridge(self)  # the stepper's events
        self.stepping = StepSession(self.bridge, self)
        self.training = TrainSession(self)
        self.race = RaceSession(self)
        self.lesson = LessonProgress(graph.note)
        self.stepping.set_document(graph)
        self.training.set_document(graph)
        self.closed = False

    def close(self) -> None:
        """Stop what runs for this document, drop what is still queued for it, and free it."""
        if self.closed:
            return
        self.closed = True
        for obj in (self, self.bridge, self.stepping, self.training, self.training.bridge, self.race,
                    self.race.bridge):
            obj.blockSignals(True)  # from now on, nothing it says reaches a panel: it is gone
        self.training.stop(wait=True)
        self.race.stop()
        self.stepping.close()
        for bridge in (self.bridge, self.training.bridge, self.race.bridge):
            bridge.detach_all()
        self.deleteLater()
