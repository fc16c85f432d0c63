"""The optimizer playground: a graph of two trainable scalars and a scalar loss is a loss
surface f(a, b); the update rules race over it from one starting point.

A ``Surface`` evaluates the graph (its own ``Run``, in float64) at any point, with its
gradient from the graph's own backward pass, and over a grid for the contours (one forward
pass over arrays when the graph's gates are elementwise, point by point otherwise). A
``Race`` steps SGD, momentum, Nesterov, Adagrad, RMSProp and Adam side by side, each with
its own learning rate, with the same ``optim`` classes a training run uses.

The graph file's ``playground`` section holds what a lesson sets up::

    "playground": {"start": [-4, 1], "x": [-5, 5], "y": [-2, 2], "steps": 200,
                   "lr": {"sgd": 0.4, "momentum": 0.05, "adam": 0.3}}

Each key is optional: the start is the Variables' values, the view is a box around the
start and the origin, a rule without a learning rate uses ``training.lr``, and
``training.momentum``, ``beta1``, ``beta2``, ``decay`` and ``eps`` apply to the rules that
use them.
"""
from __future__ import annotations

import numpy as np

from gradviz_core.errors import GradvizError
from gradviz_core.events import Events
from gradviz_core.model.graph import Graph
from gradviz_core.runs.optim import make_optimizer
from gradviz_core.runs.run import Run
from gradviz_core.model.settings import PLAYGROUND_KEYS as KEYS  # noqa: F401  (the file's section)
from gradviz_core.model.settings import PLAYGROUND_RULES as RULES
from gradviz_core.model.settings import PlaygroundError
from gradviz_core.model.settings import check_playground as check

#: a path farther from the view's centre than this many view sizes is stopped as diverging
ESCAPE = 10.0


class Surface:
    """f(a, b): the graph's loss as a function of its two trainable scalars."""

    def __init__(self, doc: Graph) -> None:
        if doc.data is not None:
            raise PlaygroundError("the playground draws a loss of two numbers alone, and this graph "
                                  "reads data; build f(a, b) from two Variables and gates")
        self.settings = check(getattr(doc, "playground", None))
        self.run = run = Run(doc, np.float64, kind="playground")
        params = run.params()
        if len(params) != 2:
            names = ", ".join(k.split("/")[0] for k, _, _ in params) or "none"
            raise PlaygroundError(f"the playground needs exactly two trainable numbers (Variables); "
                                  f"this graph has {len(params)} ({names})")
        for key, brick, w in params:
            if np.shape(brick.weights[w]) != ():
                raise PlaygroundError(f"{key.split('/')[0]}: the playground's parameters are single "
                                      f"numbers; this one has shape {np.shape(brick.weights[w])}")
        if not run.program.objective:
            raise PlaygroundError("the graph has no loss: its last node's output is what the rules minimize")
        self.keys = [k for k, _, _ in params]
        self.names = [k.split("/")[0] for k in self.keys]
        self._slots = [(b, w) for _, b, w in params]
        self.start = np.array(self.settings.get("start", [float(b.weights[w]) for b, w in self._slots]))
        self._vector: bool | None = None

    # ---- one point -------------------------------------------------------------------------
    def _set(self, a, b) -> None:
        for (brick, w), v in zip(self._slots, (a, b)):
            brick.weights[w] = np.asarray(v, dtype=np.float64)

    def value(self, p) -> float:
        self._set(*p)
        return self.run.program.loss(self.run.program.forward(training=False))

    def value_and_grad(self, p) -> tuple[float, np.ndarray]:
        """f(p) and ∇f(p), from the graph's forward and backward passes."""
        prog = self.run.program
        self._set(*p)
        values = prog.forward(training=True)
        loss = prog.loss(values)
        prog.backward(values)
        grad = np.array([float(b.grads.get(w, 0.0)) for b, w in self._slots])
        return loss, grad

    # ---- the contours ------------------------------------------------------------------------
    def view(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The box the playground shows: the lesson's, or the start and the origin with a margin."""
        s = self.settings
        a, b = self.start
        def box(lo, hi):
            pad = max(hi - lo, 1.0) * 0.25
            return lo - pad, hi + pad
        return (s.get("x") or box(min(a, 0.0), max(a, 0.0)), s.get("y") or box(min(b, 0.0), max(b, 0.0)))

    def grid(self, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(xs, ys, Z) with Z[i, j] = f(xs[i], ys[j]) over the view (NaN where f is not finite)."""
        (x0, x1), (y0, y1) = self.view()
        xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
        A, B = np.meshgrid(xs, ys, indexing="ij")
        Z = None
        if self._vector is not False:
            try:
                with np.errstate(all="ignore"):
                    self._set(A, B)
                    values = self.run.program.forward(training=False)
                    Z = sum(np.asarray(values[o], dtype=np.float64) for o in self.run.program.objective)
                self._vector = np.shape(Z) == A.shape
            except (ValueError, GradvizError, TypeError):
                self._vector = False
            if not self._vector:
                Z = None
        if Z is None:  # a gate that reduces (Sum, Mean, MatMul): point by point
            with np.errstate(all="ignore"):
                Z = np.array([[self.value((a, b)) for b in ys] for a in xs])
        self._set(*self.start)
        Z = np.where(np.isfinite(Z), Z, np.nan)
        return xs, ys, Z

    def lowest(self, xs, ys, Z) -> float:
        """The lowest f in the view: from the grid's lowest point, refined by L-BFGS on the
        graph's own gradient (the minimum usually lies between grid points)."""
        from scipy.optimize import minimize
        if not np.isfinite(Z).any():
            return 0.0
        i, j = np.unravel_index(np.nanargmin(Z), Z.shape)
        (x0, x1), (y0, y1) = self.view()
        with np.errstate(all="ignore"):
            got = minimize(lambda p: self.value_and_grad(p), [xs[i], ys[j]], jac=True, method="L-BFGS-B",
                           bounds=[(x0, x1), (y0, y1)])
        self._set(*self.start)
        return float(min(np.nanmin(Z), got.fun)) if np.isfinite(got.fun) else float(np.nanmin(Z))


class Race:
    """The update rules, each stepping its own copy of (a, b) from the same start."""

    def __init__(self, surface: Surface, training: dict, lr: dict | None = None,
                 rules=RULES, start=None) -> None:
        self.surface = surface
        lrs = {**surface.settings.get("lr", {}), **(lr or {})}
        base = float(training.get("lr", 0.1))
        self.start = np.array(surface.start if start is None else start, dtype=np.float64)
        self.rules = list(rules)
        self.lr = {r: float(lrs.get(r, base)) for r in self.rules}
        self.optimizers = {}
        for r in self.rules:
            settings = {**training, "optimizer": r, "lr": self.lr[r]}
            if r == "sgd":
                settings["momentum"] = 0.0  # plain SGD here: momentum has its own lane
            self.optimizers[r] = make_optimizer(settings)
        #: "advanced" after each ``advance`` (steps, and whether every rule has stopped)
        self.events = Events()
        f0, g0 = surface.value_and_grad(self.start)
        self.paths = {r: [self.start.copy()] for r in self.rules}
        self.losses = {r: [f0] for r in self.rules}
        #: each rule's gradient at its last point, found with that point's f (one forward and
        #: one backward pass per step)
        self._grad = {r: g0 for r in self.rules}
        #: rule -> why it stopped ("diverged at step 12"), for the rules that did
        self.stopped: dict[str, str] = {}
        self.steps = 0
        (x0, x1), (y0, y1) = surface.view()
        self._centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        self._limit = ESCAPE * max(x1 - x0, y1 - y0)

    def advance(self, k: int = 1) -> None:
        """k more steps of every rule still going."""
        for _ in range(k):
            self.steps += 1
            for r in self.rules:
                if r in self.stopped:
                    continue
                p = self.paths[r][-1].copy()
                g = self._grad[r]
                if not np.all(np.isfinite(g)):
                    self.stopped[r] = f"the gradient is not finite at step {self.steps}"
                    continue
                opt = self.optimizers[r]
                for i, key in enumerate(self.surface.keys):
                    w = p[i:i + 1]  # a view: the rule updates it in place, as in training
                    opt.apply(key, w, g[i:i + 1])
                f, self._grad[r] = self.surface.value_and_grad(p)
                self.paths[r].append(p)
                self.losses[r].append(f)
                if not (np.all(np.isfinite(p)) and np.isfinite(f)):
                    self.stopped[r] = f"diverged at step {self.steps}"
                elif np.max(np.abs(p - self._centre)) > self._limit:
                    self.stopped[r] = f"diverging: far off the plot at step {self.steps}"
        self.events.emit("advanced", steps=self.steps, done=len(self.stopped) == len(self.rules))

    def path(self, rule: str) -> np.ndarray:
        return np.array(self.paths[rule])

    def summary(self) -> dict[str, dict]:
        """rule -> {lr, steps, point, loss, stopped}: where each rule is now."""
        return {r: {"lr": self.lr[r], "steps": len(self.paths[r]) - 1, "point": self.paths[r][-1].tolist(),
                    "loss": self.losses[r][-1], "stopped": self.stopped.get(r)} for r in self.rules}
