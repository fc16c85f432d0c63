"""Random actions in the window, in-process and offscreen, counting every traceback that would
reach a user (an exception in a Qt slot goes to sys.excepthook):

    python tools/monkey_gui.py [--actions 6000] [--seed 0]

Training is included: runs are started, paused, stepped, stopped and kept, the learning rate is
changed mid-run, lessons are opened and closed while a run is going, the playground races, the
gradient check runs and the workspaces switch. Training runs are kept short (a few epochs), so a
run often ends just as the next document opens.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import traceback
from collections import Counter
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TEXTS = ["0", "1", "-1", "2.5", "1e-7", "abc", "", "3, 4", "[[1, 2], [3, 4]]", "100000", "0.999", "x", "-0"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actions", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("GRADVIZ_STATE_DIR", str(Path("/tmp") / "gradviz-monkey-state"))
    from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit, QMessageBox

    from gradviz.app.main_window import EXAMPLES, MainWindow
    from gradviz_core import brick_types
    from gradviz_core.model.commands import Connect, Disconnect

    tracebacks: list[str] = []
    sys.excepthook = lambda t, v, tb: tracebacks.append("".join(traceback.format_exception(t, v, tb)))
    # a trainer or compute thread's uncaught exception counts too
    threading.excepthook = lambda a: tracebacks.append("".join(traceback.format_exception(
        a.exc_type, a.exc_value, a.exc_traceback)))
    QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.Discard)
    QMessageBox.warning = staticmethod(lambda *a, **k: None)
    QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: ("", ""))
    QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: ("", ""))
    app = QApplication.instance() or QApplication([])
    w = MainWindow(restore=False)
    w.resize(1280, 800)
    w.show()
    rng = random.Random(args.seed)
    types = brick_types()
    examples = sorted(EXAMPLES.glob("*.json"))
    done = Counter()

    def nodes():
        return w.graph.nodes()

    def act() -> str:
        r = rng.random()
        g = w.graph
        if r < 0.05:
            w.open_example(rng.choice(examples))
            return "open lesson"
        if r < 0.15:
            w.add_brick(rng.choice(types))
            return "add brick"
        if r < 0.22 and len(nodes()) >= 2:
            src, dst = rng.sample(nodes(), 2)
            ports = g.brick(dst).input_ports()
            if ports:
                w.scene.push(Connect(src, dst, rng.choice(ports)))
            return "connect"
        if r < 0.25 and g.edges():
            e = rng.choice(g.edges())
            w.scene.push(Disconnect(e.dst, e.port))
            return "disconnect"
        if r < 0.40 and nodes():
            w.select_node(rng.choice(nodes()))
            editors = list(w.inspector.editors.values())
            if editors:
                ed = rng.choice(editors)
                if isinstance(ed, QLineEdit):
                    ed.setText(rng.choice(TEXTS))
                    ed.editingFinished.emit()
                elif hasattr(ed, "setChecked"):
                    ed.setChecked(not ed.isChecked())
                else:
                    ed.setCurrentIndex(rng.randrange(ed.count()))
            return "edit a parameter"
        if r < 0.45 and w.data_panel.editors:
            ed = rng.choice(list(w.data_panel.editors.values()))
            if isinstance(ed, QLineEdit):
                ed.setText(rng.choice(TEXTS))
                ed.editingFinished.emit()
            return "edit the data"
        if r < 0.50:
            (w.undo.undo if rng.random() < 0.6 else w.undo.redo)()
            return "undo/redo"
        if r < 0.53 and nodes():
            w.select_node(rng.choice(nodes()))
            w.scene.delete_selected()
            return "delete"
        if r < 0.75:
            rng.choice([w.session.step, w.session.step, w.session.step_back,
                        lambda: w.session.run_phase(rng.choice(["forward", "backward", "update"])),
                        w.session.reset, lambda: w.session.travel(rng.randrange(0, 40))])()
            return "step"
        if r < 0.78:
            w.stepper_panel.samples.setText(rng.choice(["0", "0-3", "batch", "x", "5000", "1,2"]))
            w.stepper_panel.samples.editingFinished.emit()
            return "samples"
        if r < 0.80:
            w.stepper_panel.quiz.setChecked(not w.stepper_panel.quiz.isChecked())
            return "quiz on/off"
        if r < 0.83 and w.session.question:
            w.session.answer(rng.choice(TEXTS + list(w.session.question["choices"])))
            return "answer the quiz"
        if r < 0.85 and nodes():
            w.session.run_to(rng.choice(nodes()))
            return "run to here"
        if r < 0.87:
            w.auto_layout()
            return "auto-layout"
        if r < 0.88:
            w.new()
            return "new"
        if r < 0.90:
            w.copy()
            w.paste()
            return "copy/paste"
        if r < 0.92:
            w.stepper_panel.training.setChecked(not w.stepper_panel.training.isChecked())
            return "training mode"
        if r < 0.96:
            if w.training_panel.start.isEnabled() and rng.random() < 0.5:
                w.graph.training["epochs"] = rng.choice([1, 3, 20])  # short runs: they end mid-action
            panel = w.training_panel
            button = rng.choice([panel.start, panel.start, panel.pause, panel.stop, panel.one_step,
                                 panel.one_epoch, panel.reset, panel.keep])
            if button.isEnabled():
                button.click()
            if rng.random() < 0.2:
                panel.lr.setText(rng.choice(TEXTS))
                panel.lr.editingFinished.emit()
            return "train"
        if r < 0.97:
            w.check_gradients()
            return "check gradients"
        if r < 0.98:
            pv = w.playground.view
            button = rng.choice([pv.play_button, pv.step_button, pv.reset_button])
            if button.isEnabled() and button.isVisible():
                button.click()
            return "playground"
        if r < 0.99:
            rng.choice(list(w.workspace_actions.values())).trigger()
            return "workspace"
        w.view.fit()
        return "fit"

    for _ in range(args.actions):
        before = len(tracebacks)
        try:
            kind = act()
        except Exception:  # noqa: BLE001 - counted: it would have reached the user
            tracebacks.append(traceback.format_exc())
            kind = "raised"
        app.processEvents()
        done[kind] += 1
        t = getattr(w.train_session, "trainer", None)
        if t is not None and t.state == "running":
            done["taken while a run trains"] += 1
        if len(tracebacks) > before:
            done["with a traceback"] += 1
    w.undo.setClean()
    w.close()  # with a run perhaps still going: closing stops it
    app.processEvents()
    print(f"{args.actions} actions: {dict(done.most_common())}")
    print(f"{len(tracebacks)} tracebacks")
    for tb in list(dict.fromkeys(tracebacks))[:5]:
        print(tb)
    return 1 if tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
