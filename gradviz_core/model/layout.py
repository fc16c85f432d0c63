"""Auto-layout: nodes in columns by their depth in the graph (networkx topological generations),
wrapped into rows when there are more columns than fit the canvas."""
from __future__ import annotations

import networkx as nx

from gradviz_core.model.graph import Graph

DX, DY = 270.0, 100.0
#: columns per row before the chain wraps (about the width of the canvas at 100% zoom)
PER_ROW = 3


def layered_positions(graph: Graph, per_row: int = PER_ROW) -> dict[str, tuple[float, float]]:
    """Each node one column right of its deepest input; nodes in a column keep their vertical
    order. Sources with no inputs that feed only a later layer (targets, constants) move to
    the column just before their first consumer, so edges stay short. Past ``per_row``
    columns the layout wraps: the next columns start a new row below, like lines of text."""
    return layered(graph.g, graph.pos, lambda n: graph.brick(n).acts_on_weights, per_row)


def layered(g: nx.DiGraph, pos, loss_term, per_row: int = PER_ROW) -> dict[str, tuple[float, float]]:
    """``layered_positions`` of any DAG: ``pos(n)`` its node's position now (for the vertical
    order), ``loss_term(n)`` True for a node that goes beside the loss (a regularizer)."""
    if not nx.is_directed_acyclic_graph(g):
        return {n: pos(n) for n in g.nodes}
    depth: dict[str, int] = {}
    for i, layer in enumerate(nx.topological_generations(g)):
        for n in layer:
            depth[n] = i
    last = max(depth.values(), default=0)
    for n in g.nodes:
        succ = [depth[v] for v in g.successors(n)]
        if g.in_degree(n) == 0 and succ:
            depth[n] = max(min(succ) - 1, 0)
        elif g.in_degree(n) == 0 and g.out_degree(n) == 0 and loss_term(n):
            depth[n] = last  # a regularizer is a loss term: beside the loss
    columns: dict[int, list[str]] = {}
    for n in sorted(g.nodes, key=lambda n: pos(n)[1]):
        columns.setdefault(depth[n], []).append(n)
    n_cols = max(columns) + 1 if columns else 0
    if n_cols <= per_row + 1:  # one row (a last short column does not wrap on its own)
        return {n: (c * DX, r * DY) for c, names in columns.items() for r, n in enumerate(names)}
    out, top = {}, 0.0
    for start in range(0, n_cols, per_row):
        band = [c for c in range(start, min(start + per_row, n_cols)) if c in columns]
        rows = max(len(columns[c]) for c in band)
        for c in band:
            for r, n in enumerate(columns[c]):
                out[n] = ((c - start) * DX, top + r * DY)
        top += rows * DY + DY * 0.5
    return out
