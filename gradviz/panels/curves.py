"""Curves of a training run, and of several runs side by side.

``CurvesView``: the loss (training, with its data and regularization parts apart, each step's
loss faintly, and validation), a log-scale option and smoothing; the accuracy, training and
validation, so that overfitting shows as a gap. ``CompareView``: the kept runs overlaid, each
labelled with what differs in its settings; the runs can be saved with the graph."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QSlider, QVBoxLayout, QWidget)

from gradviz.look.colors import CLASS_COLORS
from gradviz.look.axes import readable_axes

TRAIN, VAL, DATA, REG = "#1c7ed6", "#e8590c", "#2f9e44", "#868e96"


def smooth(values, weight: float) -> np.ndarray:
    """An exponential moving average (TensorBoard's smoothing), ignoring None."""
    out, last = [], None
    for v in values:
        if v is None or not np.isfinite(v):
            out.append(np.nan)
            continue
        last = v if last is None else weight * last + (1 - weight) * v
        out.append(last)
    return np.asarray(out, dtype=np.float64)


def column(history: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(r["epoch"], r[key]) for r in history if r.get(key) is not None]
    return np.array([p[0] for p in pairs], float), np.array([p[1] for p in pairs], float)


def _plot(layout, title: str, left: str):
    p = layout.addPlot(title=title)
    readable_axes(p)
    p.setLabel("bottom", "epoch")
    p.setLabel("left", left)
    p.showGrid(x=True, y=True, alpha=0.2)
    p.addLegend(offset=(-5, 5))
    return p


class CurvesView(QWidget):
    def __init__(self, session) -> None:
        super().__init__()
        self.session = session
        self.log = QCheckBox("log scale")
        self.log.setToolTip("the loss on a log scale: slow progress late in training shows")
        self.log.toggled.connect(self._log)
        self.smoothing = QSlider(Qt.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setFixedWidth(120)
        self.smoothing.setToolTip("smoothing: an exponential moving average of the curves (0 to 0.99)")
        self.smoothing.valueChanged.connect(lambda _: self.refresh())
        self.smooth_label = QLabel("smoothing 0")
        bar = QHBoxLayout()
        for w in (self.log, self.smooth_label, self.smoothing):
            bar.addWidget(w)
        bar.addStretch(1)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground(None)
        self.plots.setMinimumHeight(200)
        self.loss_plot = _plot(self.plots, "loss", "loss")
        self.step_curve = self.loss_plot.plot(pen=pg.mkPen("#a5d8ff", width=1), name="each step")
        self.step_curve.setDownsampling(auto=True, method="peak")
        self.step_curve.setClipToView(True)
        self.train_curve = self.loss_plot.plot(pen=pg.mkPen(TRAIN, width=2), name="training (data + reg)")
        self.data_curve = self.loss_plot.plot(pen=pg.mkPen(DATA, width=1.5, style=Qt.DashLine), name="data loss")
        self.reg_curve = self.loss_plot.plot(pen=pg.mkPen(REG, width=1.5, style=Qt.DotLine), name="regularization")
        self.val_curve = self.loss_plot.plot(pen=pg.mkPen(VAL, width=2), name="validation")
        self.acc_plot = _plot(self.plots, "accuracy", "accuracy")
        self.acc_plot.setYRange(0, 1, padding=0.02)
        for plot in (self.loss_plot, self.acc_plot):
            plot.disableAutoRange()
        self.train_acc = self.acc_plot.plot(pen=pg.mkPen(TRAIN, width=2), name="training")
        self.val_acc = self.acc_plot.plot(pen=pg.mkPen(VAL, width=2), name="validation")
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(self.plots, 1)
        self.bind(session)

    def bind(self, session) -> None:
        """A document's training session: its curves (none yet for a graph just opened)."""
        if session is getattr(self, "_bound", None):
            return  # already this document's
        self._bound = session
        self.session = session
        self.refresh(force=True)

    def _log(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self.refresh()

    def refresh(self, force: bool = False) -> None:
        h = self.session.history
        t = self.session.trainer
        losses = t.losses if t is not None else []
        drawn = (t, len(h), len(losses), self.smoothing.value(), self.log.isChecked())
        if drawn == getattr(self, "_drawn", None) and not force:
            return  # nothing new: no repaint
        self._drawn = drawn
        w = self.smoothing.value() / 100
        self.smooth_label.setText(f"smoothing {w:.2f}")
        log = self.log.isChecked()

        def put(curve, xs, ys, smoothed=True):
            ys = smooth(ys, w) if len(ys) and smoothed else np.asarray(ys, float)
            keep = np.isfinite(ys) & ((ys > 0) if log else True)  # a log axis has no room for 0
            curve.setData(xs[keep], ys[keep], symbol="o" if keep.sum() <= 3 else None, symbolSize=6)

        e, data = column(h, "train_loss")
        _, reg = column(h, "reg_loss")
        total = data + reg if len(reg) == len(data) else data
        put(self.data_curve, e, data)
        put(self.train_curve, e, total)
        put(self.reg_curve, e, reg)
        put(self.val_curve, *column(h, "val_loss"))
        put(self.train_acc, *column(h, "train_acc"))
        put(self.val_acc, *column(h, "val_acc"))
        has_val = t is not None and t.splits.val is not None and len(t.splits.val) > 0
        has_reg = bool(len(reg)) and bool(np.any(reg)) or (t is not None and bool(t.regs))
        self._legend(self.loss_plot, self.val_curve, "validation", has_val)
        self._legend(self.acc_plot, self.val_acc, "validation", has_val)
        self._legend(self.loss_plot, self.reg_curve, "regularization", has_reg)
        steps = np.array(losses, float).reshape(-1, 2)
        if len(steps) and t is not None:
            per = max(1, -(-len(t.training_run.train_set) // t.training_run.batch_size))
            put(self.step_curve, steps[:, 0] / per, steps[:, 1], smoothed=False)  # the raw signal
        else:
            self.step_curve.setData([], [])
        self._ranges(e, np.concatenate([total, steps[:, 1]]) if len(steps) else total, log)

    @staticmethod
    def _legend(plot, curve, name: str, shown: bool) -> None:
        """A legend names only the curves there are."""
        listed = any(sample.item is curve for sample, _ in plot.legend.items)
        if listed and not shown:
            plot.legend.removeItem(curve)
        elif shown and not listed:
            plot.legend.addItem(curve, name)

    def _ranges(self, epochs, loss, log: bool) -> None:
        """Fixed axes that change only in steps: epochs 0 to the run's total, and the loss from 0
        to a little above its largest value so far. An axis whose range moves at every epoch is
        repainted at every epoch, and that costs the window's thread far more than the curves."""
        t = self.session.trainer
        total = t.settings.epochs if t is not None else max(len(epochs), 1)
        for plot in (self.loss_plot, self.acc_plot):
            lo, hi = plot.viewRange()[0]
            if abs(lo + 0.02 * total) > 0.05 * total or abs(hi - 1.02 * total) > 0.05 * total:
                plot.setXRange(0, total, padding=0.02)  # (only when it moved: a log switch, a new run)
        if log:
            self.loss_plot.enableAutoRange(y=True)
            self._ytop = None
            return
        self.loss_plot.disableAutoRange(axis="y")
        top = float(np.nanmax(loss)) if len(loss) and np.isfinite(loss).any() else 1.0
        hi = getattr(self, "_ytop", None)
        if hi is None or top > hi or top < 0.4 * hi:
            self._ytop = top * 1.15
            self.loss_plot.setYRange(0, self._ytop, padding=0)

    def points(self) -> int:
        return len(self.train_curve.getData()[0] if self.train_curve.getData()[0] is not None else [])


class CompareView(QWidget):
    save_requested = Signal()  # keep the runs in the graph (saved with it)

    def __init__(self, session) -> None:
        super().__init__()
        self.session = session
        self.list = QListWidget()
        self.list.setMaximumWidth(300)
        self.list.itemChanged.connect(lambda _: self.draw())
        self.which = QComboBox()
        self.which.addItems(["validation loss", "training loss", "validation accuracy", "training accuracy"])
        self.which.currentIndexChanged.connect(lambda _: self.draw())
        self.remove = QPushButton("Remove")
        self.remove.setToolTip("forget the selected run")
        self.remove.clicked.connect(lambda: self.session.remove_run(self.list.currentRow()))
        self.save = QPushButton("Keep runs in the graph")
        self.save.setToolTip("save these runs with the graph file, so they are there when it opens again")
        self.save.clicked.connect(self.save_requested.emit)
        self.note = QLabel("Every run you train on this graph is kept here until you open another graph. Each is "
                           "labelled with what differs in its settings: change η, or a layer's "
                           "init, and train again.")
        self.note.setWordWrap(True)
        self.plot = pg.PlotWidget(title="runs compared")
        readable_axes(self.plot)
        self.plot.setBackground(None)
        self.plot.setLabel("bottom", "epoch")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(-5, 5))
        side = QVBoxLayout()
        side.addWidget(self.which)
        side.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove)
        buttons.addWidget(self.save)
        side.addLayout(buttons)
        side.addWidget(self.note)
        lay = QHBoxLayout(self)
        lay.addLayout(side)
        lay.addWidget(self.plot, 1)
        self.curves: list = []
        self.bind(session)

    def bind(self, session) -> None:
        """A document's training session: its runs (those saved in the graph, then new ones)."""
        if session is getattr(self, "_bound", None):
            return  # already this document's
        self._bound = session
        self.session = session
        session.runs_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        runs, labels = self.session.runs, self.session.run_labels()
        self.list.blockSignals(True)
        self.list.clear()
        for r, label in zip(runs, labels):
            acc = r.get("summary", {}).get("test_acc") or r.get("summary", {}).get("val_acc")
            item = QListWidgetItem(label + ("" if acc is None else f"  ({100 * acc:.1f}%)")
                                   + ("" if r.get("status") in (None, "done") else f"  [{r['status']}]"))
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.save.setEnabled(bool(runs))
        self.draw()

    def draw(self) -> None:
        self.plot.clear()
        self.legend.clear()
        self.curves = []
        key = {"validation loss": "val_loss", "training loss": "train_loss", "validation accuracy": "val_acc",
               "training accuracy": "train_acc"}[self.which.currentText()]
        self.plot.setLabel("left", self.which.currentText())
        labels = self.session.run_labels()
        for i, (r, label) in enumerate(zip(self.session.runs, labels)):
            item = self.list.item(i)
            if item is None or item.checkState() != Qt.Checked:
                continue
            xs, ys = column(r["history"], key)
            if key == "train_loss":  # data + regularization, as the Curves tab draws it
                _, reg = column(r["history"], "reg_loss")
                ys = ys + reg if len(reg) == len(ys) else ys
            if not len(xs) and key.startswith("val"):  # no validation split: the training figure, said so
                xs, ys = column(r["history"], key.replace("val", "train"))
                label += " (training: no validation split)"
            colour = CLASS_COLORS[i % len(CLASS_COLORS)]
            self.curves.append(self.plot.plot(xs, ys, pen=pg.mkPen(colour, width=2), name=label))
