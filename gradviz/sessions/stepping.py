"""The window's stepper session: one core ``Stepper`` over the open document, started on the
first step, started again after an edit made it stale, driven by the Step menu, the
stepper panel and the timeline. Every failure becomes a message, never a traceback."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

import numpy as np

from gradviz.look.heat import num
from gradviz_core.teach.trace import SMALL, chain_rule, objective_of, show as _show  # noqa: F401 (SMALL: the panels read it here)
from gradviz_core.errors import GradvizError
from gradviz_core.runs.stepper import Stepper


def show(a) -> str:
    """A value as the window writes it: the command line's text, with real minus signs."""
    return _show(a, number=num)


def chain_rule_lines(graph, rec, objective: str) -> list[str]:
    """The chain rule with the numbers filled in, worded as the command line words it
    (``gradviz_core.teach.trace``), with real minus signs."""
    return chain_rule(graph, rec, objective, number=num)


def parse_samples(text: str) -> list[int] | None:
    """"0", "0-3", "0, 5, 7" → sample indices; "batch" (or empty) → None: the training batch."""
    text = text.strip().lower()
    if text in ("", "batch"):
        return None
    out: list[int] = []
    for part in text.replace(" ", "").split(","):
        a, dash, b = part.partition("-")
        if not a.isdigit() or (dash and not b.isdigit()):
            raise ValueError(f"{part!r} is not a sample number or a range like 0-3")
        out += list(range(int(a), int(b) + 1)) if dash else [int(a)]
    return out


SIGNS = ("all positive or zero", "all negative or zero", "all zero", "mixed signs")


def sign_class(a) -> str:
    a = np.asarray(a, dtype=np.float64)
    if np.all(a == 0):
        return SIGNS[2]
    if np.all(a >= 0):
        return SIGNS[0]
    if np.all(a <= 0):
        return SIGNS[1]
    return SIGNS[3]


class StepSession(QObject):
    changed = Signal()        # the stepper moved, was replaced, or went stale
    message = Signal(str)     # a refusal or a problem, with the core's words
    quiz_asked = Signal(object)   # a question: {"text", "kind" ("number" | "sign"), "choices"}
    quiz_result = Signal(str)     # right or wrong, with the answer and its chain rule

    def __init__(self, bridge, parent=None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.bridge.event.connect(self._on_event)
        self.doc = None
        self.stepper: Stepper | None = None
        self.samples: list[int] | None = [0]  # one sample by default, so the numbers stay readable
        self.training = True
        self.stale: str | None = None
        #: predict, then reveal: before a backward step, ask for the gradient it will send
        self.quiz = False
        self.question: dict | None = None
        self.score = [0, 0]  # right, asked (while the window is open)

    # ---- the document -----------------------------------------------------------------------
    def set_document(self, doc) -> None:
        self.close()
        if self.doc is not None:
            self.doc.events.unsubscribe("weights_changed", self._on_weights)
        self.doc, self.stale = doc, None
        if doc is not None:
            doc.events.subscribe("weights_changed", self._on_weights)
        self.changed.emit()

    def _on_weights(self, **_) -> None:
        """New weights in the document (imported, kept after training, or undone): the steps
        shown were of the old ones. (A run ignores them; the stepper's numbers would lie.)"""
        if self.stepper is not None:
            self.stale = "its weights were replaced"
            self.close()
            self.changed.emit()

    def close(self) -> None:
        if self.stepper is not None:
            self.stepper.close()
            self.bridge.detach_all()
        self.stepper = None

    def set_samples(self, samples: list[int] | None) -> None:
        self.samples = samples
        self.close()
        self.changed.emit()

    def _on_event(self, name: str, payload: dict) -> None:
        if name == "stale" and self.stepper is not None:
            self.stale = payload["reason"]
            self.close()  # nothing stale stays on the canvas
            self.changed.emit()

    def ensure(self) -> Stepper | None:
        """The live stepper, started (again) from the document as it is now."""
        if self.stepper is None and self.doc is not None:
            try:
                # a graph with weights of its own (kept after training, imported) steps with them
                self.stepper = Stepper(self.doc, training=self.training, samples=self.samples,
                                       weights="document" if self.doc.weights() else "fresh")
            except GradvizError as exc:
                self.message.emit(str(exc))
                return None
            except Exception as exc:  # noqa: BLE001 - shown as a message, the work is kept
                self.message.emit(f"internal error: {type(exc).__name__}: {exc} (please report this)")
                return None
            self.bridge.attach(self.stepper.events)
        return self.stepper

    # ---- moves --------------------------------------------------------------------------------
    def _do(self, fn) -> None:
        s = self.ensure()
        if s is None:
            return
        try:
            with np.errstate(all="ignore"):  # NaN and infinity are shown as values, not warned about
                fn(s)
        except GradvizError as exc:
            self.message.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown as a message, the work is kept
            self.message.emit(f"internal error: {type(exc).__name__}: {exc} (please report this)")
        if self.stepper is not None:
            self.stale = None
        self.changed.emit()

    def step(self) -> None:
        s = self.ensure()
        if s is not None and self.quiz and self.question is None and self._ask(s):
            return  # the step waits for the student's prediction
        self._do(lambda s: s.step() if not s.done else self.message.emit(
            "the iteration is complete: Reset to step it again"))

    # ---- predict, then reveal ---------------------------------------------------------------
    def _ask(self, s) -> bool:
        nxt = s.next_step()
        if nxt is None or nxt[0] != "backward":
            return False
        node = nxt[1]
        ports = [(p, src) for p, src in s.graph.inputs_of(node).items()
                 if src in s.values and np.asarray(s.values[src]).dtype.kind == "f"]
        if not ports:
            return False
        port, src = ports[0]
        objective = s.program.objective[0] if len(s.program.objective) == 1 else "L"
        scalar = np.ndim(s.values[src]) == 0
        what = f"∂{objective}/∂{src}"
        self.question = {"node": node, "port": port, "src": src, "kind": "number" if scalar else "sign",
                         "text": (f"Predict: what gradient does {node} send to {src} (its input {port})? "
                                  f"Its part of {what}" + ("" if scalar else ", for the whole tensor:")),
                         "choices": SIGNS}
        self.quiz_asked.emit(self.question)
        return True

    def answer(self, text: str) -> None:
        """Check a prediction, then take the step and reveal the right answer with its chain rule."""
        q, self.question = self.question, None
        if q is None:
            return
        s = self.ensure()
        if s is None:
            return
        try:
            with np.errstate(all="ignore"):
                rec = s.step()
        except GradvizError as exc:
            self.message.emit(str(exc))
            self.changed.emit()
            return
        right = rec.input_grads.get(q["port"])
        if right is None:  # nothing flows back there (labels, a port the brick does not differentiate)
            self.quiz_result.emit(f"No gradient flows from {q['node']} to {q['src']}: it is data, not a "
                                  "quantity the loss depends on through this node.")
            self.changed.emit()
            return
        self.score[1] += 1
        if q["kind"] == "number":
            try:
                guess = float(text.replace("−", "-").strip())
            except ValueError:
                guess = None
            ok = guess is not None and abs(guess - float(right)) <= 1e-3 + 1e-2 * abs(float(right))
            shown = num(right)
        else:
            ok = text == sign_class(right)
            shown = sign_class(right)
        self.score[0] += ok
        lines = chain_rule_lines(s.graph, rec, objective_of(s.program))
        line = next((x for x in lines if f"/∂{q['src']} " in x), "")
        self.quiz_result.emit(("✓ Right" if ok else f"✗ Not quite (you said {text or 'nothing'})")
                              + f": {shown}. {line}  Score {self.score[0]}/{self.score[1]}")
        self.changed.emit()

    def step_back(self) -> None:
        self._do(lambda s: s.step_back())

    def run_phase(self, phase: str) -> None:
        self._do(lambda s: s.run_phase(phase))

    def run_to(self, node: str) -> None:
        """Step until ``node`` has run: its forward step, or, once forward is done, its backward."""
        def go(s):
            phase = "forward" if ("forward", node) in s.plan[s.position:] else "backward"
            if (phase, node) not in s.plan[s.position:]:
                self.message.emit(f"{node} has already run in this iteration")
                return
            s.run_to(node, phase)
        self._do(go)

    def reset(self) -> None:
        self._do(lambda s: s.reset())

    def travel(self, position: int) -> None:
        """Move along the timeline to ``position`` steps done."""
        def go(s):
            while s.position < position and not s.done:
                s.step()
            while s.position > position:
                s.step_back()
        self._do(go)
