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

import dataclasses
import io
import keyword
from pathlib import Path

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
    """Drops each unit with probability p in training (or keeps it with probability keep, as the
    lectures' code names it: p = 1 − keep). inverted: the kept units are scaled by 1/(1 − p) in
    training; test_scaling: the output is scaled by (1 − p) at test time."""

    def __init__(self, p=None, mode="inverted", keep=None):
        super().__init__()
        self.p, self.mode = (1 - keep if keep is not None else p), mode

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



def arrays_file(arrays: dict[str, np.ndarray]) -> bytes:
    """The arrays file an exported script reads beside itself: an uncompressed .npz (a big net's
    weights are written and read at disk speed; NumPy loads it without pickle)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def arrays_name(script: str | Path) -> str:
    """The arrays file beside ``net.py``: ``net.arrays.npz``."""
    return Path(script).with_suffix(".arrays.npz").name


def _kwargs(kw: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


SCHEDULES = {"constant": "None",
             "step": "torch.optim.lr_scheduler.StepLR(optimizer, step_size={step_every!r}, gamma={step_factor!r})",
             "exponential": "torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=math.exp(-{exp_k!r}))",
             # gradviz halves η after `patience` epochs without progress; PyTorch's counts past it
             "plateau": ("torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience="
                         "{plateau_patience!r} - 1, threshold=1e-12, threshold_mode=\"abs\")")}


def to_pytorch(graph: Graph, script: str | Path = "model.py") -> tuple[str, dict[str, np.ndarray]]:
    """The exported file's source, and the arrays to write beside it (``arrays_name(script)``):
    the weights in PyTorch's names and layout ("state/…"), and generated data ("data/…")."""
    from gradviz_core.formats.torch_data import DATA_LIBRARY, data_section, generated_arrays
    p = plan(graph)
    run = p["run"]
    script = Path(script)
    arrays = {f"state/{k}": v for k, v in torch_state(run, p["modules"]).items()}
    source, pipeline = data_section(graph, script.resolve().parent)
    if source is None:
        arrays.update({f"data/{k}": v for k, v in generated_arrays(run).items()})
    s = dataclasses.asdict(run.settings)
    opt = OPTIMIZERS[s["optimizer"]]
    if s["optimizer"] == "sgd" and not s["momentum"]:
        opt = "torch.optim.SGD(params, lr={lr})"
    optimizer = opt.format(**{k: repr(v) for k, v in s.items() if k != "lr"}, lr="lr")
    schedule = SCHEDULES[s["schedule"]].format(**s)
    module_lines = "\n".join(f"        self.{a} = {cls}({_kwargs(kw)})" for _, a, cls, kw in p["modules"])
    body = "\n".join(f'        v["{n}"] = {code}' for n, code in p["lines"])
    body += "".join(f'\n        v["{n}"] = {code}' for n, code in p["regs"])
    objective = " + ".join(f'v["{n}"]' for n in p["objective"]) or "torch.zeros(())"
    frozen = [p["attr"][n] for n in s["freeze"] if n in p["attr"]]
    constraints = "".join(
        f"\n        {ref}.mul_(torch.clamp({c!r} / {ref}.norm(dim={axes!r}, keepdim=True).clamp_min(1e-12), max=1.0))"
        for ref, axes, c in p["constraints"])
    predict = p["predict"].format(s="s") if p["predict"] else None
    sample_shape = tuple(run.splits.train.X.shape[1:]) if run.splits is not None else None
    title = graph.title or "a gradviz graph"
    name, npz = script.name, arrays_name(script)
    notes = "\n# gradviz's data augmentation is not written here." if run.splits is not None and run.splits.augment else ""
    where = (f"the samples are read from {source['path']} ({source['source']}), split and preprocessed as gradviz "
             "does" if source else f"{npz} also holds the samples, split and preprocessed as gradviz does"
             if run.splits is not None else "the graph has no data: it is a circuit of numbers")
    text = f'''"""{title}: exported from gradviz (gradviz export --to pytorch).

PyTorch and NumPy only. ``Model.forward`` computes every node of the graph, in its order,
and returns the values by node name; ``Model.objective`` is the number training minimizes
(the graph's losses and regularizers). {npz}, beside this file, holds the weights
training starts from, in PyTorch's layout (gradviz's Linear W is (D, K): the weight here is
its transpose); {where}.

    python {name}                                    # the graph's settings, on the best device here
    python {name} --device cuda --epochs 50 --save net.pt
    python {name} --data other.csv                   # any .csv, .npz, IDX, CIFAR batch, image folder
    torchrun --nproc_per_node 2 {name}               # DistributedDataParallel (gloo on CPU, nccl on GPUs)
    gradviz import-weights GRAPH.json net.pt         # the trained weights back into the graph

--batch-size is the global batch: under torchrun each of the N processes takes 1/N of it,
and the gradients are averaged, so N processes take the steps one process takes (BatchNorm
normalizes each process's share, as DistributedDataParallel does).
"""
import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

DTYPE = torch.float32
HERE = Path(__file__).resolve().parent
#: the weights training starts from ("state/…"), and the samples of generated data ("data/…")
ARRAYS = HERE / {npz!r}
#: the graph's data file (its path from this file's folder, its reader's settings), or None: in ARRAYS
DATA = {source!r}
#: the class filter, the split and the preprocessing the graph declares, for any data file read here
PIPELINE = {pipeline!r}
#: the shape of one sample, as the graph's Input takes it (None: the graph has no data)
SAMPLE_SHAPE = {sample_shape!r}
#: the node whose output the loss scores (None: the graph has no classifier head)
SCORES = {p["scores"]!r}
#: the column of the label table that SCORES is compared with (-1: the labels are one column)
COLUMN = {p["column"]!r}
#: the layers training leaves as they are (training.freeze)
FROZEN = {frozen!r}
{LIBRARY}{DATA_LIBRARY}

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


def _batches(X, y, size=1024):
    for start in range(0, len(X), size):
        yield X[start:start + size], y[start:start + size]


def evaluate(model, X, y, device):
    """The objective and the accuracy (None without a classifier head) over X, y, at test time."""
    model.eval()
    loss = correct = 0.0
    with torch.no_grad():
        for xb, yb in _batches(X, y):
            xb, yb = xb.to(device), yb.to(device)
            v = model(xb, yb)
            loss += model.objective(v).item() * len(xb)
            if SCORES is not None and predict(torch.zeros(1, 1)) is not None:
                labels = yb if COLUMN is None or COLUMN < 0 else yb[:, COLUMN]
                correct += float((predict(v[SCORES]) == labels).float().sum())
    has_acc = SCORES is not None and predict(torch.zeros(1, 1)) is not None
    return loss / len(X), (correct / len(X) if has_acc else None)


def accuracy(model, X, y, device="cpu"):
    return evaluate(model, X, y, device)[1]


def constrain(model):
    """After each step: the constraints (max-norm) on the weights."""
    with torch.no_grad():
        pass{constraints}


def load_weights(model, path=ARRAYS):
    """The weights training starts from (a checkpoint saved with --save loads with load_state_dict)."""
    with np.load(path) as npz:
        model.load_state_dict({{k[6:]: torch.from_numpy(npz[k]) for k in npz.files if k.startswith("state/")}})
    return model


def load_data(path=None):
    """The samples, as {{"X_train": …, "y_train": …, "X_val": …, …}}: from PATH (a file in any
    format read_data reads, split and preprocessed as the graph says), else from the graph's
    data file, else from ARRAYS."""
    if path is None and DATA is None:
        with np.load(ARRAYS) as npz:
            return {{k[5:]: npz[k] for k in npz.files if k.startswith("data/")}}
    if path is None:
        settings = dict(DATA["settings"])
        if settings.get("labels"):
            settings["labels"] = HERE / settings["labels"]
        path = HERE / DATA["path"]
        X, y = read_data(path, DATA["source"], settings)
    else:
        X, y = read_data(path)
    if SAMPLE_SHAPE is not None and tuple(X.shape[1:]) != tuple(SAMPLE_SHAPE):
        raise DataFileError(f"{{path}}: its samples have the shape {{tuple(X.shape[1:])}}; this net takes "
                            f"{{tuple(SAMPLE_SHAPE)}}")
    return prepare(X, y, PIPELINE)


def best_device(local_rank=0):
    """A GPU if there is one (this process's, under torchrun), else Apple's, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _device(name, local_rank):
    if name is None:
        return best_device(local_rank)
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DataFileError(f"--device {{name}}: this machine has no CUDA GPU that PyTorch can use")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DataFileError(f"--device {{name}}: this machine has no Apple GPU that PyTorch can use")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    return device


def save_checkpoint(model, path):
    """A plain state_dict (CPU tensors), written whole or not at all."""
    path = Path(path)
    tmp = path.with_name(f".{{path.name}}.tmp")
    torch.save({{k: t.detach().cpu() for k, t in model.state_dict().items()}}, tmp)
    os.replace(tmp, path)


def _unused_parameters(model, X, y, device):
    """Whether some trainable weight gets no gradient (DistributedDataParallel must be told)."""
    model.eval()
    params = [q for q in model.parameters() if q.requires_grad]
    grads = torch.autograd.grad(model.objective(model(X[:2].to(device), y[:2].to(device))), params,
                                allow_unused=True)
    model.train()
    return any(g is None for g in grads)


def train(epochs={s["epochs"]!r}, batch_size={s["batch_size"] or None!r}, lr={s["lr"]!r}, seed={s["seed"]!r},
          device=None, data=None, save=None):
    """Train with the graph's optimizer and settings; under torchrun, with DistributedDataParallel.
    batch_size: the global batch (None: every sample); data: a data file to train on instead;
    save: write the weights (a state_dict) there after every epoch."""{notes}
    world, rank = int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = _device(device, local_rank)
    if world == 1 or dist.is_initialized():
        return _train(epochs, batch_size, lr, seed, device, data, save, world, rank)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        model = _train(epochs, batch_size, lr, seed, device, data, save, world, rank)
        dist.barrier()  # rank 0 tests and saves last: the group ends when every process is done
        return model
    finally:
        dist.destroy_process_group()


def _train(epochs, batch_size, lr, seed, device, data, save, world, rank):
    say = print if rank == 0 else (lambda *a, **k: None)
    torch.manual_seed(seed)
    model = load_weights(Model()).to(device)
    for name in FROZEN:
        getattr(model, name).requires_grad_(False)
    params = [q for q in model.parameters() if q.requires_grad]
    if not params:  # nothing trainable (a circuit of constants): its value, and its gradients
        values = {{name: m.value for name, m in model.named_modules() if isinstance(m, Value)}}
        for t in values.values():
            t.requires_grad_(True)
        objective = model.objective(model())
        objective.backward()
        say(f"objective {{objective.item():.6g}} (nothing in this graph is trainable)")
        for name, t in values.items():
            say(f"d objective / d {{name}} = {{t.grad.cpu().numpy()}}")
        return model
    optimizer = {optimizer}
    scheduler = {schedule}
    arrays = load_data(data) if SAMPLE_SHAPE is not None or data else {{}}
    if "X_train" not in arrays:  # a circuit of numbers: one step per epoch
        for epoch in range(1, epochs + 1):
            optimizer.zero_grad()
            loss = model.objective(model())
            loss.backward()
            optimizer.step()
            constrain(model)
            say(f"step {{epoch}}: objective {{loss.item():.6g}}")
            if save and rank == 0:
                save_checkpoint(model, save)
        return model
    t = {{k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in arrays.items()}}
    X, y = t["X_train"], t["y_train"]
    bs = batch_size or len(X)
    if bs % world:
        raise DataFileError(f"--batch-size {{bs}}: the global batch must split evenly over the {{world}} processes")
    dataset = TensorDataset(X, y)
    # one process or many: the same seeded order, each process taking every world-th sample of it
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    loader = DataLoader(dataset, batch_size=bs // world, sampler=sampler)
    net = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=_unused_parameters(model, X, y, device))
    say(f"training on {{len(X)}} samples, {{world}} process{{'es' if world > 1 else ''}} on {{device.type}}, "
        f"batches of {{bs}}")
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)
        model.train()
        total = torch.zeros(2, dtype=torch.float64, device=device)
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = model.objective(net(xb, yb))
            loss.backward()
            optimizer.step()
            constrain(model)
            total += torch.tensor([loss.item() * len(xb), len(xb)], dtype=torch.float64, device=device)
        if world > 1:
            dist.all_reduce(total)
        line = f"epoch {{epoch}}: loss {{(total[0] / total[1]).item():.4f}}"
        if rank == 0 and SCORES is not None and predict(torch.zeros(1, 1)) is not None:
            line += f", training accuracy {{100 * accuracy(model, X, y, device):.1f}}%"
        if "X_val" in t:
            val_loss, val_acc = evaluate(model, t["X_val"], t["y_val"], device)
            line += f", validation loss {{val_loss:.4f}}" + (f", accuracy {{100 * val_acc:.1f}}%" if val_acc is not None else "")
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            if "X_val" in t:
                scheduler.step(val_loss)
        elif scheduler is not None:
            scheduler.step()
        say(line)
        if save and rank == 0:
            save_checkpoint(model, save)
    if "X_test" in t and rank == 0:
        acc = accuracy(model, t["X_test"], t["y_test"], device)
        if acc is not None:
            say(f"test accuracy {{100 * acc:.1f}}%")
    if save:
        say(f"saved the weights to {{save}} (gradviz import-weights GRAPH.json {{save}} brings them back)")
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split(chr(10))[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", help="cpu, cuda, cuda:1 or mps (default: a GPU if there is one, else the CPU)")
    parser.add_argument("--epochs", type=int, default={s["epochs"]!r}, help="(default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default={s["batch_size"] or 0!r},
                        help="the global batch; 0: every sample (default: %(default)s)")
    parser.add_argument("--lr", type=float, default={s["lr"]!r}, help="the learning rate η (default: %(default)s)")
    parser.add_argument("--seed", type=int, default={s["seed"]!r}, help="(default: %(default)s)")
    parser.add_argument("--data", metavar="PATH", help="train on this data file instead: .csv, .npz, MNIST's "
                        "IDX images, a CIFAR batch or folder, or a folder of one subfolder of images per class")
    parser.add_argument("--save", metavar="PATH", help="write the weights (a state_dict) here after every epoch")
    args = parser.parse_args(argv)
    try:
        train(args.epochs, args.batch_size or None, args.lr, args.seed, args.device, args.data, args.save)
    except DataFileError as exc:
        parser.exit(2, f"{{parser.prog}}: error: {{exc}}\\n")
    except FileNotFoundError as exc:
        parser.exit(2, f"{{parser.prog}}: error: {{exc.filename}}: not found (export the graph again: "
                       f"gradviz export GRAPH.json -o {name})\\n")
    except KeyboardInterrupt:
        parser.exit(130, f"{{parser.prog}}: interrupted; the last checkpoint saved is whole\\n")


if __name__ == "__main__":
    main()
'''
    return text, arrays
