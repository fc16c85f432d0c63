"""Reading a run without touching it: which loss reads the scores, predictions and
decision-boundary grids for raw samples, and ``Probe``, a second executable copy of a run's
graph that computes them (and one sample's activations) on a ``Snapshot`` of the weights,
from any thread."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradviz_core.engine import Program
from gradviz_core.errors import GraphError
from gradviz_core.run import Run

PREDICT_BATCH = 65536


@dataclass(frozen=True)
class Snapshot:
    """The weights (and buffers) of a training run between two steps."""
    step: int
    epoch: int
    weights: dict


def find_head(program: Program):
    """(loss node, node of the scores it reads, node of its target) for the first loss that
    reads scores (for accuracy and predictions), or None."""
    for name in program.order:
        b = program.bricks[name]
        if b.scores_port:
            ins = dict(program.inputs[name])
            return name, ins.get(b.scores_port), ins.get("target")
    return None


def predict_scores(program: Program, splits, dtype, head, X: np.ndarray) -> np.ndarray:
    """The scores (the input of the head loss) for raw samples X, in test mode."""
    if not head or head[1] is None:
        raise GraphError("predict needs a loss node to know which output holds the scores")
    X = splits.preprocessor.transform(np.asarray(X, dtype=np.float64))
    nodes = program.upto(head[1])
    outs = []
    for start in range(0, len(X), PREDICT_BATCH):
        program.feed(X[start:start + PREDICT_BATCH], None, dtype)
        outs.append(program.forward(False, nodes=nodes)[head[1]])
    return np.concatenate(outs) if outs else np.zeros((0,))


def grid_points(bounds: tuple[float, float, float, float], res: int) -> np.ndarray:
    """res×res points over (xmin, xmax, ymin, ymax), rows along y."""
    x0, x1, y0, y1 = bounds
    gx, gy = np.meshgrid(np.linspace(x0, x1, res), np.linspace(y0, y1, res))
    return np.c_[gx.ravel(), gy.ravel()]


class Probe:
    """A second executable copy of a run's graph, for reading the run from another thread:
    predictions, the decision-boundary grid and one sample's activations, on the weights of
    a ``Snapshot``. It never touches the run's bricks."""

    def __init__(self, run: Run) -> None:
        self.graph = run.graph.clone()
        self.program = Program(self.graph)
        self.splits, self.dtype = run.splits, run.dtype
        self.head = find_head(self.program)

    def load(self, snapshot: Snapshot) -> "Probe":
        bricks = self.program.bricks
        for key, value in snapshot.weights.items():
            node, _, w = key.partition("/")
            b = bricks[node]
            (b.weights if w in b.weights else b.buffers)[w] = value
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return predict_scores(self.program, self.splits, self.dtype, self.head, X)

    def grid(self, bounds: tuple[float, float, float, float], res: int = 256) -> np.ndarray:
        return self.predict(grid_points(bounds, res)).reshape(res, res, -1)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every node's output for raw samples x (N, ...), in test mode; the nodes that need
        labels (the targets and what reads them) are left out."""
        import networkx as nx
        x = self.splits.preprocessor.transform(np.asarray(x, dtype=np.float64))
        self.program.feed(x, None, self.dtype)
        labels = {n for n, b in self.program.bricks.items() if b.feeds == "y"}
        needs = labels.union(*(nx.descendants(self.graph.g, n) for n in labels))
        return self.program.forward(False, nodes=[n for n in self.program.order if n not in needs])
