"""How the costs grow with the size of a graph: loading a graph file, one forward and backward
pass stepped node by node (what ``gradviz step`` computes), at 100 to 2,000 nodes.

The graphs are deep MLP chains on random data (Input → (Linear 8 → tanh) × k → Linear 4 →
softmax cross-entropy), written as graph files: every node is a brick the loader builds, the
analysis checks and the stepper runs, as in a big imported model. The window's figures
(opening the graph, one step and its redraw) are ``gradviz.bench.canvas.sizes``.
"""
from __future__ import annotations

import json
import time

SIZES = (100, 500, 1000, 2000)


def chain_doc(n: int) -> dict:
    """A graph file (as a dict) of ``n`` nodes (n ≥ 5, rounded down to an odd count)."""
    from gradviz_core.model.fileformat import FORMAT, VERSION

    nodes = [{"name": "x", "type": "Input", "params": {}, "pos": [0, 0]}]
    edges, prev = [], "x"
    for i in range(max(1, (n - 4) // 2)):
        nodes += [{"name": f"fc{i}", "type": "Linear", "params": {"units": 8}, "pos": [0, 0]},
                  {"name": f"t{i}", "type": "Tanh", "params": {}, "pos": [0, 0]}]
        edges += [{"from": prev, "to": f"fc{i}", "port": "x"}, {"from": f"fc{i}", "to": f"t{i}", "port": "x"}]
        prev = f"t{i}"
    nodes += [{"name": "scores", "type": "Linear", "params": {"units": 4}, "pos": [0, 0]},
              {"name": "y", "type": "Target", "params": {}, "pos": [0, 0]},
              {"name": "loss", "type": "SoftmaxCrossEntropy", "params": {}, "pos": [0, 0]}]
    edges += [{"from": prev, "to": "scores", "port": "x"}, {"from": "scores", "to": "loss", "port": "x"},
              {"from": "y", "to": "loss", "port": "target"}]
    for i, node in enumerate(nodes):  # laid out in rows of ten, as a reader sees a long chain
        node["pos"] = [(i % 10) * 270.0, (i // 10) * 140.0]
    return {"format": FORMAT, "version": VERSION, "title": f"a chain of {len(nodes)} nodes",
            "data": {"source": "random", "n": 16, "shape": [8], "classes": 4},
            "training": {"batch_size": 16}, "nodes": nodes, "edges": edges}


def measure(n: int) -> dict:
    """Seconds to load the ``n``-node chain from its file's text and to step it forward and backward."""
    import numpy as np

    from gradviz_core.model import fileformat
    from gradviz_core.runs.stepper import Stepper

    text = json.dumps(chain_doc(n))
    t = time.perf_counter()
    graph = fileformat.loads(text)
    graph.check()
    load = time.perf_counter() - t
    t = time.perf_counter()
    stepper = Stepper(graph, training=True, dtype=np.float64)
    stepper.run_phase("backward")
    step = time.perf_counter() - t
    return {"nodes": len(graph.nodes()), "load_s": round(load, 3), "step_s": round(step, 3)}


def run(sizes=SIZES) -> list[dict]:
    measure(20)  # imports and first calls, not counted
    return [measure(n) for n in sizes]
