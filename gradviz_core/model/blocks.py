"""The blocks a big network repeats: a residual block, an inception module, a dense block's layer.
Each is a merge (a node that joins two or more branches from the data: a residual Add or AddN, a
Concat) with every node between it and the node where its branches split (the merge's
immediate dominator, from the data: networkx). The window folds them into one node each."""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

_ROOT = ("__data__",)  # a node of no graph: the one the data comes from


@dataclass(frozen=True)
class Block:
    name: str                 # the merge's name: "res1", "/Concat_12_output_0"…
    nodes: tuple[str, ...]    # in the graph's order, the merge last
    entry: str                # the node whose output the branches split
    params: int               # the parameters of its nodes
    shape: tuple | None       # the merge's output shape

    @property
    def join(self) -> str:
        return self.nodes[-1]


def find_blocks(graph) -> list[Block]:
    """The graph's blocks, disjoint, in the graph's order (the smallest where blocks nest)."""
    g = nx.DiGraph(graph.g)  # one edge per pair is enough for dominators
    sources = [n for n in graph.g if graph.brick(n).feeds == "X"]
    if not sources or not graph.order:
        return []
    g.add_node(_ROOT)
    g.add_edges_from((_ROOT, s) for s in sources)
    reach = nx.descendants(g, _ROOT)
    idom = nx.immediate_dominators(g, _ROOT)
    found = []
    for m in graph.order:
        branches = {u for u in g.predecessors(m) if u in reach}
        if m not in reach or len(branches) < 2:
            continue
        entry = idom[m]
        if entry == _ROOT:
            continue
        inside = (nx.descendants(g, entry) & nx.ancestors(g, m) & reach) | {m}
        found.append((m, entry, inside))
    taken: set[str] = set()
    out = []
    rank = {n: i for i, n in enumerate(graph.order)}
    for m, entry, inside in sorted(found, key=lambda f: len(f[2])):
        if inside & taken or len(inside) < 2:
            continue
        taken |= inside
        nodes = tuple(sorted(inside, key=rank.__getitem__))
        out.append(Block(m, nodes, entry, sum(graph.param_count(n) or 0 for n in nodes), graph.shapes.get(m)))
    return sorted(out, key=lambda b: rank[b.join])


def folded_positions(graph, blocks: list[Block]) -> dict[str, tuple[float, float]]:
    """Where each node goes while ``blocks`` are folded: the layered layout of the graph with
    each block contracted to one node (named as the block), so a folded network reads as a
    short chain. Nodes inside a block are not placed."""
    from gradviz_core.model.layout import layered
    rep = {n: b.name for b in blocks for n in b.nodes}
    q = nx.DiGraph()
    first = {b.name: b.nodes[0] for b in blocks}
    q.add_nodes_from(dict.fromkeys(rep.get(n, n) for n in graph.g))
    q.add_edges_from((rep.get(u, u), rep.get(v, v)) for u, v in graph.g.edges() if rep.get(u, u) != rep.get(v, v))

    def pos(n):
        return graph.pos(first.get(n, n))
    return layered(q, pos, lambda n: n not in first and graph.brick(n).acts_on_weights)
