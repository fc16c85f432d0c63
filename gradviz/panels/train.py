"""The Training panel: the controls (Start, Pause, Stop, one step, one epoch, Reset weights,
Keep the trained weights), the learning rate, and forms generated from the declarations:
every training setting (``settings.TRAINING``), and the model's own training choices, read
from its nodes (each layer's initialization and freezing, dropout rates, regularizers).
Every change is one undoable command; a running training takes the live ones at its next
step. The live views are in the dashboard."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QVBoxLayout, QWidget)

from gradviz.panels.forms import Choice, make_editor, replace_host
from gradviz_core.errors import GradvizError
from gradviz_core.model.registry import brick_types
from gradviz_core.model.settings import LIVE, TRAINING, USED_WHEN

ERROR_COLOUR = "#e03131"
#: the regularizers the model section offers to add
REGULARIZERS = ("L2", "L1", "ElasticNet", "MaxNorm")


class TrainingPanel(QWidget):
    lr_edited = Signal(float)
    setting_edited = Signal(str, object)    # a training setting and its new value
    param_edited = Signal(str, str, object)  # node, parameter, value (the model section)
    init_all = Signal(str)                  # one initialization for every layer
    add_regularizer = Signal(str)           # a regularizer's type
    keep_requested = Signal()
    data_requested = Signal()               # bring the Data panel forward

    def __init__(self, session) -> None:
        super().__init__()
        self.session = session
        self.graph = None
        buttons = {}
        for key, text, tip in (
                ("start", "Start", "train a run from the start (F9)"),
                ("pause", "Pause", "pause, or resume, the run (Shift+F9)"),
                ("stop", "Stop", "stop the run; its weights stay in the run (Keep weights copies them)"),
                ("one_step", "One step", "train one mini-batch step, then pause"),
                ("one_epoch", "One epoch", "train to the end of the epoch, then pause"),
                ("reset", "Reset weights", "stop and start over from freshly initialized weights"),
                ("keep", "Keep weights", "copy this run's weights into the graph (undoable; saved with it)")):
            b = buttons[key] = QPushButton(text)
            b.setToolTip(tip)
            setattr(self, key, b)
        self.start.clicked.connect(lambda: self.session.start(self.start_from.currentData()))
        self.pause.clicked.connect(lambda: self.session.pause())
        self.stop.clicked.connect(lambda: self.session.stop())
        self.one_step.clicked.connect(lambda: self.session.advance("step"))
        self.one_epoch.clicked.connect(lambda: self.session.advance("epoch"))
        self.reset.clicked.connect(lambda: self.session.reset())
        self.keep.clicked.connect(self.keep_requested.emit)
        self.start_from = Choice()
        self.start_from.addItem("fresh weights", "fresh")
        self.start_from.addItem("the graph's weights", "document")
        self.start_from.setToolTip("start from seeded fresh weights, or resume from the weights kept "
                                   "in the graph (after Keep weights, or saved with it)")
        grid = QGridLayout()
        for i, key in enumerate(("start", "pause", "stop", "one_step", "one_epoch", "reset")):
            grid.addWidget(buttons[key], i // 2, i % 2)
        grid.addWidget(self.keep, 3, 0)
        start_from = QHBoxLayout()
        start_from.addWidget(QLabel("from"))
        start_from.addWidget(self.start_from, 1)
        grid.addLayout(start_from, 3, 1)
        self.lr = QLineEdit()
        self.lr.setFixedWidth(90)
        self.lr.setToolTip("the learning rate η; changed while training, it takes effect at the next step")
        self.lr.editingFinished.connect(self._lr)
        rate = QHBoxLayout()
        rate.addWidget(QLabel("learning rate η"))
        rate.addWidget(self.lr)
        rate.addStretch(1)
        self.status = QLabel("Not trained yet.")
        self.status.setWordWrap(True)
        self.alert = QLabel("")  # a divergence: what happened and what to do
        self.alert.setWordWrap(True)
        self.alert.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.alert.hide()
        self.settings_host = QWidget()
        self.settings_note = QLabel("")
        self.settings_note.setWordWrap(True)
        self.model_title = QLabel("<b>The model's choices</b> (from its nodes)")
        self.data_link = QLabel('Preprocessing and augmentation are the data\'s: <a href="data">the Data '
                                'panel</a>.')
        self.data_link.setWordWrap(True)
        self.data_link.linkActivated.connect(lambda _: self.data_requested.emit())
        self.model_host = QWidget()
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addLayout(rate)
        lay.addWidget(self.status)
        lay.addWidget(self.alert)
        lay.addWidget(QLabel("<b>Training settings</b>"))
        lay.addWidget(self.settings_note)  # what * and grey mean, and a refused value, above the fields
        lay.addWidget(self.settings_host)
        lay.addWidget(self.model_title)
        lay.addWidget(self.model_host)
        lay.addWidget(self.data_link)
        lay.addStretch(1)
        self.bind(session)

    def bind(self, session) -> None:
        """A document's training session: the controls follow it."""
        if session is getattr(self, "_bound", None):
            return  # already this document's
        self._bound = session
        self.session = session
        session.changed.connect(self.refresh)
        session.diverged.connect(self._diverged)
        self.refresh()

    # ---- forms from declarations -------------------------------------------------------------
    def show_graph(self, graph) -> None:
        """The learning rate, a field for every training setting, and the model section."""
        self.graph = graph
        self.lr.setText(repr(float(graph.training.get("lr", 0.1))))
        self.settings_host = replace_host(self, self.settings_host)
        form = QFormLayout(self.settings_host)
        self.setting_editors = {}
        for spec in TRAINING:
            if spec.name == "lr":
                continue
            value = graph.training.get(spec.name, spec.default)
            editor = make_editor(spec, value, lambda v, k=spec.name: self._setting(k, v),
                                 self.settings_note.setText)
            editor.setToolTip(spec.doc)
            form.addRow(spec.name + ("" if spec.name in LIVE else " *"), editor)
            self.setting_editors[spec.name] = editor
            if spec.name in USED_WHEN:  # greyed where the optimizer or schedule does not use it
                other, values = USED_WHEN[spec.name]
                used = graph.training.get(other, next(s.default for s in TRAINING if s.name == other)) in values
                editor.setEnabled(used)
                if not used:
                    editor.setToolTip(f"{spec.doc} (used with {other} {' or '.join(values)} only)")
        self.settings_note.setText("* takes effect when training starts again; the others reach a "
                                   "running training at its next step. Greyed: not used by this "
                                   "optimizer or schedule.")
        self._model_form(graph)
        self.refresh()

    def _model_form(self, graph) -> None:
        """Initialization (all layers, or each), freezing, dropout rates and regularizers, as
        their nodes declare them: each edit is the node's own parameter, undoable."""
        self.model_host = replace_host(self, self.model_host)
        form = QFormLayout(self.model_host)
        self.model_editors = {}
        frozen = set(graph.training.get("freeze", ()) or ())
        layers = [n for n in graph.order if any(s.name == "init" for s in graph.brick(n).params)]
        if layers:
            spec = next(s for s in graph.brick(layers[0]).params if s.name == "init")
            every = Choice()
            every.addItem("(each its own)")
            every.addItems(spec.choices)
            every.setToolTip("one initialization scheme for every layer")
            every.activated.connect(lambda i: i and self.init_all.emit(every.itemText(i)))
            form.addRow("init, all layers", every)
            self.model_editors["*init"] = every
        for name in graph.order:
            b = graph.brick(name)
            for spec in b.params:
                wanted = (spec.name in ("init", "init_scale") or (b.family == "Regularizers" and spec.name != "layers")
                          or (b.type_name == "Dropout" and spec.name == "p"))
                if not wanted:
                    continue
                editor = make_editor(spec, b.config[spec.name],
                                     lambda v, n=name, k=spec.name: self._param(n, k, v), self.settings_note.setText)
                editor.setToolTip(spec.doc)
                form.addRow(f"{name}.{spec.name}", editor)
                self.model_editors[f"{name}.{spec.name}"] = editor
            if name in layers:
                box = QCheckBox("frozen")
                box.setToolTip("training leaves this layer's weights as they are (training.freeze)")
                box.setChecked(name in frozen)
                box.toggled.connect(lambda on, n=name: self._freeze(n, on))
                form.addRow(f"{name}", box)
                self.model_editors[f"{name}.frozen"] = box
        add = Choice()
        add.addItem("add a regularizer…")
        add.addItems([t for t in REGULARIZERS if t in brick_types("Regularizers")])
        add.activated.connect(lambda i: i and self.add_regularizer.emit(add.itemText(i)))
        form.addRow("", add)
        self.model_editors["+regularizer"] = add

    def _param(self, node: str, key: str, value) -> None:
        if self.graph is None or node not in self.graph:
            return
        spec = next(s for s in self.graph.brick(node).params if s.name == key)
        try:
            value = spec.coerce(value, node)
        except GradvizError as exc:
            self.settings_note.setText(str(exc))
            return
        if value != self.graph.brick(node).config[key]:
            self.param_edited.emit(node, key, value)

    def _freeze(self, node: str, on: bool) -> None:
        frozen = [n for n in (self.graph.training.get("freeze", ()) or ()) if n != node]
        self.setting_edited.emit("freeze", frozen + [node] if on else frozen)

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
        if self.graph is None or value != self.graph.training.get("lr"):
            self.lr_edited.emit(value)

    # ---- the controls follow the session ----------------------------------------------------------
    def _diverged(self, message: str) -> None:
        self.alert.setText(f"Paused: {message} Lower η above, then Resume; or Stop, and Keep weights "
                           "keeps these finite ones.")
        self.alert.show()

    def refresh(self) -> None:
        s = self.session
        state = s.state
        running = s.running
        self.start.setEnabled(not running and s.doc is not None)
        self.pause.setEnabled(running)
        self.pause.setText("Resume" if state == "paused" else "Pause")
        self.stop.setEnabled(running)
        self.one_step.setEnabled(s.doc is not None and state != "running")
        self.one_epoch.setEnabled(s.doc is not None and state != "running")
        self.reset.setEnabled(s.doc is not None)
        self.keep.setEnabled(s.trainer is not None and state != "running" and bool(s.trainer.steps))
        has_weights = s.doc is not None and bool(s.doc.weights())
        self.start_from.model().item(1).setEnabled(has_weights)  # after Keep weights, or saved with the graph
        if not has_weights:
            self.start_from.setCurrentIndex(0)
        if s.trainer is None or not s.trainer.diverged:
            self.alert.hide()
        t = s.trainer
        if state == "running":
            self.status.setText("Training…")
        elif state == "paused":
            done = len(t.history)
            self.status.setText(f"Paused after {t.steps} step{'' if t.steps == 1 else 's'} "
                                f"({done} epoch{'' if done == 1 else 's'} done).")
        elif state == "ready":
            self.status.setText("Fresh weights, not trained yet: Start, One step or One epoch.")
        elif s.result is not None:
            r = s.result
            acc = "" if r.train_acc is None else f", training accuracy {100 * r.train_acc:.1f}%"
            val = "" if r.val_acc is None else f", validation {100 * r.val_acc:.1f}%"
            self.status.setText(f"{r.message}{acc}{val}")
        elif t is None:
            self.status.setText("Not trained yet: Start trains a new run on the graph's data.")
