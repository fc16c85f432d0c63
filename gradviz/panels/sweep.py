"""The results of a meta-parameter sweep, drawn from the plain data ``runs.sweep.drawing``
makes: the score of every run against each setting (a log axis for rates, the best run a
star), or, for a grid of two settings, a heatmap with each cell's score written in it.
``gradviz sweep --plot`` saves it; Train > Sweep… shows it as the runs finish."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QDialog, QFormLayout, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from gradviz.look.axes import readable_axes


class SweepView(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.plots, 1)
        #: the cells' texts of the heatmap shown (what a reader sees written in them)
        self.cell_texts: list[str] = []

    def show_drawing(self, d: dict) -> None:
        self.plots.clear()
        self.cell_texts = []
        self.title.setText(d["title"])
        unit = " (%)" if d["percent"] else ""
        if d["heatmap"]:
            self._heatmap(d["heatmap"], d["label"], d["percent"])
            return
        for s in d["scatters"]:
            p = self.plots.addPlot(title=f"{d['label']} against {s['key']}")
            readable_axes(p)
            p.setLabel("left", d["label"] + unit)
            p.setLabel("bottom", s["key"] + (" (log scale)" if s["log"] else ""))
            xs = [x for x, _ in s["points"]]
            if s["log"] and xs:
                p.getAxis("bottom").setTicks([[(v, f"{10 ** v:g}") for v in
                                               range(math.floor(min(xs)), math.ceil(max(xs)) + 1)]])
            p.plot(xs, [y for _, y in s["points"]], pen=None, symbol="o", symbolSize=9, symbolBrush="#1c7ed6",
                   symbolPen="w")
            if s["best"]:
                p.plot([s["best"][0]], [s["best"][1]], pen=None, symbol="star", symbolSize=18, symbolBrush="#e8590c")
            self.plots.nextRow()

    def _heatmap(self, h: dict, label: str, percent: bool) -> None:
        p = self.plots.addPlot(title=f"{label}: {h['x_key']} across, {h['y_key']} up")
        readable_axes(p)
        grid = np.array([[np.nan if v is None else v for v in row] for row in h["grid"]], float)
        finite = grid[np.isfinite(grid)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        img = pg.ImageItem(grid)
        img.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        img.setLevels((lo, hi if hi > lo else lo + 1))
        p.addItem(img)
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                if np.isfinite(grid[i, j]):
                    text = f"{grid[i, j]:.1f}" + ("%" if percent else "")
                    self.cell_texts.append(text)
                    t = pg.TextItem(text, color="w" if grid[i, j] < lo + 0.6 * (hi - lo) else "k", anchor=(0.5, 0.5))
                    t.setPos(i + 0.5, j + 0.5)
                    p.addItem(t)
        p.getAxis("bottom").setTicks([[(i + 0.5, v) for i, v in enumerate(h["x_values"])]])
        p.getAxis("left").setTicks([[(j + 0.5, v) for j, v in enumerate(h["y_values"])]])
        p.setLabel("bottom", h["x_key"])
        p.setLabel("left", h["y_key"])
        p.setMouseEnabled(False, False)



class SweepDialog(QDialog):
    """Train > Sweep…: what to search (grid lines, ranges and a number of draws, epochs, runs at
    once), Run and Stop, and the results as they come: a ranked table and the plot."""
    run_clicked = Signal(list, list, int, int, int)  # grid lines, range lines, draws, epochs (0: the graph's), jobs
    stop_clicked = Signal()

    def __init__(self, parent=None, jobs: int = 2) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep meta-parameters")
        self.grid = QPlainTextEdit("training.lr=0.01,0.1,1")
        self.grid.setPlaceholderText("one setting per line: KEY=V1,V2,… (every combination runs)")
        self.ranges = QPlainTextEdit()
        self.ranges.setPlaceholderText("one range per line: KEY=LOW:HIGH[:log|linear|int], e.g. training.lr=1e-4:1")
        for box in (self.grid, self.ranges):
            box.setFixedHeight(60)
        self.draws = QSpinBox()
        self.draws.setRange(0, 1000)
        self.epochs = QSpinBox()
        self.epochs.setRange(0, 100000)
        self.epochs.setSpecialValueText("the graph's")
        self.jobs = QSpinBox()
        self.jobs.setRange(1, 64)
        self.jobs.setValue(jobs)
        form = QFormLayout()
        form.addRow("Grid", self.grid)
        form.addRow("Random ranges", self.ranges)
        form.addRow("Random draws", self.draws)
        form.addRow("Epochs per run", self.epochs)
        form.addRow("Runs at once", self.jobs)
        self.run_button, self.stop_button = QPushButton("Run"), QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.run_button.clicked.connect(self._run)
        self.stop_button.clicked.connect(self.stop_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setMinimumHeight(160)
        self.view = SweepView()
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.view, 2)
        self.resize(820, 900)

    def _run(self) -> None:
        lines = lambda box: [l for l in box.toPlainText().splitlines() if l.strip()]  # noqa: E731
        self.run_clicked.emit(lines(self.grid), lines(self.ranges), self.draws.value(), self.epochs.value(),
                              self.jobs.value())

    def set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def show_rows(self, keys: list[str], rows: list[tuple[list[str], str]]) -> None:
        """The runs so far, best first: each row its settings' values and its score."""
        self.table.setColumnCount(len(keys) + 1)
        self.table.setHorizontalHeaderLabels(keys + ["score"])
        self.table.setRowCount(len(rows))
        for i, (values, score) in enumerate(rows):
            for j, text in enumerate(values + [score]):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
