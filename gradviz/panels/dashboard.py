"""The training dashboard: the live views of a training run in tabs (curves, the 2D decision
boundary and hidden units, what a ConvNet learned, diagnostics per layer, runs compared).

While the run trains, a timer redraws the view in front at 20 frames per second; the
heavier views (the ConvNet's, which predict the whole test set) at most every
``HEAVY_MS``. Every view is drawn once more when the run ends. The views read the run
through the session (a snapshot of its weights): a view knows no threads."""
from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QScrollArea, QTabWidget

from gradviz.sessions.compute import Compute
from gradviz.panels.boundary import BoundaryView
from gradviz.panels.convnet import ConvNetView
from gradviz.panels.curves import CompareView, CurvesView
from gradviz.panels.diagnostics import DiagnosticsView

FRAME_MS = 40   # 25 frames per second asked for while training (the decision boundary); 20 or more drawn
#: the other views need fewer frames: each repaint of a plot's axes costs milliseconds of the
#: window's thread, and every millisecond it holds Python's GIL is one the training thread waits
PERIOD_MS = {"curves": 250, "hidden": 250, "heavy": 700}


class Dashboard(QTabWidget):
    def __init__(self, session) -> None:
        super().__init__()
        self.session = session
        self.compute = Compute(self)  # the views' thread
        self.curves = CurvesView(session)
        self.boundary = BoundaryView(session, self.compute)
        self.convnet = ConvNetView(session, self.compute)
        self.diagnostics = DiagnosticsView(session)
        self.compare = CompareView(session)
        for view, title in ((self.curves, "Curves"), (self.boundary, "Boundary"), (self.convnet, "ConvNet"),
                            (self.diagnostics, "Diagnostics"), (self.compare, "Compare runs")):
            # the diagnostics need more height than the dashboard's share of the window: they scroll
            self.addTab(_scrolled(view, 420) if view is self.diagnostics else view, title)
        self.period = {self.curves: PERIOD_MS["curves"], self.convnet: PERIOD_MS["heavy"],
                       self.diagnostics: PERIOD_MS["heavy"], self.compare: PERIOD_MS["heavy"]}
        self._last: dict = {}
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.tick)
        self.currentChanged.connect(lambda _: self.draw(self.current_view()))
        self.bind(session)

    def bind(self, session) -> None:
        """A document's training session: every view starts from what it holds (nothing, for a
        graph just opened), never from the last document's run."""
        if session is getattr(self, "_bound", None):
            return  # already this document's
        self._bound = session
        self.timer.stop()
        self.compute.cancel()
        self.session = session
        self._last = {}
        for i in range(self.count()):
            self.view_at(i).bind(session)
        session.changed.connect(self._changed)
        session.finished.connect(lambda _: self.draw(self.current_view(), force=True))
        self._enable()

    def redraw(self) -> None:
        """The view in front, drawn again now (the kernels became ready, say)."""
        self.draw(self.current_view(), force=True)

    def _changed(self) -> None:
        s = self.session
        self._enable()
        if s.state == "running":
            self.timer.start()
        else:
            self.timer.stop()
            # paused, reset, a new run prepared: the view in front shows where it is (the others
            # when they are brought forward)
            self.draw(self.current_view(), force=True)

    def _enable(self) -> None:
        """Tabs that do not apply to this graph are greyed, with the reason."""
        s = self.session
        two_d = s.boundary_possible()
        self.setTabEnabled(self.tab_of(self.boundary), two_d)
        self.setTabToolTip(self.tab_of(self.boundary), "" if two_d else
                           "the decision boundary needs 2D samples (points in the plane)")
        conv = s.doc is not None and has_convolution(s.doc)
        self.setTabEnabled(self.tab_of(self.convnet), conv)
        self.setTabToolTip(self.tab_of(self.convnet), "" if conv else "these views need a convolution layer")

    def tick(self) -> None:
        self.draw(self.current_view())

    def view_at(self, index: int):
        w = self.widget(index)
        return w.widget() if isinstance(w, QScrollArea) else w

    def current_view(self):
        return self.view_at(self.currentIndex())

    def tab_of(self, view) -> int:
        return next(i for i in range(self.count()) if self.view_at(i) is view)

    def show_view(self, view) -> None:
        self.setCurrentIndex(self.tab_of(view))

    def draw(self, view, force: bool = False, sync: bool = False) -> None:
        if view is None or self.session.trainer is None or not self.isTabEnabled(self.tab_of(view)):
            return
        if not force and view in self.period:
            now = time.monotonic()
            if now - self._last.get(view, 0.0) < self.period[view] / 1000:
                return
            self._last[view] = now
        view.refresh(sync=True) if sync and view in (self.boundary, self.convnet) else view.refresh()

    def close(self) -> bool:
        """The window closes: the views' thread ends too."""
        self.timer.stop()
        self.compute.close()
        return super().close()

    def draw_all(self) -> None:
        """Every view, at once and here (a render, a test)."""
        for i in range(self.count()):
            self.draw(self.view_at(i), force=True, sync=True)


def _scrolled(view, height: int = 560):
    """A view that needs more height than the dock gives: it scrolls, at a readable size."""
    view.setMinimumHeight(height)
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(view)
    return area


def has_convolution(graph) -> bool:
    """A layer with weights whose output is an image stack (N, C, H, W): the ConvNet views apply."""
    return any(graph.param_count(n) and len(graph.shapes.get(n) or ()) == 4 for n in graph.nodes())
