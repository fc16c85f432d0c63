"""What a ConvNet has learned: the first layer's filters, the feature maps of a chosen
sample at every conv layer, its saliency map (∂score/∂image), the confusion matrix (a click
on a cell shows its images) and a gallery of misclassified images (a click picks one)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsObject
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from gradviz.sessions.compute import Compute
from gradviz.sessions.views import convnet_state, mosaic, sample_state

GALLERY = 40  # images in the gallery at most
SMALL = QFont()
SMALL.setPointSizeF(7.5)


class CellCounts(QGraphicsObject):
    """The counts of a matrix, written at its cells' centres in a fixed small font: one item
    that paints them all (a text item per cell costs far more to make and to draw)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = np.zeros((0, 0), np.int64)

    def set_counts(self, m: np.ndarray) -> None:
        if m.shape != self.counts.shape:
            self.prepareGeometryChange()
        self.counts = np.array(m)
        self.update()

    def boundingRect(self) -> QRectF:
        k, j = self.counts.shape
        return QRectF(0, 0, j, k)

    def paint(self, painter, option, widget=None) -> None:
        t = painter.transform()
        painter.resetTransform()
        painter.setFont(SMALL)
        painter.setPen(QColor("#222222"))
        for (i, j), c in np.ndenumerate(self.counts):
            if c:
                p = t.map(QPointF(j + 0.5, i + 0.5))
                painter.drawText(QRectF(p.x() - 20, p.y() - 8, 40, 16), Qt.AlignCenter, str(c))


class ClickImage(pg.ImageItem):
    """An image that reports clicks as (row, column) of its pixels."""

    def __init__(self, on_click) -> None:
        super().__init__(axisOrder="row-major")
        self.on_click = on_click

    def mouseClickEvent(self, ev) -> None:
        p = ev.pos()
        self.on_click(int(p.y()), int(p.x()))
        ev.accept()


def _box(title: str, item, invert: bool = True) -> pg.GraphicsLayoutWidget:
    w = pg.GraphicsLayoutWidget()
    w.setBackground(None)
    w.setMinimumSize(120, 150)
    w.addLabel(title, row=0, col=0)
    vb = w.addViewBox(row=1, col=0, lockAspect=True)
    vb.invertY(invert)  # images read top to bottom
    vb.setMouseEnabled(False, False)
    vb.addItem(item)
    w.view = vb
    return w


def grey(tile: np.ndarray) -> np.ndarray:
    """A mosaic (values 0..1, NaN gutters) as uint8, white gutters."""
    return (np.where(np.isnan(tile), 1.0, tile) * 255).astype(np.uint8)


def ink(tile: np.ndarray) -> np.ndarray:
    """Samples drawn as ink on paper: high values dark."""
    return grey(1 - tile)


def as_image(x: np.ndarray) -> np.ndarray:
    """A sample (C, H, W) as (H, W) or (H, W, 3) for drawing."""
    x = np.asarray(x, np.float64)
    return np.moveaxis(x, 0, -1) if x.ndim == 3 and x.shape[0] == 3 else (x[0] if x.ndim == 3 else x)


class ConvNetView(QWidget):
    sample_changed = Signal(int)

    def __init__(self, session, compute: Compute) -> None:
        super().__init__()
        self.session = session
        self.compute = compute  # the views' thread, shared (jobs by tag)
        compute.done.connect(self._computed)  # a bound method: delivered on the window's thread
        compute.failed.connect(self._failed)
        self.sample = QSpinBox()
        self.sample.setToolTip("the test sample whose feature maps and saliency map are shown")
        self.sample.valueChanged.connect(lambda _: self.draw_sample())
        self.layer = QComboBox()
        self.layer.setToolTip("the layer whose feature maps are shown")
        self.layer.activated.connect(lambda _: self.draw_sample())
        self.sample_text = QLabel("")
        self.cell_text = QLabel("misclassified test images (click one to look at it)")
        self.cell_text.setWordWrap(True)
        self.filters = pg.ImageItem(axisOrder="row-major")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.saliency = pg.ImageItem(axisOrder="row-major")
        self.maps = pg.ImageItem(axisOrder="row-major")
        self.confusion = ClickImage(self.cell_clicked)
        self.gallery = ClickImage(self.gallery_clicked)
        self.filters_box = _box("first-layer filters", self.filters)
        self.image_box = _box("sample", self.image)
        self.saliency_box = _box("saliency |∂score/∂x|", self.saliency)
        self.maps_box = _box("feature maps", self.maps)
        self.confusion_box = pg.PlotWidget(title="confusion (click a cell)")
        self.confusion_box.setBackground(None)
        self.confusion_box.setMinimumSize(200, 180)
        self.confusion_box.addItem(self.confusion)
        self.confusion_box.invertY(True)
        self.confusion_box.setAspectLocked(True)
        self.confusion_box.setMouseEnabled(False, False)
        self.confusion_box.setLabel("left", "true class")
        self.confusion_box.setLabel("bottom", "predicted class")
        self.confusion_box.view = self.confusion_box.getViewBox()
        self.counts = CellCounts()
        self.confusion_box.addItem(self.counts)
        self.gallery_box = _box("gallery", self.gallery)
        self.matrix: np.ndarray | None = None
        self.truth = self.pred = None
        self.shown: list[int] = []  # the gallery's sample indices, in order
        self.cell: tuple[int, int] | None = None
        self.updates = 0
        pick = QHBoxLayout()
        pick.addWidget(QLabel("test sample"))
        pick.addWidget(self.sample)
        pick.addWidget(QLabel("layer"))
        pick.addWidget(self.layer)
        pick.addWidget(self.sample_text, 1)
        grid = QGridLayout()
        # one row: it fits the dock's height, each view square
        for col, box in enumerate((self.filters_box, self.image_box, self.saliency_box, self.maps_box,
                                   self.confusion_box, self.gallery_box)):
            grid.addWidget(box, 0, col)
            grid.setColumnStretch(col, 2 if box in (self.confusion_box, self.gallery_box) else 1)
        lay = QVBoxLayout(self)
        lay.addLayout(pick)
        lay.addLayout(grid, 1)
        lay.addWidget(self.cell_text)
        self.bind(session)

    def bind(self, session) -> None:
        """A document's training session: the last document's images, predictions and picks go."""
        if session is getattr(self, "_bound", None):
            return  # already this document's
        self._bound = session
        self.session = session
        self.matrix, self.truth, self.pred, self.cell, self.shown = None, None, None, None, []
        self._raw_for = None
        for item in (self.filters, self.image, self.saliency, self.maps, self.confusion, self.gallery):
            item.clear()
        self.counts.set_counts(np.zeros((0, 0), int))
        self.sample_text.setText("")

    def dataset(self):
        t = self.session.trainer
        if t is None:
            return None
        s = t.splits
        return s.test if s.test is not None and len(s.test) else (s.val if s.val is not None else s.train)

    def raw(self, i: int) -> np.ndarray:
        """Sample i as the data gave it (before preprocessing), to draw."""
        t, ds = self.session.trainer, self.dataset()
        if getattr(self, "_raw_for", None) is not ds:
            self._raw, self._raw_for = t.splits.preprocessor.inverse(ds.X), ds
        return self._raw[i]

    def refresh(self, sync: bool = False) -> None:
        """While training, the predictions over the test set are computed on the views' thread
        and drawn when ready; otherwise (``sync``, paused, finished) here and now."""
        ds = self.dataset()
        if ds is None:
            return
        if not sync and self.session.running:
            if not self.compute.busy():
                self.compute.request("convnet", lambda: self._state("views", ds))
            return
        self._apply(self._state("window", ds))

    def _state(self, owner: str, ds) -> dict | None:
        """Everything the refresh draws that needs the net (any thread)."""
        return convnet_state(self.session.probe(owner), ds, self.sample.value(), self.layer.currentText())

    def _computed(self, tag: str, got) -> None:
        if tag == "convnet":
            self._apply(got)

    def _failed(self, tag: str, message: str) -> None:
        if tag == "convnet":
            self.sample_text.setText(message)

    def _apply(self, got: dict | None) -> None:
        if got is None or got["ds"] is not self.dataset():
            return
        self.updates += 1
        ds = got["ds"]
        if got["filters"] is not None:
            node, count, tile = got["filters"]
            self.filters_box.ci.layout.itemAt(0, 0).setText(f"{node}: {count} filters")
            self.filters.setImage(grey(tile), levels=(0, 255))
        self.sample.blockSignals(True)
        self.sample.setMaximum(len(ds) - 1)
        self.sample.blockSignals(False)
        if got["pred"] is not None:
            self.truth, self.pred = got["pred"]
            k = int(max(self.truth.max(), self.pred.max()) + 1)
            self.matrix = np.bincount(self.truth * k + self.pred, minlength=k * k).reshape(k, k)
            self._draw_confusion()
            self._draw_gallery()
        self._show_sample(got["sample"])

    def _draw_confusion(self) -> None:
        m = self.matrix
        share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        rgb = np.empty(m.shape + (3,))
        diag = np.eye(len(m), dtype=bool)
        rgb[..., 0] = np.where(diag, 1 - 0.8 * share, 1 - 0.1 * np.minimum(share * 4, 1))
        rgb[..., 1] = np.where(diag, 1 - 0.35 * share, 1 - 0.7 * np.minimum(share * 4, 1))
        rgb[..., 2] = np.where(diag, 1 - 0.8 * share, 1 - 0.7 * np.minimum(share * 4, 1))
        self.confusion.setImage((rgb * 255).astype(np.uint8), levels=(0, 255))
        ticks = [[(i + 0.5, str(i)) for i in range(len(m))]]
        for axis in ("left", "bottom"):
            self.confusion_box.getAxis(axis).setTicks(ticks)
        self.counts.set_counts(m)

    def cell_clicked(self, row: int, col: int) -> None:
        if self.matrix is not None and 0 <= row < len(self.matrix) and 0 <= col < len(self.matrix):
            self.cell = (row, col)
            self._draw_gallery()

    def _draw_gallery(self) -> None:
        ds = self.dataset()
        if self.truth is None or ds is None:
            return
        if self.cell is None:
            idx = np.flatnonzero(self.truth != self.pred)
            what = f"{len(idx)} misclassified test images"
        else:
            i, j = self.cell
            idx = np.flatnonzero((self.truth == i) & (self.pred == j))
            what = f"{len(idx)} test images of class {i} predicted as {j}"
        self.shown = [int(v) for v in idx[:GALLERY]]
        self.cell_text.setText(what + ("" if len(idx) <= GALLERY else f" (the first {GALLERY})")
                               + ": click one to look at it; click a confusion cell for its images")
        if not self.shown:
            self.gallery.setImage(np.full((1, 1), 255, np.uint8), levels=(0, 255))
            return
        imgs = np.stack([as_image(self.raw(i)) for i in self.shown])
        self.gallery_cols = 6
        self.gallery.setImage(ink(mosaic(imgs, cols=6, pad=1)), levels=(0, 255))
        self._tile = imgs.shape[1:3]

    def gallery_clicked(self, row: int, col: int) -> None:
        if not self.shown:
            return
        h, w = self._tile
        i = (row // (h + 1)) * self.gallery_cols + col // (w + 1)
        if 0 <= i < len(self.shown):
            self.sample.setValue(self.shown[i])

    def draw_sample(self) -> None:
        """The chosen sample (a click, the spin box): one sample's maps, computed here."""
        probe, ds = self.session.probe(), self.dataset()
        if probe is not None and ds is not None and len(ds):
            self._show_sample(sample_state(probe, ds, self.sample.value(), self.layer.currentText()))

    def _show_sample(self, st: dict) -> None:
        if "error" in st:
            self.sample_text.setText(st["error"])
            return
        i, maps = st["i"], st["maps"]
        self.image.setImage(ink(mosaic(as_image(self.raw(i))[None])), levels=(0, 255))
        self.saliency.setImage(ink(st["saliency"]), levels=(0, 255))
        truth = self.truth[i] if self.truth is not None and i < len(self.truth) else None
        self.sample_text.setText(f"true class {truth}, predicted {st['cls']}" if truth is not None
                                 else f"predicted {st['cls']}")
        names = list(maps)
        if names != [self.layer.itemText(k) for k in range(self.layer.count())]:
            self.layer.clear()
            self.layer.addItems(names)
            if st["layer"] in names:
                self.layer.setCurrentText(st["layer"])
        name = self.layer.currentText() or (names[0] if names else "")
        if name in maps:
            count, tile = maps[name]
            self.maps_box.ci.layout.itemAt(0, 0).setText(f"feature maps of {name}: {count}")
            self.maps.setImage(grey(tile), levels=(0, 255))
