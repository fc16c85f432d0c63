"""The 2D views of a training run: the decision boundary (class regions, or the regression
surface) on a 200×200 grid with the training and test points over it, and the hidden units,
each unit's activation over the input plane as a small heatmap, per layer."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gradviz.sessions.compute import Compute

from gradviz.look.axes import readable_axes
from gradviz.look.colors import CLASS_COLORS
from gradviz.look.heat import diverging_rgb
from gradviz.sessions.views import boundary_frame
from gradviz_core.errors import GradvizError

HIDDEN_MS = 250


class BoundaryView(QWidget):
    """While the run trains, each frame is computed on the views' thread (``Compute``) and only
    drawn here; otherwise (paused, finished, a render) it is computed at once."""

    def __init__(self, session, compute: Compute) -> None:
        super().__init__()
        self.session = session
        self.compute = compute  # the views' thread, shared with the other views (jobs by tag)
        compute.done.connect(self._frame_ready)  # bound methods: delivered on the window's thread
        compute.failed.connect(self._frame_failed)
        self.discretize = QCheckBox("discretize")
        self.discretize.setToolTip("solid class regions, instead of colours that fade where the net is unsure")
        self.discretize.toggled.connect(lambda _: self.refresh())
        self.caption = QLabel("")
        self.plot = pg.PlotWidget(title="decision boundary")
        self.plot.setBackground(None)
        self.plot.setAspectLocked(True)
        self.plot.setMinimumSize(220, 180)
        readable_axes(self.plot)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.train_points = pg.ScatterPlotItem(size=6, pen=pg.mkPen("#222222", width=0.6))
        self.test_points = pg.ScatterPlotItem(size=7, brush=None, symbol="o")
        self.plot.addItem(self.train_points)
        self.plot.addItem(self.test_points)
        self.plot.addLegend(offset=(5, 5))
        self.hidden = pg.GraphicsLayoutWidget()
        self.hidden.setBackground(None)
        self.hidden.setMinimumSize(200, 180)
        self.hidden_items: dict[str, pg.ImageItem] = {}
        self.hidden_note = QLabel("")
        self.hidden_note.setWordWrap(True)
        self.frames = 0          # boundary refreshes drawn (for the bench and the tests)
        self._points_for = None  # the trainer whose points are drawn
        self._extent = None
        self._hidden_at = 0.0
        top = QHBoxLayout()
        top.addWidget(self.discretize)
        top.addWidget(self.caption, 1)
        left = QVBoxLayout()
        left.addLayout(top)
        left.addWidget(self.plot, 1)
        right = QVBoxLayout()
        right.addWidget(QLabel("<b>Hidden units</b> over the input plane"))
        right.addWidget(self.hidden, 1)
        right.addWidget(self.hidden_note)
        lay = QHBoxLayout(self)
        lay.addLayout(left, 3)
        lay.addLayout(right, 2)
        self.bind(session)

    def bind(self, session) -> None:
        """A document's training session: the last document's boundary, points and units go."""
        if session is getattr(self, "_bound", None):
            return  # already this document's
        self._bound = session
        self.session = session
        self._points_for, self._extent = None, None
        self.image.clear()
        self.train_points.clear()
        self.test_points.clear()
        self.caption.setText("")
        self._draw_hidden({})

    def refresh(self, sync: bool = False) -> None:
        """The boundary at every frame; the hidden units at most every HIDDEN_MS. ``sync``:
        computed here and now (a render, a test), not on the views' thread."""
        now = time.monotonic()
        hidden = now - self._hidden_at >= HIDDEN_MS / 1000 or not self.session.running
        if hidden:
            self._hidden_at = now
        discretize = self.discretize.isChecked()
        if not sync:
            # while training, a tick that finds a frame still being computed is skipped; otherwise
            # (paused, reset, finished) the request replaces any waiting one, so the last word wins
            if not (self.session.running and self.compute.busy()):
                self.compute.request("frame", lambda: boundary_frame(self.session, discretize, hidden, "views"))
            return
        try:
            got = boundary_frame(self.session, discretize, hidden, "window")
        except GradvizError as exc:
            self._frame_failed("frame", str(exc))
            return
        self._frame_ready("frame", got)

    def _frame_failed(self, tag: str, message: str) -> None:
        if tag == "frame":
            self.caption.setText(message)

    def _frame_ready(self, tag: str, got: dict | None) -> None:
        if tag != "frame" or got is None:
            return
        x0, x1, y0, y1 = got["extent"]
        self.image.setImage(got["image"], levels=(0, 255))
        if got["extent"] != self._extent:
            self._extent = got["extent"]
            self.image.setRect(x0, y0, x1 - x0, y1 - y0)
        self.caption.setText(got["caption"])
        if self._points_for is not self.session.trainer:
            self._draw_points(got["regression"])
        if "hidden" in got:
            self._draw_hidden(got["hidden"])
        self.frames += 1

    def _draw_points(self, regression: bool) -> None:
        self._points_for = self.session.trainer
        pts = self.session.points()
        brushes = [pg.mkBrush(c) for c in CLASS_COLORS]
        pens = [pg.mkPen(c, width=1.6) for c in CLASS_COLORS]
        for key, item, filled in (("train", self.train_points, True), ("test", self.test_points, False)):
            X, y = pts.get(key, (np.zeros((0, 2)), np.zeros(0)))
            if regression:
                colours = [pg.mkColor(*c) for c in diverging_rgb(np.asarray(y, float).reshape(1, -1))[0]]
                fill, edge = [pg.mkBrush(c) for c in colours], [pg.mkPen(c, width=1.6) for c in colours]
            else:
                k = np.ravel(y)[:len(X)].astype(int) % len(CLASS_COLORS)
                fill, edge = [brushes[i] for i in k], [pens[i] for i in k]
            legend = self.plot.plotItem.legend
            legend.removeItem(item)
            if len(X):  # the legend names only the points there are
                legend.addItem(item, "training" if filled else "test (hollow)")
            if filled:
                item.setData(X[:, 0], X[:, 1], brush=fill)
            else:
                item.setData(X[:, 0], X[:, 1], brush=None, pen=edge)

    def _draw_hidden(self, maps: dict) -> None:
        if list(maps) != list(self.hidden_items):
            self.hidden.clear()
            self.hidden_items = {}
            for i, (name, (_, units)) in enumerate(maps.items()):
                self.hidden.addLabel(f"{name}: {units}", row=2 * i, col=0)
                vb = self.hidden.addViewBox(row=2 * i + 1, col=0, lockAspect=True)
                vb.setMouseEnabled(False, False)
                item = pg.ImageItem(axisOrder="row-major")
                vb.addItem(item)
                self.hidden_items[name] = item
        for name, (tile, _) in maps.items():
            self.hidden_items[name].setImage(tile, levels=(0, 255))
        self.hidden_note.setText("Each square is one unit's activation over the plane shown on the left "
                                 "(dark: active). With more units, they split the plane between them."
                                 if maps else "No hidden layer with one value per unit to draw.")
