"""A graph flattened for running: feeding a batch, forward and backward node by node.

``Program`` is the one place where a batch enters a graph and where values and gradients
flow through it. The stepper calls its node-by-node methods one at a time; the trainer's
inner loop and the gradient checker call the whole-pass loops, which are those same
node methods in order. So their values and gradients agree bit for bit.
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from gradviz_core.errors import GraphError
from gradviz_core.model.graph import Graph


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


def fusions(graph: Graph, order: list[str], keep: set[str]) -> dict[str, str]:
    """{layer: activation} for each activation node that its layer can run inside its own
    kernels (the layer's brick ``fuses`` the activation's ``fused_act``): the activation reads
    only the layer, and nothing else reads the layer (nor is it in ``keep``)."""
    bricks = graph.bricks()
    out = {}
    for name in order:
        readers = graph.consumers(name)
        if not bricks[name].fuses or len(readers) != 1 or name in keep:
            continue
        act = readers[0][0]
        if bricks[act].fused_act in bricks[name].fuses and act in order and \
                list(graph.inputs_of(act).values()) == [name]:
            out[name] = act
    return out


class Program:
    """A graph's bricks in running order, looked up once.

    ``skip`` leaves nodes out of the objective and the backward pass (the regularizers,
    when overfitting a tiny subset). ``all_input_grads`` also computes gradients that no
    node upstream uses (into data nodes): the stepper shows them and the gradient checker
    checks them; the trainer skips that work.
    ``fuse`` lets whole passes (``forward`` of every node, ``backward``) run an activation
    inside the layer before it where their bricks allow (``fusions``): the same values and
    gradients, bit for bit, in fewer passes over memory, but the layer's own output is not
    kept in the values (only the activation's) nor its gradient. The trainer fuses; the
    stepper and the gradient checker, which show or nudge every node, do not.
    """

    def __init__(self, graph: Graph, skip: frozenset[str] = frozenset(), all_input_grads: bool = False,
                 fuse: bool = False) -> None:
        bricks = graph.bricks()
        self.graph = graph
        self.bricks = bricks
        self.order = [n for n in graph.order if n not in skip]
        self.inputs = {n: tuple(graph.inputs_of(n).items()) for n in graph.order}
        self.objective = [n for n in graph.objective_nodes() if n not in skip]
        self.backward_order = [n for n in backward_nodes(graph) if n not in skip]
        back = set(self.backward_order)
        # an input gradient is needed only where its source takes part in backward
        self.need_input_grad = {n: all_input_grads or any(s in back for _, s in self.inputs[n])
                                for n in self.backward_order}
        self.sources = [b for b in bricks.values() if b.feeds]
        self.stochastic = [b for b in bricks.values() if b.stochastic]
        self._ancestors: dict[str, list[str]] = {}
        #: layer -> the activation node it runs (whole passes only)
        self.fused = fusions(graph, self.order, set(self.objective)) if fuse else {}
        self._fused_acts = set(self.fused.values())

    # ---- a batch in ------------------------------------------------------------------------
    def feed(self, X: np.ndarray | None, y: np.ndarray | None, dtype, seed: int = 0,
             step: int | None = None) -> None:
        """Give the data nodes a batch (samples X, labels y; either may be None to leave those
        nodes as they are) and, for iteration ``step``, let the stochastic bricks draw."""
        for b in self.sources:
            arr = X if b.feeds == "X" else y
            if arr is not None:
                b.feed(b.encode(arr, dtype))
        if step is not None:
            for b in self.stochastic:
                b.begin_iteration(seed, step)

    # ---- forward ---------------------------------------------------------------------------
    def node_inputs(self, name: str, values: dict) -> dict[str, np.ndarray]:
        return {p: values[s] for p, s in self.inputs[name]}

    def forward_node(self, name: str, values: dict, training: bool,
                     override: tuple[str, np.ndarray] | None = None) -> np.ndarray:
        """Compute one node from the values of its inputs (``override`` replaces one input:
        the gradient checker nudges it) and store its output in ``values``."""
        ins = self.node_inputs(name, values)
        if override is not None:
            ins[override[0]] = override[1]
        out = values[name] = self.bricks[name].forward(ins, training)
        return out

    def forward(self, training: bool, values: dict | None = None, nodes=None) -> dict:
        """Every node in order (or just ``nodes``, in order). Returns {node: output}."""
        values = {} if values is None else values
        if nodes is not None or not self.fused:
            for name in self.order if nodes is None else nodes:
                self.forward_node(name, values, training)
            return values
        for name in self.order:
            act = self.fused.get(name)
            if act is not None:  # the layer and its activation in one pass
                values[act] = self.bricks[name].forward_fused(self.node_inputs(name, values), training,
                                                              self.bricks[act])
            elif name not in self._fused_acts:
                self.forward_node(name, values, training)
        return values

    def upto(self, node: str) -> list[str]:
        """The nodes that ``node``'s output depends on, and it, in running order."""
        if node not in self._ancestors:
            need = nx.ancestors(self.graph.g, node) | {node}
            self._ancestors[node] = [n for n in self.graph.order if n in need]
        return self._ancestors[node]

    def loss(self, values: dict) -> float:
        return float(sum(float(values[n]) for n in self.objective))

    # ---- backward --------------------------------------------------------------------------
    def zero_grads(self) -> None:
        for b in self.bricks.values():
            b.zero_grads()

    def upstream(self, name: str, grads: dict, values: dict) -> np.ndarray:
        """dL/d(output of ``name``): 1 for an objective node, else what its consumers sent."""
        g = grads.get(name)
        if g is None:
            if name not in self.objective:
                raise GraphError(f"{name}: no gradient has reached this node yet", node=name)
            g = grads[name] = np.ones_like(values[name])
        return g

    def backward_node(self, name: str, grads: dict, values: dict, contributions: dict | None = None):
        """One node's backward: its weight gradients land in its brick, and each input gradient
        is added to its source's total in ``grads``. With ``contributions``, each edge's part
        of a fan-out sum is kept, keyed (src, dst, port). Returns (upstream, {port: gradient})."""
        g = self.upstream(name, grads, values)
        port_grads = self._backward(name, lambda brick: brick.backward(g))
        self._send(name, port_grads, grads, contributions)
        return g, port_grads

    def _backward(self, name: str, call) -> dict:
        brick = self.bricks[name]
        brick.need_input_grad = self.need_input_grad[name]
        try:
            return call(brick)
        finally:
            brick.need_input_grad = True

    def _send(self, name: str, port_grads: dict, grads: dict, contributions: dict | None) -> None:
        """Add each input gradient of node ``name`` to its source's total in ``grads``."""
        for port, src in self.inputs[name]:
            d = port_grads.get(port)
            if d is not None:
                grads[src] = grads[src] + d if src in grads else d
                if contributions is not None:
                    contributions[(src, name, port)] = d

    def backward(self, values: dict, contributions: dict | None = None) -> dict:
        """The whole backward pass: dL/d(output) of every node; weight gradients in the bricks.
        (A fused layer's own output gradient is not in the result: see ``fuse``.)"""
        self.zero_grads()
        grads: dict = {}
        for name in self.backward_order:
            act = self.fused.get(name)
            if act is not None:
                g, act_brick = self.upstream(act, grads, values), self.bricks[act]
                port_grads = self._backward(name, lambda brick: brick.backward_fused(g, values[act], act_brick))
                self._send(name, port_grads, grads, contributions)
            elif name not in self._fused_acts:
                self.backward_node(name, grads, values, contributions)
        return grads
