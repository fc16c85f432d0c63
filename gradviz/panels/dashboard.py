"""The training dashboard: the live views of a training run in tabs (curves, the 2D decision
boundary and hidden units, what a ConvNet learned, diagnostics per layer, runs compared).

While the run trains, a timer redraws the view in front at 20 frames per second; the
heavier views (the ConvNet's, which predict the whole test set) at most every
``HEAVY_MS``. Every view is drawn once more when the run ends. The views read the run
through the session (a snapshot of its weights): a view knows no threads."""
from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QTabWidget

from gradviz.panels.boundary import BoundaryView
from gradviz.panels.convnet import ConvNetView
from gradviz.panels.curves import CompareView, CurvesView
from gradviz.panels.diagnostics import DiagnosticsView

FRAME_MS = 50   # 20 refreshes per second while training
HEAVY_MS = 700


class Dashboard(QTabWidget):
    def __init__(self, session) -> None:
        super().__init__()
        self.session = session
        self.curves = CurvesView(session)
        self.boundary = BoundaryView(session)
        self.convnet = ConvNetView(session)
        self.diagnostics = DiagnosticsView(session)
        self.compare = CompareView(session)
        for view, title in ((self.curves, "Curves"), (self.boundary, "Boundary"), (self.convnet, "ConvNet"),
                            (self.diagnostics, "Diagnostics"), (self.compare, "Compare runs")):
            self.addTab(view, title)
        self.heavy = {self.convnet, self.diagnostics}
        self._last_heavy: dict = {}
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.tick)
        self.currentChanged.connect(lambda _: self.draw(self.currentWidget()))
        session.changed.connect(self._changed)
        session.epoch.connect(lambda _: self.curves.refresh() if self.currentWidget() is self.curves else None)
        session.finished.connect(lambda _: self.draw_all())

    def _changed(self) -> None:
        s = self.session
        self._enable()
        if s.state == "running":
            self.timer.start()
        else:
            self.timer.stop()
            self.draw_all()  # paused, reset, a new run prepared: every view shows where it is

    def _enable(self) -> None:
        """Tabs that do not apply to this graph are greyed, with the reason."""
        s = self.session
        two_d = s.boundary_possible()
        self.setTabEnabled(self.indexOf(self.boundary), two_d)
        self.setTabToolTip(self.indexOf(self.boundary), "" if two_d else
                           "the decision boundary needs 2D samples (points in the plane)")
        conv = s.doc is not None and has_convolution(s.doc)
        self.setTabEnabled(self.indexOf(self.convnet), conv)
        self.setTabToolTip(self.indexOf(self.convnet), "" if conv else "these views need a convolution layer")

    def tick(self) -> None:
        self.draw(self.currentWidget())

    def draw(self, view, force: bool = False) -> None:
        if view is None or self.session.trainer is None or not self.isTabEnabled(self.indexOf(view)):
            return
        if view in self.heavy and not force:
            now = time.monotonic()
            if now - self._last_heavy.get(view, 0.0) < HEAVY_MS / 1000:
                return
            self._last_heavy[view] = now
        view.refresh()

    def draw_all(self) -> None:
        for i in range(self.count()):
            self.draw(self.widget(i), force=True)


def has_convolution(graph) -> bool:
    """A layer with weights whose output is an image stack (N, C, H, W): the ConvNet views apply."""
    return any(graph.param_count(n) and len(graph.shapes.get(n) or ()) == 4 for n in graph.nodes())
