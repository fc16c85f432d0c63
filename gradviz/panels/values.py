"""The values panel: everything a step computed at one node (the selected one, or the one the
last step reached). Its inputs, its output, the upstream gradient, the gradient sent to each
input with the chain rule and its numbers, the weight gradients, and the update. Scalars
and small tensors as numbers; larger tensors as heatmaps (pyqtgraph) with a sample and a
channel selector and their statistics."""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from gradviz.look.heat import diverging_rgb, plane, stats
from gradviz.sessions.stepping import SMALL, chain_rule_lines, show


class Heatmap(QWidget):
    """One tensor as a heatmap with its sample and channel selectors and its statistics."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.array: np.ndarray | None = None
        self.title = QLabel(title)
        self.sample, self.channel = QSpinBox(), QSpinBox()
        self.sample.valueChanged.connect(self._draw)
        self.channel.valueChanged.connect(self._draw)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(None)  # the panel's own colour: white in a heatmap means 0
        self.view.setMinimumHeight(120)
        self.plot = self.view.addPlot()
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        pick = QHBoxLayout()
        pick.addWidget(self.title)
        pick.addStretch(1)
        pick.addWidget(QLabel("sample"))
        pick.addWidget(self.sample)
        pick.addWidget(QLabel("channel"))
        pick.addWidget(self.channel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(pick)
        lay.addWidget(self.view)
        lay.addWidget(self.stats)

    def set_array(self, a) -> None:
        self.array = None if a is None else np.asarray(a, dtype=np.float64)
        self.setVisible(self.array is not None)
        if self.array is None:
            return
        four = self.array.ndim == 4
        self.sample.setRange(0, max(self.array.shape[0] - 1, 0) if self.array.ndim >= 3 else 0)
        self.channel.setRange(0, self.array.shape[1] - 1 if four else 0)
        self.sample.setEnabled(self.array.ndim >= 3)
        self.channel.setEnabled(four)
        self._draw()

    def shown_shape(self) -> tuple[int, ...]:
        return plane(self.array, self.sample.value(), self.channel.value()).shape

    def _draw(self) -> None:
        if self.array is None:
            return
        p = plane(self.array, self.sample.value(), self.channel.value())
        self.image.setImage(diverging_rgb(p), levels=(0, 255))  # the colours as made: 0 is white
        self.image.setRect(0, 0, p.shape[1], p.shape[0])
        self.stats.setText(stats(self.array))


class ValuesPanel(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.header = QLabel("Step the graph to see its values and gradients.")
        self.header.setWordWrap(True)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(pg.QtCore.Qt.RichText)
        self.which = QComboBox()  # which tensor the heatmaps show: the output or an input
        self.which.currentIndexChanged.connect(self._pick)
        self.value_map, self.grad_map = Heatmap("value"), Heatmap("gradient")
        lay = QVBoxLayout(self)
        lay.addWidget(self.header)
        lay.addWidget(self.text)
        lay.addWidget(self.which)
        lay.addWidget(self.value_map)
        lay.addWidget(self.grad_map)
        lay.addStretch(1)
        self.node: str | None = None
        self._tensors: dict[str, tuple] = {}
        self.clear()

    def clear(self, message: str = "Step the graph to see its values and gradients.") -> None:
        self.node = None
        self.header.setText(message)
        self.text.setText("")
        self.which.clear()
        self.which.hide()
        self.value_map.set_array(None)
        self.grad_map.set_array(None)

    def show_report(self, report) -> None:
        """A gradient check: the worst nodes first, each item's error, and any kink explained."""
        self.clear()
        failed = set(report.failed())
        verdict = "passed" if report.passed else f"failed at {', '.join(sorted(failed))}"
        self.header.setText(f"<b>Gradient check</b> {verdict} — largest relative error "
                            f"{report.max_rel_error:.2e} (tolerance {report.tol:g}, h = {report.h:g})")
        rows = []
        worst = sorted(report.nodes.values(), key=lambda c: -c.error if np.isfinite(c.error) else -np.inf)
        for c in worst:
            colour = "#e03131" if c.node in failed else "#2f9e44"
            said = {"ok": "", "noise": " (rounding noise)", "kink": " (at a kink)", "fail": " (wrong)"}
            items = "; ".join(f"{i.what}: {i.error:.1e}{said[report.verdict(c, i)]}" for i in c.items)
            rows.append(f"<span style='color:{colour}'><b>{c.node}</b> ({c.type_name}) {c.error:.1e}</span>"
                        f" — {html.escape(items)}")
            if c.kink:
                rows.append(f"&nbsp;&nbsp;<i>{html.escape(c.kink)}</i>")
        self.text.setText("<br>".join(rows))

    def show_node(self, stepper, node: str | None) -> None:
        """What the stepper knows about ``node``, from its records."""
        if stepper is None or node is None or node not in stepper.graph:
            self.clear()
            return
        self.node = node
        g = stepper.graph
        b = g.brick(node)
        objective = (stepper.program.objective[0] if len(stepper.program.objective) == 1 else "L")
        recs = {r.phase: r for r in stepper.records if r.node == node}
        value = stepper.values.get(node)
        grad = stepper.grads.get(node)
        self.header.setText(f"<b>{node}</b> · {b.type_name} — "
                            + ("not computed yet" if value is None else
                               "forward done" + (", backward done" if "backward" in recs else "")))
        rows = []
        inputs = g.inputs_of(node)
        for port, src in inputs.items():
            if src in stepper.values:
                rows.append(f"input <b>{port}</b> ← {src}: {html.escape(show(stepper.values[src]))}")
        if value is not None:
            rows.append(f"<span style='color:#1864ab'><b>output</b> {node} = {html.escape(show(value))}</span>")
        if grad is not None and np.issubdtype(np.asarray(grad).dtype, np.floating):
            rows.append(f"<span style='color:#c2255c'><b>upstream</b> ∂{objective}/∂{node} = "
                        f"{html.escape(show(grad))}</span>")
        ledger = [(k, d) for k, d in stepper.contributions.items() if k[0] == node]
        if len(g.consumers(node)) > 1 and ledger:  # fan-out: the gradients of every use add up
            parts = " + ".join(f"{show(d)} (from {dst}.{port})" for (_, dst, port), d in ledger)
            total = sum(np.asarray(d, dtype=np.float64) for _, d in ledger)
            waiting = len(g.consumers(node)) - len(ledger)
            rows.append(html.escape(f"gradient ledger: ∂{objective}/∂{node} = {parts} = {show(total)}"
                                    + (f" (still waiting for {waiting} more)" if waiting else "")))
        if "backward" in recs:
            rows.append(f"<i>{html.escape(b.backward_text)}</i>")
            rows += [f"<span style='color:#c2255c'>{html.escape(line)}</span>"
                     for line in chain_rule_lines(g, recs["backward"], objective)]
        if "update" in recs:
            for w, u in recs["update"].update.items():
                extra = f", velocity {show(u['velocity'])}" if "velocity" in u else ""
                rows.append(html.escape(f"update {node}.{w}: {show(u['old'])} + step {show(u['step'])} = "
                                        f"{show(u['new'])}{extra}"))
        self.text.setText("<br>".join(rows))
        self._tensors = {}
        if value is not None and np.asarray(value).size > SMALL:
            self._tensors[f"{node} (output)"] = (value, grad)
        for port, src in inputs.items():
            v = stepper.values.get(src)
            if v is not None and np.asarray(v).size > SMALL:
                back = stepper.contributions.get((src, node, port))
                self._tensors[f"input {port} ← {src}"] = (v, back)
        for w, arr in b.weights.items():
            if arr.size > SMALL:
                self._tensors[f"weight {w}"] = (arr, b.grads.get(w))
        self.which.blockSignals(True)
        self.which.clear()
        self.which.addItems(list(self._tensors))
        self.which.blockSignals(False)
        self.which.setVisible(bool(self._tensors))
        self._pick()

    def _pick(self) -> None:
        key = self.which.currentText()
        value, grad = self._tensors.get(key, (None, None))
        self.value_map.set_array(value)
        floating = grad is not None and np.issubdtype(np.asarray(grad).dtype, np.floating)
        self.grad_map.set_array(grad if floating else None)
