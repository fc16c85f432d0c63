"""The main window: palette | canvas | a tab each for the inspector, values, data, lesson and problems; the stepper strip below; menus with undo, files, steps and panels."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import (QDesktopServices, QUndoStack)
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox
from shiboken6 import isValid

from gradviz.app import menus, safety, workspaces
from gradviz.canvas.scene import GraphScene, GraphView
from gradviz.sessions.checking import GradientCheck
from gradviz.app.editing import EditActions
from gradviz.app.files import DocumentFiles
from gradviz.app.sweeps import SweepActions
from gradviz.panels.stepper import StepperPanel
from gradviz.panels.values import ValuesPanel
from gradviz.panels.dashboard import Dashboard
from gradviz.panels.lessons import LessonNote, pick_lesson
from gradviz.panels.playground import PlaygroundDock
from gradviz.panels.train import TrainingPanel
from gradviz.sessions.document import DocumentSession
from gradviz.sessions.lessons import catalogue
from gradviz.panels.data import DataPanel
from gradviz.panels.inspector import Inspector
from gradviz.panels.palette import Palette
from gradviz.panels.problems import ProblemsList
from gradviz.sessions.worker import KernelWarmUp
from gradviz.sessions.collect import collect_on_gui_thread
from gradviz_core.model import fileformat
from gradviz_core.model.commands import (SetData, SetRuns, SetTraining)
from gradviz_core.errors import GradvizError
from gradviz_core.model.graph import Graph

EXAMPLES = fileformat.examples_dir()


AUTOSAVE_MS = 30_000


class MainWindow(QMainWindow, DocumentFiles, EditActions, SweepActions):
    def __init__(self, path: str | None = None, theme: str = "light", restore: bool = True) -> None:
        """``restore``: offer unsaved work back after a crash (off for headless renders)."""
        super().__init__()
        collect_on_gui_thread()  # before any thread starts: a collection off this thread can freeze it
        self.resize(1280, 800)
        self.path: Path | None = None
        self.undo = QUndoStack(self)
        self.graph = Graph()
        self.scene = GraphScene(self.graph, self.undo, theme)
        self.scene.setParent(self)
        self.view = GraphView(self.scene)
        self.view.brick_dropped.connect(self.drop_brick)
        self.setCentralWidget(self.view)
        self.palette = Palette()
        self.inspector = Inspector()
        self.problems = ProblemsList()
        self.lesson = LessonNote()
        self.lesson.anchorClicked.connect(self.lesson_link)
        #: the open document's session: its stepper, its runs, its race, its lesson's progress
        self.doc = DocumentSession(self.graph, self)
        self.values = ValuesPanel()
        self.training_panel = TrainingPanel(self.train_session)
        self.training_panel.lr_edited.connect(lambda v: self.scene.push(SetTraining("lr", v)))
        self.training_panel.setting_edited.connect(lambda k, v: self.scene.push(SetTraining(k, v)))
        self.training_panel.keep_requested.connect(self.keep_trained_weights)
        self.training_panel.param_edited.connect(self.set_param)
        self.training_panel.init_all.connect(self.init_all_layers)
        self.training_panel.add_regularizer.connect(self.add_brick)
        self.training_panel.data_requested.connect(lambda: self.docks["Data"].raise_())
        self.dashboard = Dashboard(self.train_session)
        self.dashboard.compare.save_requested.connect(
            lambda: self.scene.push(SetRuns(self.train_session.runs)))
        self.dashboard.diagnostics.node_clicked.connect(self.select_node)
        self.data_panel = DataPanel()
        self.data_panel.data_edited.connect(lambda spec: self.scene.push(SetData(spec)))
        self.docks = workspaces.make_docks(self, {"Inspector": self.inspector, "Problems": self.problems,
                                                  "Lesson": self.lesson, "Values": self.values,
                                                  "Data": self.data_panel, "Training": self.training_panel},
                                           self.palette)
        self.palette.add_requested.connect(self.add_brick)
        self.inspector.param_edited.connect(self.set_param)
        self.problems.node_clicked.connect(self.select_node)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.message.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        self.undo.cleanChanged.connect(self._update_title)  # a bound slot: gone with the window
        self.undo.indexChanged.connect(self._undo_moved)
        self._menus()
        self.stepper_panel = StepperPanel(self.session, self.step_actions)
        strip = QDockWidget("Stepper", self)
        strip.setWidget(self.stepper_panel)
        workspaces.hide_title(strip)  # a strip, not a panel: View > Step brings it back
        workspaces.add_bottom(self, "Stepper", strip)
        board = QDockWidget("Dashboard", self)
        board.setWidget(self.dashboard)
        workspaces.add_bottom(self, "Dashboard", board)
        self.playground = PlaygroundDock(self, self.scene)
        workspaces.add_bottom(self, "Playground", self.playground)
        self.playground.view.raced.connect(lambda: self.reach({"raced"}))
        self.playground.wanted.connect(lambda: workspaces.switch(self, "Playground"))
        for dock in (strip, board, self.playground):
            self.window_menu.addAction(dock.toggleViewAction())
        workspaces.apply(self, workspaces.restore(self))
        self.scene.run_to.connect(lambda node: self.session.run_to(node))
        self._bind_document()
        self.checker = GradientCheck(self)
        self.checker.started.connect(lambda: self.statusBar().showMessage("Checking every gradient numerically…"))
        self.checker.finished.connect(self._checked)
        self.checker.failed.connect(lambda msg: self.statusBar().showMessage(f"Gradient check: {msg}", 10000))
        self._watch(self.graph)
        self.kernels_label = QLabel("")
        self.statusBar().addPermanentWidget(self.kernels_label)
        self.warm_up = KernelWarmUp(self)
        self.warm_up.finished.connect(self._kernels_ready)
        self.warm_up.failed.connect(lambda msg: self.kernels_label.setText(f"Kernels unavailable: {msg}"))
        if not restore:  # a headless render: kernels compile when a step needs them
            self.kernels_label.setText("")
        elif self.warm_up.start():
            self.kernels_label.setText("Compiling kernels in the background…")
        else:
            self.kernels_label.setText("Kernels ready")
        self.autosave = QTimer(self)
        self.autosave.setInterval(AUTOSAVE_MS)
        self.autosave.timeout.connect(self.save_recovery)
        self.autosave.start()
        if not (restore and self.offer_recovery()):
            if path:
                self.open(path)
            elif (EXAMPLES / "circuit_xyz.json").exists():
                self.open(EXAMPLES / "circuit_xyz.json")

    # ---- menus --------------------------------------------------------------------------------
    def _menus(self) -> None:
        self.step_actions, self.train_actions = {}, {}
        self.lesson_list = catalogue(EXAMPLES)  # the lessons in the lectures' order, then the rest
        menus.build(self, self.lesson_list)
        self.overview_action.setCheckable(True)
        self.overview_action.setChecked(True)
        self.overview_action.toggled.connect(self.view.set_overview)

    def start_training(self) -> None:
        self.train_session.start(self.training_panel.start_from.currentData())

    # ---- documents ------------------------------------------------------------------------------
    def _watch(self, graph: Graph) -> None:
        graph.events.subscribe("analyzed", lambda **kw: self._model_changed())

    # the open document's sessions (each document has its own; menus and tests reach them here)
    session = property(lambda self: self.doc.stepping)
    train_session = property(lambda self: self.doc.training)

    def set_document(self, graph: Graph, path: Path | None) -> None:
        """Another document: the last one's session is closed (its threads stopped, what is still
        on its way to it dropped) and every panel is bound to the new one's."""
        self.doc.close()
        self.graph, self.path = graph, path
        self.example = None
        self.undo.clear()
        self.scene.set_graph(graph)
        self._watch(graph)
        self.doc = DocumentSession(graph, self)
        self._bind_document()
        self.training_panel.show_graph(graph)
        self._training_changed()
        self.show_lesson()
        self._model_changed()
        self.view.fit()
        self._update_title()

    def _bind_document(self) -> None:
        """The panels and the window follow the open document's sessions."""
        doc = self.doc
        self.stepper_panel.bind(doc.stepping)  # the panels first: the menus copy their buttons' state
        self.training_panel.bind(doc.training)
        self.dashboard.bind(doc.training)
        doc.stepping.changed.connect(self._steps_changed)
        doc.stepping.message.connect(lambda msg: self.statusBar().showMessage(msg, 10000))
        doc.training.message.connect(lambda msg: self.statusBar().showMessage(msg, 15000))
        doc.training.warning.connect(self._node_warning)
        doc.training.changed.connect(self._training_changed)
        doc.training.finished.connect(lambda result: result.status == "done" and self.reach({"trained"}))
        self.playground.set_document(doc.graph, doc.race)
        if self.playground.view.surface is not None:  # a loss of two numbers: race it
            workspaces.switch(self, "Playground")
        elif getattr(self, "workspace", None) == "Playground":
            workspaces.switch(self, "Build")
        self.values.clear("Step the graph to see its values and gradients.")

    def _kernels_ready(self, seconds: float) -> None:
        """The kernels compiled: the views that waited for them draw now."""
        self.kernels_label.setText(f"Kernels ready ({seconds:.1f} s)")
        if self.docks["Dashboard"].isVisible():
            self.dashboard.redraw()

    def show_lesson(self) -> None:
        """The graph's lesson note beside the canvas; raised when there is one."""
        self.lesson.show_progress(self.doc.lesson)
        if self.lesson.note:
            self.docks["Lesson"].raise_()

    def reach(self, milestones: set[str]) -> None:
        """The student got somewhere (a node stepped, a run trained, a race run): the note's
        checkpoints that wait for it tick, and the status bar counts them."""
        self._ticked(self.doc.lesson.reach(milestones))

    def _ticked(self, ticked: tuple[int, int] | None) -> None:
        if ticked is not None:
            self.lesson.redraw()
            self.statusBar().showMessage(f"Checkpoint reached ({ticked[0]} of {ticked[1]} in this lesson)", 6000)

    # ---- safety ---------------------------------------------------------------------------------
    def show_lessons(self) -> None:
        """Help > Lessons: the list, each with the first line of its note; opening one opens it."""
        path = pick_lesson(self, self.lesson_list)
        if path is not None:
            self.open_example(path)

    def lesson_link(self, url) -> None:
        """A link in the lesson note: ``gradviz:set?KEY=VALUE&…`` (one undoable step),
        ``gradviz:train``, ``gradviz:step``, ``gradviz:play`` (the optimizer playground),
        ``gradviz:open?file=NAME.json`` (another lesson); any other link opens in the browser."""
        text = url.toString()
        if not text.startswith("gradviz:"):
            QDesktopServices.openUrl(url)
            return
        try:
            link = self.doc.lesson.link(self.graph, text)
        except GradvizError as exc:
            self.statusBar().showMessage(str(exc), 10000)
            return
        action, command = link.action, link.command
        if command is not None and self.scene.push(command):
            self.statusBar().showMessage(f"{command.text} (Ctrl+Z undoes it)", 8000)
        if action == "train":
            self.docks["Training"].raise_()
            self.train_session.start()
        elif action == "step":
            self.session.run_phase("forward")
        elif action == "play":
            self.playground.play()
        elif action == "check":
            state = "reached" if link.argument in self.doc.lesson.reached else "not reached yet"
            self.statusBar().showMessage(f"A checkpoint ({state}): do what it says, and it ticks itself", 8000)
        elif action == "open":
            self.open_example(EXAMPLES / link.argument)

    def _node_warning(self, record: dict) -> None:
        if record.get("node"):
            self.scene.set_warning(record["node"], record["message"])

    def _undo_moved(self, _index: int) -> None:
        self.training_panel.refresh()  # kept weights come and go with undo and redo

    def set_workspace(self, name: str) -> None:
        """View > Build, Step, Train or Playground."""
        workspaces.apply(self, name)

    def _training_changed(self) -> None:
        s = self.train_session
        for key, action in self.train_actions.items():  # the menu follows the panel's buttons
            action.setEnabled(getattr(self.training_panel, key).isEnabled())
        if s.state in ("ready", "running") and s.trainer is not None and not s.trainer.warnings:
            self.scene.clear_warnings()  # a new run: its own warnings
        if s.state in ("ready", "running"):
            workspaces.switch(self, "Train")
            self.docks["Training"].raise_()

    def closeEvent(self, event) -> None:
        if self.sweeper is not None and self.sweeper.running:  # the finished runs are in its file already
            self.sweeper.stop()
        if self.train_session.running:  # stop the run cleanly, and offer what it trained
            self.train_session.stop(wait=True)
            answer = QMessageBox.question(self, "Training was running",
                                          "Keep the weights trained so far in the graph?",
                                          QMessageBox.Yes | QMessageBox.No)
            if answer == QMessageBox.Yes:
                self.keep_trained_weights()
        if self.confirm_discard():
            safety.clear_recovery()  # a clean close leaves nothing to recover
            workspaces.remember(self)
            self.doc.close()
            self.dashboard.close()
            event.accept()
        else:
            event.ignore()

    # ---- edits ------------------------------------------------------------------------------------
    def select_node(self, name: str) -> None:
        self.scene.reveal(name)  # inside a folded block: it unfolds
        self.scene.clearSelection()
        if name in self.scene.nodes:
            self.scene.nodes[name].setSelected(True)
            self.view.centerOn(self.scene.nodes[name])

    def _selection_changed(self) -> None:
        if not isValid(self.scene):  # the scene emits while it is being destroyed
            return
        names = [i.name for i in self.scene.selectedItems() if hasattr(i, "name")]
        self.inspector.show_node(self.graph, names[0] if len(names) == 1 else None)
        stepping = self.session.stepper is not None and self.session.stepper.records
        if len(names) == 1 and stepping:
            self.values.show_node(self.session.stepper, names[0])
        if len(names) == 1 and self.isVisible():  # a click on a node brings its panel forward
            self.docks["Values" if stepping else "Inspector"].raise_()

    def check_gradients(self) -> None:
        """Centered differences against every analytic gradient, on the samples being stepped."""
        self.checker.start(self.graph, self.session.samples, self.session.training)

    def _checked(self, report) -> None:
        self.reach({"checked"})
        self.scene.show_check(report)
        self.values.show_report(report)
        self.docks["Values"].raise_()
        verdict = "passed" if report.passed else f"FAILED at {', '.join(report.failed())}"
        self.statusBar().showMessage(f"Gradient check {verdict}: largest relative error "
                                     f"{report.max_rel_error:.1e}", 15000)

    def _steps_changed(self) -> None:
        """The view follows the stepper: the canvas, the values of the node just computed."""
        s = self.session.stepper
        self.scene.show_step(s)
        if s is None:
            self.values.clear("The graph changed: step again to start over." if self.session.stale else
                              "Step the graph to see its values and gradients.")
            return
        selected = [i.name for i in self.scene.selectedItems() if hasattr(i, "name")]
        node = selected[0] if len(selected) == 1 else (s.records[-1].node if s.records else None)
        self.values.show_node(s, node)
        self._ticked(self.doc.lesson.reach_steps(s.records))
        if s.records:  # stepping: the Step workspace (the race stays, if it is shown), values in front
            if self.workspace != "Playground":
                workspaces.switch(self, "Step")
            self.docks["Values"].raise_()

    def _model_changed(self) -> None:
        self.problems.show_problems(self.graph.problems)
        self.data_panel.show_graph(self.graph)
        self.training_panel.show_graph(self.graph)
        self._selection_changed()

    def _update_title(self, clean: bool | None = None) -> None:
        example = getattr(self, "example", None)
        name = self.path.name if self.path else (f"untitled (from {example})" if example else "untitled")
        clean = self.undo.isClean() if clean is None else clean
        self.setWindowTitle(f"{name}{'' if clean else ' *'} — gradviz")
