"""The window's training session: one core ``Trainer`` (a training run on its own copy of the
document) on its own thread. Its events reach the window through the bridge, coalesced to
the frame rate; the session keeps the curves' points and offers the trained weights back to
the document as an undoable command. Every failure becomes a message."""
from __future__ import annotations

import dataclasses
import threading

from PySide6.QtCore import QObject, Signal

from gradviz.sessions.bridge import Bridge
from gradviz_core import kernels
from gradviz_core.teach import compare
from gradviz_core.errors import GradvizError
from gradviz_core.runs.babysit import group_line, grouped  # noqa: F401 (the diagnostics panel's)
from gradviz_core.runs.trainer import Trainer

#: compute threads of the window's training runs. Measured in the app on a 2-core machine
#: (README, "Sharing two cores"): with the window painting the dashboard, one compute thread
#: trains as fast as two on a quiet machine and far faster when a core is busy.
APP_THREADS = 1


class TrainSession(QObject):
    changed = Signal()          # started, paused, finished, stale, diverged: the controls follow
    epoch = Signal(dict)        # an epoch record (every one)
    finished = Signal(object)   # the Result
    message = Signal(str)
    diverged = Signal(str)      # the core's message; the run is paused on the last finite weights
    warning = Signal(dict)      # a babysitting warning (code, node, value, message)
    runs_changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.bridge = Bridge(self)
        self.bridge.event.connect(self._on_event)
        self.doc = None
        self.trainer: Trainer | None = None
        self.history: list[dict] = []
        self.result = None
        self._probes, self._probe_for = {}, None  # copies of the run's graph, one per reader
        self._probes_lock = threading.Lock()
        #: finished runs, for comparison (compare.record dicts), kept until another graph is opened
        self.runs: list[dict] = []
        self.threads = APP_THREADS

    def set_document(self, doc) -> None:
        self.stop(wait=True)
        self.doc, self.trainer, self.history, self.result = doc, None, [], None
        self.runs = list(doc.runs) if doc is not None else []
        self.runs_changed.emit()
        self.changed.emit()

    @property
    def running(self) -> bool:
        return self.trainer is not None and self.trainer.state in ("running", "paused")

    @property
    def state(self) -> str:
        """none, ready (a fresh run not started: Reset), running, paused, finished."""
        return "none" if self.trainer is None else self.trainer.state

    def prepare(self, weights: str = "fresh", announce: bool = True) -> bool:
        """A new training run from the document (fresh weights, or the document's), not started:
        its initial state shows (the boundary of the untrained net). False (with a message) if
        the graph cannot train."""
        if self.running:
            self.message.emit("training is running: stop it first")
            return False
        try:
            trainer = Trainer(self.doc, weights=weights, pause_on_diverge=True, threads=self.threads)
        except GradvizError as exc:
            self.message.emit(str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - a message, never a traceback
            self.message.emit(f"internal error: {type(exc).__name__}: {exc} (please report this)")
            return False
        self.bridge.detach_all()
        self.trainer = trainer
        self.bridge.attach(trainer.events)
        self.history, self.result = [], None
        if announce:
            self.changed.emit()
        return True

    def start(self, weights: str = "fresh", pause_after: str | None = None) -> None:
        """Train: the prepared run, or a new one. ``pause_after`` "step" or "epoch": that much."""
        if self.running:
            self.message.emit("training is already running: pause or stop it first")
            return
        if self.state != "ready" and not self.prepare(weights, announce=False):
            return
        if pause_after:
            self.trainer.pause_after(pause_after)
        self.trainer.start()
        self.changed.emit()

    def reset(self) -> None:
        """Stop, and start over from freshly initialized weights (not trained yet)."""
        self.stop(wait=True)
        self.prepare("fresh")

    def advance(self, unit: str) -> None:
        """One step or one epoch, then pause: of the paused run, or of a new one."""
        if self.trainer is not None and self.trainer.state == "paused":
            self.trainer.pause_after(unit)
            self.changed.emit()
        elif self.running:
            self.trainer.pause()
            self.changed.emit()
        else:
            self.start(pause_after=unit)

    def pause(self) -> None:
        if self.trainer is not None:
            (self.trainer.resume if self.trainer.state == "paused" else self.trainer.pause)()
            self.changed.emit()

    def probe(self, owner: str = "window"):
        """A Probe on the run's newest weights (safe while it trains), or None. Each ``owner``
        (a thread that reads the run) has its own copy of the graph."""
        t = self.trainer
        if t is None or t.splits is None:
            return None
        with self._probes_lock:
            if self._probe_for is not t:
                self._probes, self._probe_for = {}, t
            if owner not in self._probes:
                self._probes[owner] = t.probe()
            probe = self._probes[owner]
        return probe.load(t.snapshot())

    def set_runs_saved(self, graph) -> None:
        """(For the command that keeps the runs in the graph file.)"""
        self.runs = list(graph.runs)
        self.runs_changed.emit()

    def remove_run(self, index: int) -> None:
        if 0 <= index < len(self.runs):
            del self.runs[index]
            self.runs_changed.emit()

    def run_labels(self) -> list[str]:
        return compare.labels(self.runs)

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
        elif name == "done":
            self.result = record
            if record.status in ("diverged", "stale"):
                self.message.emit(record.message)
            if record.steps and self.doc is not None:
                t = self.trainer
                ended = dataclasses.asdict(t.settings)  # what it ran with at the end (live changes in)
                self.runs.append(compare.record(t.graph, record, len(self.runs) + 1, ended))
                self.runs_changed.emit()
            self.finished.emit(record)
            self.changed.emit()
        elif name == "warning":
            self.warning.emit(record)
            self.message.emit(f"warning: {record['message']}")
        elif name == "diverged":
            self.diverged.emit(record["message"])
            self.message.emit(record["message"])
            self.changed.emit()
        elif name == "paused":
            self.changed.emit()

    def boundary(self, res: int = 200, owner: str = "window"):
        """(grid scores (res, res, K), extent) for 2D data, on a snapshot of the weights (safe
        while the trainer runs), or None."""
        t = self.trainer
        if t is None or t.splits is None or t.splits.train.X.ndim != 2 or t.splits.train.X.shape[1] != 2:
            return None
        if kernels.active().__name__.endswith("fast") and not kernels.ready():
            return None  # the kernels are still compiling: the window's thread does not wait for them
        extent = self.extent()
        try:
            scores = self.probe(owner).grid(extent, res)
        except GradvizError:
            return None
        return scores, extent

    def points(self):
        """{"train" | "test" | "val": (points as the data gave them, labels)} for 2D data."""
        t = self.trainer
        out = {}
        for name in ("train", "val", "test"):
            ds = getattr(t.splits, name) if t is not None else None
            if ds is not None and len(ds):
                out[name] = (t.splits.preprocessor.inverse(ds.X), ds.y)
        return out

    def extent(self) -> tuple[float, float, float, float]:
        """The grid's extent: the data's, with a margin (it follows the data)."""
        raw = self.trainer.graph.dataset().X  # as the data gives them, before preprocessing
        lo, hi = raw.min(axis=0), raw.max(axis=0)
        pad = 0.1 * (hi - lo + 1e-9)
        return (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
