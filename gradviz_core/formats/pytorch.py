"""``gradviz export FILE --to pytorch -o model.py``: a graph as a self-contained PyTorch file.

The file defines ``Model``, an ``nn.Module`` whose ``forward`` computes every node of the
graph in its order, one line per node, and returns them by name; ``objective`` adds the
graph's losses and regularizers as gradviz does. It carries the graph's weights (the
trained ones if it has them, else its seeded fresh ones, so gradviz and PyTorch start from
the same point), the data the graph trains on, and ``train()``, a loop with the graph's
optimizer and settings. It needs PyTorch and NumPy only.

Every node says how it is written in PyTorch (``Brick.torch_module`` for the nodes that
hold weights or state, ``Brick.torch_expr`` for the others, ``torch_penalty`` for the
regularizers), so layers, gate circuits, every loss, multi-task sums, BatchNorm and Dropout
export alike; a node without a counterpart is refused by name. Conventions kept: gradviz's
Linear W is (D, K) (PyTorch's weight is its transpose); the losses are gradviz's (square
loss ½ and summed per sample, MSE over every element, each averaged over the batch);
BatchNorm's running averages and biased variance; Dropout's two modes; L2 is ½λ‖W‖².
"""
from __future__ import annotations

import base64
import dataclasses
import io
import keyword

import numpy as np

from gradviz_core.errors import GraphError
from gradviz_core.model.graph import Graph
from gradviz_core.runs.run import Run

OPTIMIZERS = {"sgd": "torch.optim.SGD(params, lr={lr}, momentum={momentum})",
              "momentum": "torch.optim.SGD(params, lr={lr}, momentum={momentum})",
              "nesterov": "torch.optim.SGD(params, lr={lr}, momentum={momentum}, nesterov=True)",
              "adagrad": "torch.optim.Adagrad(params, lr={lr}, eps={eps})",
              "rmsprop": "torch.optim.RMSprop(params, lr={lr}, alpha={decay}, eps={eps})",
              "adam": "torch.optim.Adam(params, lr={lr}, betas=({beta1}, {beta2}), eps={eps})"}

#: the exported file's own pieces: gradviz's conventions where PyTorch's differ
LIBRARY = '''
def _n(x):
    return x.shape[0] if x.dim() else 1


def square_loss(x, d):
    """(1/N) Σ ½ (x − d)²"""
    return 0.5 * ((x - d.reshape(x.shape).to(x.dtype)) ** 2).sum() / _n(x)


def mse_loss(x, d):
    """the mean of (x − d)² over every element"""
    return ((x - d.reshape(x.shape).to(x.dtype)) ** 2).mean()


def binary_cross_entropy(p, t):
    """−(1/N) Σ [t ln p + (1 − t) ln(1 − p)]"""
    t = t.reshape(p.shape).to(p.dtype)
    return -(t * torch.log(p) + (1 - t) * torch.log1p(-p)).sum() / _n(p)


def bce_with_logits(x, t):
    """(1/N) Σ [max(x, 0) − x·t + ln(1 + e^(−|x|))]"""
    t = t.reshape(x.shape).to(x.dtype)
    return (torch.clamp(x, min=0) - x * t + torch.log1p(torch.exp(-x.abs()))).sum() / _n(x)


def logistic_loss(x, c):
    """(1/N) Σ ln(1 + e^(−c·x)), c = ±1"""
    return F.softplus(-c.reshape(x.shape).to(x.dtype) * x).sum() / _n(x)


def hinge_loss(x, c, m):
    """(1/N) Σ max(0, m − c·x), c = ±1"""
    return torch.clamp(m - c.reshape(x.shape).to(x.dtype) * x, min=0).sum() / _n(x)


def softmax_cross_entropy(s, t):
    """−(1/N) Σ_n ln softmax(s)[n, y_n], for class indices or rows of (soft) targets"""
    if t.dtype in (torch.int64, torch.int32):
        return F.cross_entropy(s, t)
    return -(t * F.log_softmax(s, dim=1)).sum() / s.shape[0]


def max_margin_loss(s, t, m, form):
    """sum: (1/N) Σ_n Σ_(j≠y) max(0, s_j − s_y + m);  max: only the worst wrong class"""
    if t.dim() == 2:
        t = t.argmax(1)
    t = t.long()
    rows = torch.arange(s.shape[0])
    margins = s - s[rows, t][:, None] + m
    if form == "max":
        margins = margins.index_put((rows, t), torch.tensor(float("-inf"), dtype=s.dtype))
        return torch.clamp(margins.max(1).values, min=0).sum() / s.shape[0]
    margins = margins.index_put((rows, t), torch.tensor(0.0, dtype=s.dtype))
    return torch.clamp(margins, min=0).sum() / s.shape[0]


class Value(nn.Module):
    """A number or tensor typed into the graph: a parameter when trainable."""

    def __init__(self, value, trainable):
        super().__init__()
        value = torch.tensor(value, dtype=DTYPE)
        if trainable:
            self.value = nn.Parameter(value)
        else:
            self.register_buffer("value", value)

    def forward(self):
        return self.value


class BatchNorm(nn.Module):
    """gradviz's BatchNorm: running = momentum·running + (1 − momentum)·batch, with the batch's
    biased variance (torch.nn.BatchNorm uses 1 − momentum and the unbiased variance there)."""

    def __init__(self, num_features, momentum, eps):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(num_features, dtype=DTYPE))
        self.bias = nn.Parameter(torch.zeros(num_features, dtype=DTYPE))
        self.register_buffer("running_mean", torch.zeros(num_features, dtype=DTYPE))
        self.register_buffer("running_var", torch.ones(num_features, dtype=DTYPE))

    def forward(self, x):
        x3 = x.reshape(x.shape[0], x.shape[1], -1)
        if self.training:
            mean, var = x3.mean((0, 2)), x3.var((0, 2), unbiased=False)
            with torch.no_grad():
                m = self.momentum
                self.running_mean.mul_(m).add_((1 - m) * mean)
                self.running_var.mul_(m).add_((1 - m) * var)
        else:
            mean, var = self.running_mean, self.running_var
        xhat = (x3 - mean[:, None]) / torch.sqrt(var[:, None] + self.eps)
        return (self.weight[:, None] * xhat + self.bias[:, None]).reshape(x.shape)


class Dropout(nn.Module):
    """Drops each unit with probability p in training. inverted: the kept units are scaled by
    1/(1 − p) in training; test_scaling: the output is scaled by (1 − p) at test time."""

    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if self.training:
            keep = (torch.rand_like(x) >= self.p).to(x.dtype)
            return x * keep / (1 - self.p) if self.mode == "inverted" else x * keep
        return x if self.mode == "inverted" else x * (1 - self.p)
'''


_RESERVED = {"forward", "training", "objective", "state_dict", "parameters", "modules", "children",
             "train", "eval", "to", "double", "float", "cuda", "cpu", "apply", "buffers", "zero_grad",
             "register_buffer", "add_module", "named_parameters", "type", "half"}


def _attr(name: str, taken: set[str]) -> str:
    out = name.replace("-", "_")
    while out in taken or out in _RESERVED or keyword.iskeyword(out):
        out += "_"
    taken.add(out)
    return out


def plan(graph: Graph) -> dict:
    """What the file holds: {"lines": [(node, code)], "modules": [(node, attr, class, kwargs)],
    "objective": [node], "scores": node | None, "predict": expr | None, "regs": [...]};
    GradvizError naming a node without a PyTorch counterpart."""
    graph.check()
    run = Run(graph, np.float64, weights="document" if graph.weights() else "fresh", kind="export")
    bricks = run.bricks
    taken: set[str] = set()
    modules, lines = [], []
    attr: dict[str, str] = {}
    for n in graph.order:
        b = bricks[n]
        if b.acts_on_weights:
            continue  # the regularizers: below, once every layer is known
        shapes = graph.input_shapes(n)
        ins = {p: f'v["{s}"]' for p, s in graph.inputs_of(n).items()}
        module = b.torch_module(shapes)
        if module is not None:
            attr[n] = a = _attr(n, taken)
            modules.append((n, a, *module))
            lines.append((n, f"self.{a}({ins['x']})" if ins else f"self.{a}()"))
            continue
        try:
            expr = b.torch_expr(ins, shapes)
        except (KeyError, IndexError):
            expr = None
        if expr is None:
            raise GraphError(f"{n} ({b.type_name}): no PyTorch counterpart for it in the export", node=n)
        lines.append((n, expr))
    regs, constraints = [], []
    for n in graph.order:
        b = bricks[n]
        if not b.acts_on_weights:
            continue
        b.bind(bricks)
        refs = []
        for layer, target, w in b.targets:
            if layer not in attr:
                raise GraphError(f"{n} ({b.type_name}): it reaches {layer}, which the export holds no "
                                 "weights for", node=n)
            refs.append(f"self.{attr[layer]}.{target.torch_names.get(w, w)}")
            axes = getattr(target, "fan_in_axes", {}).get(w)
            if b.type_name == "MaxNorm" and axes is not None:
                if w in target.torch_transposed:  # the same rows/columns in PyTorch's layout
                    axes = tuple(target.weights[w].ndim - 1 - a for a in axes)
                constraints.append((refs[-1].replace("self.", "model.", 1), axes, float(b.config["c"])))
        terms = [b.torch_penalty.format(w=r, **b.config) for r in refs if b.torch_penalty != "0"]
        regs.append((n, " + ".join(terms) if terms else "torch.zeros(())"))
    objective = [n for n in run.program.objective]
    loss = next((n for n in graph.order if bricks[n].family == "Losses" and bricks[n].scores_port), None)
    scores = graph.inputs_of(loss).get(bricks[loss].scores_port) if loss else None
    predict = getattr(bricks[loss], "torch_predict", None) if loss else None
    target = bricks.get(graph.inputs_of(loss).get("target")) if loss else None
    column = target.config.get("column", -1) if target is not None and target.feeds == "y" else None
    if column is None:
        predict = None  # an accuracy needs class labels to compare with
    return {"column": column, "run": run, "lines": lines, "modules": modules, "regs": regs, "constraints": constraints,
            "objective": objective, "scores": scores, "predict": predict, "attr": attr}


def torch_state(run: Run, modules) -> dict[str, np.ndarray]:
    """The run's weights and buffers in PyTorch's names and layouts, as float32."""
    state = {}
    for node, a, cls, kw in modules:
        b = run.bricks[node]
        held = {**b.weights, **b.buffers}
        if cls == "Value" and not held:  # a constant: its typed value, kept as a buffer
            held = {"value": np.asarray(kw["value"])}
        for w, value in held.items():
            value = np.asarray(value, np.float32)
            state[f"{a}.{b.torch_names.get(w, w)}"] = value.T.copy() if w in b.torch_transposed else value
    return state


def _pack(arrays: dict[str, np.ndarray]) -> str:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _labels(y: np.ndarray) -> np.ndarray:
    return y.astype(np.int64) if y.dtype.kind in "iub" else y.astype(np.float32)


def _kwargs(kw: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


def to_pytorch(graph: Graph) -> str:
    p = plan(graph)
    run = p["run"]
    state = torch_state(run, p["modules"])
    data = {}
    if run.splits is not None:
        splits = run.splits
        data = {"X_train": splits.train.X.astype(np.float32), "y_train": _labels(splits.train.y)}
        for name in ("val", "test"):
            ds = getattr(splits, name)
            if ds is not None and len(ds):
                data[f"X_{name}"], data[f"y_{name}"] = ds.X.astype(np.float32), _labels(ds.y)
    s = dataclasses.asdict(run.settings)
    opt = OPTIMIZERS[s["optimizer"]]
    if s["optimizer"] == "sgd" and not s["momentum"]:
        opt = "torch.optim.SGD(params, lr={lr})"
    module_lines = "\n".join(f"        self.{a} = {cls}({_kwargs(kw)})" for _, a, cls, kw in p["modules"])
    body = "\n".join(f'        v["{n}"] = {code}' for n, code in p["lines"])
    body += "".join(f'\n        v["{n}"] = {code}' for n, code in p["regs"])
    objective = " + ".join(f'v["{n}"]' for n in p["objective"]) or "torch.zeros(())"
    frozen = [p["attr"][n] for n in s["freeze"] if n in p["attr"]]
    constraints = "".join(
        f"\n        {ref}.mul_(torch.clamp({c!r} / {ref}.norm(dim={axes!r}, keepdim=True).clamp_min(1e-12), max=1.0))"
        for ref, axes, c in p["constraints"])
    predict = p["predict"].format(s="s") if p["predict"] else None
    title = graph.title or "a gradviz graph"
    notes = []
    if s["schedule"] != "constant":
        notes.append(f"# gradviz's learning-rate schedule ({s['schedule']}) is not written here: η stays {s['lr']}.")
    if run.splits is not None and run.splits.augment:
        notes.append("# gradviz's data augmentation is not written here.")
    return f'''"""{title}: exported from gradviz (gradviz export --to pytorch).

Self-contained: PyTorch and NumPy only. ``Model.forward`` computes every node of the graph,
in its order, and returns the values by node name; ``Model.objective`` is the number
training minimizes (the graph's losses and regularizers). WEIGHTS holds the graph's weights
in PyTorch's layout (gradviz's Linear W is (D, K): the weight here is its transpose); DATA
the samples it trains on, preprocessed as gradviz does.
Run it to train with the graph's settings: python this_file.py
"""
import base64
import io

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPE = torch.float32
WEIGHTS = "{_pack(state)}"
DATA = "{_pack(data)}"
#: the node whose output the loss scores (None: the graph has no classifier head)
SCORES = {p["scores"]!r}
#: the column of the label table that SCORES is compared with (-1: the labels are one column)
COLUMN = {p["column"]!r}


def _unpack(text):
    return dict(np.load(io.BytesIO(base64.b64decode(text))))

{LIBRARY}

class Model(nn.Module):
    def __init__(self):
        super().__init__()
{module_lines or "        pass"}

    def forward(self, x=None, y=None):
        """Every node's value, by name. x: a batch of samples; y: their labels."""
        v = {{}}
{body}
        return v

    def objective(self, v):
        """What training minimizes: {", ".join(p["objective"]) or "nothing"}."""
        return {objective}


def predict(s):
    """Class predictions from the scores, as the graph's loss makes them (None: regression)."""
    return {predict or "None"}


def accuracy(model, X, y):
    model.eval()
    with torch.no_grad():
        labels = y if COLUMN is None or COLUMN < 0 else y[:, COLUMN]
        return float((predict(model(X, y)[SCORES]) == labels).float().mean())


def constrain(model):
    """After each step: the constraints (max-norm) on the weights."""
    with torch.no_grad():
        pass{constraints}


def load_weights(model):
    state = {{k: torch.from_numpy(v) for k, v in _unpack(WEIGHTS).items()}}
    model.load_state_dict(state)
    return model


def train(epochs={s["epochs"]}, batch_size={s["batch_size"] or "None"}, seed={s["seed"]}):
    {chr(10).join(notes) + chr(10) + "    " if notes else ""}data = _unpack(DATA)
    model = load_weights(Model())
    for name in {frozen!r}:  # training.freeze
        getattr(model, name).requires_grad_(False)
    params = [q for q in model.parameters() if q.requires_grad]
    if not params:  # nothing trainable (a circuit of constants): its value, and its gradients
        values = {{name: m.value for name, m in model.named_modules() if isinstance(m, Value)}}
        for t in values.values():
            t.requires_grad_(True)
        objective = model.objective(model())
        objective.backward()
        print(f"objective {{objective.item():.6g}} (nothing in this graph is trainable)")
        for name, t in values.items():
            print(f"d objective / d {{name}} = {{t.grad.numpy()}}")
        return model
    optimizer = {opt.format(**{k: repr(v) for k, v in s.items()})}
    if "X_train" not in data:  # a circuit of numbers: one step per epoch
        for epoch in range(1, epochs + 1):
            optimizer.zero_grad()
            loss = model.objective(model())
            loss.backward()
            optimizer.step()
            constrain(model)
            print(f"step {{epoch}}: objective {{loss.item():.6g}}")
        return model
    X, y = torch.from_numpy(data["X_train"]), torch.from_numpy(data["y_train"])
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
            loss = model.objective(model(X[idx], y[idx]))
            loss.backward()
            optimizer.step()
            constrain(model)
            total += loss.item() * len(idx)
        line = f"epoch {{epoch}}: loss {{total / n:.4f}}"
        if SCORES is not None and predict(torch.zeros(1, 1)) is not None:
            line += f", training accuracy {{100 * accuracy(model, X, y):.1f}}%"
        print(line)
    if "X_test" in data and SCORES is not None and predict(torch.zeros(1, 1)) is not None:
        acc = accuracy(model, torch.from_numpy(data["X_test"]), torch.from_numpy(data["y_test"]))
        print(f"test accuracy {{100 * acc:.1f}}%")
    return model


if __name__ == "__main__":
    train()
'''

