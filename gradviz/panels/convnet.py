"""What a ConvNet has learned: the first layer's filters, the feature maps of a chosen
sample at every conv layer, its saliency map (∂score/∂image), the confusion matrix (a click
on a cell shows its images) and a gallery of misclassified images (a click picks one)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from gradviz_core import insight
from gradviz_core.errors import GradvizError

GALLERY = 40  # images in the gallery at most
SMALL = QFont()
SMALL.setPointSizeF(7.5)


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
    w.setMinimumSize(150, 150)
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

    def __init__(self, session) -> None:
        super().__init__()
        self.session = session
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
        self.confusion_box = pg.PlotWidget(title="confusion matrix (click a cell for its images)")
        self.confusion_box.setBackground(None)
        self.confusion_box.setMinimumSize(200, 180)
        self.confusion_box.addItem(self.confusion)
        self.confusion_box.invertY(True)
        self.confusion_box.setMouseEnabled(False, False)
        self.confusion_box.setLabel("left", "true class")
        self.confusion_box.setLabel("bottom", "predicted class")
        self.confusion_box.view = self.confusion_box.getViewBox()
        self.gallery_box = _box("gallery", self.gallery)
        self.confusion_labels: list = []
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
        grid.addWidget(self.filters_box, 0, 0)
        grid.addWidget(self.image_box, 0, 1)
        grid.addWidget(self.saliency_box, 0, 2)
        grid.addWidget(self.maps_box, 0, 3)
        grid.addWidget(self.confusion_box, 1, 0, 1, 2)
        grid.addWidget(self.gallery_box, 1, 2, 1, 2)
        lay = QVBoxLayout(self)
        lay.addLayout(pick)
        lay.addLayout(grid, 1)
        lay.addWidget(self.cell_text)

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

    def refresh(self) -> None:
        probe, ds = self.session.probe(), self.dataset()
        if probe is None or ds is None:
            return
        self.updates += 1
        got = insight.first_filters(probe)
        if got is not None:
            node, imgs = got
            self.filters_box.ci.layout.itemAt(0, 0).setText(f"{node}: {len(imgs)} filters")
            self.filters.setImage(grey(insight.mosaic(imgs, pad=1)), levels=(0, 255))
        self.sample.setMaximum(len(ds) - 1)
        pred = insight.predictions(probe, ds)
        if pred is not None:
            self.truth, self.pred = pred
            k = int(max(self.truth.max(), self.pred.max()) + 1)
            self.matrix = np.bincount(self.truth * k + self.pred, minlength=k * k).reshape(k, k)
            self._draw_confusion()
            self._draw_gallery()
        self.draw_sample(probe)

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
        vb = self.confusion_box.view
        for t in self.confusion_labels:
            vb.removeItem(t)
        self.confusion_labels = []
        for (i, j), count in np.ndenumerate(m):
            if count:
                t = pg.TextItem(str(count), color="#222222", anchor=(0.5, 0.5))
                t.setFont(SMALL)
                t.setPos(j + 0.5, i + 0.5)
                vb.addItem(t)
                self.confusion_labels.append(t)

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
        self.gallery_cols = 8
        self.gallery.setImage(ink(insight.mosaic(imgs, cols=8, pad=1)), levels=(0, 255))
        self._tile = imgs.shape[1:3]

    def gallery_clicked(self, row: int, col: int) -> None:
        if not self.shown:
            return
        h, w = self._tile
        i = (row // (h + 1)) * self.gallery_cols + col // (w + 1)
        if 0 <= i < len(self.shown):
            self.sample.setValue(self.shown[i])

    def draw_sample(self, probe=None) -> None:
        probe = probe or self.session.probe()
        ds = self.dataset()
        if probe is None or ds is None or not len(ds):
            return
        i = min(self.sample.value(), len(ds) - 1)
        x = ds.X[i]
        shown = as_image(self.raw(i))
        self.image.setImage(ink(insight.mosaic(shown[None], normalize=True)), levels=(0, 255))
        try:
            grad, cls, scores = probe.input_gradient(x)
            sal = insight.saliency_image(grad)
            self.saliency.setImage(ink(insight.mosaic(sal[None])), levels=(0, 255))
            truth = self.truth[i] if self.truth is not None else None
            self.sample_text.setText(f"true class {truth}, predicted {cls}" if truth is not None
                                     else f"predicted {cls}")
            maps = insight.feature_maps(probe, x)
        except GradvizError as exc:
            self.sample_text.setText(str(exc))
            return
        names = list(maps)
        if names != [self.layer.itemText(k) for k in range(self.layer.count())]:
            current = self.layer.currentText()
            self.layer.clear()
            self.layer.addItems(names)
            if current in names:
                self.layer.setCurrentText(current)
        name = self.layer.currentText() or (names[0] if names else "")
        if name in maps:
            self.maps_box.ci.layout.itemAt(0, 0).setText(f"feature maps of {name}: {len(maps[name])}")
            self.maps.setImage(grey(insight.mosaic(maps[name], pad=1)), levels=(0, 255))
