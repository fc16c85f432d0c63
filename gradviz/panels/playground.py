"""The optimizer playground: a graph of two trainable numbers is a loss surface, drawn as
contours; SGD, momentum, Nesterov, Adagrad, RMSProp and Adam race over it, live.

The race itself is the core's, run by the window's session (``gradviz.sessions.racing``); the view
follows its events through the bridge. Each timer tick takes a few steps of every rule
(about a millisecond each: the surface is a handful of scalar gates) and the paths are
redrawn, so the whole race plays in a few seconds. A click on the plot
starts the rules from that point; a learning rate typed in a rule's field is the graph's
(``playground.lr.RULE``, undoable, saved with it)."""
from __future__ import annotations

import json
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QDockWidget, QGraphicsItem, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QVBoxLayout, QWidget)

from gradviz.look.axes import readable_axes
from gradviz.sessions.racing import RULES, RaceSession
from gradviz_core.errors import GradvizError
from gradviz_core.model.commands import SetPlayground

#: one colour per rule, in RULES' order
COLORS = ("#e03131", "#1c7ed6", "#7048e8", "#2f9e44", "#f08c00", "#0c8599")
GRID = 120
LOSS_EVERY = 5
LEVELS = 14
LOW, HIGH = np.array([214, 234, 248], np.float32), np.array([255, 247, 230], np.float32)


def levels_of(Z: np.ndarray, n: int = LEVELS) -> list[float]:
    """Contour levels spaced evenly in log(f − min): dense near the minimum, where paths end."""
    z = Z[np.isfinite(Z)]
    lo, hi = float(z.min()), float(z.max())
    span = hi - lo
    if span <= 0:
        return []
    return [lo + span * 10 ** e for e in np.linspace(-4, 0, n + 1)[:-1]]


def surface_image(Z: np.ndarray) -> np.ndarray:
    """Pale blue at the bottom of the surface, pale sand at the top (log scale), RGB uint8."""
    z = np.where(np.isfinite(Z), Z, np.nanmax(Z))
    t = np.log1p((z - z.min()) / max(float(np.ptp(z)), 1e-300) * 1e4) / math.log1p(1e4)
    return (LOW + (HIGH - LOW) * t[..., None]).astype(np.uint8)


class PlaygroundView(QWidget):
    start_picked = Signal(float, float)   # the student clicked the plot: start there
    raced = Signal()                      # a race ran to its last step
    lr_edited = Signal(str, float)        # a rule's learning rate, typed

    def __init__(self) -> None:
        super().__init__()
        self.session = None
        self.plot = pg.PlotWidget()
        self.plot.setBackground(None)
        self.plot.setMinimumSize(260, 200)
        readable_axes(self.plot)
        self.image = pg.ImageItem(axisOrder="col-major")  # Z[i, j] = f(xs[i], ys[j])
        self.plot.addItem(self.image)
        self.contours: list[pg.IsocurveItem] = []
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        self.losses = pg.PlotWidget(title="f − f<sub>low</sub> per step (log scale)")
        self.losses.setBackground(None)
        self.losses.setMinimumSize(200, 150)
        self.losses.setLogMode(y=True)
        self.losses.setLabel("bottom", "step")
        readable_axes(self.losses)
        self.paths, self.curves = {}, {}
        self._frames = 0
        self.show_rule, self.lr_field, self.state = {}, {}, {}
        table = QGridLayout()
        for col, title in enumerate(("rule", "η", "now")):
            table.addWidget(QLabel(f"<b>{title}</b>"), 0, col)
        for i, (rule, colour) in enumerate(zip(RULES, COLORS), start=1):
            pen = pg.mkPen(colour, width=2)
            self.paths[rule] = self.plot.plot(pen=pen)
            self.curves[rule] = self.losses.plot(pen=pen)
            box = QCheckBox(rule)
            box.setChecked(True)
            box.setStyleSheet(f"QCheckBox {{ color: {colour}; font-weight: bold; }}")
            box.setToolTip(f"show {rule}'s path (every rule races; unticked ones are hidden)")
            box.toggled.connect(lambda _=False: self.draw(force=True))
            field = QLineEdit()
            field.setFixedWidth(72)
            field.setToolTip(f"{rule}'s learning rate η (saved with the graph; Ctrl+Z undoes it)")
            field.editingFinished.connect(lambda r=rule: self._lr_typed(r))
            state = QLabel("")
            self.show_rule[rule], self.lr_field[rule], self.state[rule] = box, field, state
            table.addWidget(box, i, 0)
            table.addWidget(field, i, 1)
            table.addWidget(state, i, 2)
        #: where each rule is now: one item for all six (each item costs its own paint)
        self.heads = pg.ScatterPlotItem(size=9, pen=pg.mkPen("#222222", width=0.8))
        self.plot.addItem(self.heads)
        self.start_mark = pg.ScatterPlotItem(size=16, symbol="star", brush=pg.mkBrush("#fcc419"),
                                             pen=pg.mkPen("#222222", width=1))
        self.plot.addItem(self.start_mark)
        self.play_button = QPushButton("Race")
        self.play_button.setToolTip("step every rule, live (again: pause)")
        self.play_button.clicked.connect(self.toggle)
        self.step_button = QPushButton("One step")
        self.step_button.clicked.connect(lambda: self.advance(1))
        self.reset_button = QPushButton("Reset")
        self.reset_button.clicked.connect(self.reset)
        self.progress = QLabel("")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.play_button, self.step_button, self.reset_button):
            buttons.addWidget(b)
        buttons.addWidget(self.progress, 1)
        side = QVBoxLayout()  # three columns: the surface, the rules, the losses (a low pane)
        side.addLayout(buttons)
        side.addLayout(table)
        hint = QLabel("Click the plot to start every rule from that point.")
        hint.setWordWrap(True)
        side.addWidget(hint)
        side.addStretch(1)
        left = QVBoxLayout()
        left.addWidget(self.message)
        left.addWidget(self.plot, 1)
        lay = QHBoxLayout(self)
        lay.addLayout(left, 3)
        lay.addLayout(side, 0)
        lay.addWidget(self.losses, 2)

    # what the session runs, read by the view (and the tests)
    surface = property(lambda self: self.session.surface)
    race = property(lambda self: self.session.race)
    timer = property(lambda self: self.session.timer)
    total = property(lambda self: self.session.total)

    def bind(self, race: RaceSession) -> None:
        """A document's race (each document has its own)."""
        if race is getattr(self, "_bound", None):
            return  # already this document's
        self._bound = race
        self.session = race
        race.bridge.event.connect(self._race_event)
        race.running_changed.connect(self._running_changed)
        self._running_changed(race.running)

    def _running_changed(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Race")

    # ---- the surface ---------------------------------------------------------------------------
    def show_graph(self, graph) -> bool:
        """Draw ``graph``'s surface and make a fresh race on it; False (with the reason shown)
        when the graph is not a loss of two numbers."""
        self._clear_contours()
        try:
            xs, ys, Z = self.session.load(graph, GRID)
        except GradvizError as exc:
            self.message.setText(f"No optimizer playground for this graph: {exc}.")
            self.image.clear()
            for item in (*self.paths.values(), *self.curves.values()):
                item.setData([], [])
            self.heads.setData([], [])
            self.start_mark.setData([], [])
            for label in self.state.values():
                label.setText("")
            self.progress.setText("")
            self._enable(False)
            return False
        surface, training = self.surface, self.session.training
        #: the loss plot's floor (a log axis has no room for f ≤ 0): the lowest f in the view,
        #: found once, so the curves keep their shape as the race goes on
        finite = Z[np.isfinite(Z)]
        span = float(np.ptp(finite)) if finite.size else 1.0
        self.floor = surface.lowest(xs, ys, Z) - 1e-12 * max(span, 1e-300)
        self.losses.setToolTip(f"each rule's f minus {self.floor:.6g}, the lowest f in the view, on a log "
                               "scale: how fast each rule closes in on the minimum")
        self.losses.setXRange(0, max(surface.settings.get("steps", 200), 1), padding=0.02)
        self.message.setText(f"f({surface.names[0]}, {surface.names[1]}): the graph's loss over its two "
                             "trainable numbers, with contours in log steps above the minimum.")
        self.image.setImage(surface_image(Z), levels=(0, 255))
        dx, dy = xs[1] - xs[0], ys[1] - ys[0]
        self.image.setRect(xs[0] - dx / 2, ys[0] - dy / 2, xs[-1] - xs[0] + dx, ys[-1] - ys[0] + dy)
        for level in levels_of(Z):
            c = pg.IsocurveItem(data=Z, level=level, pen=pg.mkPen("#868e96", width=1), axisOrder="col-major")
            c.setParentItem(self.image)  # the image's placement and scale
            c.setCacheMode(QGraphicsItem.DeviceCoordinateCache)  # drawn once, not at every frame
            self.contours.append(c)
        self.plot.setLabel("bottom", surface.names[0])
        self.plot.setLabel("left", surface.names[1])
        self.plot.setRange(xRange=(xs[0], xs[-1]), yRange=(ys[0], ys[-1]), padding=0)
        lrs = {**surface.settings.get("lr", {})}
        for rule in RULES:
            self.lr_field[rule].setText(repr(float(lrs.get(rule, training.get("lr", 0.1)))))
        self._enable(True)
        self.reset()
        return True

    def _clear_contours(self) -> None:
        """The previous surface's contours go (they are the image's children, not the plot's)."""
        for c in self.contours:
            c.setParentItem(None)
            if c.scene() is not None:
                c.scene().removeItem(c)
        self.contours = []

    def _enable(self, on: bool) -> None:
        for w in (self.plot, self.losses, self.play_button, self.step_button, self.reset_button,
                  *self.show_rule.values(), *self.lr_field.values()):
            w.setEnabled(on)

    # ---- the race ------------------------------------------------------------------------------
    def rules(self) -> list[str]:
        """The rules shown (every rule races: ticking one shows its path at once)."""
        return [r for r in RULES if self.show_rule[r].isChecked()]

    def reset(self) -> None:
        self.session.reset()

    def toggle(self) -> None:
        self.session.toggle()

    def play(self) -> None:
        """From the start, live (a lesson's ``gradviz:play``)."""
        self.session.play()

    def advance(self, k: int) -> None:
        self.session.advance(k)

    def _race_event(self, event: str, payload: dict) -> None:
        """The race moved (or started again): redraw; at its last step, say so."""
        if event != "advanced" or self.race is None:
            return
        if payload["steps"] == 0:
            self.start_mark.setData([self.race.start[0]], [self.race.start[1]])
        self.draw()
        if payload["steps"] >= self.total:
            self.raced.emit()

    def _near(self, path: np.ndarray) -> np.ndarray:
        """The points of a path within three view sizes of the plot (a diverging zigzag drawn
        to infinity would cover every other path)."""
        (x0, x1), (y0, y1) = self.surface.view()
        c, size = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), 3 * max(x1 - x0, y1 - y0)
        keep = np.all(np.abs(path - c) < size, axis=1)
        return path[:np.argmin(keep)] if not keep.all() else path

    def draw(self, force: bool = False) -> None:
        """The paths and heads at every frame; the loss plot (its axes repaint as its range
        moves) every LOSS_EVERY frames and when the race stops."""
        r = self.race
        if r is None:
            return
        self._frames += 1
        shown = self.rules()
        heads = []
        for rule, colour in zip(RULES, COLORS):
            p = self._near(r.path(rule)[-1:]) if rule in shown else []
            if len(p):
                heads.append((p[0], colour))
        self.heads.setData([p[0] for p, _ in heads], [p[1] for p, _ in heads],
                           brush=[pg.mkBrush(c) for _, c in heads])
        for rule in RULES:
            path = self._near(r.path(rule)) if rule in shown else np.zeros((0, 2))
            self.paths[rule].setData(path[:, 0], path[:, 1])
        self.progress.setText(f"step {r.steps} of {self.total}")
        if not force and self.timer.isActive() and self._frames % LOSS_EVERY and r.steps < self.total:
            return
        floor = self.floor
        lows, highs = [], []
        for rule in RULES:
            on = rule in shown
            loss = np.asarray(r.losses[rule], float) if on else np.zeros(0)
            steps = np.arange(len(loss), dtype=float)
            keep = np.isfinite(loss)
            above = np.maximum(loss[keep] - floor, 1e-12)
            self.curves[rule].setData(steps[keep], above)
            if on and len(above):
                lows.append(above.min())
                highs.append(above.max())
            if not on:
                self.state[rule].setText("")
            elif rule in r.stopped:
                self.state[rule].setText(f"<span style='color:#c92a2a'>{r.stopped[rule]}</span>")
            else:
                self.state[rule].setText(f"f = {loss[-1]:.4g}")
        self._loss_range(lows, highs)

    def _loss_range(self, lows, highs) -> None:
        if lows:
            # whole decades: the axis (costly to repaint) changes only when a curve crosses one
            lo, hi = np.floor(np.log10(min(lows))), np.ceil(np.log10(max(highs)) + 0.1)
            if (lo, hi) != getattr(self, "_decades", None):
                self._decades = (lo, hi)
                self.losses.setYRange(min(lo, hi - 3), hi, padding=0)  # three decades at least: readable ticks
        self.losses.setXRange(0, max(self.total, 1), padding=0.02)

    # ---- the student's input ---------------------------------------------------------------------
    def _clicked(self, event) -> None:
        if self.surface is None or event.button() != Qt.LeftButton:
            return
        vb = self.plot.plotItem.vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        self.start_picked.emit(round(p.x(), 3), round(p.y(), 3))

    def _lr_typed(self, rule: str) -> None:
        field = self.lr_field[rule]
        try:
            value = float(field.text())
        except ValueError:
            self.message.setText(f"{rule}'s learning rate must be a number, not {field.text()!r}.")
            return
        current = self.race.lr.get(rule) if self.race is not None else None
        if value != current:
            self.lr_edited.emit(rule, value)  # the graph's now: the race starts again, and plays


class PlaygroundDock(QDockWidget):
    wanted = Signal()  # a race to show: the window's Playground workspace

    """The playground beside the canvas. It follows the document: shown when the graph becomes
    a loss of two numbers, redrawn when the graph or its playground settings change, and it
    changes the document only through undoable commands (``SetPlayground``)."""

    def __init__(self, window, scene) -> None:
        super().__init__("Playground", window)
        self.setObjectName("Playground")
        self.scene = scene
        self.view = PlaygroundView()
        self.setWidget(self.view)
        self.graph = None
        self._drawn = None
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.setInterval(0)  # after the edit's other events: once per edit
        self._later.timeout.connect(self.refresh)
        self.view.start_picked.connect(self._start_at)
        self.view.lr_edited.connect(self._lr_at)

    def set_document(self, graph, race) -> None:
        """A document and its race."""
        if self.graph is not None:
            self.graph.events.unsubscribe("*", self._event)
        self.view.bind(race)
        self.graph, self._drawn = graph, None
        graph.events.subscribe("*", self._event)
        self.refresh()

    def _event(self, event: str, **_) -> None:
        if event in ("analyzed", "playground_changed", "training_changed"):
            self._later.start()

    def refresh(self) -> None:
        """Redraw when what the surface or the race depends on changed (not when a node moved)."""
        g = self.graph
        key = json.dumps([[{k: v for k, v in g.node_spec(n).items() if k != "pos"} for n in g.nodes()],
                          [(e.src, e.dst, e.port) for e in g.edges()], g.data is None, g.playground,
                          g.training], default=str, sort_keys=True)
        if key == self._drawn:
            return
        self._drawn = key
        if self.view.show_graph(g):
            self.bring()

    def bring(self) -> None:
        """In front: the window lays itself out for the playground (``wanted``)."""
        self.wanted.emit()
        self.raise_()

    def _lr_at(self, rule: str, value: float) -> None:
        if self.scene.push(SetPlayground(f"lr.{rule}", value)):
            self.refresh()
            self.view.play()

    def _start_at(self, a: float, b: float) -> None:
        if self.scene.push(SetPlayground("start", [a, b])):
            self.refresh()
            self.view.play()

    def play(self) -> None:
        self.refresh()
        self.bring()
        self.view.play()
