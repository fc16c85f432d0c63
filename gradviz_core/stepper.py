"""Step through one iteration node by node: forward, then backward, then the update.

Every step returns a ``StepRecord`` with the numbers involved, and ``step_back``
restores the state from before the last step exactly. Observers subscribe to
``stepper.events`` ("step", "step_back", "reset"); there is no Qt here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradviz_core import engine
from gradviz_core.events import Events
from gradviz_core.graph import Graph
from gradviz_core.optim import make_optimizer

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
    """A plan of steps over one graph and one batch.

    The graph's weights are built in ``dtype`` (float64 by default, so the numbers
    read exactly) and its first batch is fed. ``training`` picks the mode of Dropout
    and BatchNorm.
    """

    def __init__(self, graph: Graph, training: bool = True, dtype=np.float64) -> None:
        self.graph = graph
        self.training = training
        self.dtype = dtype
        self.events = Events()
        engine.prepare(graph, dtype)
        self.optimizer = make_optimizer(graph.training)
        backward = engine.backward_nodes(graph)
        updates = [n for n in graph.order if graph.brick(n).weights] if backward else []
        self.plan: list[tuple[str, str]] = ([("forward", n) for n in graph.order]
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
    def records(self) -> list[StepRecord]:
        return [r for r, _ in self._history]

    def next_step(self) -> tuple[str, str] | None:
        return None if self.done else self.plan[self.position]

    def loss(self) -> float | None:
        if any(n not in self.values for n in self.graph.objective_nodes()):
            return None
        return engine.objective(self.graph, self.values)

    def reset(self) -> None:
        """Back to before the first step (undoing every update made)."""
        while self._history:
            self._restore(self._history.pop()[1])
        self.values: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.contributions: dict[tuple[str, str, str], np.ndarray] = {}
        for b in self.graph.bricks().values():
            b.zero_grads()
        self.events.emit("reset")

    # ---- stepping ----------------------------------------------------------------------
    def step(self) -> StepRecord | None:
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
        if not self._history:
            return None
        rec, snapshot = self._history.pop()
        self._restore(snapshot)
        self.events.emit("step_back", record=rec)
        return rec

    def run_to(self, node: str, phase: str = "forward") -> StepRecord | None:
        """Step until the (phase, node) step has run: a breakpoint."""
        if (phase, node) not in self.plan:
            from gradviz_core.errors import GraphError
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
        rec.inputs = engine.node_inputs(self.graph, node, self.values)
        self.values = dict(self.values)
        rec.output = engine.forward_node(self.graph, node, self.values, self.training)

    def _backward(self, node: str, rec: StepRecord) -> None:
        b = self.graph.brick(node)
        before = dict(b.grads)
        self.grads, self.contributions = dict(self.grads), dict(self.contributions)
        rec.inputs = engine.node_inputs(self.graph, node, self.values)
        rec.output = self.values[node]
        rec.upstream, rec.input_grads = engine.backward_node(self.graph, node, self.grads,
                                                             self.values, self.contributions)
        if b.acts_on_weights:
            rec.param_grads = dict(b.cache.get("added", {}))
        else:
            rec.param_grads = {k: v - before[k] if k in before else v for k, v in b.grads.items()}

    def _update(self, node: str, rec: StepRecord) -> None:
        b = self.graph.brick(node)
        for wname, w in list(b.weights.items()):
            grad = b.grad(wname)
            new, info = self.optimizer.step(f"{node}/{wname}", w, grad)
            b.weights[wname] = new
            rec.update[wname] = {"old": w, "grad": grad, **info, "new": new}
        for reg in self.graph.bricks().values():
            if reg.acts_on_weights and any(n == node for n, _, _ in reg.targets):
                reg.project()
        for wname in rec.update:
            rec.update[wname]["new"] = b.weights[wname]

    # ---- exact undo --------------------------------------------------------------------------
    def _touched(self, phase: str, node: str) -> list[str]:
        b = self.graph.brick(node)
        if phase == "backward" and b.acts_on_weights:
            return [node] + sorted({n for n, _, _ in b.targets})
        return [node]

    def _snapshot(self, phase: str, node: str):
        bricks = {}
        for n in self._touched(phase, node):
            b = self.graph.brick(n)
            bricks[n] = ({k: v.copy() for k, v in b.weights.items()},
                         {k: v.copy() for k, v in b.grads.items()},
                         {k: v.copy() for k, v in b.buffers.items()}, b.cache)
        return (self.values, self.grads, self.contributions, bricks, self.optimizer.state_copy())

    def _restore(self, snapshot) -> None:
        self.values, self.grads, self.contributions, bricks, opt_state = snapshot
        for n, (w, g, buf, cache) in bricks.items():
            b = self.graph.brick(n)
            b.weights, b.grads, b.buffers, b.cache = w, g, buf, cache
        self.optimizer.state = opt_state
