"""What a graph is, checked: its order, every node's output shape and its problems, each named
by node and port (a cycle, an input left unwired, shapes that do not fit, a bad setting or
data file, a graph too big for this machine's memory), and the errors that tell them.

``Graph.analyze`` runs ``infer`` after every edit; ``check`` raises one error for every
problem (for the command line and the runs).
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from gradviz_core.errors import GradvizError, GraphError, ShapeError
from gradviz_core.model.settings import check_training
from gradviz_core.shapes import Shape


@dataclass(frozen=True)
class Problem:
    node: str | None
    port: str | None
    message: str
    #: problems of one kind are told in one line when there are several ("unconnected", "cycle")
    kind: str = ""


def infer(graph) -> tuple[list[str], dict, list[Problem]]:
    """(the topological order, every shape, the problems) of a graph as it is now."""
    problems: list[Problem] = []
    shapes: dict[str, Shape | None] = {n: None for n in graph.g}
    try:
        cycle = nx.find_cycle(graph.g)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        names = [u for u, *_ in cycle]
        text = " → ".join(names + [names[0]])
        problems += [Problem(n, None, f"{n}: part of a cycle {text}; a computational graph "
                                      "must be acyclic", "cycle") for n in names]
        order = []
    else:
        rank = {n: i for i, n in enumerate(graph.g.nodes)}  # ties keep the order nodes were added
        order = list(nx.lexicographical_topological_sort(graph.g, key=rank.__getitem__))
    try:
        check_training(graph.training)
    except GradvizError as exc:
        problems.append(Problem(None, None, str(exc)))
    info, data_error = data_info(graph)
    for name in order:
        brick = graph.brick(name)
        if brick.is_source:
            brick.data_info = info
            if data_error:  # one message for the graph, shown on each data node
                problems.append(Problem(name, None, data_error))
                continue
        connected = graph.inputs_of(name)
        ports = brick.input_ports()
        for port, src in connected.items():
            if port not in ports:
                problems.append(Problem(name, port, f"{name}: has no input port {port!r} any more "
                                                    f"(connected to {src}); remove that edge"))
        missing = [p for p in ports if p not in connected]
        for p in missing:
            problems.append(Problem(name, p, f"{name}: input '{p}' of {brick.type_name} is not "
                                             "connected", "unconnected"))
        in_shapes = {p: shapes[connected[p]] for p in ports if p in connected}
        if missing or any(s is None for s in in_shapes.values()):
            continue
        try:
            shapes[name] = tuple(brick.infer_shape(in_shapes))
        except GradvizError as exc:
            problems.append(Problem(name, getattr(exc, "port", None), str(exc)))
    if not problems:
        graph.shapes = shapes  # what the estimate reads
        # a graph that cannot fit is refused in one line; otherwise its scores are held to the classes
        problems += memory_problem(graph, info) or class_count_problems(graph, order, shapes, info)
    return order, shapes, problems


def class_count_problems(graph, order, shapes, info: dict | None) -> list[Problem]:
    """A class loss whose scores do not number the data's classes: a last Linear of 16 units
    before a softmax over 2 classes runs (the extra scores are never right) but is a mistake."""
    classes = (info or {}).get("classes")
    if (graph.data or {}).get("source") == "random":
        classes = None  # made-up labels (an imported model's stand-in data): nothing to hold the scores to
    out = []
    for name in order if classes else ():
        brick = graph.brick(name)
        src = graph.inputs_of(name).get("x")
        s = shapes.get(src) if brick.scores_classes and src else None
        if s is not None and len(s) == 2 and s[1] != classes:
            out.append(Problem(name, "x", f"{name}: {src} gives {s[1]} scores per sample, but the data has "
                                          f"{classes} classes: a {brick.type_name} needs one score per class, "
                                          f"so {src} should give {classes}", "classes"))
    return out


def connection_error(graph, src: str, dst: str, port: str, shapes: bool = True) -> str | None:
    """Why ``src -> dst.port`` cannot be made, or None.

    Checks that the nodes and the port exist and that no cycle would form; with
    ``shapes`` also that src's output shape fits dst (the editor refuses such a drop).
    """
    for n in (src, dst):
        if n not in graph.g:
            return f"there is no node named {n!r}"
    ports = graph.brick(dst).input_ports()
    if port not in ports:
        have = ", ".join(ports) or "none"
        return f"{dst} has no input port {port!r} (its ports: {have})"
    if src == dst:
        return f"{dst} cannot take its own output as input"
    if nx.has_path(graph.g, dst, src):
        path = nx.shortest_path(graph.g, dst, src)
        return (f"connecting {src} → {dst} would close a cycle "
                f"{' → '.join(path + [dst])}; a computational graph must be acyclic")
    if not shapes:
        return None
    src_shape = graph.shapes.get(src)
    others = {p: graph.shapes.get(s) for p, s in graph.inputs_of(dst).items() if p != port}
    if src_shape is not None and all(others.get(p) is not None for p in ports if p != port):
        try:
            graph.brick(dst).infer_shape({**others, port: src_shape})
        except ShapeError as exc:
            return str(exc)
    return None


def memory_problem(graph, data_info: dict | None) -> list[Problem]:
    """A graph too big for this machine's memory, refused before anything is allocated: the
    estimate of a float32 training run at the training batch size, naming the largest array."""
    from gradviz_core.memory import too_big
    batch = int(graph.training.get("batch_size", 32) or 0) or int((data_info or {}).get("n", 1))
    why = too_big(graph, batch, 4, "a training run")
    return [Problem(why.partition(":")[0], None, why, "memory")] if why else []


def data_info(graph) -> tuple[dict | None, str | None]:
    if graph.data is None:
        return None, None
    try:
        return graph.dataset().info(), None
    except GradvizError as exc:  # a bad setting or an unreadable file: a problem to show
        return None, str(exc)


def problem_lines(graph) -> list[str]:
    """The distinct problems, each in one line."""
    lines: list[str] = []
    unconnected = [p for p in graph.problems if p.kind == "unconnected"]
    for p in graph.problems:
        if p.kind == "cycle":
            line = p.message.partition(": ")[2]  # "part of a cycle a → b → a; …", told once
            line = line[0].upper() + line[1:]
        elif p.kind == "unconnected" and len(unconnected) > 1:
            ports = ", ".join(f"{q.node}.{q.port} ({graph.brick(q.node).type_name})" for q in unconnected)
            line = (f"edges is empty: no node is connected to another; inputs that need a wire: {ports}"
                    if not graph.g.number_of_edges() else f"inputs not connected: {ports}")
        else:
            line = p.message
        if line not in lines:
            lines.append(line)
    return lines


def check(graph) -> None:
    """Raise one GraphError for every problem (for the CLI and the runners): one problem in
    one line; several under a first line that counts them, one line per distinct problem
    (every unconnected input in one, a cycle once)."""
    if not graph.problems:
        return
    first = graph.problems[0]
    lines = problem_lines(graph)
    if len(lines) == 1:
        raise GraphError(lines[0], node=first.node, port=first.port)
    raise GraphError(f"the graph cannot run ({len(lines)} problems):" + "".join(f"\n  {m}" for m in lines),
                     node=first.node, port=first.port)
