"""A training run's diagnostics: the lectures' babysitting numbers at chosen steps (each
layer's ‖ΔW‖/‖W‖ and gradient norm, each activation layer's statistics and histograms, and the
gradient that reaches it) and the warnings they raise, each code and node once.

The trainer takes the diagnostics at the first step of the first epochs (the babysitting
checks), of about 100 epochs over the run, and every ``diagnostics_every`` steps; each record
is published as a "diagnostics" event and each new warning as a "warning" event.
"""
from __future__ import annotations

from gradviz_core.runs import babysit
from gradviz_core.runs.metrics import activation_stats, histogram, weight_stats


class Diagnostics:
    def __init__(self, program, events) -> None:
        self.program, self.events = program, events
        #: every diagnostics record so far (the dashboard reads it from another thread)
        self.records: list[dict] = []
        #: the babysitting warnings raised so far (each code and node once)
        self.warnings: list[babysit.Warning] = []
        #: the layers whose units all started with the same weights (found at the first step)
        self.symmetric: dict[str, int] = {}

    @staticmethod
    def epoch_wants(epoch: int, epochs: int) -> bool:
        """Whether the first step of this epoch takes diagnostics."""
        return epoch <= babysit.STALL_EPOCHS or epoch % max(1, epochs // 100) == 0

    def take(self, values: dict, params, before: dict, grads: dict, steps: int, epoch: int) -> None:
        """The record of the step just taken: ``before`` holds the weights before its update."""
        layers = {key: weight_stats(before[key], b.weights[w], b.grad(w)) for key, b, w in params}
        bricks = self.program.bricks
        acts = {n: activation_stats(values[n], bricks[n].can_die, bounds=bricks[n].saturates)
                for n in self.program.order if bricks[n].family == "Activations"}
        for n, st in acts.items():  # the gradient that reaches each activation layer's output
            if n in grads:
                g = histogram(grads[n])
                st["grad_hist"], st["grad_edges"], st["grad_std"] = g["hist"], g["edges"], g["std"]
        if steps == 1:
            self.symmetric = symmetric_layers(params, before, self.program)
            self.warn(babysit.symmetry(self.symmetric, before))
        record = {"kind": "diagnostics", "step": steps, "epoch": epoch, "layers": layers, "activations": acts}
        self.records.append(record)
        self.events.emit("diagnostics", record=record)
        saturating = {n: bricks[n].saturates for n in acts if bricks[n].saturates}
        self.warn(babysit.from_diagnostics(record, saturating, self.symmetric))

    def warn(self, found: list) -> None:
        seen = {(w.code, w.node) for w in self.warnings}
        for w in found:
            if (w.code, w.node) not in seen:
                seen.add((w.code, w.node))
                self.warnings.append(w)
                self.events.emit("warning", record=w.to_json())


def symmetric_layers(params, weights: dict, program) -> dict[str, int]:
    """{layer: its number of units} for the layers whose units all start with the same incoming
    weights and bias (zero or constant init) and stay so: the layer they feed also starts with
    every weight equal, so each of them receives the same gradient. (A last layer's units are
    told apart by the targets, and a random layer above breaks the tie: neither is listed.)"""
    import numpy as np
    equal_units, constant = {}, set()
    for key, b, w in params:
        axes = getattr(b, "fan_in_axes", {}).get(w)
        if axes is None or key not in weights:
            continue
        W = np.asarray(weights[key])
        if W.size and np.all(W == W.reshape(-1)[0]):
            constant.add(b.name)
        units = [a for a in range(W.ndim) if a not in axes]
        rows = np.moveaxis(W, units, list(range(len(units)))).reshape(-1, int(np.prod([W.shape[a] for a in axes])))
        if len(rows) < 2 or not np.all(rows == rows[:1]):
            continue
        bias = weights.get(f"{b.name}/b")
        if bias is not None and not np.all(np.asarray(bias) == np.asarray(bias).reshape(-1)[0]):
            continue
        equal_units[b.name] = len(rows)
    layers = {b.name for _, b, _ in params if getattr(b, "fan_in_axes", None)}
    readers: dict[str, list[str]] = {}
    for n in program.order:
        for _, src in program.inputs[n]:
            readers.setdefault(src, []).append(n)

    def next_layers(node):
        seen, todo, found = set(), list(readers.get(node, [])), set()
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            if n in layers:
                found.add(n)
            else:
                todo += readers.get(n, [])
        return found

    out = {}
    for node, units in equal_units.items():
        above = next_layers(node)
        if above and above <= constant:
            out[node] = units
    return out
