"""Step records as text: values forward, and the chain rule with the numbers filled in."""
from __future__ import annotations

import numpy as np

from gradviz_core.model.graph import Graph
from gradviz_core.shapes import fmt
from gradviz_core.runs.stepper import StepRecord

SMALL = 12  # arrays with at most this many elements are printed in full


def num(x: float) -> str:
    return f"{float(x):.4g}"


def show(a, number=num) -> str:
    """A value for reading: a scalar as a number, a small array in full, else a summary.
    ``number`` writes one number (the window's writes a real minus sign)."""
    if a is None:
        return "—"
    a = np.asarray(a)
    if a.ndim == 0:
        return number(a)
    if a.size <= SMALL:
        if number is num:
            return np.array2string(a, precision=4, suppress_small=True, separator=", ").replace("\n", "")
        return "[" + ", ".join(show(r, number) for r in a) + "]"
    shape = "×".join(str(d) for d in a.shape)
    if not np.issubdtype(a.dtype, np.floating):
        return f"[{shape} ints]"
    with np.errstate(invalid="ignore", over="ignore"):  # a −∞ border (Pad2D before a max pool)
        return (f"[{shape}] mean {number(a.mean())}, std {number(a.std())}, "
                f"min {number(a.min())}, max {number(a.max())}")


def _finite(a) -> bool:
    a = np.asarray(a)
    return a.dtype.kind != "f" or bool(np.all(np.isfinite(a)))


def objective_of(program) -> str:
    """The name the chain rule writes for what is differentiated: the one objective node, or L."""
    return program.objective[0] if len(program.objective) == 1 else "L"


def chain_rule(graph: Graph, rec: StepRecord, objective: str = "L", number=num) -> list[str]:
    """The chain rule with the numbers filled in, one line per input of a backward step, as the
    command line and the window both write it:
    ∂f/∂x += ∂f/∂q · ∂q/∂x = -4 · 1 = -4 (scalars), or the upstream and a summary (tensors).
    ``+=``: a node used twice receives the sum of what each use sends back."""
    o, node = objective, rec.node
    lines = []
    up = rec.upstream
    sources = graph.inputs_of(node)
    for port, d in rec.input_grads.items():
        src = sources.get(port, port)
        if d is None:
            lines.append(f"∂{o}/∂{src}: none (labels are data)")
            continue
        if np.ndim(up) == 0 and np.ndim(d) == 0 and float(up) != 0.0:
            local = float(d) / float(up)
            lines.append(f"∂{o}/∂{src} += ∂{o}/∂{node} · ∂{node}/∂{src} = "
                         f"{number(up)} · {number(local)} = {number(d)}")
        else:
            shape = f" ({'×'.join(map(str, np.shape(up)))})" if np.ndim(up) else f" = {number(up)}"
            lines.append(f"∂{o}/∂{src} += ∂{o}/∂{node}{shape} through ∂{node}/∂{src}: {show(d, number)}")
    for key, d in rec.param_grads.items():
        name = key if "." in key else f"{node}.{key}"
        lines.append(f"∂{o}/∂{name} = {show(d, number)}")
    return lines


def describe(graph: Graph, rec: StepRecord, objective: str = "L") -> list[str]:
    """Lines that describe one step."""
    b = graph.brick(rec.node)
    if rec.phase == "forward":
        args = ", ".join(f"{p}={src}" for p, src in graph.inputs_of(rec.node).items())
        head = f"{rec.node} = {b.type_name}({args})"
        if rec.inputs and all(np.ndim(v) == 0 for v in rec.inputs.values()):
            head += f" = {b.type_name}({', '.join(show(v) for v in rec.inputs.values())})"
        warn = ""
        if not _finite(rec.output):
            starts = all(_finite(v) for v in rec.inputs.values())
            warn = "    ← not finite: " + ("it starts here" if starts else "it comes from an input")
        return [f"{head} = {show(rec.output)}    {fmt(graph.shapes.get(rec.node))}{warn}"]
    if rec.phase == "backward":
        return [f"{rec.node} ({b.type_name}): upstream ∂{objective}/∂{rec.node} = {show(rec.upstream)}"] + \
               ["    " + line for line in chain_rule(graph, rec, objective)]
    lines = [f"{rec.node}: update"]
    for w, u in rec.update.items():
        extra = f", velocity {show(u['velocity'])}" if "velocity" in u else ""
        lines.append(f"    {w}: {show(u['old'])} + step {show(u['step'])} = {show(u['new'])}{extra}")
    return lines
