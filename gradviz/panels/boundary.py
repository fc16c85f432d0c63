"""The 2D views of a training run: the decision boundary (class regions, or the regression
surface) on a 200×200 grid with the training and test points over it, and the hidden units,
each unit's activation over the input plane as a small heatmap, per layer."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gradviz.compute import Compute

from gradviz.panels.curves import cache_axes
from gradviz.panels.data import CLASS_COLORS
from gradviz.panels.heat import diverging_rgb
from gradviz_core.teach import insight
from gradviz_core.errors import GradvizError

GRID = 200
HIDDEN_RES = 32
HIDDEN_MS = 250


def rgb_of(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


PALETTE = np.array([rgb_of(c) for c in CLASS_COLORS], dtype=np.float32)


def region_image(regions: np.ndarray, confidence: np.ndarray | None) -> np.ndarray:
    """Pale class colours; with ``confidence`` (0..1) the colour fades where the net is unsure."""
    mix = np.float32(0.38) if confidence is None else (0.1 + 0.45 * confidence[..., None]).astype(np.float32)
    rgb = (PALETTE - 255)[regions % len(PALETTE)] * mix + 255  # = palette·mix + 255·(1 − mix)
    return rgb.astype(np.uint8)


def frame(session, discretize: bool, hidden: bool, owner: str) -> dict | None:
    """One frame of the view, as arrays ready to draw (computed on any thread): the regions
    (or the regression surface) on the grid, and the hidden units' mosaics."""
    got = session.boundary(GRID, owner)
    if got is None:
        return None
    scores, extent = got
    probe = session.probe(owner)
    regions = probe.program.bricks[probe.head[0]].predict_classes(scores.reshape(GRID * GRID, -1))
    out = {"extent": extent, "regression": regions is None}
    if regions is None:  # regression: the surface, on a diverging map
        out["image"] = diverging_rgb(scores[..., 0])
        out["caption"] = "the regression surface (blue below 0, red above)"
    else:
        conf = None if discretize else confidence_of(scores)
        out["image"] = region_image(regions.reshape(GRID, GRID), conf)
        out["caption"] = "class regions" + ("" if conf is None else "; paler where the net is unsure")
    if hidden:
        out["hidden"] = {}
        for name, units in insight.hidden_maps(probe, extent, HIDDEN_RES).items():
            tile = insight.mosaic(units, cols=int(np.ceil(np.sqrt(len(units) * 1.6))), pad=2)
            grey = np.where(np.isnan(tile), 1.0, 1 - 0.85 * tile)  # dark where the unit is active
            total = probe.graph.shapes[name][1]
            out["hidden"][name] = ((grey * 255).astype(np.uint8),
                                   f"{len(units)} units" if len(units) == total else f"{len(units)} of {total} units")
    return out


def confidence_of(scores: np.ndarray) -> np.ndarray:
    """How sure the net is at each grid point: the largest softmax probability rescaled to
    0..1 for K classes; for one score, its distance from the decision threshold."""
    if scores.shape[-1] > 1:
        z = np.exp(scores - scores.max(axis=-1, keepdims=True))
        top = 1 / z.sum(axis=-1)  # the largest probability: its exp(0) = 1 over the sum
        k = scores.shape[-1]
        return np.clip((top - 1 / k) / (1 - 1 / k), 0, 1)
    s = scores[..., 0]
    if s.min() >= 0 and s.max() <= 1:  # probabilities (after a sigmoid)
        return np.abs(2 * s - 1)
    return np.tanh(np.abs(s))


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
        self.plot.setMinimumSize(260, 240)
        cache_axes(self.plot.plotItem)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.train_points = pg.ScatterPlotItem(size=6, pen=pg.mkPen("#222222", width=0.6))
        self.test_points = pg.ScatterPlotItem(size=7, brush=None, symbol="o")
        self.plot.addItem(self.train_points)
        self.plot.addItem(self.test_points)
        self.plot.addLegend(offset=(5, 5))
        self.hidden = pg.GraphicsLayoutWidget()
        self.hidden.setBackground(None)
        self.hidden.setMinimumSize(260, 240)
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
                self.compute.request("frame", lambda: frame(self.session, discretize, hidden, "views"))
            return
        try:
            got = frame(self.session, discretize, hidden, "window")
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
