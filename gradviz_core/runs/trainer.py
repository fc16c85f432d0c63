"""The trainer: mini-batch training of a graph, as plain Python with no Qt.

A trainer is a training run (``run.Run`` with ``live=True``): it trains its own copy of the
document, takes live setting changes at its next step, and stops with status "stale" when
the document changes in a way that needs a new run. ``Trainer.run()`` is a loop that
blocks; ``Trainer.start()`` runs it on a thread. ``trainer.training_run`` is its ``Run``. Control (``pause``, ``resume``,
``cancel``) holds under any order of calls, from any thread.

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

from gradviz_core.runs import babysit
from gradviz_core.runs.engine import first_nonfinite
from gradviz_core.errors import GradvizError, GraphError
from gradviz_core.model.graph import Graph
from gradviz_core.runs.metrics import activation_stats, confusion, histogram, weight_stats
from gradviz_core.runs.probe import Probe, Snapshot, find_head, grid_points, predict_scores, truth_of  # noqa: F401 (API)
from gradviz_core.runs.run import Run, StaleRunError, load_pretrained  # noqa: F401 (load_pretrained: API)
from gradviz_core.model.settings import Settings  # noqa: F401 (part of this module's API)

EVAL_BATCH = 1024


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


class Trainer:
    def __init__(self, graph: Graph, overrides: dict | None = None, dtype=np.float32,
                 weights: str = "fresh", max_steps: int | None = None, pause_on_diverge: bool = False,
                 threads: int | None = None) -> None:
        self.training_run = run = Run(graph, dtype, weights=weights, overrides=overrides, live=True,
                             kind="training run")
        if run.splits is None:
            raise GraphError("training needs data: give the graph a data source")
        self.doc = graph
        #: the run's own copy of the graph (the document is never trained)
        self.graph = run.graph
        self.settings = run.settings
        self.dtype = run.dtype
        self.events = run.events
        self.splits = run.splits
        self.program = run.program
        self.loaded = run.loaded
        self.regs = run.regs
        self.head = find_head(run.program)
        #: the loss terms each epoch reports: every loss (a WeightedSum's parts too) and regularizer
        self.terms = [n for n in run.program.order
                      if run.bricks[n].family == "Losses" or run.bricks[n].acts_on_weights]
        self.last_values: dict = {}
        #: the babysitting warnings raised so far (each code and node once)
        self.warnings: list[babysit.Warning] = []
        self._epoch_start = True
        self.max_steps = max_steps
        #: the window's choice: on divergence, restore the last finite weights and pause (the
        #: student lowers η and resumes) instead of finishing
        self.pause_on_diverge = pause_on_diverge
        #: compute threads for this run's kernels (None: measured while it trains, see
        #: kernels.ThreadChooser)
        self.threads = threads
        self._pause_at: tuple[str, int] | None = None  # ("step" | "epoch", number): pause there
        self._epoch_done = True
        #: the message of a divergence the run is paused at ("" otherwise)
        self.diverged = ""
        self.steps = 0
        self.epoch = 0
        self.first_loss: float | None = None
        self.history: list[dict] = []
        #: every diagnostics record so far (the dashboard reads it from another thread)
        self.diagnostics: list[dict] = []
        #: (step, loss) of every step, and of the step that diverged (the dashboard's per-step curve)
        self.losses: list[tuple[int, float]] = []
        self.result: Result | None = None
        self._cond = threading.Condition()
        self._state = "ready"          # ready, running, paused, finished
        self._cancelled = False
        self._step_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def optimizer(self):
        return self.training_run.optimizer

    # ---- control ----------------------------------------------------------------------
    def start(self) -> threading.Thread:
        """Run the loop on a daemon thread (the caller's thread stays free)."""
        self._begin()
        self._thread = threading.Thread(target=self._loop, name="gradviz-trainer", daemon=True)
        self._thread.start()
        return self._thread

    def _begin(self) -> None:
        with self._cond:
            if self._state in ("running", "paused"):
                raise GradvizError("this training run is already running")
            if self._state == "finished":
                raise GradvizError("this training run has finished; start a new one")
            self._state = "running"

    def join(self, timeout: float | None = None) -> Result | None:
        if self._thread:
            self._thread.join(timeout)
        return self.result

    @property
    def state(self) -> str:
        return self._state

    def pause(self) -> None:
        with self._cond:
            if self._state == "running":
                self._state = "paused"

    def resume(self) -> None:
        with self._cond:
            if self._state == "paused":
                self._state = "running"
                self._cond.notify_all()

    def pause_after(self, unit: str, count: int = 1) -> None:
        """Run ``count`` more steps (``unit`` "step") or to the end of the epoch (``unit``
        "epoch"), then pause; resumes a paused run. Starts nothing: call ``start`` for a new one."""
        with self._cond:
            self._pause_at = ("step", self.steps + count) if unit == "step" else \
                ("epoch", self.epoch + (count if self._epoch_done else count - 1))
            if self._state == "paused":
                self._state = "running"
                self._cond.notify_all()

    def _pause_here(self, unit: str) -> None:
        with self._cond:
            at = self._pause_at
            if at and at[0] == unit and (self.steps if unit == "step" else self.epoch) >= at[1]:
                self._pause_at = None
                if self._state == "running":
                    self._state = "paused"
                    self.events.emit("paused", record={"step": self.steps, "epoch": self.epoch})

    def cancel(self) -> None:
        """Stop at the next step; never lost, whatever is called after it."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def _go_on(self) -> bool:
        """Wait while paused; False once cancelled."""
        with self._cond:
            while self._state == "paused" and not self._cancelled:
                self._cond.wait()
            return not self._cancelled

    # ---- the loop ------------------------------------------------------------------------
    def run(self) -> Result:
        """Train on the calling thread until done (blocks)."""
        self._begin()
        return self._loop()

    def _loop(self) -> Result:
        from gradviz_core.kernels import ThreadChooser
        # Numba's thread count is per calling thread (this one): the count asked for, or the
        # one that trains fastest now, measured
        self.chooser = ThreadChooser((self.threads,)) if self.threads else ThreadChooser()
        try:
            # overflow on the way to a divergence is handled by the guard, not warned about
            with np.errstate(all="ignore"):
                return self._run()
        finally:
            with self._cond:
                self._state = "finished"

    def _run(self) -> Result:
        s, run, t0 = self.settings, self.training_run, time.perf_counter()
        self._warn(babysit.initial_loss(self.initial_loss_check()))
        train = run.train_set
        n = len(train)
        self._healthy = (self._weights_copy(), 0, None)  # weights, steps done before them, their loss
        best = (np.inf, None, 0)
        status, message, epoch = "done", "", 0
        while epoch < s.epochs:  # epochs may change while training runs
            epoch += 1
            self.epoch, self._epoch_done = epoch, False
            order = run.epoch_order(epoch)
            # diagnostics at the first step of the first epochs, then of about 100 epochs over the
            # run (and every diagnostics_every steps): the dashboard draws them over time
            self._epoch_start = epoch <= babysit.STALL_EPOCHS or epoch % max(1, s.epochs // 100) == 0
            tot_data = tot_reg = 0.0
            tot_terms = dict.fromkeys(self.terms, 0.0)
            seen = 0
            bs = run.batch_size
            start = 0
            while start < n:
                if not self._go_on():
                    status = "cancelled"
                    break
                if run.stale:
                    status, message = "stale", (f"stopped: {run.stale}; the weights trained so far "
                                                "are kept in this run")
                    break
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
                    message = self._diverged(values, epoch, data_loss, reg_loss)
                    if self.pause_on_diverge and self._wait_after_divergence(message):
                        message = ""
                        continue  # resumed (with a smaller η, say): the same batch again
                    status = "diverged"  # (or stopped while paused there: the message stands)
                    break
                tot_data += data_loss * len(idx)
                tot_reg += reg_loss * len(idx)
                for name in self.terms:
                    tot_terms[name] += float(self.last_values[name]) * len(idx)
                seen += len(idx)
                start += bs
                self.losses.append((self.steps, data_loss + reg_loss))
                self.events.emit("step", record=StepInfo(self.steps, epoch, data_loss + reg_loss,
                                                         data_loss, reg_loss, run.optimizer.lr))
                self._pause_here("step")
                if self.max_steps is not None and self.steps >= self.max_steps:
                    status, message = "done", f"stopped after {self.steps} step{'' if self.steps == 1 else 's'}"
                    break
            if status not in ("done",) or (seen < n and seen == 0):
                break
            record = self._epoch_record(epoch, tot_data / seen, tot_reg / seen, train)
            record["terms"] = {name: total / seen for name, total in tot_terms.items()}
            if seen < n:
                record["partial"] = True
            self.history.append(record)
            run.optimizer.lr = run.schedule.after_epoch(epoch, record.get("val_loss"))
            self.events.emit("epoch", record=record)
            self._epoch_done = True
            self._warn(babysit.from_history(self.history))
            self._pause_here("epoch")
            if message:  # stopped after max_steps
                break
            if s.early_stopping and self.splits.val is not None:
                if record["val_loss"] < best[0] - 1e-12:
                    best = (record["val_loss"], self._weights_copy(), epoch)
                elif epoch - best[2] >= s.early_stopping:
                    self._set_weights(best[1])
                    self._kept = next(r for r in self.history if r["epoch"] == best[2])
                    status = "early_stopped"
                    message = (f"stopped early at epoch {epoch}: the validation loss has not improved "
                               f"for {s.early_stopping} epochs; kept the weights of epoch {best[2]}")
                    break
        self.result = self._finish(status, message, time.perf_counter() - t0)
        self.events.emit("done", record=self.result)
        return self.result

    def step(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float, dict | None]:
        """One training step (forward, backward, update) on a batch already in the training
        dtype. Returns (data loss, regularization loss, None), or the forward values instead
        of None when the loss is not finite or has exploded (and then nothing is updated)."""
        self.training_run.feed(X, y, step=self.steps + 1)
        values = self.last_values = self.program.forward(True)
        data_loss, reg_loss = self._losses(values)
        loss = data_loss + reg_loss
        if self.first_loss is None and np.isfinite(loss):
            self.first_loss = loss
        if not np.isfinite(loss) or self._exploded(loss):
            return data_loss, reg_loss, values
        if self.steps % 50 == 0 and self._all_finite():  # weights whose loss is finite and known
            self._healthy = (self._weights_copy(), self.steps, loss)
        self._grads = self.program.backward(values)
        self._update(values)
        return data_loss, reg_loss, None

    def _exploded(self, loss: float) -> bool:
        f = self.settings.diverge_factor
        return bool(f) and self.first_loss is not None and abs(loss) > f * max(abs(self.first_loss), 1e-3)

    def _losses(self, values: dict) -> tuple[float, float]:
        data = reg = 0.0
        for name in self.program.objective:
            if name in self.regs:
                reg += float(values[name])
            else:
                data += float(values[name])
        return data, reg

    def _update(self, values: dict) -> None:
        s = self.settings
        # the babysitting checks look at the first step of the first epochs; diagnostics_every adds more
        diag = self._epoch_start or (s.diagnostics_every and self.steps % s.diagnostics_every == 0)
        self._epoch_start = False
        params = self.training_run.params() if diag else None
        before = {k: b.weights[w].copy() for k, b, w in params} if diag else None
        self.training_run.update()
        self.steps += 1
        if diag:
            self._diagnostics(values, params, before)

    def _diagnostics(self, values: dict, params, before: dict) -> None:
        layers = {key: weight_stats(before[key], b.weights[w], b.grad(w)) for key, b, w in params}
        bricks = self.program.bricks
        acts = {n: activation_stats(values[n], bricks[n].can_die, bounds=bricks[n].saturates)
                for n in self.program.order if bricks[n].family == "Activations"}
        grads = getattr(self, "_grads", {})
        for n, st in acts.items():  # the gradient that reaches each activation layer's output
            if n in grads:
                g = histogram(grads[n])
                st["grad_hist"], st["grad_edges"], st["grad_std"] = g["hist"], g["edges"], g["std"]
        record = {"kind": "diagnostics", "step": self.steps, "epoch": self.epoch, "layers": layers,
                  "activations": acts}
        self.diagnostics.append(record)
        self.events.emit("diagnostics", record=record)
        saturating = {n: bricks[n].saturates for n in acts if bricks[n].saturates}
        self._warn(babysit.from_diagnostics(record, saturating))

    def _warn(self, found: list) -> None:
        seen = {(w.code, w.node) for w in self.warnings}
        for w in found:
            if (w.code, w.node) not in seen:
                seen.add((w.code, w.node))
                self.warnings.append(w)
                self.events.emit("warning", record=w.to_json())

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

    # ---- evaluation ------------------------------------------------------------------------
    def evaluate(self, ds) -> dict:
        """Data loss, accuracy and confusion matrix on a dataset, in test mode."""
        if ds is None or len(ds) == 0:
            return {}
        loss_sum, preds = 0.0, []
        for start in range(0, len(ds), EVAL_BATCH):
            X, y = ds.X[start:start + EVAL_BATCH], ds.y[start:start + EVAL_BATCH]
            self.training_run.feed(X.astype(self.dtype), y)
            values = self.program.forward(False)
            loss_sum += self._losses(values)[0] * len(X)
            if self.head:
                p = self.program.bricks[self.head[0]].predict_classes(values[self.head[1]])
                if p is not None:
                    preds.append(p)
        out = {"loss": loss_sum / len(ds)}
        truth = self._truth(ds)
        if preds and ds.classes and truth is not None:
            pred = np.concatenate(preds)
            out["acc"] = float(np.mean(pred == truth))
            out["confusion"] = confusion(truth, pred, max(ds.classes, int(pred.max()) + 1)).tolist()
        return out

    def _truth(self, ds) -> np.ndarray | None:
        return truth_of(self.program, self.head, ds)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The scores (the input of the loss) for raw samples X, in test mode."""
        return predict_scores(self.program, self.splits, self.dtype, self.head, X)

    def grid(self, bounds: tuple[float, float, float, float], res: int = 256) -> np.ndarray:
        """Scores on a res×res grid over (xmin, xmax, ymin, ymax), for decision boundaries.
        -> (res, res, K) with rows along y."""
        return self.predict(grid_points(bounds, res)).reshape(res, res, -1)

    def initial_loss_check(self) -> dict | None:
        """The lectures' first sanity check: the data loss before training vs its expected value."""
        if not self.head:
            return None
        want = self.program.bricks[self.head[0]].initial_loss(self.splits.train.classes)
        if want is None:
            return None
        X, y = self.splits.train.batch(max(self.settings.batch_size, 256), self.settings.seed)
        self.training_run.feed(X.astype(self.dtype), y)
        got = self._losses(self.program.forward(False))[0]
        return {"loss": got, "expected": want[0], "formula": want[1],
                "ok": abs(got - want[0]) <= 0.25 * want[0] + 0.05}

    def _epoch_record(self, epoch: int, data_loss: float, reg_loss: float, train) -> dict:
        rec = {"kind": "epoch", "epoch": epoch, "steps": self.steps, "train_loss": data_loss, "reg_loss": reg_loss,
               "lr": self.optimizer.lr}
        sample = train if len(train) <= 4096 else train.subset(np.arange(4096))
        rec["train_acc"] = self.evaluate(sample).get("acc")
        val = self.evaluate(self.splits.val)
        rec["val_loss"], rec["val_acc"] = val.get("loss"), val.get("acc")
        return rec

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

    # ---- divergence guard -----------------------------------------------------------------
    def _wait_after_divergence(self, message: str) -> bool:
        """Pause with the divergence message (the weights are already the last finite ones).
        True when the student resumes, False when they stop."""
        with self._cond:
            if self._state == "running":
                self._state = "paused"
        self.diverged = message
        self.optimizer.state.clear()  # the velocity or moments that blew up go with the weights
        self.events.emit("diverged", record={"message": message, "step": self.steps, "epoch": self.epoch})
        self.first_loss = None  # measured again from the restored weights
        go_on = self._go_on()
        self.diverged = ""
        return go_on

    def _weights_copy(self) -> dict:
        return self.training_run.weights_copy()  # weights and buffers (BatchNorm's running statistics)

    def _set_weights(self, saved: dict) -> None:
        for key, value in saved.items():
            node, _, w = key.partition("/")
            b = self.program.bricks[node]
            # in place: the optimizer's state refers to these very arrays, and training goes on
            # after a divergence is restored
            np.copyto((b.weights if w in b.weights else b.buffers)[w], value)

    def _all_finite(self) -> bool:
        return all(np.all(np.isfinite(b.weights[w])) for _, b, w in self.training_run.params())

    def _diverged(self, values: dict, epoch: int, data_loss: float, reg_loss: float) -> str:
        """Restore the last healthy weights and say what went wrong, with advice that follows
        the cause: before any update it is the initialization, the data or λ; after updates,
        the learning rate."""
        loss = data_loss + reg_loss
        node = first_nonfinite(self.graph, values)
        bricks = self.program.bricks
        where = f"; the first non-finite value appeared at node {node} ({bricks[node].type_name})" if node else ""
        saved, saved_step, saved_loss = self._healthy
        self._set_weights(saved)
        if np.isfinite(loss):
            what = (f"grew to {loss:.4g}, more than {self.settings.diverge_factor:g} × its first value "
                    f"{self.first_loss:.4g}")
        else:
            what = "became NaN" if np.isnan(loss) else "became infinite"
        kept = ("the weights were restored to " + ("the starting weights, before step 1" if saved_step == 0 else
                                                   f"those before step {saved_step + 1}")
                + (f" (loss {saved_loss:.4g})" if saved_loss is not None else ""))
        if self.steps == 0:
            data_ok = np.isfinite(data_loss) and abs(data_loss) < 1e3
            if data_ok and (not np.isfinite(reg_loss) or abs(reg_loss) > 1e3 * max(abs(data_loss), 1.0)):
                regs = ", ".join(n for n in self.regs if n in self.program.objective)
                advice = (f"the regularization term ({regs}) is {reg_loss:.4g} before any update: its "
                          "strength λ is far too large")
            else:
                advice = ("the loss is {:.4g} at step 1, before any update, so the learning rate is not the "
                          "cause: look at the initialization (init, init_scale, bias_init) and at the data "
                          "(preprocessing, the scale of the inputs)").format(loss)
            return f"training stopped at step 1: {advice}{where}; {kept}."
        return (f"training diverged at epoch {epoch}, step {self.steps + 1}: the loss {what}{where}; "
                f"{kept}, which are all finite. Try a smaller learning rate than {self.optimizer.lr:g}.")


def _keep_from(snapshot: Snapshot, text: str):
    from gradviz_core.model.commands import KeepWeights
    return KeepWeights(snapshot.weights, text)
