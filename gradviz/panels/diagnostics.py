"""The lectures' babysitting numbers, per layer and over time: the weight:update ratio
‖ΔW‖/‖W‖ (about 1e-3 is healthy), the dead-ReLU fraction, and the activation and gradient
histograms of each layer at a few moments of the run (pale: early, dark: now). Below them,
the warnings, each with its explanation; a click on one selects its node."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from gradviz.look.axes import readable_axes
from gradviz.sessions.training import group_line, grouped
from gradviz.look.colors import CLASS_COLORS

MOMENTS = 4  # histograms drawn per layer: from the first record to the newest
HEALTHY = 1e-3


class DiagnosticsView(QWidget):
    node_clicked = Signal(str)

    def __init__(self, session) -> None:
        super().__init__()
        self.session = session
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground(None)
        self.plots.setMinimumHeight(300)
        self.ratio_plot = self.plots.addPlot(row=0, col=0, title="update ratio ‖ΔW‖/‖W‖ (healthy ≈ 1e-3)")
        # decades only (log₁₀ values on a log axis): the minor labels of a log axis overlap
        self.ratio_plot.getAxis("left").setTicks([[(v, f"1e{v}") for v in range(-9, 2)], []])
        self.ratio_plot.setLogMode(y=True)
        self.ratio_plot.setLabel("bottom", "step")
        self.ratio_plot.addLegend(offset=(-5, 5))
        self.ratio_plot.addLine(y=np.log10(HEALTHY), pen=pg.mkPen("#2f9e44", style=Qt.DashLine))
        self.dead_plot = self.plots.addPlot(row=1, col=0, title="dead ReLUs (share of units)")
        for plot in (self.ratio_plot, self.dead_plot):
            readable_axes(plot)
        self.dead_plot.setYRange(0, 1)
        self.dead_plot.setLabel("bottom", "step")
        self.dead_plot.addLegend(offset=(-5, 5))
        self.hist_layout = self.plots.addLayout(row=0, col=1, rowspan=2)
        self.plots.ci.layout.setColumnStretchFactor(0, 2)
        self.plots.ci.layout.setColumnStretchFactor(1, 3)
        self.hist_plots: dict[str, tuple] = {}
        self.ratio_curves: dict[str, object] = {}
        self.dead_curves: dict[str, object] = {}
        self.warnings = QListWidget()
        self.warnings.setMaximumHeight(110)
        self.warnings.setWordWrap(True)
        self.warnings.itemClicked.connect(self._clicked)
        self.empty = QLabel("No warnings: the babysitting checks have found nothing.")
        self.warnings.hide()
        lay = QVBoxLayout(self)
        lay.addWidget(self.plots, 1)
        lay.addWidget(QLabel("<b>Warnings</b>"))
        lay.addWidget(self.warnings)
        lay.addWidget(self.empty)
        self.bind(session)

    def bind(self, session) -> None:
        """A document's training session: its diagnostics and warnings (none yet, for a graph
        just opened)."""
        if session is getattr(self, "_bound", None):
            return  # already this document's
        self._bound = session
        self.session = session
        self._drawn, self._warned = (None, -1), 0
        self.warnings.clear()
        self.warnings.hide()
        self.empty.show()
        self.refresh()

    def _clicked(self, item: QListWidgetItem) -> None:
        node = item.data(Qt.UserRole)
        if node:
            self.node_clicked.emit(node)

    def refresh(self) -> None:
        t = self.session.trainer
        self._warnings(t)
        records = list(t.diagnostics) if t is not None else []
        if (t, len(records)) == self._drawn:
            return
        self._drawn = (t, len(records))
        if not records:
            for c in (*self.ratio_curves.values(), *self.dead_curves.values()):
                c.setData([], [])
            return
        steps = np.array([r["step"] for r in records], float)
        keys = [k for k, st in records[-1]["layers"].items() if k.rsplit("/", 1)[-1] in ("W", "value")]
        for i, key in enumerate(keys):
            if key not in self.ratio_curves:
                pen = pg.mkPen(CLASS_COLORS[i % len(CLASS_COLORS)], width=2)
                self.ratio_curves[key] = self.ratio_plot.plot(pen=pen, name=key)
            ys = np.array([r["layers"].get(key, {}).get("update_ratio", np.nan) for r in records], float)
            keep = ys > 0
            self.ratio_curves[key].setData(steps[keep], ys[keep])
        acts = records[-1]["activations"]
        for i, (node, st) in enumerate(acts.items()):
            if "dead" in st:
                if node not in self.dead_curves:
                    self.dead_curves[node] = self.dead_plot.plot(
                        pen=pg.mkPen(CLASS_COLORS[i % len(CLASS_COLORS)], width=2), name=node)
                self.dead_curves[node].setData(steps, [r["activations"].get(node, {}).get("dead", np.nan)
                                                       for r in records])
        self._histograms(records, list(acts))

    def _histograms(self, records: list[dict], layers: list[str]) -> None:
        if list(self.hist_plots) != layers:
            self.hist_layout.clear()
            self.hist_plots = {}
            self.hist_layout.addLabel("histograms at four moments of the run: pale early, blue now",
                                      row=0, col=0, colspan=max(1, len(layers)))
            for col, node in enumerate(layers):
                a = self.hist_layout.addPlot(row=1, col=col, title=f"{node}: activations")
                g = self.hist_layout.addPlot(row=2, col=col, title=f"{node}: gradients")
                for p in (a, g):
                    p.hideAxis("left")
                self.hist_plots[node] = (a, g)
        picks = sorted({round(i) for i in np.linspace(0, len(records) - 1, MOMENTS)})
        for node, (a, g) in self.hist_plots.items():
            a.clear()
            g.clear()
            for rank, i in enumerate(picks):
                st = records[i]["activations"].get(node)
                if st is None:
                    continue
                shade = 200 - int(170 * (rank + 1) / len(picks))  # pale early, dark now
                pen = pg.mkPen((shade, shade, 255 if rank == len(picks) - 1 else shade), width=1.5)
                a.plot(st["edges"], st["hist"], stepMode="center", pen=pen)
                if "grad_hist" in st:
                    g.plot(st["grad_edges"], st["grad_hist"], stepMode="center", pen=pen)

    def _warnings(self, t) -> None:
        """One line per kind of warning, with the number of nodes it was found at (a deep net's
        dead ReLUs are one line); a click selects the first of them."""
        found = list(t.warnings) if t is not None else []
        if self._warned == len(found):
            return
        self._warned = len(found)
        self.warnings.clear()
        for first, nodes in grouped(found):
            text = group_line(first, nodes)
            item = QListWidgetItem("⚠ " + (f"{first.node}: " if first.node and not text.startswith(first.node)
                                           and len(nodes) <= 1 else "") + text)
            item.setData(Qt.UserRole, first.node)
            item.setToolTip("\n".join(w.message for w in found if w.code == first.code)[:4000])
            self.warnings.addItem(item)
        self.empty.setVisible(not found)
        self.warnings.setVisible(bool(found))
