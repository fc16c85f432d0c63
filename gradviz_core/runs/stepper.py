"""Step through one iteration node by node: forward, then backward, then the update.

A stepper is a run (``run.Run``): it works on its own copy of the document and never
changes the document's bricks. Every step returns a ``StepRecord`` with the numbers
involved, and ``step_back`` restores the state from before the last step exactly.
Observers subscribe to ``stepper.events`` ("step", "step_back", "reset", and the run's
"stale"); there is no Qt here. Editing the document makes the stepper stale: it then
refuses to step, with a message that names the change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradviz_core.errors import GraphError
from gradviz_core.model.graph import Graph
from gradviz_core.runs.run import Run

PHASES = ("forward", "backward", "update")


@dataclass
class StepRecord:
    index: int
    phase: str
    node: str
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    output: np.ndarray | None = None
    upstream: np.ndarray | None = None
    input_grads: dict[str, np.ndarray | None] = field(default_factory=dict)
    #: {weight name: gradient added by this step} ("node.weight" for a regularizer)
    param_grads: dict[str, np.ndarray] = field(default_factory=dict)
    #: {weight name: {"old", "grad", "step", "new", maybe "velocity"}}
    update: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


class Stepper:
    """A plan of steps over one copy of ``doc`` and one batch.

    The batch is the training settings' first batch, exactly as the trainer's first step
    takes it (``samples`` picks training samples by index instead). ``dtype`` is float64
    by default, so the numbers read exactly; ``training`` picks the mode of Dropout and
    BatchNorm. ``weights`` is "fresh" (seeded, as a training run starts) or "document".
    """

    def __init__(self, doc: Graph, training: bool = True, dtype=np.float64, weights: str = "fresh",
                 samples=None, overrides: dict | None = None) -> None:
        self.run = Run(doc, dtype, weights=weights, overrides=overrides, all_input_grads=True,
                       kind="stepper")
        self.doc, self.graph, self.program = doc, self.run.graph, self.run.program
        self.training = training
        self.dtype = np.dtype(dtype)
        self.events = self.run.events
        self.optimizer = self.run.optimizer
        batch = self.run.batch(1) if samples is None else self.run.samples(samples)
        self.batch = batch
        if batch is not None:
            self.run.feed(*batch, step=1)
        backward = self.program.backward_order
        updates = self.run.update_order if backward else []
        self.plan: list[tuple[str, str]] = ([("forward", n) for n in self.program.order]
                                           + [("backward", n) for n in backward]
                                           + [("update", n) for n in updates])
        self._history: list[tuple[StepRecord, Any]] = []
        self.reset()

    # ---- state ------------------------------------------------------------------------
    @property
    def position(self) -> int:
        return len(self._history)

    @property
    def done(self) -> bool:
        return self.position >= len(self.plan)

    @property
    def stale(self) -> str | None:
        return self.run.stale

    @property
    def records(self) -> list[StepRecord]:
        return [r for r, _ in self._history]

    def next_step(self) -> tuple[str, str] | None:
        return None if self.done else self.plan[self.position]

    def loss(self) -> float | None:
        if any(n not in self.values for n in self.program.objective):
            return None
        return self.program.loss(self.values)

    def reset(self) -> None:
        """Back to before the first step (undoing every update made)."""
        while self._history:
            self._restore(self._history.pop()[1])
        self.values: dict[str, np.ndarray] = _Journal()
        self.grads: dict[str, np.ndarray] = _Journal()
        self.contributions: dict[tuple[str, str, str], np.ndarray] = _Journal()
        self.program.zero_grads()
        self.events.emit("reset")

    def close(self) -> None:
        self.run.close()

    # ---- stepping ----------------------------------------------------------------------
    def step(self) -> StepRecord | None:
        self.run.check_fresh()
        if self.done:
            return None
        phase, node = self.plan[self.position]
        snapshot = self._snapshot(phase, node)
        rec = StepRecord(self.position, phase, node)
        try:
            getattr(self, f"_{phase}")(node, rec)
        except Exception:
            self._restore(snapshot)
            raise
        self._history.append((rec, snapshot))
        self.events.emit("step", record=rec)
        return rec

    def step_back(self) -> StepRecord | None:
        self.run.check_fresh()
        if not self._history:
            return None
        rec, snapshot = self._history.pop()
        self._restore(snapshot)
        self.events.emit("step_back", record=rec)
        return rec

    def run_to(self, node: str, phase: str = "forward") -> StepRecord | None:
        """Step until the (phase, node) step has run: a breakpoint."""
        if (phase, node) not in self.plan:
            raise GraphError(f"there is no {phase} step for {node!r}", node=node)
        rec = None
        while self.plan.index((phase, node)) >= self.position:
            rec = self.step()
        return rec

    def run_phase(self, phase: str) -> list[StepRecord]:
        """Finish every step up to the end of ``phase`` (forward, backward or update)."""
        out = []
        last = max((i for i, (p, _) in enumerate(self.plan) if p == phase), default=-1)
        while self.position <= last:
            out.append(self.step())
        return out

    def run_forward(self) -> list[StepRecord]:
        return self.run_phase("forward")

    def run_backward(self) -> list[StepRecord]:
        return self.run_phase("backward")

    def run_all(self) -> list[StepRecord]:
        out = []
        while not self.done:
            out.append(self.step())
        return out

    # ---- the three kinds of step ---------------------------------------------------------
    def _forward(self, node: str, rec: StepRecord) -> None:
        rec.inputs = self.program.node_inputs(node, self.values)
        rec.output = self.program.forward_node(node, self.values, self.training)

    def _backward(self, node: str, rec: StepRecord) -> None:
        b = self.run.bricks[node]
        before = dict(b.grads)
        rec.inputs = self.program.node_inputs(node, self.values)
        rec.output = self.values[node]
        rec.upstream, rec.input_grads = self.program.backward_node(node, self.grads, self.values,
                                                                   self.contributions)
        if b.acts_on_weights:
            rec.param_grads = dict(b.cache.get("added", {}))
        else:
            rec.param_grads = {k: v - before[k] if k in before else v for k, v in b.grads.items()}

    def _update(self, node: str, rec: StepRecord) -> None:
        rec.update = self.run.update_node(node, show=True)

    # ---- exact undo --------------------------------------------------------------------------
    def _touched(self, phase: str, node: str) -> list[str]:
        b = self.run.bricks[node]
        if phase == "backward" and b.acts_on_weights:
            return [node] + sorted({n for n, _, _ in b.targets})
        return [node]

    def _snapshot(self, phase: str, node: str):
        """What the step may change, to be put back: the bricks it touches, the optimizer's state
        (an update's), and what its writes to the values, gradients and contributions replace
        (journalled as they happen, so a step's undo costs what the step did, at any size)."""
        bricks = {}
        for n in self._touched(phase, node):
            b = self.run.bricks[n]
            bricks[n] = ({k: v.copy() for k, v in b.weights.items()},
                         {k: v.copy() for k, v in b.grads.items()},
                         {k: v.copy() for k, v in b.buffers.items()}, b.cache)
        logs = tuple(d.start() for d in (self.values, self.grads, self.contributions))
        return (logs, bricks, self.optimizer.state_copy() if phase == "update" else None)

    def _restore(self, snapshot) -> None:
        logs, bricks, opt_state = snapshot
        for d, log in zip((self.values, self.grads, self.contributions), logs):
            d.undo(log)
        for n, (w, g, buf, cache) in bricks.items():
            b = self.run.bricks[n]
            b.weights, b.grads, b.buffers, b.cache = w, g, buf, cache
        if opt_state is not None:
            self.optimizer.state = opt_state


_MISSING = object()


class _Journal(dict):
    """A dict that keeps, from ``start()`` on, what each write replaced: ``undo(log)`` puts it
    back. Only item assignment is journalled (all the engine does to these dicts)."""

    def __init__(self) -> None:
        super().__init__()
        self.log: dict | None = None

    def start(self) -> dict:
        self.log = {}
        return self.log

    def __setitem__(self, key, value) -> None:
        if self.log is not None and key not in self.log:
            self.log[key] = dict.get(self, key, _MISSING)
        dict.__setitem__(self, key, value)

    def undo(self, log: dict) -> None:
        for key, old in log.items():
            if old is _MISSING:
                dict.pop(self, key, None)
            else:
                dict.__setitem__(self, key, old)
        if log is self.log:
            self.log = None
