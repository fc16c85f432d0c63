"""The window's training session: one core ``Trainer`` (a training run on its own copy of the
document) on its own thread. Its events reach the window through the bridge, coalesced to
the frame rate; the session keeps the curves' points and offers the trained weights back to
the document as an undoable command. Every failure becomes a message."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from gradviz.bridge import Bridge
from gradviz_core import kernels
from gradviz_core.errors import GradvizError
from gradviz_core.train import Trainer


class TrainSession(QObject):
    changed = Signal()          # started, paused, finished, stale: the controls follow
    epoch = Signal(dict)        # an epoch record (every one)
    step = Signal(object)       # the newest step record (coalesced)
    finished = Signal(object)   # the Result
    message = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.bridge = Bridge(self)
        self.bridge.event.connect(self._on_event)
        self.doc = None
        self.trainer: Trainer | None = None
        self.history: list[dict] = []
        self.steps: list[tuple[int, float]] = []
        self.result = None
        self._probe, self._probe_for = None, None  # a copy of the run's graph for the boundary

    def set_document(self, doc) -> None:
        self.stop(wait=True)
        self.doc, self.trainer, self.history, self.steps, self.result = doc, None, [], [], None
        self.changed.emit()

    @property
    def running(self) -> bool:
        return self.trainer is not None and self.trainer.state in ("running", "paused")

    def start(self, weights: str = "fresh") -> None:
        """A new training run from the document (fresh weights, or the document's)."""
        if self.running:
            self.message.emit("training is already running: pause or stop it first")
            return
        try:
            self.trainer = Trainer(self.doc, weights=weights)
        except GradvizError as exc:
            self.message.emit(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a message, never a traceback
            self.message.emit(f"internal error: {type(exc).__name__}: {exc} (please report this)")
            return
        self.bridge.detach_all()
        self.bridge.attach(self.trainer.events)
        self.history, self.steps, self.result = [], [], None
        self.trainer.start()
        self.changed.emit()

    def pause(self) -> None:
        if self.trainer is not None:
            (self.trainer.resume if self.trainer.state == "paused" else self.trainer.pause)()
            self.changed.emit()

    def stop(self, wait: bool = False) -> None:
        if self.trainer is not None and self.running:
            self.trainer.cancel()
            if wait:
                self.trainer.join(10)
                self.bridge.flush()
        self.changed.emit()

    def boundary_possible(self) -> bool:
        """True when the graph's samples are 2D points (a boundary can be drawn)."""
        if self.doc is None or self.doc.data is None:
            return False
        try:
            X = self.doc.dataset().X
        except GradvizError:
            return False
        return X.ndim == 2 and X.shape[1] == 2

    def keep_command(self):
        """The undoable command that copies the trained weights into the document, or None."""
        return self.trainer.keep_command() if self.trainer is not None and self.trainer.steps else None

    def _on_event(self, name: str, payload: dict) -> None:
        record = payload.get("record")
        if name == "epoch":
            self.history.append(record)
            self.epoch.emit(record)
        elif name == "step":
            self.steps.append((record.step, record.loss))
            self.step.emit(record)
        elif name == "done":
            self.result = record
            if record.status in ("diverged", "stale"):
                self.message.emit(record.message)
            self.finished.emit(record)
            self.changed.emit()
        elif name == "warning":
            self.message.emit(f"warning: {record['message']}")

    def boundary(self, res: int = 200):
        """(grid scores (res, res, K), extent, training points, labels) for 2D data, on a
        snapshot of the weights (safe while the trainer runs), or None."""
        t = self.trainer
        if t is None or t.splits is None or t.splits.train.X.ndim != 2 or t.splits.train.X.shape[1] != 2:
            return None
        if kernels.active().__name__.endswith("fast") and not kernels.ready():
            return None  # the kernels are still compiling: the window's thread does not wait for them
        data = t.graph.dataset()  # the points as the data gives them, before preprocessing
        raw = data.X
        lo, hi = raw.min(axis=0), raw.max(axis=0)
        pad = 0.1 * (hi - lo + 1e-9)
        extent = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
        try:
            if self._probe_for is not t:
                self._probe, self._probe_for = t.probe(), t
            scores = self._probe.load(t.snapshot()).grid(extent, res)
        except GradvizError:
            return None
        return scores, extent, raw, data.y


def classes_of(scores: np.ndarray) -> np.ndarray:
    """Class regions from a grid of scores (K > 1: argmax; one score: its sign)."""
    return scores.argmax(axis=-1) if scores.shape[-1] > 1 else (scores[..., 0] > 0).astype(int)
