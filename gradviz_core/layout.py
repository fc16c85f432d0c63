"""Auto-layout: nodes in columns by their depth in the graph (networkx topological generations)."""
from __future__ import annotations

import networkx as nx

from gradviz_core.graph import Graph

DX, DY = 230.0, 110.0


def layered_positions(graph: Graph) -> dict[str, tuple[float, float]]:
    """Each node one column right of its deepest input; nodes in a column keep their vertical
    order. Sources with no inputs that feed only a later layer (targets, constants) move to
    the column just before their first consumer, so edges stay short."""
    if not nx.is_directed_acyclic_graph(graph.g):
        return {n: graph.pos(n) for n in graph.nodes()}
    depth: dict[str, int] = {}
    for i, layer in enumerate(nx.topological_generations(graph.g)):
        for n in layer:
            depth[n] = i
    for n in graph.nodes():
        succ = [depth[v] for v in graph.g.successors(n)]
        if graph.g.in_degree(n) == 0 and succ:
            depth[n] = min(succ) - 1
    columns: dict[int, list[str]] = {}
    for n in sorted(graph.nodes(), key=lambda n: graph.pos(n)[1]):
        columns.setdefault(depth[n], []).append(n)
    return {n: (c * DX, r * DY) for c, names in columns.items() for r, n in enumerate(names)}
