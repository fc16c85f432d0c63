"""Reading a run without touching it: which loss reads the scores, predictions and
decision-boundary grids for raw samples, and ``Probe``, a second executable copy of a run's
graph that computes them (and one sample's activations) on a ``Snapshot`` of the weights,
from any thread."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradviz_core.runs.engine import Program
from gradviz_core.errors import GraphError
from gradviz_core.runs.run import Run

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


def truth_of(program: Program, head, ds) -> np.ndarray | None:
    """The class labels the head loss is scored against (one column of a label table)."""
    target = head[2] if head else None
    b = program.bricks.get(target) if target else None
    if b is None or b.feeds != "y":
        return None
    col = b.config.get("column", -1)
    return ds.y if ds.y.ndim == 1 else (ds.y[:, col] if col >= 0 else None)


def predict_scores(program: Program, splits, dtype, head, X: np.ndarray, prepared: bool = False) -> np.ndarray:
    """The scores (the input of the head loss) for raw samples X (or, ``prepared``, samples
    already preprocessed, as a split holds them), in test mode."""
    if not head or head[1] is None:
        raise GraphError("predict needs a loss node to know which output holds the scores")
    if not prepared:
        X = splits.preprocessor.transform(np.asarray(X, dtype=np.float64))
    nodes = program.upto(head[1])
    chain = mlp_chain(program, nodes)
    if chain is not None:  # a small MLP (the 2D lessons' boundary grids): one fused pass
        from gradviz_core import kernels
        return kernels.active().mlp_forward(np.ascontiguousarray(X, dtype=dtype), *chain)
    outs = []
    for start in range(0, len(X), PREDICT_BATCH):
        program.feed(X[start:start + PREDICT_BATCH], None, dtype)
        outs.append(program.forward(False, nodes=nodes)[head[1]])
    return np.concatenate(outs) if outs else np.zeros((0,))


def mlp_chain(program: Program, nodes: list[str]):
    """(weights, biases, activation codes, leaky slopes) when ``nodes`` (from the Input to the
    scores) are a plain chain of Linear layers, each followed by at most one activation that
    the fused forward knows; else None."""
    from gradviz_core.kernels.reference import MLP_ACTS
    bricks = program.bricks
    ws, bs, acts, alphas = [], [], [], []
    prev = None
    for name in nodes:
        b = bricks[name]
        ins = program.inputs[name]
        if b.feeds == "X":
            if prev is not None:
                return None
        elif len(ins) != 1 or ins[0][1] != prev:
            return None
        elif b.fused_layer:
            w = b.weights["W"]
            ws.append(w)
            bs.append(b.weights.get("b", np.zeros(w.shape[1], dtype=w.dtype)))
            acts.append(0)
            alphas.append(0.0)
        elif b.fused_act in MLP_ACTS and ws and acts[-1] == 0:
            acts[-1] = MLP_ACTS[b.fused_act]
            alphas[-1] = b.fused_alpha()
        else:
            return None
        prev = name
    return (ws, bs, acts, alphas) if ws else None


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

    def predict(self, X: np.ndarray, prepared: bool = False) -> np.ndarray:
        return predict_scores(self.program, self.splits, self.dtype, self.head, X, prepared)

    def grid(self, bounds: tuple[float, float, float, float], res: int = 256) -> np.ndarray:
        return self.predict(grid_points(bounds, res)).reshape(res, res, -1)

    def truth(self, ds) -> np.ndarray | None:
        return truth_of(self.program, self.head, ds)

    def input_gradient(self, x: np.ndarray, cls: int | None = None) -> tuple[np.ndarray, int, np.ndarray]:
        """(∂score_cls/∂x, the class, the scores) for one sample x as the graph sees it (a
        split's sample, preprocessed), in test mode: the saliency map's gradient. ``cls``
        defaults to the predicted class."""
        if not self.head or self.head[1] is None:
            raise GraphError("a saliency map needs a loss node to know which output holds the scores")
        prog, scores_node = self.program, self.head[1]
        prog.feed(np.asarray(x, dtype=np.float64)[None], None, self.dtype)
        nodes = prog.upto(scores_node)
        values = prog.forward(False, nodes=nodes)
        scores = np.asarray(values[scores_node])
        cls = int(np.argmax(scores[0])) if cls is None else int(cls)
        seed = np.zeros_like(scores)
        seed.reshape(len(seed), -1)[0, cls] = 1.0
        grads = {scores_node: seed}
        for name in reversed(nodes):
            g, b = grads.get(name), prog.bricks[name]
            if g is None or not b.input_ports():
                continue
            for port, d in b.backward(g).items():
                src = dict(prog.inputs[name]).get(port)
                if d is not None and src is not None:
                    grads[src] = grads[src] + d if src in grads else d
        source = next(n for n in nodes if prog.bricks[n].feeds == "X")
        return np.asarray(grads.get(source, np.zeros_like(values[source])))[0], cls, scores[0]

    def activations(self, x: np.ndarray, prepared: bool = False) -> dict[str, np.ndarray]:
        """Every node's output for raw samples x (N, ...) (or, ``prepared``, preprocessed ones),
        in test mode; the nodes that need labels (the targets and what reads them) are left out."""
        import networkx as nx
        x = np.asarray(x, dtype=np.float64)
        if not prepared:
            x = self.splits.preprocessor.transform(x)
        self.program.feed(x, None, self.dtype)
        labels = {n for n, b in self.program.bricks.items() if b.feeds == "y"}
        needs = labels.union(*(nx.descendants(self.graph.g, n) for n in labels))
        return self.program.forward(False, nodes=[n for n in self.program.order if n not in needs])
