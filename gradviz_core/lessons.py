"""Lessons: graph files in ``examples/`` whose Markdown note holds links that act.

A link ``gradviz:set?KEY=VALUE&KEY=VALUE`` sets what a ``--set`` would (``training.lr``,
``data.noise``, ``fc1.units``) as one undoable step, and ``*.init=he`` sets a parameter on
every node that has it (every layer's initialization). ``gradviz:train`` starts training,
``gradviz:step`` steps the forward pass. So a lesson's variants are one click each, and
each run lands in the comparison view, labelled by what the click changed.
"""
from __future__ import annotations

import json
from urllib.parse import unquote

from gradviz_core.commands import Command, Group, SetData, SetParam, SetTraining
from gradviz_core.errors import GradvizError
from gradviz_core.graph import Graph
from gradviz_core.settings import TRAINING, did_you_mean

ACTIONS = ("set", "train", "step")


def catalogue(folder) -> list[tuple[str, object, str]]:
    """[(title, path, the note's first line of prose)] of the graph files in ``folder``: the
    lessons first, in the lectures' order ("Lesson 3: …"), then the other examples by title.
    Files that do not load are left out."""
    import re
    from pathlib import Path

    from gradviz_core import fileformat
    out = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            g = fileformat.load(path)
        except GradvizError:
            continue
        title = g.title or path.stem
        prose = next((line.strip() for line in g.note.splitlines() if line.strip() and not line.startswith("#")), "")
        m = re.match(r"Lesson (\d+)", title)
        out.append(((0, int(m.group(1))) if m else (1, title), title, path, prose))
    return [(t, p, prose) for _, t, p, prose in sorted(out, key=lambda e: e[0])]


def parse(url: str) -> tuple[str, list[tuple[str, object]]]:
    """("set" | "train" | "step", [(key, value)]) from a lesson link."""
    if not url.startswith("gradviz:"):
        raise GradvizError(f"{url}: not a lesson link (they start with gradviz:)")
    action, _, query = url.removeprefix("gradviz:").partition("?")
    if action not in ACTIONS:
        raise GradvizError(f"{url}: unknown lesson action {action!r}; use {', '.join(ACTIONS)}")
    pairs = []
    for item in filter(None, query.split("&")):
        key, eq, text = unquote(item).partition("=")
        if not eq or "." not in key:
            raise GradvizError(f"{url}: {item!r}: write KEY=VALUE, e.g. training.lr=0.01 or fc1.units=8")
        try:
            value = json.loads(text)
        except ValueError:
            value = text  # a word: a choice or a name
        pairs.append((key, value))
    return action, pairs


def command(graph: Graph, url: str) -> tuple[str, Command | None]:
    """(action, the undoable command that makes the link's settings, or None)."""
    action, pairs = parse(url)
    if not pairs:
        return action, None
    steps: list[Command] = []
    data = dict(graph.data or {})
    for key, value in pairs:
        where, _, name = key.partition(".")
        if where == "training":
            spec = next((s for s in TRAINING if s.name == name), None)
            if spec is None:
                raise GradvizError(f"{url}: training.{name} is not a setting"
                                   + did_you_mean(name, [s.name for s in TRAINING]))
            steps.append(SetTraining(name, spec.coerce(value, "training", label=f"training.{name}")))
        elif where == "data":
            data[name] = value
        elif where == "*":
            nodes = [n for n in graph.order if name in graph.brick(n).config]
            if not nodes:
                raise GradvizError(f"{url}: no node of this graph has a parameter {name!r}")
            steps += [SetParam(n, name, value) for n in nodes if graph.brick(n).config[name] != value]
        elif where in graph:
            steps.append(SetParam(where, name, value))
        else:
            raise GradvizError(f"{url}: there is no node named {where!r}"
                               + did_you_mean(where, list(graph.nodes())))
    if data != (graph.data or {}):
        steps.append(SetData(data))
    text = ", ".join(f"{k}={v}" for k, v in pairs)
    return action, Group(f"lesson: {text}", steps) if steps else None
