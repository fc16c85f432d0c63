"""The training panel, first slice: Start, Pause, Stop and Keep the trained weights, the
learning rate (changed mid-run, it takes effect at the next step), live loss and accuracy
curves, and for 2D data the decision boundary on a 200×200 grid with the points over it,
refreshed by a timer while the trainer runs on its own thread."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from gradviz.panels.data import CLASS_COLORS
from gradviz.panels.forms import make_editor, replace_host
from gradviz.training import classes_of
from gradviz_core.errors import GradvizError
from gradviz_core.settings import LIVE, TRAINING

BOUNDARY_MS = 50  # 20 refreshes per second while training
GRID = 200


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


class TrainingPanel(QWidget):
    lr_edited = Signal(float)
    setting_edited = Signal(str, object)  # a training setting and its new value
    keep_requested = Signal()

    def __init__(self, session) -> None:
        super().__init__()
        self.session = session
        self.start = QPushButton("Start")
        self.start.setToolTip("train a new run from seeded fresh weights")
        self.pause = QPushButton("Pause")
        self.stop = QPushButton("Stop")
        self.keep = QPushButton("Keep weights")
        self.keep.setToolTip("copy this run's weights into the graph (undoable)")
        self.start.clicked.connect(lambda: self.session.start())
        self.pause.clicked.connect(self.session.pause)
        self.stop.clicked.connect(lambda: self.session.stop())
        self.keep.clicked.connect(self.keep_requested.emit)
        self.lr = QLineEdit()
        self.lr.setFixedWidth(80)
        self.lr.setToolTip("the learning rate η; changed while training, it takes effect at the next step")
        self.lr.editingFinished.connect(self._lr)
        row = QHBoxLayout()
        for w in (self.start, self.pause, self.stop, self.keep):
            row.addWidget(w)
        row.addStretch(1)
        rate = QHBoxLayout()
        rate.addWidget(QLabel("learning rate η"))
        rate.addWidget(self.lr)
        rate.addStretch(1)
        self.status = QLabel("Not trained yet.")
        self.status.setWordWrap(True)
        self.curves = pg.GraphicsLayoutWidget()
        self.curves.setBackground(None)
        self.curves.setMinimumHeight(260)
        self.loss_plot = self.curves.addPlot(title="loss")
        self.loss_plot.addLegend(offset=(-5, 5))
        self.train_curve = self.loss_plot.plot(pen=pg.mkPen("#1c7ed6", width=2), name="training")
        self.val_curve = self.loss_plot.plot(pen=pg.mkPen("#e8590c", width=2), name="validation")
        self.curves.nextRow()
        self.acc_plot = self.curves.addPlot(title="accuracy")
        self.acc_plot.setYRange(0, 1)
        self.train_acc = self.acc_plot.plot(pen=pg.mkPen("#1c7ed6", width=2))
        self.val_acc = self.acc_plot.plot(pen=pg.mkPen("#e8590c", width=2))
        self.boundary_view = pg.PlotWidget(title="decision boundary")
        self.boundary_view.setBackground(None)
        self.boundary_view.setMinimumHeight(240)
        self.boundary_view.setAspectLocked(True)
        self.boundary = pg.ImageItem(axisOrder="row-major")
        self.boundary_view.addItem(self.boundary)
        self.points = pg.ScatterPlotItem(size=5, pen=pg.mkPen("#222222", width=0.5))
        self.boundary_view.addItem(self.points)
        self.boundary_view.hide()
        self.frames = 0  # boundary refreshes drawn (for the bench and the tests)
        self.settings_host = QWidget()
        self.settings_note = QLabel("")
        self.settings_note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addLayout(rate)
        lay.addWidget(self.status)
        lay.addWidget(self.settings_host)
        lay.addWidget(self.settings_note)
        lay.addWidget(self.curves)
        lay.addWidget(self.boundary_view)
        lay.addStretch(1)
        self.timer = QTimer(self)
        self.timer.setInterval(BOUNDARY_MS)
        self.timer.timeout.connect(self.draw_boundary)
        session.epoch.connect(self._epoch)
        session.changed.connect(self.refresh)
        session.finished.connect(lambda _: self.draw_boundary())
        self.refresh()

    def show_graph(self, graph) -> None:
        """The learning rate, and a form for every training setting, generated from its
        declaration (``settings.TRAINING``); each change is one undoable step."""
        self.lr.setText(repr(float(graph.training.get("lr", 0.1))))
        self.graph = graph
        self.settings_host = replace_host(self, self.settings_host)
        form = QFormLayout(self.settings_host)
        self.setting_editors = {}
        for spec in TRAINING:
            if spec.name == "lr":
                continue
            value = graph.training.get(spec.name, spec.default)
            editor = make_editor(spec, value, lambda v, k=spec.name: self._setting(k, v),
                                 self.settings_note.setText)
            form.addRow(spec.name + ("" if spec.name in LIVE else " *"), editor)
            self.setting_editors[spec.name] = editor
        self.settings_note.setText("* takes effect when training starts again; the others reach a "
                                   "running training at its next step")

    def _setting(self, key: str, value) -> None:
        spec = next(s for s in TRAINING if s.name == key)
        try:
            value = spec.coerce(value, "training", label=f"training.{key}")
        except GradvizError as exc:
            self.settings_note.setText(str(exc))
            return
        current = self.graph.training.get(key, spec.default) if self.graph is not None else None
        if value != current:
            self.setting_edited.emit(key, list(value) if isinstance(value, tuple) else value)

    def _lr(self) -> None:
        try:
            value = float(self.lr.text())
        except ValueError:
            self.status.setText(f"η must be a number, not {self.lr.text()!r}")
            return
        self.lr_edited.emit(value)

    def refresh(self) -> None:
        s = self.session
        running = s.running
        self.start.setEnabled(not running and s.doc is not None)
        self.pause.setEnabled(running)
        self.pause.setText("Resume" if s.trainer is not None and s.trainer.state == "paused" else "Pause")
        self.stop.setEnabled(running)
        self.keep.setEnabled(s.trainer is not None and not running and bool(s.trainer.steps))
        if running:
            self.timer.start()
            self.status.setText("Training…")
        else:
            self.timer.stop()
            if s.result is not None:
                r = s.result
                acc = "" if r.train_acc is None else f", training accuracy {100 * r.train_acc:.1f}%"
                val = "" if r.val_acc is None else f", validation {100 * r.val_acc:.1f}%"
                self.status.setText(f"{r.message}{acc}{val}")
            elif s.trainer is None:
                self.status.setText("Not trained yet: Start trains a new run on the graph's data.")
        if s.trainer is None:
            for c in (self.train_curve, self.val_curve, self.train_acc, self.val_acc):
                c.setData([], [])
        self.boundary_view.setVisible(s.boundary_possible())

    def _epoch(self, record: dict) -> None:
        h = self.session.history
        epochs = [r["epoch"] for r in h]
        self.train_curve.setData(epochs, [r["train_loss"] for r in h])
        val = [(r["epoch"], r["val_loss"]) for r in h if r.get("val_loss") is not None]
        self.val_curve.setData([e for e, _ in val], [v for _, v in val])
        acc = [(r["epoch"], r["train_acc"]) for r in h if r.get("train_acc") is not None]
        self.train_acc.setData([e for e, _ in acc], [a for _, a in acc])
        vacc = [(r["epoch"], r["val_acc"]) for r in h if r.get("val_acc") is not None]
        self.val_acc.setData([e for e, _ in vacc], [a for _, a in vacc])

    def draw_boundary(self) -> None:
        got = self.session.boundary(GRID)
        if got is None:
            return
        scores, (x0, x1, y0, y1), X, y = got
        regions = classes_of(scores)
        palette = np.array([_rgb(c) for c in CLASS_COLORS], dtype=np.float64)
        rgb = palette[regions % len(CLASS_COLORS)] * 0.35 + 255 * 0.65  # pale regions, points on top
        self.boundary.setImage(rgb.astype(np.uint8), levels=(0, 255))
        self.boundary.setRect(x0, y0, x1 - x0, y1 - y0)
        if self.points.data.size == 0 or len(self.points.data) != len(X):
            brushes = [pg.mkBrush(CLASS_COLORS[int(k) % len(CLASS_COLORS)]) for k in y]
            self.points.setData(X[:, 0], X[:, 1], brush=brushes)
        self.frames += 1
