"""The window's optimizer playground: one core race (``runs.playground.Race``) over the open
document's loss surface, stepped by a timer on the window's thread.

The view never touches the race's rules: it asks this session to load a graph, reset, play,
pause or step, and it follows the race's events ("advanced"), which reach it through a
``Bridge`` as the other runs' events do. What it draws (the paths, the losses) it reads from
``session.race``.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from gradviz.sessions.bridge import Bridge
from gradviz_core.runs import playground
from gradviz_core.runs.playground import RULES  # noqa: F401 (the view's rules, in order)

TICK_MS = 30
#: a race plays in about this many ticks, whatever its number of steps
TICKS = 150


class RaceSession(QObject):
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.surface: playground.Surface | None = None
        self.race: playground.Race | None = None
        self.training: dict = {}
        self.bridge = Bridge(self)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def load(self, graph, grid: int):
        """The graph's surface and its (xs, ys, Z) grid; GradvizError (and no surface) when it is
        not a loss of two numbers."""
        self.stop()
        self.surface = self.race = None
        surface = playground.Surface(graph)
        xs, ys, Z = surface.grid(grid)
        self.surface, self.training = surface, dict(graph.training)
        return xs, ys, Z

    @property
    def total(self) -> int:
        return self.surface.settings.get("steps", 200) if self.surface is not None else 0

    @property
    def running(self) -> bool:
        return self.timer.isActive()

    def reset(self) -> None:
        """A fresh race from the start (the view hears "advanced" at step 0)."""
        self.stop()
        self.bridge.detach_all()
        if self.surface is None:
            self.race = None
            return
        self.race = playground.Race(self.surface, self.training)
        self.bridge.attach(self.race.events)
        self.race.events.emit("advanced", steps=0, done=False)

    def toggle(self) -> None:
        if self.running:
            self.stop()
            return
        if self.race is None:
            return
        if self.race.steps >= self.total:
            self.reset()
        self.timer.start()
        self.running_changed.emit(True)

    def play(self) -> None:
        """From the start, live (a lesson's ``gradviz:play``)."""
        self.reset()
        self.toggle()

    def stop(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
            self.running_changed.emit(False)

    def advance(self, k: int) -> None:
        if self.race is not None:
            self.race.advance(min(k, max(self.total - self.race.steps, 1)))

    def _tick(self) -> None:
        self.advance(max(1, -(-self.total // TICKS)))
        r = self.race
        if r is None or r.steps >= self.total or len(r.stopped) == len(r.rules):
            self.stop()
