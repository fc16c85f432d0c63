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
        record = {"kind": "diagnostics", "step": steps, "epoch": epoch, "layers": layers, "activations": acts}
        self.records.append(record)
        self.events.emit("diagnostics", record=record)
        saturating = {n: bricks[n].saturates for n in acts if bricks[n].saturates}
        self.warn(babysit.from_diagnostics(record, saturating))

    def warn(self, found: list) -> None:
        seen = {(w.code, w.node) for w in self.warnings}
        for w in found:
            if (w.code, w.node) not in seen:
                seen.add((w.code, w.node))
                self.warnings.append(w)
                self.events.emit("warning", record=w.to_json())
