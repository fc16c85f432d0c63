"""The computational graph: named nodes (bricks) with named input ports, on networkx.

Every node has one output. An edge ``src -> dst`` carries src's output into one input
port of dst; the edge key is the port name, so one source may feed two ports of the
same node (x · x). All edits go through the methods below ("commands"); each one
emits an event, and the shapes and problems are re-inferred after every edit, or once at the
end of a ``with graph.batch():`` of many edits (loading a file, importing a model), so that
building a graph of n nodes costs O(n), not O(n²).
"""
from __future__ import annotations

import copy
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from gradviz_core.data import load_dataset, make_splits
from gradviz_core.errors import GraphError
from gradviz_core.events import Events
from gradviz_core.model import analysis, weights
from gradviz_core.model.analysis import Problem  # noqa: F401 (part of this module's API)
from gradviz_core.model.brick import Brick
from gradviz_core.model.registry import get_brick_class
from gradviz_core.params import to_json_value
from gradviz_core.shapes import Shape

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")

DEFAULT_TRAINING = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "batch_size": 32,
                    "epochs": 10, "seed": 0}


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    port: str


class Graph:
    def __init__(self) -> None:
        self.g = nx.MultiDiGraph()
        self.events = Events()
        self.title = ""
        self.note = ""
        #: training runs kept for comparison ({label, settings, history, status, summary}), saved
        #: with the graph
        self.runs: list[dict] = []
        #: the optimizer playground's setup (``gradviz_core.runs.playground``), saved with the graph
        self.playground: dict | None = None
        self.seed = 0
        self.data: dict | None = None
        self.training: dict[str, Any] = dict(DEFAULT_TRAINING)
        self.shapes: dict[str, Shape | None] = {}
        self.problems: list[Problem] = []
        self.order: list[str] = []
        #: the folder of the graph file, for data and weights paths relative to it
        self.base_dir: str | None = None
        #: how many ``batch()`` blocks are open: their edits are analysed once, when the last closes
        self._batch = 0

    # ---- queries ----------------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self.g

    def nodes(self) -> list[str]:
        return list(self.g.nodes)

    def brick(self, name: str) -> Brick:
        self._need(name)
        return self.g.nodes[name]["brick"]

    def bricks(self) -> dict[str, Brick]:
        return {n: d["brick"] for n, d in self.g.nodes(data=True)}

    def pos(self, name: str) -> tuple[float, float]:
        return self.g.nodes[name]["pos"]

    def edges(self) -> list[Edge]:
        return [Edge(u, v, k) for u, v, k in self.g.edges(keys=True)]

    def source_of(self, dst: str, port: str) -> str | None:
        for u, _, k in self.g.in_edges(dst, keys=True):
            if k == port:
                return u
        return None

    def inputs_of(self, name: str) -> dict[str, str]:
        """{port: source node} for the connected input ports of ``name``."""
        return {k: u for u, _, k in self.g.in_edges(name, keys=True)}

    def consumers(self, name: str) -> list[tuple[str, str]]:
        """[(node, port)] that read ``name``'s output."""
        return [(v, k) for _, v, k in self.g.out_edges(name, keys=True)]

    def input_shapes(self, name: str) -> dict[str, Shape | None]:
        return {p: self.shapes.get(src) for p, src in self.inputs_of(name).items()}

    def objective_nodes(self) -> list[str]:
        """The sinks with a scalar output: the objective is their sum."""
        return [n for n in self.order if self.g.out_degree(n) == 0 and self.shapes.get(n) == ()]

    def param_count(self, name: str) -> int | None:
        if self.shapes.get(name) is None:
            return None
        return self.brick(name).param_count(self.input_shapes(name))

    def total_params(self) -> int:
        return sum(self.param_count(n) or 0 for n in self.g.nodes)

    def node_problems(self, name: str) -> list[Problem]:
        return [p for p in self.problems if p.node == name]

    def node_spec(self, name: str) -> dict:
        """The JSON form of one node (as in the graph file): its parameters that differ from
        their defaults."""
        return node_spec(name, self.brick(name), self.pos(name))

    def unique_name(self, base: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "", base.lower()) or "node"
        i = 1
        while f"{base}{i}" in self.g:
            i += 1
        return f"{base}{i}"

    def dataset(self):
        return None if self.data is None else load_dataset(self.data, self.base_dir)

    def splits(self):
        """Train / validation / test splits, preprocessed with statistics of the train split."""
        return None if self.data is None else make_splits(self.data, self.base_dir)

    # ---- commands -----------------------------------------------------------------------
    def add_node(self, type_name: str, name: str | None = None, params: dict | None = None,
                 pos: tuple[float, float] = (0.0, 0.0)) -> str:
        cls = get_brick_class(type_name)
        name = name or self.unique_name(type_name)
        if not _NAME.match(name):
            raise GraphError(f"node name {name!r} is not allowed: use letters, digits, _ and -, "
                             "starting with a letter (at most 64 characters)", node=name)
        if name in self.g:
            raise GraphError(f"there is already a node named {name!r}", node=name)
        brick = cls(name, **(params or {}))
        self.g.add_node(name, brick=brick, pos=(float(pos[0]), float(pos[1])))
        self.events.emit("node_added", name=name)
        self._changed()
        return name

    def restore_node(self, name: str, brick: Brick, pos: tuple[float, float], index: int | None = None) -> None:
        """Put back a node removed earlier, with its brick (and so its weights) as they were,
        at ``index`` in the node order (which breaks ties in the stepping order)."""
        if name in self.g:
            raise GraphError(f"there is already a node named {name!r}", node=name)
        self.g.add_node(name, brick=brick, pos=(float(pos[0]), float(pos[1])))
        if index is not None and index < len(self.g) - 1:
            order = [n for n in self.g.nodes if n != name]
            order.insert(index, name)
            g = nx.MultiDiGraph()
            g.add_nodes_from((n, self.g.nodes[n]) for n in order)
            g.add_edges_from(self.g.edges(keys=True))
            self.g = g
        self.events.emit("node_added", name=name)
        self._changed()

    def remove_node(self, name: str) -> None:
        self._need(name)
        for e in [Edge(u, v, k) for u, v, k in list(self.g.in_edges(name, keys=True))
                  + list(self.g.out_edges(name, keys=True))]:
            self.disconnect(e.dst, e.port, analyze=False)
        self.g.remove_node(name)
        self.events.emit("node_removed", name=name)
        self._changed()

    def connection_error(self, src: str, dst: str, port: str, shapes: bool = True) -> str | None:
        """Why ``src -> dst.port`` cannot be made, or None (``analysis.connection_error``)."""
        return analysis.connection_error(self, src, dst, port, shapes)

    def connect(self, src: str, dst: str, port: str, check_shapes: bool = False) -> None:
        """Connect src's output to dst's input ``port`` (which must be free).

        Missing nodes or ports and cycles are refused. A shape mismatch is refused only
        with ``check_shapes``; otherwise it is reported as a problem on dst.
        """
        msg = self.connection_error(src, dst, port, shapes=check_shapes)
        if msg:
            raise GraphError(msg, node=dst, port=port)
        current = self.source_of(dst, port)
        if current is not None:
            raise GraphError(f"{dst}.{port} is already connected to {current}; disconnect it first",
                             node=dst, port=port)
        self.g.add_edge(src, dst, key=port)
        self.events.emit("edge_added", src=src, dst=dst, port=port)
        self._changed()

    def disconnect(self, dst: str, port: str, analyze: bool = True) -> str:
        src = self.source_of(dst, port)
        if src is None:
            raise GraphError(f"{dst}.{port} is not connected", node=dst, port=port)
        self.g.remove_edge(src, dst, key=port)
        self.events.emit("edge_removed", src=src, dst=dst, port=port)
        if analyze:
            self._changed()
        return src

    def set_param(self, name: str, key: str, value: Any) -> None:
        """Change one setting. The node gets a new brick that keeps the old one's weights
        wherever their shapes still fit (a new ``init`` keeps them all; more units keep none)."""
        old = self.brick(name)
        try:
            spec = old.spec(key)
        except KeyError:
            known = ", ".join(s.name for s in old.params) or "none"
            raise GraphError(f"{name}: {old.type_name} has no parameter {key!r} (its parameters: "
                             f"{known})", node=name) from None
        config = dict(old.config)
        config[key] = spec.coerce(value, name)
        new = type(old)(name, **config)
        weights.carry_weights(self, name, old, new)
        self.replace_brick(name, new, key)

    def replace_brick(self, name: str, brick: Brick, key: str | None = None) -> None:
        """Put ``brick`` (weights and all) in node ``name``'s place: undo and redo of a
        parameter change put back the very brick they took away."""
        self._need(name)
        self.g.nodes[name]["brick"] = brick
        self.events.emit("param_changed", name=name, key=key,
                         value=None if key is None else brick.config.get(key))
        self._changed()

    def set_training(self, key: str, value: Any) -> None:
        """Change one training setting (checked by the runs that use it)."""
        if value is None:
            self.training.pop(key, None)
        else:
            self.training[key] = value
        self.events.emit("training_changed", key=key, value=value)
        self._changed()

    def put_weights(self, arrays: dict[str, np.ndarray]) -> list[str]:
        """Make the ``{"node/name": array}`` that fit the graph its weights; -> the keys taken."""
        taken = weights.put_weights(self, arrays)
        self.events.emit("weights_changed", keys=taken)
        return taken

    def move_node(self, name: str, pos: tuple[float, float]) -> None:
        self._need(name)
        self.g.nodes[name]["pos"] = (float(pos[0]), float(pos[1]))
        self.events.emit("node_moved", name=name, pos=self.g.nodes[name]["pos"])

    def set_data(self, spec: dict | None) -> None:
        self.data = spec
        self.events.emit("data_changed", spec=spec)
        self._changed()

    # ---- analysis -------------------------------------------------------------------------
    def analyze(self) -> list[Problem]:
        """Infer every shape in topological order and collect the problems (``analysis``)."""
        self.order, shapes, problems = analysis.infer(self)
        self.shapes, self.problems = shapes, problems
        self.events.emit("analyzed", shapes=shapes, problems=problems)
        return problems

    def _changed(self) -> None:
        """After an edit: analyse now, or when the open ``batch()`` closes."""
        if not self._batch:
            self.analyze()

    @contextmanager
    def batch(self):
        """Many edits, analysed once at the end (also when one of them fails): ``with g.batch():``.
        Inside, ``shapes`` and ``problems`` are those of before the block until ``analyze()`` is
        called explicitly."""
        self._batch += 1
        try:
            yield self
        finally:
            self._batch -= 1
            if not self._batch:
                self.analyze()

    def check(self) -> None:
        """Raise one GraphError for every problem (for the CLI and the runners)."""
        analysis.check(self)

    # ---- weights --------------------------------------------------------------------------
    def build(self, dtype=np.float64) -> None:
        """Make sure every node has weights that fit its input shapes, in ``dtype``."""
        weights.build(self, dtype)

    def weights(self) -> dict[str, np.ndarray]:
        """Every weight and buffer as ``{"node/name": array}`` (the .npz layout)."""
        return weights.weights(self)

    def set_weights(self, arrays: dict[str, np.ndarray], strict: bool = True) -> None:
        weights.set_weights(self, arrays, strict)

    def set_playground(self, section: dict | None) -> None:
        """The optimizer playground's setup (checked by ``playground.check``)."""
        self.playground = section
        self.events.emit("playground_changed", section=section)

    def clone(self) -> "Graph":
        """A deep copy with its own (empty) event listeners."""
        return copy.deepcopy(self)

    # ---- helpers ------------------------------------------------------------------------------
    def _need(self, name: str) -> None:
        if name not in self.g:
            raise GraphError(f"there is no node named {name!r}", node=name)


def node_spec(name: str, b: Brick, pos: tuple[float, float]) -> dict:
    params = {s.name: to_json_value(s, b.config[s.name]) for s in b.params
              if not _same(b.config[s.name], s.coerce(s.default, name))}
    return {"name": name, "type": b.type_name, "params": params, "pos": [pos[0], pos[1]]}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and bool(np.all(np.asarray(a) == np.asarray(b)))
    return a == b
