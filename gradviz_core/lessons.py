"""Lessons: graph files in ``examples/`` whose Markdown note holds links that act.

A link ``gradviz:set?KEY=VALUE&KEY=VALUE`` sets what a ``--set`` would (``training.lr``,
``data.noise``, ``fc1.units``) as one undoable step, and ``*.init=he`` sets a parameter on
every node that has it (every layer's initialization). ``gradviz:train`` starts training,
``gradviz:step`` steps the forward pass, ``gradviz:play`` races the update rules in the
optimizer playground (``playground.lr.sgd=0.5`` and ``playground.start=[-2,0]`` set it up),
and ``gradviz:open?file=NAME.json`` opens another lesson from the same folder. So a lesson's
variants are one click each, and each run lands in the comparison view, labelled by what
the click changed.
"""
from __future__ import annotations

import json
import re
from urllib.parse import unquote

from gradviz_core.commands import Command, Group, SetData, SetParam, SetPlayground, SetTraining
from gradviz_core.errors import GradvizError
from gradviz_core.graph import Graph
from gradviz_core.settings import TRAINING, did_you_mean

ACTIONS = ("set", "train", "step", "play", "open", "check")

#: what a checkpoint can wait for (``- [ ] [do this](gradviz:check?stepped=f.backward)``):
#: the stepper computed a node's value (``stepped=NODE``) or its gradient
#: (``stepped=NODE.backward``), applied the update (``updated``); a training run finished
#: (``trained``); the playground's race ran to its end (``raced``); a numerical gradient
#: check ran (``checked``)
MILESTONES = ("stepped", "updated", "trained", "raced", "checked")


def examples_dir():
    """examples/ beside the sources, or the copy installed as gradviz_core.examples."""
    from pathlib import Path
    here = Path(__file__).resolve().parent.parent / "examples"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent / "examples"


def find(path):
    """``path`` as given, or, when no such file exists and it is a bare name
    ("circuit_xyz.json"), the example of that name shipped with gradviz."""
    from pathlib import Path
    p = Path(path)
    if not p.exists() and p.name == str(path) and (examples_dir() / p.name).is_file():
        return examples_dir() / p.name
    return p


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
        paragraphs = [" ".join(p.split()) for p in g.note.split("\n\n")]
        prose = next((p for p in paragraphs if p and not p.startswith("#")), "")  # the first paragraph, whole
        m = re.match(r"Lesson (\d+)([a-z]?)\b", title)  # "Lesson 9b": the second part of lesson 9
        out.append(((0, int(m.group(1)), m.group(2)) if m else (1, title), title, path, prose))
    return [(t, p, prose) for _, t, p, prose in sorted(out, key=lambda e: e[0])]


def parse(url: str) -> tuple[str, list[tuple[str, object]]]:
    """(action, [(key, value)]) from a lesson link; ``open`` gives [("file", name)], ``check``
    [("milestone", what it waits for)]."""
    if not url.startswith("gradviz:"):
        raise GradvizError(f"{url}: not a lesson link (they start with gradviz:)")
    action, _, query = url.removeprefix("gradviz:").partition("?")
    if action not in ACTIONS:
        raise GradvizError(f"{url}: unknown lesson action {action!r}; use {', '.join(ACTIONS)}")
    pairs = []
    for item in filter(None, query.split("&")):
        key, eq, text = unquote(item).partition("=")
        if action == "check":
            if key not in MILESTONES:
                raise GradvizError(f"{url}: a checkpoint waits for one of {', '.join(MILESTONES)}")
            pairs.append(("milestone", unquote(item)))
            continue
        if action == "open":
            if key != "file" or not text.endswith(".json") or "/" in text or "\\" in text:
                raise GradvizError(f"{url}: write gradviz:open?file=NAME.json (a lesson in the same folder)")
            pairs.append((key, text))
            continue
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
    if not pairs or action in ("open", "check"):
        return action, None
    return action, settings_command(graph, pairs, url)


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
            from gradviz_core.settings import check_playground as check
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


_CHECKPOINT = re.compile(r"^(\s*[-*] )\[( |x)\] (.*\(gradviz:check\?([^)]*)\).*)$")


def checkpoints(note: str) -> list[str]:
    """The milestones a note's checkpoints wait for, in order ("stepped=f.backward", "trained")."""
    out = []
    for line in note.splitlines():
        m = _CHECKPOINT.match(line)
        if m:
            milestone = unquote(m.group(4))
            if milestone.split("=")[0] not in MILESTONES:
                raise GradvizError(f"gradviz:check?{milestone}: a checkpoint waits for one of "
                                   f"{', '.join(MILESTONES)}")
            out.append(milestone)
    return out


def ticked(note: str, reached: set[str]) -> str:
    """The note with a tick ([x]) on each checkpoint whose milestone has been reached."""
    lines = []
    for line in note.splitlines():
        m = _CHECKPOINT.match(line)
        if m and unquote(m.group(4)) in reached:
            line = f"{m.group(1)}[x] {m.group(3)}"
        lines.append(line)
    return "\n".join(lines)


def milestones_of_steps(records) -> set[str]:
    """What a stepper's records have reached: each node's value, its gradient, the update."""
    out = set()
    for r in records:
        if r.phase == "forward":
            out.add(f"stepped={r.node}")
        elif r.phase == "backward":
            out.add(f"stepped={r.node}.backward")
        else:
            out.add("updated")
    return out


def _nested(key: str, value) -> dict:
    head, _, rest = key.partition(".")
    return {head: {rest: value}} if rest else {head: value}
