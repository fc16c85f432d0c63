"""``--set KEY=VALUE``: one override of a graph's training setting, data setting or node
parameter, checked like the file (used by the CLI verbs and by ``gradviz render``). It takes
every key a lesson link takes (``*.init=xavier`` sets every layer's init) and goes through the
same command."""
from __future__ import annotations

import json

from gradviz_core.errors import GradvizError


def apply_set(graph, item: str) -> None:
    """One --set KEY=VALUE: training.KEY, data.KEY, playground.KEY, NODE.PARAM or *.PARAM."""
    from gradviz_core.model.commands import settings_command
    key, eq, text = item.partition("=")
    key = key.strip()
    where, _, name = key.partition(".")
    if not eq or not where or not name:
        raise GradvizError(f"--set {item}: write KEY=VALUE, e.g. training.lr=0.01, data.noise=0.3, "
                           "fc1.units=8 or *.init=xavier")
    try:
        value = json.loads(text)
    except ValueError:
        value = text  # a word: a choice or a name
    if where == "data" and graph.data is None and name != "source":
        raise GradvizError(f"--set {item}: the graph has no data; set data.source first")
    try:
        cmd = settings_command(graph, [(key, value)], f"--set {item}")
        if cmd is not None:
            cmd.do(graph)
    except GradvizError as exc:
        message = str(exc)
        raise GradvizError(message if message.startswith("--set") else f"--set {item}: {message}") from None
