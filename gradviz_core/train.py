"""The trainer: mini-batch training of a graph, as plain Python with no Qt.

``Trainer.run()`` is a loop that blocks; ``Trainer.start()`` runs it on a thread. It
takes ``pause()``, ``resume()`` and ``cancel()``, and reports to ``callback(kind, record)``
with kind "step", "epoch", "diagnostics" or "done". It uses the same bricks and kernels
as the stepper, through ``engine.Program``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from gradviz_core import engine
from gradviz_core.data.augment import augment
from gradviz_core.errors import GradvizError, GraphError
from gradviz_core.graph import Graph
from gradviz_core.metrics import (activation_stats, confusion, expected_initial_loss,
                                  predicted_classes, weight_stats)
from gradviz_core.optim import OPTIMIZERS, make_optimizer
from gradviz_core.schedules import SCHEDULES, Schedule

EVAL_BATCH = 1024


@dataclass
class Settings:
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    decay: float = 0.99
    eps: float = 1e-8
    batch_size: int = 32
    epochs: int = 10
    seed: int = 0
    schedule: str = "constant"
    step_every: int = 10
    step_factor: float = 0.5
    exp_k: float = 0.05
    plateau_patience: int = 3
    early_stopping: int = 0
    freeze: list = field(default_factory=list)
    init_from: str = ""
    diagnostics_every: int = 0
    overfit: int = 0
    #: stop when the loss exceeds this many times its first value (0: only on NaN or inf)
    diverge_factor: float = 100.0

    @classmethod
    def from_dict(cls, d: dict) -> "Settings":
        known = {f.name: f for f in fields(cls)}
        out = {}
        for key, value in d.items():
            if key not in known:
                raise GradvizError(f"training: unknown setting {key!r} (known: {', '.join(known)})")
            want = type(cls.__dataclass_fields__[key].default) if key not in ("freeze",) else list
            if key == "freeze" and isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            ok = isinstance(value, want) or (want is float and isinstance(value, int))
            if not ok or isinstance(value, bool) and want is not bool:
                raise GradvizError(f"training.{key}: expected {want.__name__}, got {value!r}")
            out[key] = float(value) if want is float else value
        s = cls(**out)
        s.check()
        return s

    def check(self) -> None:
        bad = []
        if self.optimizer not in OPTIMIZERS:
            bad.append(f"training.optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            bad.append(f"training.schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not self.lr > 0:
            bad.append(f"training.lr must be > 0, got {self.lr:g}")
        if not 0 <= self.momentum < 1:
            bad.append(f"training.momentum must be in [0, 1), got {self.momentum:g}")
        for name in ("batch_size", "epochs", "early_stopping", "diagnostics_every", "overfit"):
            if getattr(self, name) < (1 if name == "epochs" else 0):
                bad.append(f"training.{name} must be ≥ {1 if name == 'epochs' else 0}")
        if bad:
            raise GradvizError("; ".join(bad))


@dataclass
class Result:
    status: str                 # done, cancelled, diverged, early_stopped
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

    def summary(self) -> dict:
        return {"epochs": self.epochs, "train_loss": self.train_loss, "train_acc": self.train_acc,
                "val_acc": self.val_acc, "test_acc": self.test_acc, "seconds": round(self.seconds, 3)}


class Trainer:
    def __init__(self, graph: Graph, overrides: dict | None = None,
                 callback: Callable[[str, dict], Any] | None = None, dtype=np.float32) -> None:
        self.graph = graph
        self.settings = s = Settings.from_dict({**graph.training, **(overrides or {})})
        self.callback = callback or (lambda kind, record: None)
        self.dtype = np.dtype(dtype)
        graph.check()
        if graph.data is None:
            raise GraphError("training needs data: give the graph a data source")
        self.splits = graph.splits()
        graph.build(self.dtype)
        bricks = graph.bricks()
        for name in s.freeze:
            if name not in bricks:
                raise GraphError(f"training.freeze: there is no node named {name!r}", node=name)
        self.loaded: list[str] = []
        if s.init_from:
            self.loaded = load_pretrained(graph, s.init_from, getattr(graph, "base_dir", None))
        self.regs = [n for n in graph.order if bricks[n].acts_on_weights]
        self.program = engine.Program(graph, skip=frozenset(self.regs) if s.overfit else frozenset())
        self.head = self._find_head()
        self.params = [(f"{n}/{w}", b, w) for n, b in bricks.items() if n not in s.freeze for w in b.weights]
        self.optimizer = make_optimizer(vars(s))
        self.schedule = Schedule(s.schedule, s.lr, s.step_every, s.step_factor, s.exp_k, s.plateau_patience)
        self.inputs = [b for b in bricks.values() if b.type_name == "Input"]
        self.targets = [b for b in bricks.values() if b.type_name == "Target"]
        self.dropouts = [b for b in bricks.values() if b.type_name == "Dropout"]
        self.rng = np.random.default_rng(s.seed)
        self.steps = 0
        self.first_loss: float | None = None
        self.history: list[dict] = []
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._thread: threading.Thread | None = None
        self.result: Result | None = None

    # ---- control ----------------------------------------------------------------------
    def start(self) -> threading.Thread:
        """Run the loop on a daemon thread (the caller's thread stays free)."""
        self._thread = threading.Thread(target=self.run, name="gradviz-trainer", daemon=True)
        self._thread.start()
        return self._thread

    def join(self, timeout: float | None = None) -> Result | None:
        if self._thread:
            self._thread.join(timeout)
        return self.result

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()

    # ---- the loop ------------------------------------------------------------------------
    def run(self) -> Result:
        # overflow on the way to a divergence is handled by the guard, not warned about
        with np.errstate(all="ignore"):
            return self._run()

    def _run(self) -> Result:
        s, t0 = self.settings, time.perf_counter()
        train = self.splits.train
        if s.overfit:
            train = train.subset(np.arange(min(s.overfit, len(train))))
        X, y = train.X.astype(self.dtype), train.y
        n = len(X)
        bs = s.batch_size or n
        snapshot, snap_step = self._weights_copy(), 0
        best = (np.inf, None)
        status, message, epoch = "done", "", 0
        for epoch in range(1, s.epochs + 1):
            order = self.rng.permutation(n)
            tot_data = tot_reg = 0.0
            for start in range(0, n, bs):
                self._running.wait()
                if self._cancel.is_set():
                    status = "cancelled"
                    break
                idx = order[start:start + bs]
                xb = augment(X[idx], self.rng, **self.splits.augment) if self.splits.augment else X[idx]
                data_loss, reg_loss, values = self.step(xb, y[idx])
                if values is not None:
                    status, message = "diverged", self._diverged(values, epoch, snapshot, snap_step,
                                                                  data_loss + reg_loss)
                    break
                tot_data += data_loss * len(idx)
                tot_reg += reg_loss * len(idx)
                if self.steps % 50 == 0 and self._all_finite():  # taken when the loss was healthy
                    snapshot, snap_step = self._weights_copy(), self.steps
                self.callback("step", {"step": self.steps, "epoch": epoch, "loss": data_loss + reg_loss,
                                       "data_loss": data_loss, "reg_loss": reg_loss, "lr": self.optimizer.lr})
            if status != "done":
                break
            record = self._epoch_record(epoch, tot_data / n, tot_reg / n, train)
            self.history.append(record)
            self.optimizer.lr = self.schedule.after_epoch(epoch, record.get("val_loss"))
            self.callback("epoch", record)
            if s.early_stopping and self.splits.val is not None:
                if record["val_loss"] < best[0] - 1e-12:
                    best = (record["val_loss"], self._weights_copy(), epoch)
                elif epoch - best[2] >= s.early_stopping:
                    self._set_weights(best[1])
                    status = "early_stopped"
                    message = (f"stopped early at epoch {epoch}: the validation loss has not improved "
                               f"for {s.early_stopping} epochs; kept the weights of epoch {best[2]}")
                    break
        self.result = self._finish(status, message, epoch, time.perf_counter() - t0)
        self.callback("done", {"result": self.result})
        return self.result

    def step(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float, dict | None]:
        """One training step (forward, backward, update) on a batch already in the training
        dtype. Returns (data loss, regularization loss, None), or the forward values instead
        of None when the loss is not finite or has exploded (and then nothing is updated)."""
        self._feed(X, y)
        for d in self.dropouts:
            d.draw = self.steps + 1
        values = self.program.forward(True)
        data_loss, reg_loss = self._losses(values)
        loss = data_loss + reg_loss
        if self.first_loss is None and np.isfinite(loss):
            self.first_loss = loss
        if not np.isfinite(loss) or self._exploded(loss):
            return data_loss, reg_loss, values
        self.program.backward(values)
        self._update(values)
        return data_loss, reg_loss, None

    def _exploded(self, loss: float) -> bool:
        f = self.settings.diverge_factor
        return bool(f) and self.first_loss is not None and abs(loss) > f * max(abs(self.first_loss), 1e-3)

    def _feed(self, X: np.ndarray, y: np.ndarray) -> None:
        for b in self.inputs:
            b.feed(b.encode(X, self.dtype))
        for b in self.targets:
            b.feed(b.encode(y, self.dtype))

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
        diag = s.diagnostics_every and self.steps % s.diagnostics_every == 0
        before = {k: b.weights[w].copy() for k, b, w in self.params} if diag else None
        for key, b, w in self.params:
            g = b.grads.get(w)
            if g is not None:
                self.optimizer.apply(key, b.weights[w], g)
        for name in self.regs:
            self.program.bricks[name].project()
        self.steps += 1
        if diag:
            self._diagnostics(values, before)

    def _diagnostics(self, values: dict, before: dict) -> None:
        layers = {key: weight_stats(before[key], b.weights[w], b.grad(w)) for key, b, w in self.params}
        acts = {n: activation_stats(values[n], b.type_name == "ReLU")
                for n, b, _ in self.program.forward_plan if b.family == "Activations"}
        self.callback("diagnostics", {"step": self.steps, "layers": layers, "activations": acts})

    # ---- evaluation ------------------------------------------------------------------------
    def _find_head(self):
        """The loss whose input are the model's scores (for accuracy and predictions)."""
        for name, b, ins in self.program.forward_plan:
            if b.family == "Losses" and b.type_name != "WeightedSum":
                d = dict(ins)
                return name, d.get("x"), d.get("target")
        return None

    def evaluate(self, ds) -> dict:
        """Data loss, accuracy and confusion matrix on a dataset, in test mode."""
        if ds is None or len(ds) == 0:
            return {}
        loss_sum, preds = 0.0, []
        for start in range(0, len(ds), EVAL_BATCH):
            X, y = ds.X[start:start + EVAL_BATCH], ds.y[start:start + EVAL_BATCH]
            self._feed(X.astype(self.dtype), y)
            values = self.program.forward(False)
            loss_sum += self._losses(values)[0] * len(X)
            if self.head:
                p = predicted_classes(self.program.bricks[self.head[0]], values[self.head[1]])
                if p is not None:
                    preds.append(p)
        out = {"loss": loss_sum / len(ds)}
        if preds and ds.classes:
            pred = np.concatenate(preds)
            out["acc"] = float(np.mean(pred == ds.y))
            out["confusion"] = confusion(ds.y, pred, ds.classes).tolist()
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The scores (the input of the loss) for raw samples X, in test mode."""
        if not self.head:
            raise GraphError("predict needs a loss node to know which output holds the scores")
        X = self.splits.preprocessor.transform(np.asarray(X, dtype=np.float64))
        outs = []
        for start in range(0, len(X), 65536):
            for b in self.inputs:
                b.feed(b.encode(X[start:start + 65536], self.dtype))
            outs.append(self.program.forward(False, until=self.head[1])[self.head[1]])
        return np.concatenate(outs)

    def grid(self, bounds: tuple[float, float, float, float], res: int = 256) -> np.ndarray:
        """Scores on a res×res grid over (xmin, xmax, ymin, ymax), for decision boundaries.
        -> (res, res, K) with rows along y."""
        x0, x1, y0, y1 = bounds
        gx, gy = np.meshgrid(np.linspace(x0, x1, res), np.linspace(y0, y1, res))
        scores = self.predict(np.c_[gx.ravel(), gy.ravel()])
        return scores.reshape(res, res, -1)

    def initial_loss_check(self) -> dict | None:
        """The lectures' first sanity check: the data loss before training vs its expected value."""
        if not self.head:
            return None
        want = expected_initial_loss(self.program.bricks[self.head[0]], self.splits.train.classes)
        if want is None:
            return None
        X, y = self.splits.train.batch(max(self.settings.batch_size, 256), self.settings.seed)
        self._feed(X.astype(self.dtype), y)
        got = self._losses(self.program.forward(False))[0]
        return {"loss": got, "expected": want[0], "formula": want[1],
                "ok": abs(got - want[0]) <= 0.25 * want[0] + 0.05}

    def _epoch_record(self, epoch: int, data_loss: float, reg_loss: float, train) -> dict:
        rec = {"epoch": epoch, "steps": self.steps, "train_loss": data_loss, "reg_loss": reg_loss,
               "lr": self.optimizer.lr}
        sample = train if len(train) <= 4096 else train.subset(np.arange(4096))
        rec["train_acc"] = self.evaluate(sample).get("acc")
        val = self.evaluate(self.splits.val)
        rec["val_loss"], rec["val_acc"] = val.get("loss"), val.get("acc")
        return rec

    def _finish(self, status: str, message: str, epoch: int, seconds: float) -> Result:
        last = self.history[-1] if self.history else {}
        test = self.evaluate(self.splits.test)
        shown = test or self.evaluate(self.splits.val) or self.evaluate(self.splits.train)
        done = len(self.history)
        return Result(status, done, self.steps, seconds, last.get("train_loss"), last.get("reg_loss"),
                      last.get("train_acc"), last.get("val_loss"), last.get("val_acc"),
                      test.get("loss"), test.get("acc"), shown.get("confusion"),
                      message or f"trained {done} epochs", list(self.history))

    # ---- divergence guard -----------------------------------------------------------------
    def _weights_copy(self) -> dict:
        return {k: b.weights[w].copy() for k, b, w in self.params}

    def _set_weights(self, saved: dict) -> None:
        for k, b, w in self.params:
            b.weights[w] = saved[k].copy()

    def _all_finite(self) -> bool:
        return all(np.all(np.isfinite(b.weights[w])) for _, b, w in self.params)

    def _diverged(self, values: dict, epoch: int, snapshot: dict, snap_step: int, loss: float) -> str:
        node = engine.first_nonfinite(self.graph, values)
        where = (f"; the first non-finite value appeared at node {node} ({self.program.bricks[node].type_name})"
                 if node else "")
        self._set_weights(snapshot)
        if np.isfinite(loss):
            what = (f"grew to {loss:.4g}, more than {self.settings.diverge_factor:g} × its first value "
                    f"{self.first_loss:.4g}")
        else:
            what = "became NaN" if np.isnan(loss) else "became infinite"
        return (f"training diverged at epoch {epoch}, step {self.steps + 1}: the loss {what}{where}; "
                f"the weights were restored to those of step {snap_step}, which are all finite. "
                f"Try a smaller learning rate than {self.optimizer.lr:g}.")


def load_pretrained(graph: Graph, source: str, base_dir=None) -> list[str]:
    """Copy weights whose node/weight name and shape match from a .npz file, or from the
    weights of another graph file (transfer learning). Returns the names copied."""
    from gradviz_core import fileformat

    path = Path(source)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if path.suffix == ".json":
        other = fileformat.load(path)
        arrays = other.weights()
    else:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    mine = graph.weights()
    same = {k: v for k, v in arrays.items() if k in mine and mine[k].shape == v.shape}
    if not same:
        raise GraphError(f"training.init_from: {path} has no weights that fit this graph "
                         "(names are node/weight and shapes must match)")
    graph.set_weights(same)
    return sorted(same)
