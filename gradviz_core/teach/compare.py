"""Runs kept for comparison: what defines a run (its settings, flattened), its record, and
labels that name only what differs between the runs ("lr=0.01", "fc1.init=he").

A run record is plain JSON, so a graph saves its runs with it (``graph.runs``).
"""
from __future__ import annotations

import json

from gradviz_core.model.graph import Graph
from gradviz_core.params import to_json_value
from gradviz_core.model.settings import TRAINING

#: settings that do not change what a run learns, so they never label one
NOT_DEFINING = {"training.diagnostics_every"}


def run_settings(graph: Graph) -> dict:
    """Every setting that defines a run of ``graph``, flattened: the training settings (with
    their defaults), the data section, every node's parameters and the graph's seed."""
    out = {f"training.{s.name}": graph.training.get(s.name, s.default) for s in TRAINING}
    for key, value in (graph.data or {}).items():
        out[f"data.{key}"] = value
    for name in graph.nodes():
        b = graph.brick(name)
        out[f"{name}.type"] = b.type_name
        for spec in b.params:
            out[f"{name}.{spec.name}"] = to_json_value(spec, b.config[spec.name])
    out["seed"] = graph.seed
    return {k: _plain(v) for k, v in out.items() if k not in NOT_DEFINING}


def _plain(value):
    """JSON-safe (tuples as lists, arrays as lists)."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def record(graph: Graph, result, number: int, training: dict | None = None) -> dict:
    """A finished run as JSON: its settings (``training``: the values it ended with, after any
    change made while it ran), its epoch records, how it ended, its figures."""
    history = [{k: v for k, v in r.items() if k != "kind"} for r in result.history]
    settings = run_settings(graph)
    for key, value in (training or {}).items():
        if f"training.{key}" in settings:
            settings[f"training.{key}"] = _plain(value)
    return {"label": f"run {number}", "settings": settings, "history": _plain(history),
            "status": result.status, "summary": _plain(result.summary())}


def short(key: str) -> str:
    return key.removeprefix("training.")


def labels(runs: list[dict]) -> list[str]:
    """For each run, the settings whose values differ among the runs, as "key=value, …"
    (the first three); runs that differ in nothing get their number."""
    keys = sorted({k for r in runs for k in r["settings"]})
    differ = [k for k in keys if len({json.dumps(r["settings"].get(k)) for r in runs}) > 1]
    # a node present in one run only differs by its type; its parameters would only repeat that
    differ = [k for k in differ if not (k.count(".") == 1 and not k.startswith(("training.", "data."))
                                        and f"{k.split('.')[0]}.type" in differ and not k.endswith(".type"))]
    out = []
    for i, r in enumerate(runs, 1):
        parts = [f"{short(k)}={_fmt(r['settings'].get(k))}" for k in differ[:3]]
        if len(differ) > 3:
            parts.append("…")
        out.append(", ".join(parts) if parts else f"run {i}")
    # runs with the same settings: told apart by their number
    return [f"{label} (run {i})" if out.count(label) > 1 else label for i, label in enumerate(out, 1)]


def _fmt(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
