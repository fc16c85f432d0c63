"""The stepper panel: the Step menu's buttons, a timeline over the plan (drag it to travel to
any step and back), play with a speed, which samples to step, and the banner that says
when an edit made the steps stale."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSizePolicy,
                               QSlider, QToolBar,
                               QVBoxLayout, QWidget)

from gradviz.sessions.stepping import parse_samples


class StepperPanel(QWidget):
    def __init__(self, session, actions: dict) -> None:
        super().__init__()
        self.session = session
        self.actions = actions
        row = QToolBar()  # a toolbar: what does not fit folds into its » menu, never widens the window
        row.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for key in ("step_back", "step", "forward", "backward", "update", "reset", "play"):
            row.addAction(actions[key])
        self.speed = QSlider(Qt.Horizontal)
        self.speed.setRange(1, 20)  # steps per second
        self.speed.setValue(4)
        self.speed.setFixedWidth(90)
        self.speed.setToolTip("play speed: steps per second")
        row.addSeparator()
        row.addWidget(QLabel("speed "))
        row.addWidget(self.speed)
        row.addSeparator()
        row.addWidget(QLabel("samples "))
        self.samples = QLineEdit("0")
        self.samples.setFixedWidth(90)
        self.samples.setToolTip("which training samples to step: 0, 0-3, 0, 5, 7, or 'batch' for the "
                                "first training batch")
        self.samples.editingFinished.connect(self._samples_changed)
        row.addWidget(self.samples)
        self.training = QCheckBox("training mode")
        self.training.setChecked(True)
        self.training.setToolTip("Dropout and BatchNorm as in training (off: as at test time)")
        self.training.toggled.connect(self._mode_changed)
        row.addWidget(self.training)
        self.quiz = QCheckBox("quiz")
        self.quiz.setToolTip("predict each gradient before the backward step reveals it")
        self.quiz.toggled.connect(lambda on: setattr(self.session, "quiz", on))
        row.addWidget(self.quiz)
        # the Step menu's twins of the tick boxes and the samples field (with their shortcuts)
        for key, box in (("quiz", self.quiz), ("training_mode", self.training)):
            actions[key].setCheckable(True)
            actions[key].setChecked(box.isChecked())
            actions[key].toggled.connect(box.setChecked)
            box.toggled.connect(actions[key].setChecked)
        actions["samples"].triggered.connect(lambda: (self.samples.setFocus(), self.samples.selectAll()))
        row.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        self.timeline = QSlider(Qt.Horizontal)
        self.timeline.setMinimumWidth(220)
        self.timeline.setToolTip("the plan of steps: drag to travel to any step and back")
        self.timeline.sliderReleased.connect(lambda: self.session.travel(self.timeline.value()))
        self.timeline.valueChanged.connect(self._timeline_moved)
        self.where = QLabel("")
        self.banner = QLabel("")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #fff3bf; color: #5c4100; padding: 4px; border-radius: 3px;")
        self.banner.hide()
        line = QHBoxLayout()  # the timeline on a line of its own: the controls never fold away
        line.addWidget(self.timeline, 1)
        line.addWidget(self.where)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.setSpacing(2)
        lay.addWidget(self.banner)
        lay.addWidget(self._quiz_box())
        lay.addWidget(row)
        lay.addLayout(line)
        self.player = QTimer(self)
        self.player.timeout.connect(self._tick)
        self.speed.valueChanged.connect(lambda v: self.player.setInterval(int(1000 / v)))
        actions["play"].setCheckable(True)
        actions["play"].toggled.connect(self.play)
        self.bind(session)

    def bind(self, session) -> None:
        """A document's stepper session: the controls show its settings, the quiz starts over
        (its score is the document's); quiz mode itself stays as the student set it."""
        if session is getattr(self, "_bound", None):
            return  # already this document's
        self._bound = session
        self.actions["play"].setChecked(False)
        self.session = session
        session.changed.connect(self.refresh)
        session.quiz_asked.connect(self._asked)
        session.quiz_result.connect(self._revealed)
        session.quiz = self.quiz.isChecked()
        for box, value in ((self.training, session.training),):
            box.blockSignals(True)
            box.setChecked(value)
            box.blockSignals(False)
        self.samples.setText("batch" if session.samples is None else ", ".join(map(str, session.samples)))
        self.question.setText("")
        self.result.setText("")
        self.quiz_box.hide()
        self.refresh()

    def _quiz_box(self) -> QWidget:
        box = QWidget()
        self.quiz_box = box
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 2, 0, 2)
        self.question = QLabel("")
        self.question.setWordWrap(True)
        self.guess = QLineEdit()
        self.guess.setFixedWidth(100)
        self.guess.setPlaceholderText("a number")
        self.guess.returnPressed.connect(self._answer)
        self.choice = QComboBox()
        self.check = QPushButton("Check")
        self.check.clicked.connect(self._answer)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        for w in (self.question, self.guess, self.choice, self.check):
            row.addWidget(w)
        row.addWidget(self.result, 1)
        box.hide()
        return box

    def _asked(self, q: dict) -> None:
        self.quiz_box.show()
        self.question.setText(q["text"])
        self.result.setText("")
        number = q["kind"] == "number"
        self.guess.setVisible(number)
        self.choice.setVisible(not number)
        self.check.show()
        if number:
            self.guess.clear()
            self.guess.setFocus()
        else:
            self.choice.clear()
            self.choice.addItems(q["choices"])

    def _answer(self) -> None:
        q = self.session.question
        if q is None:
            return
        self.session.answer(self.guess.text() if q["kind"] == "number" else self.choice.currentText())

    def _revealed(self, text: str) -> None:
        self.question.setText("")
        self.guess.hide()
        self.choice.hide()
        self.check.hide()
        self.result.setText(text)

    def play(self, on: bool) -> None:
        if on:
            self.player.start(int(1000 / self.speed.value()))
        else:
            self.player.stop()

    def _tick(self) -> None:
        s = self.session.ensure()
        if s is None or s.done:
            self.actions["play"].setChecked(False)
            return
        self.session.step()

    def _samples_changed(self) -> None:
        try:
            samples = parse_samples(self.samples.text())
        except ValueError as exc:
            self.session.message.emit(f"samples: {exc}")
            return
        if samples != self.session.samples:
            self.session.set_samples(samples)

    def _mode_changed(self, on: bool) -> None:
        self.session.training = on
        self.session.close()
        self.session.changed.emit()

    def _timeline_moved(self, value: int) -> None:
        if not self.timeline.isSliderDown():
            return
        s = self.session.stepper
        if s is not None and value < len(s.plan):
            phase, node = s.plan[value]
            self.where.setText(f"to {value} / {len(s.plan)}: next {phase} {node}")

    def refresh(self) -> None:
        s = self.session.stepper
        if self.session.stale:
            self.banner.setText(f"The graph changed ({self.session.stale}): the steps shown were cleared, "
                                "and the next step starts over from the edited graph.")
            self.banner.show()
        else:
            self.banner.hide()
        self.timeline.blockSignals(True)
        if s is None:
            self.timeline.setRange(0, 0)
            self.where.setText("not started: Step (F10) starts at the first node")
        else:
            self.timeline.setRange(0, len(s.plan))
            self.timeline.setValue(s.position)
            nxt = s.next_step()
            loss = s.loss()
            self.where.setText(f"step {s.position} / {len(s.plan)}"
                               + (f" · next: {nxt[0]} {nxt[1]}" if nxt else " · iteration complete")
                               + (f" · L = {loss:.4g}" if loss is not None else ""))
        self.timeline.blockSignals(False)
