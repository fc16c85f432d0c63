"""The 2D views of a training run: the decision boundary (class regions, or the regression
surface) on a 200×200 grid with the training and test points over it, and the hidden units,
each unit's activation over the input plane as a small heatmap, per layer."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gradviz.panels.data import CLASS_COLORS
from gradviz.panels.heat import diverging_rgb
from gradviz_core import insight
from gradviz_core.errors import GradvizError

GRID = 200
HIDDEN_RES = 32


def rgb_of(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


PALETTE = np.array([rgb_of(c) for c in CLASS_COLORS], dtype=np.float64)


def region_image(regions: np.ndarray, confidence: np.ndarray | None) -> np.ndarray:
    """Pale class colours; with ``confidence`` (0..1) the colour fades where the net is unsure."""
    mix = 0.38 if confidence is None else 0.1 + 0.45 * confidence[..., None]
    rgb = PALETTE[regions % len(PALETTE)] * mix + 255 * (1 - mix)
    return rgb.astype(np.uint8)


def confidence_of(scores: np.ndarray) -> np.ndarray:
    """How sure the net is at each grid point: the largest softmax probability rescaled to
    0..1 for K classes; for one score, its distance from the decision threshold."""
    if scores.shape[-1] > 1:
        z = scores - scores.max(axis=-1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=-1, keepdims=True)
        k = scores.shape[-1]
        return np.clip((p.max(axis=-1) - 1 / k) / (1 - 1 / k), 0, 1)
    s = scores[..., 0]
    if s.min() >= 0 and s.max() <= 1:  # probabilities (after a sigmoid)
        return np.abs(2 * s - 1)
    return np.tanh(np.abs(s))


class BoundaryView(QWidget):
    def __init__(self, session) -> None:
        super().__init__()
        self.session = session
        self.discretize = QCheckBox("discretize")
        self.discretize.setToolTip("solid class regions, instead of colours that fade where the net is unsure")
        self.discretize.toggled.connect(lambda _: self.refresh())
        self.caption = QLabel("")
        self.plot = pg.PlotWidget(title="decision boundary")
        self.plot.setBackground(None)
        self.plot.setAspectLocked(True)
        self.plot.setMinimumSize(260, 240)
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

    def refresh(self) -> None:
        self.draw_boundary()
        self.draw_hidden()

    def draw_boundary(self) -> None:
        got = self.session.boundary(GRID)
        if got is None:
            return
        scores, (x0, x1, y0, y1) = got
        probe = self.session.probe()
        head = probe.program.bricks[probe.head[0]]
        regions = head.predict_classes(scores.reshape(GRID * GRID, -1))
        if regions is None:  # regression: the surface, on a diverging map
            self.image.setImage(diverging_rgb(scores[..., 0]), levels=(0, 255))
            self.caption.setText("the regression surface (blue below 0, red above)")
        else:
            regions = regions.reshape(GRID, GRID)
            conf = None if self.discretize.isChecked() else confidence_of(scores)
            self.image.setImage(region_image(regions, conf), levels=(0, 255))
            self.caption.setText("class regions" + ("" if conf is None else "; paler where the net is unsure"))
        self.image.setRect(x0, y0, x1 - x0, y1 - y0)
        if self._points_for is not self.session.trainer:
            self._draw_points(regions is None)
        self.frames += 1

    def _draw_points(self, regression: bool) -> None:
        self._points_for = self.session.trainer
        pts = self.session.points()
        for key, item, filled in (("train", self.train_points, True), ("test", self.test_points, False)):
            X, y = pts.get(key, (np.zeros((0, 2)), np.zeros(0)))
            if regression:
                colours = [pg.mkColor(*c) for c in diverging_rgb(np.asarray(y, float).reshape(1, -1))[0]]
            else:
                colours = [pg.mkColor(CLASS_COLORS[int(k) % len(CLASS_COLORS)]) for k in np.ravel(y)[:len(X)]]
            legend = self.plot.plotItem.legend
            legend.removeItem(item)
            if len(X):  # the legend names only the points there are
                legend.addItem(item, "training" if filled else "test (hollow)")
            if filled:
                item.setData(X[:, 0], X[:, 1], brush=colours)
            else:
                item.setData(X[:, 0], X[:, 1], brush=None, pen=[pg.mkPen(c, width=1.6) for c in colours])

    def draw_hidden(self) -> None:
        probe = self.session.probe()
        if probe is None or self.session.boundary_possible() is False:
            return
        try:
            maps = insight.hidden_maps(probe, self.session.extent(), HIDDEN_RES)
        except GradvizError:
            return
        if list(maps) != list(self.hidden_items):
            self.hidden.clear()
            self.hidden_items = {}
            for i, name in enumerate(maps):
                vb = self.hidden.addViewBox(row=2 * i + 1, col=0, lockAspect=True)
                self.hidden.addLabel(f"{name}: {len(maps[name])} units", row=2 * i, col=0)
                vb.setMouseEnabled(False, False)
                vb.invertY(False)
                item = pg.ImageItem(axisOrder="row-major")
                vb.addItem(item)
                self.hidden_items[name] = item
        for name, units in maps.items():
            cols = int(np.ceil(np.sqrt(len(units) * 1.6)))
            tile = insight.mosaic(units, cols=cols, pad=2)
            grey = np.where(np.isnan(tile), 1.0, 1 - 0.85 * tile)  # dark where the unit is active
            self.hidden_items[name].setImage((grey * 255).astype(np.uint8), levels=(0, 255))
        self.hidden_note.setText("Each square is one unit's activation over the plane shown on the left "
                                 "(dark: active). With more units, they split the plane between them."
                                 if maps else "No hidden layer with one value per unit to draw.")
