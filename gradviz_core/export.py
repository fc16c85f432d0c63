"""``gradviz export FILE --to pytorch -o model.py``: a graph as a self-contained PyTorch file.

The file defines ``Model`` (an ``nn.Module`` with one layer per node, in the graph's order),
carries the graph's weights (the trained ones if it has them, else its seeded fresh ones,
so gradviz and PyTorch start from the same point), the data the graph trains on, and a
training loop with the graph's loss, L2 regularizers and optimizer. It needs PyTorch and
NumPy only.

What it exports today: a chain of layers that declare their PyTorch counterpart
(``Brick.torch_layer``: Linear, Conv2D, max pooling, Flatten, the activations) from the
Input to the scores of a softmax cross-entropy loss, with L2 regularizers. Anything else is
refused with the node and the reason. Conventions that differ: gradviz's Linear W is (D, K)
(PyTorch's weight is its transpose, Wᵀ); L2 here is ½λ‖W‖², added to the loss as written.
"""
from __future__ import annotations

import base64
import dataclasses
import io

import numpy as np

from gradviz_core.errors import GradvizError, GraphError
from gradviz_core.graph import Graph
from gradviz_core.run import Run

#: losses the export knows, with their PyTorch expression of (scores, labels)
LOSSES = {"SoftmaxCrossEntropy": "F.cross_entropy(scores, y)"}
OPTIMIZERS = {"sgd": "torch.optim.SGD(model.parameters(), lr={lr}, momentum={momentum})",
              "momentum": "torch.optim.SGD(model.parameters(), lr={lr}, momentum={momentum})",
              "nesterov": "torch.optim.SGD(model.parameters(), lr={lr}, momentum={momentum}, nesterov=True)",
              "adagrad": "torch.optim.Adagrad(model.parameters(), lr={lr}, eps={eps})",
              "rmsprop": "torch.optim.RMSprop(model.parameters(), lr={lr}, alpha={decay}, eps={eps})",
              "adam": "torch.optim.Adam(model.parameters(), lr={lr}, betas=({beta1}, {beta2}), eps={eps})"}


def plan(graph: Graph) -> dict:
    """The chain to export: {"layers": [(node, torch class, kwargs)], "loss": node, "target":
    node, "regs": [(node, λ)]}; GradvizError naming what cannot be."""
    graph.check()
    g = graph.g
    sources = [n for n in graph.order if graph.brick(n).feeds == "X"]
    if len(sources) != 1:
        raise GradvizError("export to PyTorch needs exactly one Input node")
    losses = [n for n in graph.order if graph.brick(n).family == "Losses"]
    if len(losses) != 1 or graph.brick(losses[0]).type_name not in LOSSES:
        known = ", ".join(LOSSES)
        raise GradvizError(f"export to PyTorch needs one loss of a kind it knows ({known}); this graph has "
                           + (", ".join(f"{n} ({graph.brick(n).type_name})" for n in losses) or "none"))
    loss = losses[0]
    ins = graph.inputs_of(loss)
    layers, node = [], ins["x"]
    while node != sources[0]:
        b = graph.brick(node)
        layer = b.torch_layer(graph.input_shapes(node)) if b.input_ports() == ("x",) else None
        if layer is None:
            raise GraphError(f"{node} ({b.type_name}): no PyTorch layer for it in the export yet; "
                               "export handles a chain of layers (Linear, Conv2D, pooling, Flatten, "
                               "activations) from the Input to the loss", node=node)
        if g.out_degree(node) > 1:
            raise GraphError(f"{node}: its output feeds several nodes; export handles a chain", node=node)
        layers.append((node, *layer))
        node = graph.inputs_of(node)["x"]
    layers.reverse()
    regs = []
    for n in graph.order:
        b = graph.brick(n)
        if b.family != "Regularizers":
            continue
        if b.type_name != "L2":
            raise GraphError(f"{n} ({b.type_name}): only L2 regularizers are exported yet", node=n)
        regs.append((n, float(b.config["lam"])))
    return {"layers": layers, "loss": loss, "target": ins["target"], "regs": regs}


def torch_state(run: Run, layers) -> dict[str, np.ndarray]:
    """The run's weights (the graph's, or its seeded fresh ones) in PyTorch's names and layouts."""
    state = {}
    for node, cls, _ in layers:
        b = run.bricks[node]
        for w, value in b.weights.items():
            name = {"W": "weight", "b": "bias"}.get(w, w)
            value = np.asarray(value, np.float32)
            state[f"{node}.{name}"] = value.T.copy() if cls == "Linear" and w == "W" else value
    return state


def _pack(arrays: dict[str, np.ndarray]) -> str:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def to_pytorch(graph: Graph) -> str:
    p = plan(graph)
    run = Run(graph, np.float64, weights="document" if graph.weights() else "fresh", kind="export")
    state = torch_state(run, p["layers"])
    splits = run.splits
    data = {"X_train": splits.train.X.astype(np.float32), "y_train": splits.train.y.astype(np.int64)}
    for name in ("val", "test"):
        ds = getattr(splits, name)
        if ds is not None and len(ds):
            data[f"X_{name}"], data[f"y_{name}"] = ds.X.astype(np.float32), ds.y.astype(np.int64)
    s = dataclasses.asdict(run.settings)
    opt = OPTIMIZERS.get(s["optimizer"])
    if opt is None:
        raise GradvizError(f"training.optimizer {s['optimizer']!r} has no PyTorch counterpart in the export yet")
    layer_lines = "\n".join(f"        self.{n} = nn.{cls}({', '.join(f'{k}={v!r}' for k, v in kw.items())})"
                            for n, cls, kw in p["layers"])
    chain = "\n".join(f"        x = self.{n}(x)" for n, _, _ in p["layers"])
    reg_terms = []
    for n, lam in p["regs"]:  # the weights each regularizer reaches, as the run binds them
        reg = run.bricks[n]
        reg.bind(run.bricks)
        reg_terms += [f"0.5 * {lam!r} * (model.{layer}.{ {'W': 'weight', 'b': 'bias'}.get(w, w) } ** 2).sum()"
                      for layer, _, w in reg.targets]
    reg = " + ".join(reg_terms) if reg_terms else "0.0"
    title = graph.title or "a gradviz graph"
    return f'''"""{title}: exported from gradviz (gradviz export --to pytorch).

Self-contained: PyTorch and NumPy only. ``Model`` is the graph's chain of layers; WEIGHTS
holds the graph's weights in PyTorch's layout (gradviz's Linear W is (D, K): the weight
here is its transpose); DATA the samples it trains on, preprocessed as gradviz does.
Run it to train with the graph's settings: python this_file.py
"""
import base64
import io

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

WEIGHTS = "{_pack(state)}"
DATA = "{_pack(data)}"


def _unpack(text):
    return dict(np.load(io.BytesIO(base64.b64decode(text))))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
{layer_lines}

    def forward(self, x):
{chain}
        return x


def load_weights(model):
    state = {{k: torch.from_numpy(v) for k, v in _unpack(WEIGHTS).items()}}
    model.load_state_dict(state)
    return model


def loss_fn(model, scores, y):
    """The graph's objective: {graph.brick(p["loss"]).type_name} plus its L2 terms (½λ‖W‖²)."""
    return {LOSSES[graph.brick(p["loss"]).type_name]} + {reg}


def train(epochs={s["epochs"]}, batch_size={s["batch_size"] or "None"}, seed={s["seed"]}):
    data = _unpack(DATA)
    X, y = torch.from_numpy(data["X_train"]), torch.from_numpy(data["y_train"])
    model = load_weights(Model())
    optimizer = {opt.format(**{k: repr(v) for k, v in s.items()})}
    g = torch.Generator().manual_seed(seed)
    n = len(X)
    bs = batch_size or n
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n, generator=g)
        total = 0.0
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            optimizer.zero_grad()
            loss = loss_fn(model, model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            acc = float((model(X).argmax(1) == y).float().mean())
        print(f"epoch {{epoch}}: loss {{total / n:.4f}}, training accuracy {{100 * acc:.1f}}%")
    if "X_test" in data:
        with torch.no_grad():
            acc = float((model(torch.from_numpy(data["X_test"])).argmax(1) == torch.from_numpy(data["y_test"]))
                        .float().mean())
        print(f"test accuracy {{100 * acc:.1f}}%")
    return model


if __name__ == "__main__":
    train()
'''
