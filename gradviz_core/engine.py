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
    ds = graph.dataset()
    if ds is None:
        return None
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


def forward_all(graph: Graph, values: dict, training: bool) -> dict:
    for name in graph.order:
        forward_node(graph, name, values, training)
    return values


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


def backward_all(graph: Graph, values: dict) -> tuple[dict, dict]:
    grads: dict = {}
    contributions: dict = {}
    for b in graph.bricks().values():
        b.zero_grads()
    for name in backward_nodes(graph):
        backward_node(graph, name, grads, values, contributions)
    return grads, contributions
