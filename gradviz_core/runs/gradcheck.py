"""Centered finite differences in float64 against the analytic gradients.

    numeric ∂f/∂x_i = (f(x + h·e_i) − f(x − h·e_i)) / 2h

For each node we check the gradient that reaches each of its input ports (one edge
at a time, so fan-out sums are checked part by part) and each of its weights. The
error of an array is ‖analytic − numeric‖₂ / max(‖analytic‖₂, ‖numeric‖₂, floor):
relative for ordinary gradients, absolute for gradients smaller than ``floor``.

Functions with a kink (ReLU at 0, max at a tie, the hinge at its margin) have no
derivative there; when an input lies within a few h of a kink, a mismatch is an
artefact of the method, and the report says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from gradviz_core.model.brick import Brick
from gradviz_core.errors import GraphError
from gradviz_core.runs.engine import first_nonfinite
from gradviz_core.model.graph import Graph
from gradviz_core.runs.run import Run

H = 1e-5
FLOOR = 1e-4
TOL = 1e-6
KINK_TOL = 1e-4


def rel_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = FLOOR) -> float:
    a, n = np.asarray(analytic, np.float64).ravel(), np.asarray(numeric, np.float64).ravel()
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a), np.linalg.norm(n), floor))


def _indices(size: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    if limit is None or size <= limit:
        return np.arange(size)
    return np.sort(rng.choice(size, limit, replace=False))


def differences(f, x: np.ndarray, idx: np.ndarray, h: float = H) -> tuple[np.ndarray, np.ndarray]:
    """f(x ± h·e_i) for i in idx (x is changed in place and restored)."""
    flat = x.reshape(-1)
    fp, fm = np.zeros(len(idx)), np.zeros(len(idx))
    for j, i in enumerate(idx):
        keep = flat[i]
        flat[i] = keep + h
        fp[j] = f()
        flat[i] = keep - h
        fm[j] = f()
        flat[i] = keep
    return fp, fm


def numeric_grad(f, x: np.ndarray, idx: np.ndarray, h: float = H) -> np.ndarray:
    """Centered differences of the scalar ``f()`` with respect to x.flat[idx]."""
    fp, fm = differences(f, x, idx, h)
    return (fp - fm) / (2 * h)


#: at a kink, a relative error below this is a partial mismatch that the kink can explain
KINK_PARTIAL = 0.5
#: the rounding noise of a centered difference is about ε·|f|/h; differences below this many
#: times that are noise, whatever their relative size (a true gradient of exactly 0)
NOISE_FACTOR = 1e3


@dataclass
class Item:
    what: str            # "input a (from x)" or "weight W"
    error: float
    checked: int
    total: int
    #: the largest absolute difference, and the rounding noise of the method at this loss
    abs_error: float = float("inf")
    noise: float = 0.0
    #: whether each analytic value lies between the one-sided differences (f(x+h) − f(x))/h and
    #: (f(x) − f(x−h))/h: at a kink, any value between them is a valid (sub)gradient
    between_sides: bool = False

    def ok(self, tol: float) -> bool:
        return bool(self.error <= tol or (np.isfinite(self.error) and self.abs_error <= self.noise))


@dataclass
class NodeCheck:
    node: str
    type_name: str
    items: list[Item] = field(default_factory=list)
    kink: str | None = None

    @property
    def error(self) -> float:
        """The largest error of the node (NaN if any is NaN)."""
        errs = [i.error for i in self.items]
        return float(np.max(errs)) if errs else 0.0


@dataclass
class Report:
    nodes: dict[str, NodeCheck]
    tol: float
    h: float

    @property
    def max_rel_error(self) -> float:
        errs = [c.error for c in self.nodes.values()]
        return float(np.max(errs)) if errs else 0.0

    def verdict(self, check: NodeCheck, item: Item) -> str:
        """Which rule passed (or failed) one array: "ok" (within the tolerance), "noise" (the
        difference is below the method's rounding noise: a true gradient of 0, say), "kink"
        (a kink near the node explains it) or "fail"."""
        if item.error <= self.tol:
            return "ok"
        if item.ok(self.tol):
            return "noise"
        # a kink explains a mismatch where the analytic value is a valid subgradient (between the
        # one-sided differences) or where only part of the gradient differs; never a gradient
        # that is wrong altogether (relative error near 1) when the sides rule it out
        if check.kink and np.isfinite(item.error) and (item.between_sides or item.error < KINK_PARTIAL):
            return "kink"
        return "fail"

    def failed(self) -> list[str]:
        """Nodes with a gradient over tolerance (or NaN) that neither rounding noise nor a kink
        explains."""
        return [n for n, c in self.nodes.items() if any(self.verdict(c, i) == "fail" for i in c.items)]

    @property
    def passed(self) -> bool:
        return not self.failed()

    def to_json(self) -> dict:
        """Per node and array: the error, the verdict and what decided it (the noise bound, the
        kink), so a script can tell a true zero gradient from a tight match."""
        def finite(x):
            return float(x) if np.isfinite(x) else None

        order = ("ok", "noise", "kink", "fail")
        nodes = {}
        for n, c in self.nodes.items():
            arrays = {}
            for i in c.items:
                v = self.verdict(c, i)
                a = {"error": finite(i.error), "abs_error": finite(i.abs_error), "checked": i.checked,
                     "total": i.total, "verdict": v}
                if v == "noise":
                    a["noise_bound"] = float(i.noise)
                elif v == "kink":
                    a["kink"] = c.kink
                arrays[i.what] = a
            worst = max((a["verdict"] for a in arrays.values()), key=order.index, default="ok")
            nodes[n] = {"type": c.type_name, "error": finite(c.error), "verdict": worst, "kink": c.kink,
                        "arrays": arrays}
        return {"max_rel_error": finite(self.max_rel_error), "passed": self.passed, "tol": self.tol, "h": self.h,
                "nodes": nodes, "kinks": {n: c.kink for n, c in self.nodes.items() if c.kink}}


def check_graph(graph: Graph, training: bool = True, h: float = H, tol: float = TOL,
                samples: int | None = 256, seed: int = 0, weights: str = "document",
                batch_samples=None) -> Report:
    """Check every node of a float64 run of ``graph`` on the batch its first training step
    takes (the stepper's batch, with the same dropout masks), or on the training samples
    ``batch_samples`` (the ones the window is stepping)."""
    run = Run(graph, np.float64, weights=weights, all_input_grads=True, kind="gradient check")
    try:
        return _check(run, training, h, tol, samples, seed, batch_samples)
    finally:
        run.close()


def _check(run: Run, training: bool, h: float, tol: float, samples: int | None, seed: int,
           batch_samples=None) -> Report:
    g, program = run.graph, run.program
    batch = run.batch(1) if batch_samples is None else run.samples(batch_samples)
    if batch is not None:
        run.feed(*batch, step=1)
    values = program.forward(training)
    if not program.objective:
        raise GraphError("nothing to check: the graph has no scalar output (add a loss)")
    loss = program.loss(values)
    if not np.isfinite(loss):
        bad = first_nonfinite(g, values)
        raise GraphError(f"{bad}: {g.brick(bad).type_name} gives a non-finite value at the starting "
                         "point; the gradient check needs finite values everywhere", node=bad)
    contributions: dict = {}
    program.backward(values, contributions)
    analytic_w = {n: {k: b.grad(k).copy() for k in b.weights} for n, b in g.bricks().items()}
    kinks = _kinks(g)
    rng = np.random.default_rng(seed)
    report: dict[str, NodeCheck] = {}

    def step(x: np.ndarray) -> float:
        """h for one tensor: smaller for a tensor of small values (the weights and activations
        of a tiny initialization), so the truncation error, which grows as (h/scale)², stays
        far below the tolerance; never below h/100, where rounding would take over."""
        rms = float(np.sqrt(np.mean(np.square(x)))) if x.size else 1.0
        return h * min(1.0, max(rms, 0.01))

    def item(what: str, ana: np.ndarray, sides: tuple, checked: int, total: int, hx: float) -> Item:
        fp, fm = sides
        noise = NOISE_FACTOR * np.finfo(np.float64).eps * max(abs(loss), 1.0) / hx
        num = (fp - fm) / (2 * hx)
        up, down = (fp - loss) / hx, (loss - fm) / hx
        slack = 10 * noise + 1e-7 * np.maximum(np.abs(up), np.abs(down))
        between = bool(np.all((ana >= np.minimum(up, down) - slack) & (ana <= np.maximum(up, down) + slack)))
        diff = float(np.max(np.abs(ana - num))) if np.size(ana) else 0.0
        return Item(what, rel_error(ana, num), checked, total, diff, noise, between)

    def rerun(start: str, override: tuple[str, np.ndarray] | None, with_regs: bool) -> float:
        vals = dict(values)
        affected = {start} | nx.descendants(g.g, start) | (set(run.regs) if with_regs else set())
        for n in program.order:
            if n in affected:
                program.forward_node(n, vals, training, override if n == start else None)
        return program.loss(vals)

    for name in program.backward_order:
        b = g.brick(name)
        check = NodeCheck(name, b.type_name)
        for port, src in g.inputs_of(name).items():
            x = values[src]
            if not np.issubdtype(x.dtype, np.floating) or g.brick(src).feeds == "y":
                # labels are data that training never moves, and a nudge may leave their domain
                # (±1, 0/1 for a BCE); each loss's target gradient is checked in tests/test_bricks.py
                continue
            x = np.array(x, dtype=np.float64)
            idx = _indices(x.size, samples, rng)
            hx = step(x)
            sides = differences(lambda: rerun(name, (port, x), False), x, idx, hx)
            ana = contributions.get((src, name, port), np.zeros_like(x)).reshape(-1)[idx]
            check.items.append(item(f"input {port} (from {src})", ana, sides, len(idx), x.size, hx))
        for wname, w in b.weights.items():
            idx = _indices(w.size, samples, rng)
            hx = step(w)
            sides = differences(lambda: rerun(name, None, True), w, idx, hx)
            ana = analytic_w[name][wname].reshape(-1)[idx]
            check.items.append(item(f"weight {wname}", ana, sides, len(idx), w.size, hx))
        near = [k for k in [name, *nx.descendants(g.g, name)] if k in kinks]
        if near:
            check.kink = "; ".join(kinks[k] for k in near)
        if check.items:
            report[name] = check
    return Report(report, tol, h)


def _kinks(g: Graph) -> dict[str, str]:
    out = {}
    for n in g.order:
        b = g.brick(n)
        if b.has_kink:
            d = b.kink_distance()
            if d is not None and d < KINK_TOL:
                out[n] = (f"{n} ({b.type_name}) has an input {d:.1e} from its kink, closer than "
                          f"{KINK_TOL:g}: finite differences there straddle a corner")
    return out


def check_brick(brick: Brick, inputs: dict[str, np.ndarray], training: bool = True,
                h: float = 1e-6, seed: int = 0, extra: list[tuple[Brick, str]] = ()) -> dict[str, float]:
    """Check one brick alone: f = Σ r ⊙ forward(inputs) for a fixed random r.

    Returns {"input <port>" | "weight <name>": relative error}. ``extra`` lists weights of
    other bricks that this brick reads (a regularizer's targets).
    """
    rng = np.random.default_rng(seed)
    out = np.asarray(brick.forward(inputs, training))
    r = rng.standard_normal(out.shape)

    def f() -> float:
        return float(np.sum(r * brick.forward(inputs, training)))

    owners = [(brick, w) for w in brick.weights] + list(extra)
    for b, w in owners:
        b.grads.pop(w, None)
    brick.forward(inputs, training)
    grads = brick.backward(r)
    errors = {}
    for port, x in inputs.items():
        if not np.issubdtype(np.asarray(x).dtype, np.floating) or grads.get(port) is None:
            continue
        idx = np.arange(x.size)
        errors[f"input {port}"] = rel_error(np.asarray(grads[port]).reshape(-1),
                                            numeric_grad(f, x, idx, h))
    for b, w in owners:
        analytic = b.grad(w).copy()
        errors[f"weight {w}" if b is brick else f"weight {b.name}.{w}"] = rel_error(
            analytic.reshape(-1), numeric_grad(f, b.weights[w], np.arange(b.weights[w].size), h))
    return errors
