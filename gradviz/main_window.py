"""The main window: palette | canvas | a tab each for the inspector, values, data, lesson and problems; the stepper strip below; menus with undo, files, steps and panels."""
from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import (QAction, QColor, QDesktopServices, QImage, QKeySequence, QPainter, QPalette,
                           QUndoStack)
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QWidget)
from shiboken6 import isValid

from gradviz import safety
from gradviz.bridge import Bridge
from gradviz.canvas.scene import GraphScene, GraphView
from gradviz.checking import GradientCheck
from gradviz.panels.stepper import StepperPanel
from gradviz.panels.values import ValuesPanel
from gradviz.panels.dashboard import Dashboard
from gradviz.panels.lessons import LessonNote, pick_lesson
from gradviz.panels.playground import PlaygroundDock
from gradviz.panels.train import TrainingPanel
from gradviz.stepping import StepSession
from gradviz.training import TrainSession
from gradviz.panels.data import DataPanel
from gradviz.panels.inspector import Inspector
from gradviz.panels.palette import Palette
from gradviz.panels.problems import ProblemsList
from gradviz.worker import KernelWarmUp
from gradviz_core.model import fileformat
from gradviz_core.teach import lessons
from gradviz_core.model.commands import (AddNode, Group, MoveNodes, SetData, SetParam, SetRuns, SetTraining, copy_nodes,
                                   paste_command)
from gradviz_core.model.layout import layered_positions
from gradviz_core.errors import GradvizError
from gradviz_core.model.graph import Graph

EXAMPLES = fileformat.examples_dir()
#: export target -> (its name, the file's suffix, the kind of file)
EXPORTS = {"pytorch": ("PyTorch", ".py", "Python file"), "numpy": ("NumPy study script", ".py", "Python file"),
           "onnx": ("ONNX", ".onnx", "ONNX model")}


def _scrolling(widget):
    from PySide6.QtWidgets import QScrollArea
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area
AUTOSAVE_MS = 30_000


class MainWindow(QMainWindow):
    def __init__(self, path: str | None = None, theme: str = "light", restore: bool = True) -> None:
        """``restore``: offer unsaved work back after a crash (off for headless renders)."""
        super().__init__()
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
        self.bridge = Bridge(self)
        self.session = StepSession(self.bridge, self)
        self.values = ValuesPanel()
        self.train_session = TrainSession(self)
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
        self.train_session.warning.connect(self._node_warning)
        self.train_session.changed.connect(self._training_changed)
        self.train_session.finished.connect(
            lambda result: result.status == "done" and self.reach({"trained"}))
        self.data_panel = DataPanel()
        self.data_panel.data_edited.connect(lambda spec: self.scene.push(SetData(spec)))
        docks = []
        for title, widget, area in (("Bricks", self.palette, Qt.LeftDockWidgetArea),
                                    ("Inspector", self.inspector, Qt.RightDockWidgetArea),
                                    ("Problems", self.problems, Qt.RightDockWidgetArea),
                                    ("Lesson", self.lesson, Qt.RightDockWidgetArea),
                                    ("Values", _scrolling(self.values), Qt.RightDockWidgetArea),
                                    ("Data", _scrolling(self.data_panel), Qt.RightDockWidgetArea),
                                    ("Training", _scrolling(self.training_panel), Qt.RightDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(title)
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            docks.append(dock)
        self.docks = {d.objectName(): d for d in docks}
        # the right side holds one panel at a time, so the canvas keeps the window's full height
        self.tabifyDockWidget(self.docks["Inspector"], self.docks["Problems"])
        self.tabifyDockWidget(self.docks["Inspector"], self.docks["Lesson"])
        self.tabifyDockWidget(self.docks["Inspector"], self.docks["Values"])
        self.tabifyDockWidget(self.docks["Inspector"], self.docks["Data"])
        self.tabifyDockWidget(self.docks["Inspector"], self.docks["Training"])
        self.docks["Inspector"].raise_()
        self.resizeDocks(docks[:2], [180, 330], Qt.Horizontal)
        self.palette.add_requested.connect(self.add_brick)
        self.inspector.param_edited.connect(self.set_param)
        self.problems.node_clicked.connect(self.select_node)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.message.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        self.undo.cleanChanged.connect(self._update_title)  # a bound slot: gone with the window
        self.undo.indexChanged.connect(self._undo_moved)
        self._menus()
        self.stepper_panel = StepperPanel(self.session, self.step_actions)
        dock = QDockWidget("Stepper", self)
        dock.setObjectName("Stepper")
        dock.setWidget(self.stepper_panel)
        dock.setTitleBarWidget(QWidget())  # a strip, not a panel: Window > Stepper brings it back
        self.addDockWidget(Qt.BottomDockWidgetArea, dock)
        self.docks["Stepper"] = dock
        self.window_menu.addAction(dock.toggleViewAction())
        board = QDockWidget("Dashboard", self)
        board.setObjectName("Dashboard")
        board.setWidget(self.dashboard)
        self.addDockWidget(Qt.BottomDockWidgetArea, board)
        self.splitDockWidget(board, dock, Qt.Vertical)  # the stepper strip stays at the very bottom
        self.docks["Dashboard"] = board
        self.window_menu.addAction(board.toggleViewAction())
        self.playground = PlaygroundDock(self, self.scene)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.playground)
        self.splitDockWidget(board, self.playground, Qt.Vertical)  # a column: dashboard, playground, stepper
        self.window_menu.addAction(self.playground.toggleViewAction())
        self.playground.hide()  # shown when the graph is a loss of two numbers
        self.playground.visibilityChanged.connect(self._bottom_changed)
        self.playground.view.raced.connect(lambda: self.reach({"raced"}))
        board.visibilityChanged.connect(self._bottom_changed)
        board.hide()  # until the Training panel is brought forward, or training starts
        # (Window > Dashboard brings it too); laid out then, so that Start costs no layout
        self.docks["Training"].visibilityChanged.connect(
            lambda shown: shown and self.graph.data is not None and self._show_dashboard())
        self.session.changed.connect(self._steps_changed)
        self.session.message.connect(lambda msg: self.statusBar().showMessage(msg, 10000))
        self.train_session.message.connect(lambda msg: self.statusBar().showMessage(msg, 15000))
        self.scene.run_to.connect(self.session.run_to)
        self.checker = GradientCheck(self)
        self.checker.started.connect(lambda: self.statusBar().showMessage("Checking every gradient numerically…"))
        self.checker.finished.connect(self._checked)
        self.checker.failed.connect(lambda msg: self.statusBar().showMessage(f"Gradient check: {msg}", 10000))
        self._watch(self.graph)
        self.kernels_label = QLabel("")
        self.statusBar().addPermanentWidget(self.kernels_label)
        self.warm_up = KernelWarmUp(self)
        self.warm_up.finished.connect(lambda s: self.kernels_label.setText(f"Kernels ready ({s:.1f} s)"))
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
        def act(menu, text, slot, keys=None):
            a = QAction(text, self)
            if keys:
                a.setShortcut(keys)
            a.triggered.connect(slot)
            menu.addAction(a)
            return a
        f = self.menuBar().addMenu("&File")
        act(f, "&New", self.new, QKeySequence.New)
        act(f, "&Open…", self.open_dialog, QKeySequence.Open)
        self.recent_menu = f.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        act(f, "&Save", self.save, QKeySequence.Save)
        act(f, "Save &As…", self.save_as, QKeySequence.SaveAs)
        ex = self.menuBar().addMenu("E&xamples")
        self.lesson_list = lessons.catalogue(EXAMPLES)  # the lessons in the lectures' order, then the rest
        for title, p, prose in self.lesson_list:
            a = act(ex, title, lambda _=False, p=p: self.open_example(p))
            a.setToolTip(prose)
        e = self.menuBar().addMenu("&Edit")
        undo, redo = self.undo.createUndoAction(self, "&Undo"), self.undo.createRedoAction(self, "&Redo")
        undo.setShortcut(QKeySequence("Ctrl+Z"))
        # one binding per key: QKeySequence.Redo already means Ctrl+Shift+Z on X11, and binding it
        # twice makes Qt report an ambiguous shortcut and do nothing
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        e.addActions([undo, redo])
        act(e, "&Delete", self.scene.delete_selected)
        act(e, "&Copy", self.copy, QKeySequence.Copy)
        act(e, "&Paste", self.paste, QKeySequence.Paste)
        act(e, "Auto-&layout", self.auto_layout, QKeySequence("Ctrl+L"))
        act(f, "&Export image…", self.export_dialog)
        act(f, "Export to &PyTorch…", lambda: self.export_code("pytorch"))
        act(f, "Export a &NumPy study script…", lambda: self.export_code("numpy"))
        act(f, "Export to &ONNX…", lambda: self.export_code("onnx"))
        f.addSeparator()
        act(f, "&Quit", self.close, QKeySequence("Ctrl+Q"))
        v = self.menuBar().addMenu("&View")
        act(v, "&Fit to window", self.view.fit)
        act(v, "&Actual size", self.view.actual_size, QKeySequence("Ctrl+0"))
        act(v, "&Light theme", lambda: self.set_theme("light"))
        act(v, "&Dark theme", lambda: self.set_theme("dark"))
        st = self.menuBar().addMenu("&Step")
        self.step_actions = {
            "step": act(st, "&Step", lambda: self.session.step(), QKeySequence("F10")),
            "step_back": act(st, "Step &back", lambda: self.session.step_back(), QKeySequence("Shift+F10")),
            "forward": act(st, "Run the &forward pass", lambda: self.session.run_phase("forward"),
                           QKeySequence("F5")),
            "backward": act(st, "Run the b&ackward pass", lambda: self.session.run_phase("backward"),
                            QKeySequence("F6")),
            "update": act(st, "Apply the &update", lambda: self.session.run_phase("update"), QKeySequence("F7")),
            "reset": act(st, "&Reset", lambda: self.session.reset(), QKeySequence("Ctrl+R")),
            "play": act(st, "&Play", lambda: None, QKeySequence("F8")),
        }
        st.addSeparator()
        self.check_action = act(st, "&Check gradients numerically", self.check_gradients, QKeySequence("Ctrl+G"))
        for key, text in (("step", "one step: the next node forward, then backward, then the update"),
                          ("step_back", "undo the last step exactly"), ("reset", "back to before the first step")):
            self.step_actions[key].setToolTip(text)
        tr = self.menuBar().addMenu("&Train")
        ts = self.train_session
        self.train_actions = {
            "start": act(tr, "&Start training", lambda: ts.start(self.training_panel.start_from.currentData()),
                         QKeySequence("F9")),
            "pause": act(tr, "&Pause or resume", ts.pause, QKeySequence("Shift+F9")),
            "one_step": act(tr, "One training s&tep", lambda: ts.advance("step")),
            "one_epoch": act(tr, "One &epoch", lambda: ts.advance("epoch")),
            "stop": act(tr, "St&op", lambda: ts.stop()),
            "reset": act(tr, "&Reset weights", ts.reset),
        }
        tr.addSeparator()
        self.train_actions["keep"] = act(tr, "&Keep the trained weights", self.keep_trained_weights)
        w = self.window_menu = self.menuBar().addMenu("&Window")
        hp = self.menuBar().addMenu("&Help")
        act(hp, "&Lessons…", self.show_lessons, QKeySequence("F1"))  # brings back a panel that was closed
        for dock in self.docks.values():
            w.addAction(dock.toggleViewAction())

    # ---- documents ------------------------------------------------------------------------------
    def _watch(self, graph: Graph) -> None:
        graph.events.subscribe("analyzed", lambda **kw: self._model_changed())

    def set_document(self, graph: Graph, path: Path | None) -> None:
        self.graph, self.path = graph, path
        self.example = None
        self.undo.clear()
        self.scene.set_graph(graph)
        self._watch(graph)
        self.session.set_document(graph)
        self.train_session.set_document(graph)
        self.training_panel.show_graph(graph)
        self.playground.set_document(graph)
        self._training_changed()
        self.show_lesson()
        self._model_changed()
        self.view.fit()
        self._update_title()

    def show_lesson(self) -> None:
        """The graph's lesson note beside the canvas; raised when there is one."""
        self.lesson.show_note(self.graph.note)
        if self.lesson.note:
            self.docks["Lesson"].raise_()

    def reach(self, milestones: set[str]) -> None:
        """The student got somewhere (a node stepped, a run trained, a race run): the note's
        checkpoints that wait for it tick, and the status bar counts them."""
        ticked = self.lesson.reach(milestones)
        if ticked is not None:
            self.statusBar().showMessage(f"Checkpoint reached ({ticked[0]} of {ticked[1]} in this lesson)", 6000)

    def new(self) -> None:
        if self.confirm_discard():
            self.set_document(Graph(), None)

    def open(self, path) -> bool:
        """Load a file; on failure the current document stays as it is and the message shows. An
        ONNX model is imported as an untitled graph (Save asks where to write it)."""
        onnx = Path(path).suffix.lower() == ".onnx"
        try:
            if onnx:
                from gradviz_core.formats.onnx_import import from_onnx
                graph = from_onnx(path)
            else:
                graph = fileformat.load(path)
        except GradvizError as exc:
            QMessageBox.warning(self, "Cannot open the file", str(exc))
            return False
        self.set_document(graph, None if onnx else Path(path))
        if onnx:
            self.statusBar().showMessage(f"Imported {Path(path).name}: {len(graph.nodes())} nodes, "
                                         f"{graph.total_params():,} parameters; Save writes it as a graph", 10000)
        else:
            safety.remember(Path(path).resolve())
        return True

    def open_example(self, path) -> bool:
        """A lesson opens as an untitled copy (Save asks where), after asking about unsaved work."""
        if not self.confirm_discard():
            return False
        try:
            graph = fileformat.load(path)
        except GradvizError as exc:
            QMessageBox.warning(self, "Cannot open the lesson", str(exc))
            return False
        self.set_document(graph, None)
        self.example = Path(path).name
        self._update_title()
        return True

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for name in safety.recent_files():
            self.recent_menu.addAction(name, lambda n=name: self.confirm_discard() and self.open(n))

    # ---- safety ---------------------------------------------------------------------------------
    def save_recovery(self) -> None:
        """Every 30 s: keep a copy of unsaved work where a crash cannot take it."""
        if not self.undo.isClean():
            try:
                safety.save_recovery(self.graph, self.path)
            except OSError as exc:
                self.statusBar().showMessage(f"Autosave failed: {exc.strerror or exc}", 8000)

    def offer_recovery(self) -> bool:
        """After a crash, offer the unsaved work back. True if it was recovered."""
        found = safety.pending_recovery()
        if found is None:
            return False
        graph, original, when = found
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(when))
        answer = QMessageBox.question(self, "Recover unsaved work?",
                                      f"gradviz did not close cleanly. Recover the unsaved work from {stamp}"
                                      f"{f' (of {original.name})' if original else ''}?",
                                      QMessageBox.Yes | QMessageBox.No)
        safety.clear_recovery()
        if answer != QMessageBox.Yes:
            return False
        self.set_document(graph, original)
        self.undo.resetClean()  # recovered work is unsaved work
        self._update_title(False)
        return True

    def open_dialog(self) -> None:
        if self.confirm_discard():
            name, _ = QFileDialog.getOpenFileName(self, "Open graph", "",
                                                  "gradviz graphs (*.json);;ONNX models (*.onnx)")
            if name:
                self.open(name)

    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        try:
            # kept weights go with the graph (a weights file beside it), so training resumes from them
            fileformat.save(self.graph, self.path, with_weights=bool(self.graph.weights()))
        except OSError as exc:
            QMessageBox.warning(self, "Cannot save", f"{self.path}: {exc.strerror or exc}")
            return False
        self.undo.setClean()
        safety.remember(self.path.resolve())
        safety.clear_recovery()
        return True

    def save_as(self) -> bool:
        name, _ = QFileDialog.getSaveFileName(self, "Save graph", "", "gradviz graphs (*.json)")
        if not name:
            return False
        path = Path(name)
        self.path = path if path.suffix.lower() == ".json" else path.with_name(path.name + ".json")
        return self.save()

    def confirm_discard(self) -> bool:
        if self.undo.isClean():
            return True
        answer = QMessageBox.question(self, "Unsaved changes", "Save the changes first?",
                                      QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel)
        return answer == QMessageBox.Discard or (answer == QMessageBox.Save and self.save())

    def keep_trained_weights(self) -> None:
        command = self.train_session.keep_command()
        if command is None:
            self.statusBar().showMessage("There are no trained weights to keep yet", 5000)
        elif self.scene.push(command):
            self.statusBar().showMessage("The trained weights are now the graph's (Ctrl+Z undoes it)", 8000)
            self.training_panel.refresh()  # "from the graph's weights" is now a choice

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
            action, command = lessons.command(self.graph, text)
        except GradvizError as exc:
            self.statusBar().showMessage(str(exc), 10000)
            return
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
            what = dict(lessons.parse(text)[1])["milestone"]
            state = "reached" if what in self.lesson.reached else "not reached yet"
            self.statusBar().showMessage(f"A checkpoint ({state}): do what it says, and it ticks itself", 8000)
        elif action == "open":
            self.open_example(EXAMPLES / dict(lessons.parse(text)[1])["file"])

    def init_all_layers(self, scheme: str) -> None:
        """One initialization scheme for every layer: one undoable step."""
        commands = [SetParam(n, "init", scheme) for n in self.graph.order
                    if "init" in self.graph.brick(n).config and self.graph.brick(n).config["init"] != scheme]
        if commands:
            self.scene.push(Group(f"initialize every layer with {scheme}", commands))

    def _node_warning(self, record: dict) -> None:
        if record.get("node"):
            self.scene.set_warning(record["node"], record["message"])

    def _undo_moved(self, _index: int) -> None:
        self.training_panel.refresh()  # kept weights come and go with undo and redo

    def _bottom_changed(self, _shown: bool = False) -> None:
        """A dock below the canvas came or went: the canvas gets the room back (a hidden dock's
        height otherwise stays with its neighbours: an empty band, or a dashboard of 80%)."""
        QTimer.singleShot(0, self, self._fit_bottom)  # cancelled with the window

    def _fit_bottom(self) -> None:
        if not isValid(self):
            return
        shown = [d for d in (self.docks["Dashboard"], self.playground) if d.isVisible()]
        strip = self.docks["Stepper"]
        if shown:
            share = int(self.height() * (0.42 if len(shown) == 1 else 0.3))
            self.resizeDocks(shown + [strip], [share] * len(shown) + [strip.sizeHint().height()], Qt.Vertical)
        else:
            self.resizeDocks([strip], [strip.sizeHint().height()], Qt.Vertical)

    def _show_dashboard(self) -> None:
        dock = self.docks["Dashboard"]
        if not dock.isVisible():
            dock.show()
            self.resizeDocks([dock], [int(self.height() * 0.5)], Qt.Vertical)

    def _training_changed(self) -> None:
        s = self.train_session
        for key, action in self.train_actions.items():  # the menu follows the panel's buttons
            action.setEnabled(getattr(self.training_panel, key).isEnabled())
        if s.state in ("ready", "running") and s.trainer is not None and not s.trainer.warnings:
            self.scene.clear_warnings()  # a new run: its own warnings
        if s.state in ("ready", "running"):
            self._show_dashboard()
        if s.state in ("ready", "running"):
            self.docks["Training"].raise_()

    def closeEvent(self, event) -> None:
        if self.train_session.running:  # stop the run cleanly, and offer what it trained
            self.train_session.stop(wait=True)
            answer = QMessageBox.question(self, "Training was running",
                                          "Keep the weights trained so far in the graph?",
                                          QMessageBox.Yes | QMessageBox.No)
            if answer == QMessageBox.Yes:
                self.keep_trained_weights()
        if self.confirm_discard():
            safety.clear_recovery()  # a clean close leaves nothing to recover
            self.dashboard.close()
            event.accept()
        else:
            event.ignore()

    # ---- edits ------------------------------------------------------------------------------------
    def add_brick(self, type_name: str) -> None:
        """At the centre of the view; a brick added where another one sits moves down and right,
        so double-clicked bricks never land on top of each other."""
        center = self.view.mapToScene(self.view.viewport().rect().center())
        x, y = center.x() - 95, center.y() - 30
        taken = [self.graph.pos(n) for n in self.graph.nodes()]
        while any(abs(x - a) < 30 and abs(y - b) < 30 for a, b in taken):
            x, y = x + 40, y + 40
        self.scene.push(AddNode(type_name, pos=(x, y)))

    def set_param(self, node: str, key: str, value) -> None:
        if node in self.graph:  # the inspector sends only real changes, of the node it shows
            self.scene.push(SetParam(node, key, value))

    def set_theme(self, theme: str) -> None:
        """The whole app, not just the canvas: Qt's Fusion style with a light or dark palette."""
        app = QApplication.instance()
        app.setStyle("Fusion")
        if theme == "dark":
            pal = QPalette()
            for role, color in ((QPalette.Window, "#2b2d31"), (QPalette.WindowText, "#e6e6e6"),
                                (QPalette.Base, "#1e1f22"), (QPalette.AlternateBase, "#2b2d31"),
                                (QPalette.Text, "#e6e6e6"), (QPalette.Button, "#35373c"),
                                (QPalette.ButtonText, "#e6e6e6"), (QPalette.Highlight, "#4c8bf5"),
                                (QPalette.HighlightedText, "#ffffff"), (QPalette.ToolTipBase, "#35373c"),
                                (QPalette.ToolTipText, "#e6e6e6")):
                pal.setColor(role, QColor(color))
            app.setPalette(pal)
        else:
            app.setPalette(app.style().standardPalette())
        self.scene.set_theme(theme)
        safety.settings().setValue("theme", theme)

    def copy(self) -> None:
        names = [i.name for i in self.scene.selectedItems() if hasattr(i, "name")]
        if names:
            QApplication.clipboard().setText(json.dumps(copy_nodes(self.graph, names)))

    def paste(self) -> None:
        try:
            clip = json.loads(QApplication.clipboard().text())
        except ValueError:
            clip = None
        if not isinstance(clip, dict) or not isinstance(clip.get("nodes"), list) or "edges" not in clip:
            self.statusBar().showMessage("The clipboard holds no gradviz nodes", 5000)
            return
        if self.scene.push(paste_command(self.graph, clip)):
            self.scene.clearSelection()
            for c in self.undo.command(self.undo.count() - 1).command.commands:
                if hasattr(c, "type_name"):
                    self.scene.nodes[c.name].setSelected(True)

    def drop_brick(self, type_name: str, scene_pos) -> None:
        self.scene.push(AddNode(type_name, pos=(scene_pos.x(), scene_pos.y())))

    def auto_layout(self) -> None:
        """Place the nodes in layers (one undoable step)."""
        new = layered_positions(self.graph)
        moves = {n: (self.graph.pos(n), p) for n, p in new.items() if tuple(p) != self.graph.pos(n)}
        if moves:
            self.scene.push(MoveNodes(moves))
            self.view.fit()

    def export_image(self, path) -> None:
        """The canvas as PNG (rendered at 2×) or SVG, by the file's suffix."""
        rect = self.scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
        if str(path).lower().endswith(".svg"):
            gen = QSvgGenerator()
            gen.setFileName(str(path))
            gen.setSize(rect.size().toSize())
            gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
            painter = QPainter(gen)
        else:
            image = QImage((rect.size() * 2).toSize(), QImage.Format_ARGB32)
            image.fill(QColor(self.scene.palette["background"]))
            painter = QPainter(image)
            painter.setRenderHint(QPainter.Antialiasing)
        self.scene.clearSelection()
        self.scene.render(painter, QRectF(), rect)
        painter.end()
        if not str(path).lower().endswith(".svg") and not image.save(str(path)):
            raise OSError(f"{path}: the image could not be written")

    def export_dialog(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export image", "", "PNG image (*.png);;SVG drawing (*.svg)")
        if name:
            try:
                self.export_image(name)
            except OSError as exc:
                QMessageBox.warning(self, "Cannot export", str(exc))

    def export_code(self, to: str, name: str | None = None) -> bool:
        """The graph as a PyTorch file, a NumPy study script or an ONNX model (``gradviz
        export``); a graph that cannot be written says which node and why."""
        from gradviz_core.formats import export_bytes
        what, suffix, kind = EXPORTS[to]
        try:  # first, so that a graph that cannot be written says so before a file is asked for
            data = export_bytes(self.graph, to)
        except GradvizError as exc:
            QMessageBox.warning(self, f"Cannot export to {what}", str(exc))
            return False
        if name is None:
            stem = self.path.stem if self.path else Path(getattr(self, "example", None) or "model").stem
            name, _ = QFileDialog.getSaveFileName(self, f"Export to {what}", f"{stem}{suffix}", f"{kind} (*{suffix})")
        if not name:
            return False
        try:
            fileformat.atomic_write(Path(name), data)
        except (GradvizError, OSError) as exc:
            QMessageBox.warning(self, f"Cannot export to {what}", str(exc))
            return False
        after = f"run it with python {Path(name).name}" if suffix == ".py" else "load it with onnxruntime"
        self.statusBar().showMessage(f"Wrote {name}: {after}", 10000)
        return True

    def select_node(self, name: str) -> None:
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
        self.reach(lessons.milestones_of_steps(s.records))
        if s.records:
            self.docks["Values"].raise_()  # stepping: the values panel comes to the front

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
