"""Running a graph: feeding a batch, forward node by node, backward node by node.

The stepper, the gradient checker and the trainer all run graphs through these
functions, so their values and gradients agree.
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from gradviz_core.errors import GraphError
from gradviz_core.graph import Graph


def prepare(graph: Graph, dtype=np.float64, batch_size: int | None = None, seed: int | None = None):
    """Build weights in ``dtype`` and feed the graph's first batch. Returns (X, y) or None."""
    graph.build(dtype)
    splits = graph.splits()
    if splits is None:
        return None
    ds = splits.train
    size = graph.training["batch_size"] if batch_size is None else batch_size
    X, y = ds.batch(size, graph.training["seed"] if seed is None else seed)
    feed(graph, X, y, dtype)
    return X, y


def feed(graph: Graph, X: np.ndarray, y: np.ndarray, dtype) -> None:
    for b in graph.bricks().values():
        if b.is_source:
            b.feed(b.encode(X if b.type_name == "Input" else y, dtype))


def node_inputs(graph: Graph, name: str, values: dict) -> dict[str, np.ndarray]:
    return {port: values[src] for port, src in graph.inputs_of(name).items()}


def forward_node(graph: Graph, name: str, values: dict, training: bool) -> np.ndarray:
    b = graph.brick(name)
    out = np.asarray(b.forward(node_inputs(graph, name, values), training))
    values[name] = out
    return out


def objective(graph: Graph, values: dict) -> float | None:
    nodes = graph.objective_nodes()
    return float(sum(float(values[n]) for n in nodes)) if nodes else None


def first_nonfinite(graph: Graph, values: dict) -> str | None:
    """The first node, in topological order, whose output holds NaN or ±inf."""
    for name in graph.order:
        v = values.get(name)
        if v is not None and v.dtype.kind == "f" and not np.all(np.isfinite(v)):
            return name
    return None


def backward_nodes(graph: Graph) -> list[str]:
    """Nodes that take part in backward, in reverse topological order.

    A node takes part when it lies on a path to the objective and either has inputs to
    pass gradients to, weights to fill, or (a regularizer) weights of others to reach.
    """
    targets = set(graph.objective_nodes())
    if not targets:
        return []
    on_path = set(targets)
    for t in targets:
        on_path |= nx.ancestors(graph.g, t)
    out = []
    for name in reversed(graph.order):
        b = graph.brick(name)
        if name in on_path and (b.input_ports() or b.weights or b.acts_on_weights):
            out.append(name)
    return out


def upstream(graph: Graph, name: str, grads: dict, values: dict) -> np.ndarray:
    """dL/d(output of ``name``): 1 for an objective node, else what its consumers sent."""
    if name in grads:
        return grads[name]
    if name in graph.objective_nodes():
        return np.ones_like(values[name], dtype=values[name].dtype)
    raise GraphError(f"{name}: no gradient has reached this node yet", node=name)


def backward_node(graph: Graph, name: str, grads: dict, values: dict, contributions: dict):
    """Run one node's backward; add each input gradient to its source's total.

    Returns (upstream gradient, {port: gradient}). ``contributions`` gets one entry per
    edge, keyed (src, dst, port), so fan-out sums stay visible.
    """
    g = upstream(graph, name, grads, values)
    grads.setdefault(name, g)
    port_grads = graph.brick(name).backward(g)
    for port, src in graph.inputs_of(name).items():
        d = port_grads.get(port)
        if d is None:
            continue
        d = np.asarray(d)
        contributions[(src, name, port)] = d
        grads[src] = grads[src] + d if src in grads else d
    return g, port_grads


class Program:
    """A graph flattened once for fast repeated runs: the trainer's inner loop and the
    gradient checker.

    It computes exactly what ``forward_node`` / ``backward_node`` compute (the same
    bricks, the same kernels), without looking anything up in the graph per step.
    ``skip`` leaves nodes out of the objective and the backward pass (the regularizers,
    when overfitting a tiny subset).
    """

    def __init__(self, graph: Graph, skip: frozenset[str] = frozenset(), all_input_grads: bool = False) -> None:
        """``all_input_grads``: also compute gradients that nothing upstream uses (into data
        nodes); the gradient checker checks those too, the trainer skips them."""
        bricks = graph.bricks()
        self.forward_plan = [(n, bricks[n], tuple(graph.inputs_of(n).items())) for n in graph.order
                             if n not in skip]
        self.objective = [n for n in graph.objective_nodes() if n not in skip]
        back = [n for n in backward_nodes(graph) if n not in skip]
        # an input gradient is needed only where its source takes part in backward
        self.backward_plan = [(n, bricks[n], tuple(graph.inputs_of(n).items()),
                               all_input_grads or any(s in back for s in graph.inputs_of(n).values()))
                              for n in back]
        self.bricks = bricks

    def forward(self, training: bool, until: str | None = None) -> dict:
        values: dict = {}
        for name, brick, ins in self.forward_plan:
            values[name] = brick.forward({p: values[s] for p, s in ins}, training)
            if name == until:
                break
        return values

    def loss(self, values: dict) -> float:
        return float(sum(float(values[n]) for n in self.objective))

    def backward(self, values: dict, contributions: dict | None = None) -> dict:
        """dL/d(output) of every node; weight gradients land in the bricks. With
        ``contributions``, each edge's part of a fan-out sum is kept, keyed (src, dst, port)."""
        for b in self.bricks.values():
            b.zero_grads()
        grads: dict = {n: np.ones_like(values[n]) for n in self.objective}
        for name, brick, ins, need in self.backward_plan:
            brick.need_input_grad = need
            try:
                port_grads = brick.backward(grads[name])
            finally:
                brick.need_input_grad = True
            for port, src in ins:
                d = port_grads.get(port)
                if d is not None:
                    grads[src] = grads[src] + d if src in grads else d
                    if contributions is not None:
                        contributions[(src, name, port)] = d
        return grads
