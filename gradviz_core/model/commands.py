"""Undoable edits of a graph. The GUI wraps each in a QUndoCommand; scripts use them as they are.

Every command changes the graph only through its methods, so every change reaches the
view as an event. ``do`` may be called again after ``undo`` (redo).
"""
from __future__ import annotations

from typing import Any

from gradviz_core.errors import GradvizError
from gradviz_core.model.graph import Edge, Graph
from gradviz_core.model.settings import TRAINING
from gradviz_core.params import did_you_mean


class Command:
    text = ""

    def do(self, graph: Graph) -> None:
        raise NotImplementedError

    def undo(self, graph: Graph) -> None:
        raise NotImplementedError


class AddNode(Command):
    def __init__(self, type_name: str, name: str | None = None, params: dict | None = None,
                 pos: tuple[float, float] = (0.0, 0.0)) -> None:
        self.type_name, self.name, self.params, self.pos = type_name, name, params or {}, pos
        self.text = f"add {type_name}"

    def do(self, graph):
        self.name = graph.add_node(self.type_name, self.name, self.params, self.pos)

    def undo(self, graph):
        graph.remove_node(self.name)


class RemoveNodes(Command):
    """Remove nodes and every edge that touches them; undo puts back the same bricks
    (weights included) and the same edges."""

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        self.text = f"delete {', '.join(self.names)}"
        self.saved: list[tuple[str, Any, tuple, int]] = []
        self.edges: list[Edge] = []

    def do(self, graph):
        gone = set(self.names)
        self.edges = [e for e in graph.edges() if e.src in gone or e.dst in gone]
        order = graph.nodes()
        self.saved = sorted(((n, graph.brick(n), graph.pos(n), order.index(n)) for n in self.names),
                            key=lambda item: item[3])
        with graph.batch():
            for n in self.names:
                graph.remove_node(n)

    def undo(self, graph):
        with graph.batch():
            for name, brick, pos, index in self.saved:  # in increasing index: each lands where it was
                graph.restore_node(name, brick, pos, index)
            for e in self.edges:
                graph.connect(e.src, e.dst, e.port)


class Connect(Command):
    """Connect src to dst.port; an edge already in that port is replaced (and put back on undo)."""

    def __init__(self, src: str, dst: str, port: str) -> None:
        self.src, self.dst, self.port = src, dst, port
        self.replaced: str | None = None
        self.text = f"connect {src} → {dst}.{port}"

    def do(self, graph):
        self.replaced = graph.source_of(self.dst, self.port)
        msg = graph.connection_error(self.src, self.dst, self.port, shapes=False)
        if msg is None and self.replaced is not None:
            graph.disconnect(self.dst, self.port)
        graph.connect(self.src, self.dst, self.port)

    def undo(self, graph):
        graph.disconnect(self.dst, self.port)
        if self.replaced is not None:
            graph.connect(self.replaced, self.dst, self.port)


class Disconnect(Command):
    def __init__(self, dst: str, port: str) -> None:
        self.dst, self.port = dst, port
        self.src: str | None = None
        self.text = f"disconnect {dst}.{port}"

    def do(self, graph):
        self.src = graph.disconnect(self.dst, self.port)

    def undo(self, graph):
        graph.connect(self.src, self.dst, self.port)


class SetParam(Command):
    """Change one setting of a node. The node keeps its weights where their shapes still fit;
    undo puts back the very brick it replaced, so the old weights come back too."""

    def __init__(self, node: str, key: str, value: Any) -> None:
        self.node, self.key, self.value = node, key, value
        self.old: Any = None
        self.old_brick = self.new_brick = None
        self.text = f"set {node}.{key}"

    def do(self, graph):
        if self.new_brick is None:
            self.old_brick = graph.brick(self.node)
            self.old = self.old_brick.config[self.key]
            graph.set_param(self.node, self.key, self.value)
            self.new_brick = graph.brick(self.node)
        else:  # redo: the same new brick, weights and all
            graph.replace_brick(self.node, self.new_brick, self.key)

    def undo(self, graph):
        graph.replace_brick(self.node, self.old_brick, self.key)


class SetTraining(Command):
    """Change one training setting (None removes it, so the default applies)."""

    def __init__(self, key: str, value: Any) -> None:
        self.key, self.value = key, value
        self.old: Any = None
        self.text = f"set training.{key}"

    def do(self, graph):
        self.old = graph.training.get(self.key)
        graph.set_training(self.key, self.value)

    def undo(self, graph):
        graph.set_training(self.key, self.old)


class SetData(Command):
    """Replace the graph's data section (None: no data)."""

    def __init__(self, spec: dict | None, text: str = "change the data") -> None:
        self.spec, self.text = spec, text
        self.old: dict | None = None

    def do(self, graph):
        self.old = graph.data
        graph.set_data(self.spec)

    def undo(self, graph):
        graph.set_data(self.old)


class KeepWeights(Command):
    """Make a run's weights the document's ("keep the trained weights"); undo puts back the
    weights the document had before."""

    def __init__(self, arrays: dict, text: str = "keep the trained weights") -> None:
        self.arrays = dict(arrays)
        self.old: dict = {}
        self.text = text

    def do(self, graph):
        self.old = {k: v.copy() for k, v in graph.weights().items()}
        graph.put_weights(self.arrays)

    def undo(self, graph):
        graph.put_weights(self.old)


class SetRuns(Command):
    """Keep these training runs in the graph (saved with it), for comparison."""

    def __init__(self, runs: list[dict]) -> None:
        self.runs, self.old = list(runs), None
        self.text = "keep the runs in the graph"

    def do(self, graph):
        self.old, graph.runs = graph.runs, list(self.runs)

    def undo(self, graph):
        graph.runs = self.old


class SetPlayground(Command):
    """Change one setting of the optimizer playground (``start``, ``steps``, ``lr.adam``, …)."""

    def __init__(self, key: str, value: Any) -> None:
        self.key, self.value, self.old = key, value, None
        self.text = f"playground.{key} = {value}"

    def do(self, graph):
        from gradviz_core.model.settings import check_playground as check
        self.old = graph.playground
        new = dict(graph.playground or {})
        head, _, rule = self.key.partition(".")
        if rule:
            new[head] = {**new.get(head, {}), rule: self.value}
        else:
            new[head] = self.value
        graph.set_playground(check(new))

    def undo(self, graph):
        graph.set_playground(self.old)


class MoveNodes(Command):
    def __init__(self, moves: dict[str, tuple[tuple[float, float], tuple[float, float]]]) -> None:
        """``moves``: {node: (old position, new position)}"""
        self.moves = dict(moves)
        self.text = f"move {', '.join(self.moves)}"

    def do(self, graph):
        for n, (_, new) in self.moves.items():
            graph.move_node(n, new)

    def undo(self, graph):
        for n, (old, _) in self.moves.items():
            graph.move_node(n, old)


class Group(Command):
    """Several commands as one step (paste, auto-layout); undone in reverse order."""

    def __init__(self, text: str, commands: list[Command]) -> None:
        self.text, self.commands = text, list(commands)

    def do(self, graph):
        done = []
        with graph.batch():  # analysed once, after the last
            try:
                for c in self.commands:
                    c.do(graph)
                    done.append(c)
            except Exception:
                for c in reversed(done):
                    c.undo(graph)
                raise

    def undo(self, graph):
        with graph.batch():
            for c in reversed(self.commands):
                c.undo(graph)


def copy_nodes(graph: Graph, names: list[str]) -> dict:
    """The nodes (as in the graph file) and the edges among them: what the clipboard holds."""
    keep = set(names)
    return {"nodes": [graph.node_spec(n) for n in graph.nodes() if n in keep],
            "edges": [{"from": e.src, "to": e.dst, "port": e.port} for e in graph.edges()
                      if e.src in keep and e.dst in keep]}


def paste_command(graph: Graph, clip: dict, offset: tuple[float, float] = (40.0, 40.0)) -> Group:
    """A Group that adds copies of the clipboard's nodes under fresh names, shifted by offset,
    with the same edges among them."""
    rename, taken, commands = {}, set(graph.nodes()), []
    for spec in clip["nodes"]:
        base = spec["name"].rstrip("0123456789") or "node"
        i, new = 1, spec["name"]
        while new in taken:
            new, i = f"{base}{i}", i + 1
        taken.add(new)
        rename[spec["name"]] = new
        x, y = spec.get("pos", (0, 0))
        commands.append(AddNode(spec["type"], new, spec.get("params", {}), (x + offset[0], y + offset[1])))
    for e in clip["edges"]:
        commands.append(Connect(rename[e["from"]], rename[e["to"]], e["port"]))
    return Group(f"paste {len(clip['nodes'])} nodes", commands)


def settings_command(graph: Graph, pairs: list[tuple[str, object]], where: str) -> Command | None:
    """One undoable command that sets each (key, value): ``training.KEY``, ``data.KEY``,
    ``playground.KEY``, ``NODE.PARAM`` or ``*.PARAM`` (every node that has it). A lesson link
    and ``--set`` both come here; ``where`` (the link, the option) starts each message."""
    steps: list[Command] = []
    data = dict(graph.data or {})
    for key, value in pairs:
        where_, _, name = key.partition(".")
        if where_ == "training":
            spec = next((s for s in TRAINING if s.name == name), None)
            if spec is None:
                raise GradvizError(f"{where}: training.{name} is not a setting"
                                   + did_you_mean(name, [s.name for s in TRAINING]))
            steps.append(SetTraining(name, spec.coerce(value, "training", label=f"training.{name}")))
        elif where_ == "data":
            data[name] = value
        elif where_ == "playground":
            from gradviz_core.model.settings import check_playground as check
            check({**(graph.playground or {}), **_nested(name, value)})  # a bad value is named here
            steps.append(SetPlayground(name, value))
        elif where_ == "*":
            nodes = [n for n in graph.order if name in graph.brick(n).config]
            if not nodes:
                raise GradvizError(f"{where}: no node of this graph has a parameter {name!r}")
            steps += [SetParam(n, name, value) for n in nodes if graph.brick(n).config[name] != value]
        elif where_ in graph:
            steps.append(SetParam(where_, name, value))
        else:
            raise GradvizError(f"{where}: there is no node named {where_!r}"
                               + did_you_mean(where_, list(graph.nodes())))
    if data != (graph.data or {}):
        steps.append(SetData(data))
    text = ", ".join(f"{k}={v}" for k, v in pairs)
    return Group(f"lesson: {text}", steps) if steps else None


def _nested(key: str, value) -> dict:
    head, _, rest = key.partition(".")
    return {head: {rest: value}} if rest else {head: value}
