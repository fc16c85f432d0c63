"""``gradviz export FILE --to numpy -o study.py``: a graph as a readable NumPy study script.

The script has ``forward`` (every node, in the graph's order, one line each) and
``backward`` (the chain rule written out: for each node in reverse order, its local
gradient times the gradient from above, added into its inputs' and its weights'
gradients), the graph's weights and data, a plain training loop, and ``check()``, which
compares ``backward`` with centred finite differences. It needs NumPy only, and its
gradients are gradviz's (a test checks them node by node).

Each brick declares its NumPy form (``Brick.numpy_op`` or ``numpy_code``; a regularizer's
``numpy_penalty``); convolutions and pooling are written with NumPy's sliding windows and
einsum. A node without a NumPy form is refused by name.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from gradviz_core.runs.engine import backward_nodes
from gradviz_core.errors import GraphError
from gradviz_core.formats.pytorch import arrays_name
from gradviz_core.formats.torch_data import labels as _labels
from gradviz_core.model.graph import Graph
from gradviz_core.runs.run import Run

LIBRARY = '''
def unbroadcast(grad, shape):
    """Sum a gradient over the dimensions that broadcasting stretched, back to ``shape``."""
    grad = np.asarray(grad, dtype=np.float64)
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and grad.shape[i] != 1:
            grad = grad.sum(axis=i, keepdims=True)
    return np.broadcast_to(grad, shape)


def _n(x):
    return x.shape[0] if np.ndim(x) else 1


def softmax(s):
    z = np.exp(s - s.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def place(x, h, w, top, left, fill):
    """x placed at (top, left) in an (N, C, h, w) array of fill; negative offsets cut x off"""
    out = np.full(x.shape[:2] + (h, w), fill)
    r0, c0, sr, sc = max(top, 0), max(left, 0), max(-top, 0), max(-left, 0)
    rows, cols = min(x.shape[2] - sr, h - r0), min(x.shape[3] - sc, w - c0)
    out[:, :, r0:r0 + rows, c0:c0 + cols] = x[:, :, sr:sr + rows, sc:sc + cols]
    return out


def channel_window_sum(a, h):
    """the sum over the channels c - h ... c + h (those that exist), for each channel c"""
    c = np.cumsum(np.pad(a, [(0, 0), (h + 1, h)] + [(0, 0)] * (a.ndim - 2)), axis=1)
    return c[:, 2 * h + 1:] - c[:, :-2 * h - 1]


def lrn(x, n, alpha, beta, k):
    return x * (k + alpha / n * channel_window_sum(x * x, n // 2)) ** -beta


def lrn_grad(g, x, n, alpha, beta, k):
    d = k + alpha / n * channel_window_sum(x * x, n // 2)
    return g * d ** -beta - 2 * alpha * beta / n * x * channel_window_sum(g * x * d ** (-beta - 1), n // 2)


def logsumexp(s):
    m = s.max(axis=-1, keepdims=True)
    return m + np.log(np.exp(s - m).sum(axis=-1, keepdims=True))


def square_loss(x, d):
    return 0.5 * np.sum((x - d.reshape(np.shape(x))) ** 2) / _n(x)


def square_loss_grad(x, d):
    return (x - d.reshape(np.shape(x))) / _n(x)


def mse_loss(x, d):
    return np.mean((x - d.reshape(np.shape(x))) ** 2)


def mse_loss_grad(x, d):
    return 2 * (x - d.reshape(np.shape(x))) / np.size(x)


def binary_cross_entropy(p, t):
    t = t.reshape(np.shape(p))
    return -np.sum(t * np.log(p) + (1 - t) * np.log1p(-p)) / _n(p)


def binary_cross_entropy_grad(p, t):
    t = t.reshape(np.shape(p))
    return (p - t) / (p * (1 - p)) / _n(p)


def bce_with_logits(x, t):
    t = t.reshape(np.shape(x))
    return np.sum(np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))) / _n(x)


def bce_with_logits_grad(x, t):
    return (1 / (1 + np.exp(-x)) - t.reshape(np.shape(x))) / _n(x)


def logistic_loss(x, c):
    return np.sum(np.logaddexp(0.0, -c.reshape(np.shape(x)) * x)) / _n(x)


def logistic_loss_grad(x, c):
    c = c.reshape(np.shape(x))
    return -c / (1 + np.exp(c * x)) / _n(x)


def hinge_loss(x, c, m):
    return np.sum(np.maximum(0.0, m - c.reshape(np.shape(x)) * x)) / _n(x)


def hinge_loss_grad(x, c, m):
    c = c.reshape(np.shape(x))
    return -c * ((m - c * x) > 0) / _n(x)


def _rows(s, t):
    """Targets as rows: one-hot rows from class indices, or the rows given."""
    return np.eye(s.shape[1])[t] if t.ndim == 1 else t


def softmax_cross_entropy(s, t):
    logp = s - s.max(axis=1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))
    return -np.sum(_rows(s, t) * logp) / s.shape[0]


def softmax_cross_entropy_grad(s, t):
    return (softmax(s) - _rows(s, t)) / s.shape[0]


def _margins(s, t, m, form):
    idx = t if t.ndim == 1 else t.argmax(axis=1)
    rows = np.arange(len(s))
    margins = s - s[rows, idx][:, None] + m
    margins[rows, idx] = 0.0 if form == "sum" else -np.inf
    return margins, idx, rows


def max_margin_loss(s, t, m, form):
    margins, _, rows = _margins(s, t, m, form)
    if form == "max":
        return np.maximum(0.0, margins.max(axis=1)).sum() / len(s)
    return np.maximum(0.0, margins).sum() / len(s)


def max_margin_loss_grad(s, t, m, form):
    margins, idx, rows = _margins(s, t, m, form)
    if form == "max":
        worst = margins.argmax(axis=1)
        on = (margins[rows, worst] > 0).astype(float)
        active = np.zeros_like(margins)
        active[rows, worst] = on
        active[rows, idx] -= on
    else:
        active = (margins > 0).astype(float)
        active[rows, idx] = -active.sum(axis=1)
    return active / len(s)


def dropout(x, p, mode, training, C, name):
    """Training: keep each unit with probability 1 − p (scaled by 1/(1 − p) when inverted);
    test: every unit (scaled by 1 − p in test_scaling mode). The scale is kept for backward."""
    if training:
        scale = (RNG.random(x.shape) >= p) / ((1 - p) if mode == "inverted" else 1.0)
    else:
        scale = np.asarray(1.0 if mode == "inverted" else 1 - p)
    C[name] = scale
    return x * scale


def batchnorm(x, gamma, beta, P, name, momentum, eps, training, C):
    """Per feature (or channel): x̂ = (x − μ)/√(σ² + ε), out = γ·x̂ + β; in training μ, σ² are
    the batch's and the running averages move: running = momentum·running + (1 − momentum)·batch."""
    x3 = x.reshape(x.shape[0], x.shape[1], -1)
    if training:
        mean, var = x3.mean(axis=(0, 2)), x3.var(axis=(0, 2))
        P[name + "/running_mean"] = momentum * P[name + "/running_mean"] + (1 - momentum) * mean
        P[name + "/running_var"] = momentum * P[name + "/running_var"] + (1 - momentum) * var
    else:
        mean, var = P[name + "/running_mean"], P[name + "/running_var"]
    inv_std = 1 / np.sqrt(var + eps)
    xhat = (x3 - mean[:, None]) * inv_std[:, None]
    C[name] = (xhat, inv_std, training)
    return (gamma[:, None] * xhat + beta[:, None]).reshape(x.shape)


def batchnorm_grad(g, gamma, C, name):
    """(dL/dx, dL/dγ, dL/dβ)"""
    xhat, inv_std, training = C[name]
    g3 = g.reshape(xhat.shape)
    dgamma, dbeta = (g3 * xhat).sum(axis=(0, 2)), g3.sum(axis=(0, 2))
    dxhat = g3 * gamma[:, None]
    if not training:
        return (dxhat * inv_std[:, None]).reshape(g.shape), dgamma, dbeta
    m = xhat.shape[0] * xhat.shape[2]
    dx = inv_std[:, None] / m * (m * dxhat - dxhat.sum(axis=(0, 2), keepdims=True)
                                 - xhat * (dxhat * xhat).sum(axis=(0, 2), keepdims=True))
    return dx.reshape(g.shape), dgamma, dbeta


def _pad(x, p, value=0.0):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=value) if p else x


def _windows(xp, F, S, Ho, Wo):
    """Every F×F window of each padded image, (N, C, Ho, Wo, F, F): a view, nothing copied."""
    return np.lib.stride_tricks.sliding_window_view(xp, (F, F), axis=(2, 3))[:, :, ::S, ::S][:, :, :Ho, :Wo]


def _add_back(parts, shape, F, S, P):
    """Add each window's gradient (N, C, Ho, Wo, F, F) back where the window came from."""
    N, C, H, W = shape
    Ho, Wo = parts.shape[2:4]
    dxp = np.zeros((N, C, H + 2 * P, W + 2 * P))
    for i in range(F):
        for j in range(F):
            dxp[:, :, i:i + S * Ho:S, j:j + S * Wo:S] += parts[..., i, j]
    return dxp[:, :, P:P + H, P:P + W]


def _out_size(n, F, S, P):
    return (n + 2 * P - F) // S + 1


def conv2d(x, W, b, S, P, G):
    """out[n,k,h,w] = Σ_c Σ_ij W[k,c,i,j] · xpad[n,c,S·h+i,S·w+j] + b[k], the channels in G groups."""
    N, C, H, Wd = x.shape
    K, Cg, F, _ = W.shape
    Ho, Wo = _out_size(H, F, S, P), _out_size(Wd, F, S, P)
    win = _windows(_pad(x, P), F, S, Ho, Wo).reshape(N, G, Cg, Ho, Wo, F, F)
    out = np.einsum("ngchwij,gkcij->ngkhw", win, W.reshape(G, K // G, Cg, F, F)).reshape(N, K, Ho, Wo)
    return out if b is None else out + b[None, :, None, None]


def conv2d_grads(g, x, W, S, P, G, C, name):
    """(dL/dx, dL/dW, dL/db), computed once per backward (kept in C): dW sums each window times
    its output's gradient; dx adds each output's gradient, weighted by W, back onto its window."""
    if name in C:
        return C[name]
    N, Ch, H, Wd = x.shape
    K, Cg, F, _ = W.shape
    Ho, Wo = g.shape[2:]
    win = _windows(_pad(x, P), F, S, Ho, Wo).reshape(N, G, Cg, Ho, Wo, F, F)
    gg, Wg = g.reshape(N, G, K // G, Ho, Wo), W.reshape(G, K // G, Cg, F, F)
    dW = np.einsum("ngkhw,ngchwij->gkcij", gg, win).reshape(W.shape)
    parts = np.einsum("ngkhw,gkcij->ngchwij", gg, Wg).reshape(N, Ch, Ho, Wo, F, F)
    C[name] = (_add_back(parts, x.shape, F, S, P), dW, g.sum(axis=(0, 2, 3)))
    return C[name]


def max_pool(x, F, S, P):
    """The largest element of each F×F window (padding counts as −∞)."""
    N, C, H, W = x.shape
    return _windows(_pad(x, P, -np.inf), F, S, _out_size(H, F, S, P), _out_size(W, F, S, P)).max(axis=(4, 5))


def max_pool_grad(g, x, F, S, P):
    """The gradient goes to the element that won each window (the first, on a tie)."""
    N, C, H, W = x.shape
    Ho, Wo = g.shape[2:]
    win = _windows(_pad(x, P, -np.inf), F, S, Ho, Wo).reshape(N, C, Ho, Wo, F * F)
    parts = (np.arange(F * F) == win.argmax(axis=-1)[..., None]) * g[..., None]
    return _add_back(parts.reshape(N, C, Ho, Wo, F, F), x.shape, F, S, P)


def avg_pool(x, F, S, P):
    """The mean of each F×F window (padding counts as zeros)."""
    N, C, H, W = x.shape
    return _windows(_pad(x, P), F, S, _out_size(H, F, S, P), _out_size(W, F, S, P)).mean(axis=(4, 5))


def avg_pool_grad(g, x, F, S, P):
    """Each element of a window gets its output's gradient / F²."""
    parts = np.broadcast_to((g / (F * F))[..., None, None], g.shape + (F, F))
    return _add_back(parts, x.shape, F, S, P)
'''


def plan(graph: Graph) -> dict:
    graph.check()
    run = Run(graph, np.float64, weights="document" if graph.weights() else "fresh", kind="export")
    bricks = run.bricks
    forward, backward = [], []
    back = set(backward_nodes(run.graph))
    regs = []
    for n in graph.order:
        b = bricks[n]
        if b.acts_on_weights:
            b.bind(bricks)
            regs.append(n)
            continue
        shapes = graph.input_shapes(n)
        ins = {p: f'v["{s}"]' for p, s in graph.inputs_of(n).items()}
        weights = {w: f'P["{n}/{w}"]' for w in b.weights}
        code = b.numpy_code(ins, f'v["{n}"]', f'd["{n}"]', weights, shapes)
        if code is None:
            raise GraphError(f"{n} ({b.type_name}): no NumPy form for it in the study script yet "
                             "(export it to PyTorch instead)", node=n)
        fwd, port_grads, weight_grads = code
        forward.append((n, b.type_name, fwd))
        if n in back:
            lines = [(f'"{graph.inputs_of(n)[p]}"', e) for p, e in port_grads.items()
                     if p in graph.inputs_of(n) and graph.inputs_of(n)[p] in back | set(graph.order)
                     and bricks[graph.inputs_of(n)[p]].feeds is None]
            backward.append((n, b.type_name, lines, [(f'"{n}/{w}"', e) for w, e in weight_grads.items()]))
    backward.reverse()
    reg_lines = []
    for n in regs:
        b = bricks[n]
        pen, dpen = b.numpy_penalty
        keys = [f'"{layer}/{w}"' for layer, _, w in b.targets]
        value = " + ".join(pen.format(w=f"P[{k}]", **b.config) for k in keys) or "0.0"
        forward.append((n, b.type_name, value))
        reg_lines.append((n, b.type_name, [(k, dpen.format(w=f"P[{k}]", **b.config)) for k in keys]))
    numbers = [n for n in graph.order if not graph.inputs_of(n) and bricks[n].feeds is None
                and not bricks[n].acts_on_weights]
    return {"run": run, "forward": forward, "backward": backward, "regs": reg_lines, "numbers": numbers,
            "stochastic": any(b.stochastic for b in bricks.values()), "objective": list(run.program.objective)}


def to_numpy(graph: Graph, script="study.py") -> tuple[str, dict[str, np.ndarray]]:
    """The script's source, and the arrays to write beside it (``arrays_name(script)``): the
    weights ("P/…") and the training data ("data/X", "data/y")."""
    p = plan(graph)
    run = p["run"]
    weights = {k: np.asarray(v, np.float64) for k, v in run.graph.weights().items()}
    data = {}
    scores = None
    if run.splits is not None:
        data = {"X": run.splits.train.X.astype(np.float64), "y": _labels(run.splits.train.y)}
        if run.splits.train.classes:
            head = next((n for n in graph.order if run.bricks[n].family == "Losses"
                         and run.bricks[n].scores_port), None)
            scores = graph.inputs_of(head).get("x") if head else None
    s = dataclasses.asdict(run.settings)
    fwd = "\n".join(f'    v["{n}"] = {code}  # {kind}' for n, kind, code in p["forward"])
    seeds = "\n".join(f'    d["{n}"] = np.ones_like(v["{n}"], dtype=np.float64)' for n in p["objective"])
    back = []
    for n, kind, ports, wgrads in p["backward"]:
        if not ports and not wgrads:
            continue
        back.append(f'    if "{n}" in d:  # {kind}')
        back += [f'        add(d, {src}, {e}, v[{src}])' for src, e in ports]
        back += [f'        add(grads, {key}, {e}, P[{key}])' for key, e in wgrads]
    for n, kind, terms in p["regs"]:
        if terms:
            back.append(f'    # {n}: {kind}, on the weights it reaches')
            back += [f'    add(grads, {k}, d["{n}"] * ({e}), P[{k}])' for k, e in terms]
    objective = " + ".join(f'v["{n}"]' for n in p["objective"]) or "0.0"
    trained = [k for k in weights if not k.endswith(("/running_mean", "/running_var"))
               and k.split("/")[0] not in s["freeze"]]
    title = graph.title or "a gradviz graph"
    npz = arrays_name(script)
    arrays = {**{f"P/{k}": v for k, v in weights.items()}, **{f"data/{k}": v for k, v in data.items()}}
    return f'''"""{title}: a NumPy study script, exported from gradviz (gradviz export --to numpy).

NumPy only. ``forward`` computes every node, in the graph's order; ``backward`` applies the
chain rule node by node in reverse order: each node's local gradient times the gradient
that reached its output (d[node]), added into its inputs' gradients and its weights'.
P holds the weights (gradviz's layout: a Linear's W is (D, K)) and DATA the training data,
preprocessed as gradviz does, both read from {npz} beside this file. ``check()`` compares backward with finite differences;
``train()`` trains with the graph's update rule, η, batch size and epochs.
"""
from pathlib import Path

import numpy as np

RNG = np.random.default_rng({s["seed"]})


def _arrays(prefix):
    with np.load(Path(__file__).resolve().parent / {npz!r}) as npz:
        return {{k[len(prefix):]: npz[k] for k in npz.files if k.startswith(prefix)}}


P = _arrays("P/")
DATA = _arrays("data/")
#: the weights gradient descent changes (frozen layers and BatchNorm's running averages left out)
TRAINED = {trained!r}
#: the numbers typed into the graph (Constants, Variables): their gradients are the lesson
NUMBERS = {p["numbers"]!r}
#: the node whose output holds the class scores (for the accuracy), or None
SCORES = {scores!r}
#: Dropout draws masks: finite differences then compare at test time
STOCHASTIC = {p["stochastic"]!r}
OPTIMIZER, BATCH_SIZE, MOMENTUM = {s["optimizer"]!r}, {s["batch_size"] or None!r}, {float(s["momentum"] or (0.9 if s["optimizer"] in ("momentum", "nesterov") else 0.0))!r}
BETA1, BETA2, DECAY, EPS = {float(s["beta1"])!r}, {float(s["beta2"])!r}, {float(s["decay"])!r}, {float(s["eps"])!r}
EPOCHS, LR = {max(1, s["epochs"])!r}, {s["lr"]!r}

{LIBRARY}

def forward(P, x=None, y=None, training=True, C=None):
    """Every node's value, by name. C collects what backward needs (masks, BatchNorm's x̂)."""
    C = {{}} if C is None else C
    v = {{}}
{fwd}
    return v


def objective(v):
    return {objective}


def add(total, key, grad, like):
    """Add a gradient into total[key], summed back to the shape of the value it is for."""
    grad = unbroadcast(grad, np.shape(like))
    total[key] = total[key] + grad if key in total else np.array(grad, dtype=np.float64)


def backward(P, v, C):
    """(d, grads): dL/d(every node's output) and dL/d(every weight), by the chain rule."""
    d, grads = {{}}, {{}}
{seeds}
{chr(10).join(back)}
    return d, grads


def batch():
    return (DATA.get("X"), DATA.get("y"))


def check(h=1e-6, count=5):
    """Each trained weight: a few entries of backward's gradient against centred finite
    differences, in training mode (BatchNorm with the batch's statistics) unless Dropout makes
    the forward pass random. The relative error counts gradients above 1e-6 of the largest;
    smaller ones are rounding noise, and their absolute error is reported instead. Where an
    input sits exactly on a kink (a ReLU at 0, a max of equals) the two differ for real: the
    one-sided slopes differ there, and backward takes one of them."""
    x, y = batch()
    training = not STOCHASTIC
    kept = {{k: v.copy() for k, v in P.items()}}  # training mode moves BatchNorm's running averages
    C = {{}}
    v = forward(P, x, y, training, C)
    _, grads = backward(P, v, C)
    scale = max([float(np.abs(g).max()) for g in grads.values()] + [1e-300])
    rel = absolute = 0.0
    for key in TRAINED:
        flat = P[key].reshape(-1)
        for i in RNG.choice(flat.size, min(count, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + h
            up = objective(forward(P, x, y, training))
            flat[i] = old - h
            down = objective(forward(P, x, y, training))
            flat[i] = old
            numeric = (up - down) / (2 * h)
            ours = grads[key].reshape(-1)[i] if key in grads else 0.0
            if max(abs(numeric), abs(ours)) > 1e-6 * scale:
                rel = max(rel, abs(numeric - ours) / (abs(numeric) + abs(ours)))
            else:
                absolute = max(absolute, abs(numeric - ours))
    P.update(kept)
    print(f"backward against finite differences: largest relative error {{rel:.2e}} "
          f"(and {{absolute:.1e}} absolute on gradients too small to compare)")
    return rel


def gradients():
    """The objective and its gradient with respect to each number typed into the graph."""
    x, y = batch()
    C = {{}}
    v = forward(P, x, y, False, C)
    d, _ = backward(P, v, C)
    print(f"objective {{float(objective(v)):.6g}}")
    for name in NUMBERS:
        print(f"d objective / d {{name}} = {{d.get(name, 0.0)}}")


def accuracy(x, y):
    if SCORES is None or x is None:
        return None
    s = forward(P, x, y, False)[SCORES]
    guess = s.argmax(axis=1) if s.ndim == 2 and s.shape[1] > 1 else (s.reshape(len(s), -1)[:, 0] > 0)
    return float((guess == (y if y.ndim == 1 else y[:, 0])).mean())


def step(key, grad, state, t, lr):
    """One update of the weight P[key] by the graph's rule (state: that weight's history)."""
    w = P[key]
    if OPTIMIZER in ("sgd", "momentum", "nesterov") and MOMENTUM:
        v_prev = state.get("v", 0.0)
        v = state["v"] = MOMENTUM * v_prev - lr * grad          # v ← μ·v − η·g
        return w + (v if OPTIMIZER != "nesterov" else (1 + MOMENTUM) * v - MOMENTUM * v_prev)
    if OPTIMIZER == "sgd" or OPTIMIZER in ("momentum", "nesterov"):
        return w - lr * grad                                      # w ← w − η·g
    if OPTIMIZER == "adagrad":
        c = state["c"] = state.get("c", 0.0) + grad * grad        # c ← c + g²
        return w - lr * grad / (np.sqrt(c) + EPS)
    if OPTIMIZER == "rmsprop":
        c = state["c"] = DECAY * state.get("c", 0.0) + (1 - DECAY) * grad * grad
        return w - lr * grad / (np.sqrt(c) + EPS)
    m = state["m"] = BETA1 * state.get("m", 0.0) + (1 - BETA1) * grad    # Adam
    v = state["v"] = BETA2 * state.get("v", 0.0) + (1 - BETA2) * grad * grad
    return w - lr * (m / (1 - BETA1 ** t)) / (np.sqrt(v / (1 - BETA2 ** t)) + EPS)


def train(epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE):
    """The graph's update rule ({s['optimizer']}), η, batch size and epochs, on shuffled batches."""
    x, y = batch()
    state = {{key: {{}} for key in TRAINED}}
    n = 1 if x is None else len(x)
    bs = batch_size or n
    t = 0
    for epoch in range(1, epochs + 1):
        order = RNG.permutation(n)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            C = {{}}
            v = forward(P, None if x is None else x[idx], None if y is None else y[idx], True, C)
            _, grads = backward(P, v, C)
            t += 1
            for key in TRAINED:
                if key in grads:
                    P[key] = step(key, grads[key], state[key], t, lr)
        line = f"epoch {{epoch}}: objective {{float(objective(forward(P, x, y, False))):.6g}}"
        acc = accuracy(x, y)
        print(line + ("" if acc is None else f", training accuracy {{100 * acc:.1f}}%"))


if __name__ == "__main__":
    if TRAINED:
        check()
        train()
    else:
        gradients()
''', arrays
