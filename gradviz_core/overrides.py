"""``--set KEY=VALUE``: one override of a graph's training setting, data setting or node
parameter, checked like the file (used by the CLI verbs and by ``gradviz render``)."""
from __future__ import annotations

import json

from gradviz_core.errors import GradvizError
from gradviz_core.settings import did_you_mean


def apply_set(graph, item: str) -> None:
    """One --set KEY=VALUE: a training setting, a data setting or a node parameter."""
    key, eq, text = item.partition("=")
    where, _, name = key.strip().partition(".")
    if not eq or not where or not name:
        raise GradvizError(f"--set {item}: write KEY=VALUE, e.g. training.lr=0.01, data.noise=0.3 or "
                           "fc1.units=8")
    try:
        value = json.loads(text)
    except ValueError:
        value = text  # a word: a choice or a name
    try:
        if where == "training":
            graph.set_training(name, value)
        elif where == "data":
            if graph.data is None and name != "source":
                raise GradvizError("the graph has no data; set data.source first")
            graph.set_data({**(graph.data or {}), name: value})
        elif where in graph:
            graph.set_param(where, name, value)
        else:
            raise GradvizError(f"there is no node named {where!r} (use training.KEY, data.KEY or "
                               f"NODE.PARAM){did_you_mean(where, graph.nodes())}")
    except GradvizError as exc:
        raise GradvizError(f"--set {item}: {exc}") from None
