"""The window's menus, as a table: each entry is (label, what it calls, its keys, the name the
window keeps it under, its tooltip). "What it calls" is a path on the window
("session.step", "save"), with ":ARG" for one text argument ("export_code:onnx"); None for an
action another part wires (the stepper strip plays F8). "-" is a separator; the special
entries "recent", "examples", "undo" and "docks" are filled by ``build``.
"""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

from gradviz.app.workspaces import WORKSPACES

#: QKeySequence's standard keys by name, so the table holds plain text
_STANDARD = {"New": QKeySequence.New, "Open": QKeySequence.Open, "Save": QKeySequence.Save,
             "SaveAs": QKeySequence.SaveAs, "Copy": QKeySequence.Copy, "Paste": QKeySequence.Paste}

MENUS = [
    ("&File", [("&New", "new", "New"), ("&Open…", "open_dialog", "Open"), "recent",
               ("&Save", "save", "Save"), ("Save &As…", "save_as", "SaveAs"),
               ("&Export image…", "export_dialog"), ("Export a &worksheet…", "export_worksheet", None, None,
                                                      "the stepped values and the chain rule with blanks to "
                                                      "fill in, and the answer key (PDF or HTML)"), ("Export to &PyTorch…", "export_code:pytorch"),
               ("Export a &NumPy study script…", "export_code:numpy"), ("Export to &ONNX…", "export_code:onnx"),
               ("&Import weights from PyTorch…", "import_weights", None, None,
                "the weights a PyTorch export trained (its --save checkpoint), checked by name and shape"),
               "-", ("&Quit", "close", "Ctrl+Q")]),
    ("E&xamples", ["examples"]),
    ("&Edit", ["undo", ("&Delete", "scene.delete_selected"), ("&Copy", "copy", "Copy"),
               ("&Paste", "paste", "Paste"), ("Auto-&layout", "auto_layout", "Ctrl+L"), "-",
               ("&Find node…", "view.show_find", "Ctrl+F", None, "go to a node by its name or its brick")]),
    ("&View", ["workspaces", "-", ("&Fit to window", "view.fit", "Ctrl+Shift+F"),
               ("&Actual size", "view.actual_size", "Ctrl+0"),
               ("Fold &blocks", "scene.fold_blocks", "Ctrl+Shift+B", None,
                "fold every residual block, inception module and dense layer into one node"),
               ("&Unfold all", "scene.unfold_all", "Ctrl+Shift+U"),
               ("&Overview map", None, "Ctrl+Shift+O", "overview_action",
                "the whole graph in the canvas's corner, when it does not fit: click it to go there"),
               ("&Light theme", "set_theme:light"), ("&Dark theme", "set_theme:dark")]),
    ("&Step", [("&Step", "session.step", "F10", "step_actions.step",
                "one step: the next node forward, then backward, then the update"),
               ("Step &back", "session.step_back", "Shift+F10", "step_actions.step_back", "undo the last step exactly"),
               ("Run the &forward pass", "session.run_phase:forward", "F5", "step_actions.forward"),
               ("Run the b&ackward pass", "session.run_phase:backward", "F6", "step_actions.backward"),
               ("Apply the &update", "session.run_phase:update", "F7", "step_actions.update"),
               ("&Reset", "session.reset", "Ctrl+R", "step_actions.reset", "back to before the first step"),
               ("&Play", None, "F8", "step_actions.play"), "-",
               ("&Quiz: predict each gradient", None, "Ctrl+Shift+Q", "step_actions.quiz",
                "before a backward step reveals a gradient, say what it will be"),
               ("&Training mode", None, "Ctrl+Shift+M", "step_actions.training_mode",
                "Dropout and BatchNorm as in training (off: as at test time)"),
               ("Sa&mples to step…", None, "Ctrl+Shift+N", "step_actions.samples",
                "which training samples to step: 0, 0-3, 0, 5, 7, or batch"), "-",
               ("&Check gradients numerically", "check_gradients", "Ctrl+G", "check_action")]),
    ("&Train", [("&Start training", "start_training", "F9", "train_actions.start"),
                ("&Pause or resume", "train_session.pause", "Shift+F9", "train_actions.pause"),
                ("One training s&tep", "train_session.advance:step", "Ctrl+F9", "train_actions.one_step"),
                ("One &epoch", "train_session.advance:epoch", "Ctrl+Shift+F9", "train_actions.one_epoch"),
                ("St&op", "train_session.stop", "Ctrl+.", "train_actions.stop"),
                ("&Reset weights", "train_session.reset", "Ctrl+Shift+R", "train_actions.reset"), "-",
                ("&Keep the trained weights", "keep_trained_weights", "Ctrl+K", "train_actions.keep"), "-",
                ("S&weep meta-parameters…", "sweep_dialog", "Ctrl+Shift+W", None,
                 "train the graph over a grid or random draws of settings, in parallel, and compare")]),
    ("&Window", ["docks"]),
    ("&Help", [("&Lessons…", "show_lessons", "F1")]),  # brings back a lesson panel that was closed
]


def _call(window, spec: str):
    """The action's slot: ``spec`` is looked up when it is triggered, so "session.step" always
    reaches the open document's session (each document has its own)."""
    path, _, arg = spec.partition(":")

    def call(_=False):
        target = window
        for part in path.split("."):
            target = getattr(target, part)
        return target(arg) if arg else target()
    return call


def build(window, examples: list) -> None:
    """The window's menu bar from MENUS; the actions named in the table are kept on the window
    (``window.step_actions["step"]``, ``window.check_action``), and so are ``recent_menu`` and
    ``window_menu``."""
    for title, entries in MENUS:
        menu = window.menuBar().addMenu(title)
        for entry in entries:
            if entry == "-":
                menu.addSeparator()
            elif entry == "recent":
                window.recent_menu = menu.addMenu("Open &Recent")
                window.recent_menu.aboutToShow.connect(window._fill_recent)
            elif entry == "examples":
                for label, path, prose in examples:
                    a = QAction(label, window)
                    a.triggered.connect(lambda _=False, p=path: window.open_example(p))
                    a.setToolTip(prose)
                    menu.addAction(a)
            elif entry == "undo":
                undo = window.undo.createUndoAction(window, "&Undo")
                redo = window.undo.createRedoAction(window, "&Redo")
                undo.setShortcut(QKeySequence("Ctrl+Z"))
                # one binding per key: QKeySequence.Redo already means Ctrl+Shift+Z on X11, and binding
                # it twice makes Qt report an ambiguous shortcut and do nothing
                redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
                menu.addActions([undo, redo])
            elif entry == "workspaces":
                window.workspace_actions = {}
                for ws in WORKSPACES.values():
                    a = _action(window, menu, f"&{ws.name}", f"set_workspace:{ws.name}", ws.keys, None, ws.tip)
                    a.setCheckable(True)
                    window.workspace_actions[ws.name] = a
            elif entry == "docks":
                window.window_menu = menu
                for dock in window.docks.values():
                    menu.addAction(dock.toggleViewAction())
            else:
                _action(window, menu, *entry)


def _action(window, menu, label, call, keys=None, keep=None, tip=None) -> QAction:
    a = QAction(label, window)
    if keys:
        a.setShortcut(_STANDARD.get(keys, QKeySequence(keys)))
    if call:
        a.triggered.connect(_call(window, call))
    if tip:
        a.setToolTip(tip)
    menu.addAction(a)
    if keep:
        name, _, key = keep.partition(".")
        if key:
            getattr(window, name)[key] = a
        else:
            setattr(window, name, a)
    return a
