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

from gradviz_core.errors import GradvizError
from gradviz_core.model.commands import Command, settings_command
from gradviz_core.model.graph import Graph

ACTIONS = ("set", "train", "step", "play", "open", "check")

#: what a checkpoint can wait for (``- [ ] [do this](gradviz:check?stepped=f.backward)``):
#: the stepper computed a node's value (``stepped=NODE``) or its gradient
#: (``stepped=NODE.backward``), applied the update (``updated``); a training run finished
#: (``trained``); the playground's race ran to its end (``raced``); a numerical gradient
#: check ran (``checked``)
MILESTONES = ("stepped", "updated", "trained", "raced", "checked")


def catalogue(folder) -> list[tuple[str, object, str]]:
    """[(title, path, the note's first line of prose)] of the graph files in ``folder``: the
    lessons first, in the lectures' order ("Lesson 3: …"), then the other examples by title.
    Files that do not load are left out."""
    import re
    from pathlib import Path

    from gradviz_core.model import fileformat
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
