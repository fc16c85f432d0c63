"""A graph's weights: built to fit the shapes (seeded per node), taken from arrays (a file, a
run, an import), carried across a parameter change where they still fit, and handed out as
``{"node/name": array}``, the .npz layout.
"""
from __future__ import annotations

import numpy as np

from gradviz_core.errors import GraphError
from gradviz_core.model.brick import Brick
from gradviz_core.model.init import node_rng


def carry_weights(graph, name: str, old: Brick, new: Brick) -> None:
    if not old.weights:
        return
    ins = graph.input_shapes(name)
    if any(s is None for s in ins.values()):
        return
    try:
        want = new.weight_shapes(ins)
    except Exception:  # noqa: BLE001 - the new setting does not fit: analyze() reports it
        return
    new.weights = {k: v for k, v in old.weights.items() if want.get(k) == v.shape}
    if new.weights.keys() == old.weights.keys() == want.keys():
        new.buffers = dict(old.buffers)
    new.dtype = old.dtype


def put_weights(graph, arrays: dict[str, np.ndarray]) -> list[str]:
    """Make ``arrays`` ({"node/name": array}) the document's weights and buffers, keeping
    those that fit the graph as it is now. Returns the keys taken."""
    bricks = graph.bricks()
    for b in bricks.values():
        b.weights, b.buffers = {}, {}
    taken, buffers = [], []
    for key, value in arrays.items():
        node, _, wname = key.partition("/")
        b = bricks.get(node)
        if b is None or graph.shapes.get(node) is None:
            continue
        try:
            want = b.weight_shapes(graph.input_shapes(node))
        except Exception:  # noqa: BLE001 - a node that does not fit takes no weights
            continue
        if wname in want:
            if want[wname] == np.shape(value):
                b.weights[wname] = np.asarray(value)
                taken.append(key)
        else:
            buffers.append((b, key, wname, np.asarray(value)))
    for b, key, wname, value in buffers:  # running statistics, beside the weights they go with
        if any(w.shape == value.shape for w in b.weights.values()):
            b.buffers[wname] = value
            taken.append(key)
    return taken


def build(graph, dtype=np.float64) -> None:
    """Make sure every node has weights that fit its input shapes, in ``dtype``."""
    from gradviz_core.model.analysis import check
    check(graph)
    bricks = graph.bricks()
    for name in graph.order:
        b = bricks[name]
        b.astype(dtype)
        b.ensure_weights(graph.input_shapes(name), lambda n=name: node_rng(graph.seed, n), dtype)
        b.astype(dtype)
    for b in bricks.values():
        if b.acts_on_weights:
            b.bind(bricks)


def weights(graph) -> dict[str, np.ndarray]:
    """Every weight and buffer as ``{"node/name": array}`` (the .npz layout)."""
    out = {}
    for n, b in graph.bricks().items():
        for store in (b.weights, b.buffers):
            for k, v in store.items():
                out[f"{n}/{k}"] = v
    return out


def set_weights(graph, arrays: dict[str, np.ndarray], strict: bool = True) -> None:
    bricks = graph.bricks()
    for key, value in arrays.items():
        node, _, wname = key.partition("/")
        b = bricks.get(node)
        store = None if b is None else (b.weights if wname in b.weights else
                                        b.buffers if wname in b.buffers else None)
        if store is None:
            if strict:
                raise GraphError(f"weights: no node/weight {key!r} in this graph", node=node)
            continue
        if store[wname].shape != np.shape(value):
            raise GraphError(f"weights: {key} has shape {np.shape(value)} but the graph needs "
                             f"{store[wname].shape}", node=node)
        store[wname] = np.asarray(value, dtype=store[wname].dtype).copy()
