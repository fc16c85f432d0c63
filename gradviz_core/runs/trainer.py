"""The trainer: mini-batch training of a graph, as plain Python with no Qt.

A trainer is a training run (``run.Run`` with ``live=True``): it trains its own copy of the
document, takes live setting changes at its next step, and stops with status "stale" when
the document changes in a way that needs a new run. ``Trainer.run()`` is a loop that
blocks; ``Trainer.start()`` runs it on a thread. ``trainer.training_run`` is its ``Run``. Control (``pause``, ``resume``,
``cancel``: ``control.RunControl``) holds under any order of calls, from any thread. What stops a
run (divergence, early stopping) is ``guard``'s, the babysitting numbers ``diagnostics``', what
it measures of itself ``evaluation``'s: this module is the loop.

It publishes on ``trainer.events`` (the run's events), each with a ``record``: "step"
(``StepInfo``), "epoch" and "diagnostics" (dicts, as ``gradviz train --json`` prints them)
and "done" (``Result``); plus the run's "stale" and "settings_applied". ``snapshot()``
gives a consistent copy of the weights from any thread, and ``Probe`` computes
predictions, decision-boundary grids and activations on such a copy without touching
the trainer's bricks.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from gradviz_core.errors import GraphError
from gradviz_core.model.graph import Graph
from gradviz_core.model.settings import Settings  # noqa: F401 (part of this module's API)
from gradviz_core.runs import babysit
from gradviz_core.runs.control import RunControl
from gradviz_core.runs.diagnostics import Diagnostics
from gradviz_core.runs.evaluation import EVAL_BATCH, Evaluator  # noqa: F401 (EVAL_BATCH: API)
from gradviz_core.runs.guard import DivergenceGuard, EarlyStopping, set_weights
from gradviz_core.runs.probe import Probe, Snapshot, find_head, grid_points, predict_scores, truth_of  # noqa: F401 (API)
from gradviz_core.runs.run import Run, StaleRunError, load_pretrained  # noqa: F401 (load_pretrained: API)


@dataclass(frozen=True)
class StepInfo:
    step: int
    epoch: int
    loss: float
    data_loss: float
    reg_loss: float
    lr: float


@dataclass
class Result:
    status: str                 # done, cancelled, diverged, early_stopped, stale
    epochs: int
    steps: int
    seconds: float
    train_loss: float | None = None
    reg_loss: float | None = None
    train_acc: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None
    test_loss: float | None = None
    test_acc: float | None = None
    confusion: list | None = None
    message: str = ""
    history: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def summary(self) -> dict:
        return {"epochs": self.epochs, "steps": self.steps, "train_loss": self.train_loss,
                "train_acc": self.train_acc, "val_acc": self.val_acc, "test_acc": self.test_acc,
                "seconds": round(self.seconds, 3)}


class Trainer(RunControl):
    def __init__(self, graph: Graph, overrides: dict | None = None, dtype=np.float32,
                 weights: str = "fresh", max_steps: int | None = None, pause_on_diverge: bool = False,
                 threads: int | None = None) -> None:
        super().__init__(threads)
        self.training_run = run = Run(graph, dtype, weights=weights, overrides=overrides, live=True,
                                      kind="training run", fuse=True)
        if run.splits is None:
            raise GraphError("training needs data: give the graph a data source")
        self.doc = graph
        #: the run's own copy of the graph (the document is never trained)
        self.graph = run.graph
        self.settings, self.dtype, self.events = run.settings, run.dtype, run.events
        self.splits, self.program, self.loaded, self.regs = run.splits, run.program, run.loaded, run.regs
        self.evaluator = ev = Evaluator(run)
        self.head = ev.head
        self.evaluate, self.predict, self.grid = ev.evaluate, ev.predict, ev.grid
        self.initial_loss_check = ev.initial_loss_check
        self.diag = Diagnostics(run.program, run.events)
        self.guard = DivergenceGuard(run, run.settings.diverge_factor)
        #: the loss terms each epoch reports: every loss (a WeightedSum's parts too) and regularizer
        self.terms = [n for n in run.program.order
                      if run.bricks[n].family == "Losses" or run.bricks[n].acts_on_weights]
        self.last_values: dict = {}
        self._epoch_start = True
        self.max_steps = max_steps
        #: the window's choice: on divergence, restore the last finite weights and pause (the
        #: student lowers η and resumes) instead of finishing
        self.pause_on_diverge = pause_on_diverge
        #: the message of a divergence the run is paused at ("" otherwise)
        self.diverged = ""
        self.history: list[dict] = []
        #: (step, loss) of every step, and of the step that diverged (the dashboard's per-step curve)
        self.losses: list[tuple[int, float]] = []
        self._step_lock = threading.Lock()

    optimizer = property(lambda self: self.training_run.optimizer)
    #: every diagnostics record so far, and the warnings raised (each code and node once)
    diagnostics = property(lambda self: self.diag.records)
    warnings = property(lambda self: self.diag.warnings)
    first_loss = property(lambda self: self.guard.first_loss)

    # ---- the loop ------------------------------------------------------------------------
    def _run(self) -> Result:
        s, run, t0 = self.settings, self.training_run, time.perf_counter()
        self.diag.warn(babysit.initial_loss(self.initial_loss_check()))
        stopping = EarlyStopping(s.early_stopping)
        status, message, epoch = "done", "", 0
        while epoch < s.epochs:  # epochs may change while training runs
            epoch += 1
            self.epoch, self._epoch_done = epoch, False
            # diagnostics at the first step of the first epochs, then of about 100 epochs over the
            # run (and every diagnostics_every steps): the dashboard draws them over time
            self._epoch_start = Diagnostics.epoch_wants(epoch, s.epochs)
            status, message, totals, seen = self._epoch(epoch)
            n = len(run.train_set)
            if status != "done" or seen == 0:
                break
            record = self.evaluator.epoch_record(epoch, self.steps, totals["data"] / seen, totals["reg"] / seen,
                                                 run.train_set)
            record["terms"] = {name: total / seen for name, total in totals["terms"].items()}
            if seen < n:
                record["partial"] = True
            self.history.append(record)
            run.optimizer.lr = run.schedule.after_epoch(epoch, record.get("val_loss"))
            self.events.emit("epoch", record=record)
            self._epoch_done = True
            self.diag.warn(babysit.from_history(self.history))
            self._pause_here("epoch")
            if message:  # stopped after max_steps
                break
            if s.early_stopping and self.splits.val is not None and \
                    stopping.stop(epoch, record["val_loss"], run.weights_copy):
                best = stopping.best[2]
                set_weights(self.program, stopping.best[1])
                self._kept = next(r for r in self.history if r["epoch"] == best)
                status = "early_stopped"
                message = (f"stopped early at epoch {epoch}: the validation loss has not improved "
                           f"for {s.early_stopping} epochs; kept the weights of epoch {best}")
                break
        self.result = self._finish(status, message, time.perf_counter() - t0)
        return self.result  # announced as "done" by RunControl, once the state is finished

    def _epoch(self, epoch: int) -> tuple[str, str, dict, int]:
        """One epoch's steps -> (status, message, the loss totals weighted by samples, samples seen)."""
        run = self.training_run
        order, n, bs = run.epoch_order(epoch), len(run.train_set), run.batch_size
        # the terms apart: a node may be named "data" or "reg"
        totals = {"data": 0.0, "reg": 0.0, "terms": dict.fromkeys(self.terms, 0.0)}
        seen = start = 0
        while start < n:
            if not self._go_on():
                return "cancelled", "", totals, seen
            if run.stale:
                return "stale", f"stopped: {run.stale}; the weights trained so far are kept in this run", totals, seen
            with self._step_lock:
                run.apply_pending()
                idx = order[start:start + bs]
                xb, yb = run.take(idx, self.steps + 1)
                self.chooser.before()
                t_step = time.perf_counter()
                data_loss, reg_loss, values = self.step(xb, yb)
                self.chooser.after(time.perf_counter() - t_step, len(idx))
            if values is not None:
                self.losses.append((self.steps + 1, data_loss + reg_loss))  # the blow-up, drawn
                message = self.guard.restore_and_explain(values, epoch, data_loss, reg_loss, self.steps,
                                                         self.optimizer.lr)
                if self.pause_on_diverge and self._wait_after_divergence(message):
                    continue  # resumed (with a smaller η, say): the same batch again
                return "diverged", message, totals, seen  # (or stopped while paused there)
            totals["data"] += data_loss * len(idx)
            totals["reg"] += reg_loss * len(idx)
            for name in self.terms:
                totals["terms"][name] += float(self.last_values[name]) * len(idx)
            seen += len(idx)
            start += bs
            self.losses.append((self.steps, data_loss + reg_loss))
            self.events.emit("step", record=StepInfo(self.steps, epoch, data_loss + reg_loss,
                                                     data_loss, reg_loss, run.optimizer.lr))
            self._pause_here("step")
            if self.max_steps is not None and self.steps >= self.max_steps:
                return "done", f"stopped after {self.steps} step{'' if self.steps == 1 else 's'}", totals, seen
        return "done", "", totals, seen

    def step(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float, dict | None]:
        """One training step (forward, backward, update) on a batch already in the training
        dtype. Returns (data loss, regularization loss, None), or the forward values instead
        of None when the loss is not finite or has exploded (and then nothing is updated)."""
        self.training_run.feed(X, y, step=self.steps + 1)
        values = self.last_values = self.program.forward(True)
        data_loss, reg_loss = self.evaluator.losses(values)
        loss = data_loss + reg_loss
        self.guard.note(loss)
        if self.guard.broken(loss):
            return data_loss, reg_loss, values
        self.guard.remember(self.steps, loss)
        grads = self.program.backward(values)
        s = self.settings
        # the babysitting checks look at the first step of the first epochs; diagnostics_every adds more
        diag = self._epoch_start or (s.diagnostics_every and self.steps % s.diagnostics_every == 0)
        self._epoch_start = False
        params = self.training_run.params() if diag else None
        before = {k: b.weights[w].copy() for k, b, w in params} if diag else None
        self.training_run.update()
        self.steps += 1
        if diag:
            self.diag.take(values, params, before, grads, self.steps, self.epoch)
        return data_loss, reg_loss, None

    def _wait_after_divergence(self, message: str) -> bool:
        """Pause with the divergence message (the weights are already the last finite ones).
        True when the student resumes, False when they stop."""
        self.pause()  # from inside the loop: the weights are already restored
        self.diverged = message
        self.optimizer.state.clear()  # the velocity or moments that blew up go with the weights
        self.events.emit("diverged", record={"message": message, "step": self.steps, "epoch": self.epoch})
        self.guard.restart()  # the first loss is measured again from the restored weights
        go_on = self._go_on()
        self.diverged = ""
        return go_on

    def _finish(self, status: str, message: str, seconds: float) -> Result:
        # the figures describe the weights kept: the best epoch's after early stopping
        last = getattr(self, "_kept", None) or (self.history[-1] if self.history else {})
        test = self.evaluate(self.splits.test)
        shown = test or self.evaluate(self.splits.val) or self.evaluate(self.splits.train)
        done = len(self.history)
        return Result(status, done, self.steps, seconds, last.get("train_loss"), last.get("reg_loss"),
                      last.get("train_acc"), last.get("val_loss"), last.get("val_acc"),
                      test.get("loss"), test.get("acc"), shown.get("confusion"),
                      message or f"trained {done} epochs", list(self.history),
                      [w.to_json() for w in self.warnings])

    # ---- reading the run from any thread ---------------------------------------------------
    def snapshot(self) -> Snapshot:
        """A consistent copy of the weights, taken between two steps (safe from any thread)."""
        with self._step_lock:
            return Snapshot(self.steps, self.epoch, self.training_run.weights_copy())

    def probe(self) -> "Probe":
        """A second copy of the run's graph for reading it from another thread."""
        with self._step_lock:
            return Probe(self.training_run)

    def keep_command(self, text: str = "keep the trained weights"):
        """The undoable command that copies the weights trained so far into the document."""
        return self.training_run.keep_command(text) if self._state != "running" else \
            _keep_from(self.snapshot(), text)

    def _all_finite(self) -> bool:
        return self.guard.all_finite()


def _keep_from(snapshot: Snapshot, text: str):
    from gradviz_core.model.commands import KeepWeights
    return KeepWeights(snapshot.weights, text)
