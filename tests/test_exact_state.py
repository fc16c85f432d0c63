"""Exactness that the other tests leave loose: stepping back over BatchNorm and Dropout, BatchNorm's
running averages at momenta where m ≠ 1 − m, and a graph file with every field away from its default.

Each claim here is bit for bit (array bytes, float hex), never "close".
"""
import json
from fractions import Fraction

import numpy as np
import pytest

from gradviz_core import Graph, get_brick_class, kernels
from gradviz_core.data.spec import AUGMENT, PIPELINE, SOURCES
from gradviz_core.model import fileformat
from gradviz_core.model.brick import Brick
from gradviz_core.model.graph import DEFAULT_TRAINING
from gradviz_core.model.settings import PLAYGROUND_KEYS, PLAYGROUND_RULES, SPECS, Settings
from gradviz_core.runs.stepper import Stepper


# ---- a state, frozen so that == means bit for bit ------------------------------------------------
def _freeze(x):
    """A hashable, comparable image of ``x`` in which two floats are equal only if their bits are."""
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, np.ascontiguousarray(x).tobytes())
    if isinstance(x, np.generic):
        return ("scalar", x.dtype.str, x.tobytes())
    if isinstance(x, float):
        return ("float", x.hex())
    if x is None or isinstance(x, (bool, int, str, bytes)):
        return x
    if isinstance(x, dict):
        return ("dict", tuple(sorted((repr(k), _freeze(v)) for k, v in x.items())))
    if isinstance(x, (list, tuple)):
        return ("seq", tuple(_freeze(v) for v in x))
    if isinstance(x, (set, frozenset)):
        return ("set", tuple(sorted(repr(_freeze(v)) for v in x)))
    if isinstance(x, Brick):  # a reference to another brick (a regularizer's targets): by name
        return ("brick", x.name)
    if isinstance(x, np.random.Generator):  # a random generator: its state
        return ("rng", _freeze(x.bit_generator.state))
    if isinstance(x, np.dtype):
        return ("dtype", x.str)
    if hasattr(x, "__dict__"):
        return ("object", type(x).__name__, _freeze(vars(x)))
    return ("repr", repr(x))


#: attributes that only remember a constant to save work (a class loss's np.eye(K), made on its first
#: forward pass and kept): not state, and left in place by stepping back
MEMOS = {"_eye"}


def _state(s: Stepper) -> dict:
    """Everything stepping can change: the values, gradients and edge contributions, every attribute
    of every brick (weights, gradients, buffers such as running_mean / running_var, caches such as
    Dropout's mask, Dropout's draw, and any random generator or counter a brick may keep), and the
    optimizer (its state and settings)."""
    out = {"position": s.position, "values": _freeze(s.values), "grads": _freeze(s.grads),
           "contributions": _freeze(s.contributions), "optimizer": _freeze(vars(s.optimizer))}
    for name, b in s.run.bricks.items():
        # need_input_grad is set on the brick for each backward call and put back to True, the class's
        # value: the same effective value whether or not the instance holds it
        attrs = {k: v for k, v in vars(b).items() if k not in MEMOS}
        attrs["need_input_grad"] = b.need_input_grad
        for attr, value in attrs.items():
            out[f"{name}.{attr}"] = _freeze(value)
    return out


def _differences(a: dict, b: dict) -> list[str]:
    """What differs, by name: "values", "bn1.buffers", "drop1.cache", "optimizer", ..."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


# ---- 1. stepping back over BatchNorm and Dropout ---------------------------------------------------
LINKS = [("x", "fc1", "x"), ("fc1", "bn1", "x"), ("bn1", "relu1", "x"), ("relu1", "drop1", "x"),
         ("drop1", "fc2", "x"), ("fc2", "bn2", "x"), ("bn2", "relu2", "x"), ("relu2", "drop2", "x"),
         ("drop2", "scores", "x"), ("scores", "loss", "x"), ("y", "loss", "target")]


def _bn_dropout_graph(optimizer: str, seed: int) -> Graph:
    g = Graph()
    g.add_node("Input", "x")
    g.add_node("Linear", "fc1", {"units": 8})
    g.add_node("BatchNorm", "bn1", {"momentum": 0.7})
    g.add_node("ReLU", "relu1")
    g.add_node("Dropout", "drop1", {"p": 0.5, "seed": 3})
    g.add_node("Linear", "fc2", {"units": 8})
    g.add_node("BatchNorm", "bn2")
    g.add_node("ReLU", "relu2")
    g.add_node("Dropout", "drop2", {"p": 0.3, "mode": "test_scaling"})
    g.add_node("Linear", "scores", {"units": 3, "init": "xavier"})
    g.add_node("Target", "y")
    g.add_node("SoftmaxCrossEntropy", "loss")
    g.add_node("L2", "reg", {"lam": 0.01, "include_biases": True})
    for src, dst, port in LINKS:
        g.connect(src, dst, port)
    g.set_data({"source": "spiral", "n": 60, "classes": 3, "seed": 1})
    g.training.update(optimizer=optimizer, lr=0.05, momentum=0.9, batch_size=16, seed=seed)
    assert not g.problems
    return g


def _walk_forward(s: Stepper) -> list[dict]:
    states = [_state(s)]
    while not s.done:
        s.step()
        states.append(_state(s))
    return states


def _check_every_point(s: Stepper, states: list[dict]) -> None:
    """From the end, step back to every earlier point and compare with the state it had when first
    reached; at each point also step forward once and back again (the step taken again gives the same
    state: the same batch statistics, dropout mask and update, bit for bit). Then walk forward from
    the start to the end again, and from the midpoint to the end again, comparing every state."""
    n = len(states) - 1
    assert s.position == n and _differences(_state(s), states[n]) == []
    for i in range(n - 1, -1, -1):
        rec = s.step_back()
        assert _differences(_state(s), states[i]) == [], f"stepping back over {rec.phase} {rec.node} to point {i}"
        rec = s.step()
        assert _differences(_state(s), states[i + 1]) == [], \
            f"stepping {rec.phase} {rec.node} again from point {i}"
        s.step_back()
        assert _differences(_state(s), states[i]) == [], f"stepping back over {rec.phase} {rec.node} again"
    assert s.step_back() is None
    for start in (0, n // 2):
        while s.position > start:
            s.step_back()
        assert _differences(_state(s), states[start]) == []
        for j in range(start + 1, n + 1):
            rec = s.step()
            assert _differences(_state(s), states[j]) == [], \
                f"walking forward again from point {start}: {rec.phase} {rec.node} (point {j})"
    s.reset()
    assert _differences(_state(s), states[0]) == [], "reset"


def _moved_and_drawn(s: Stepper, states: list[dict]) -> None:
    """The walk did what the check needs: running statistics moved, masks dropped some units."""
    b = s.run.bricks
    for bn in ("bn1", "bn2"):
        i = s.plan.index(("forward", bn)) + 1
        assert states[i][f"{bn}.buffers"] != states[i - 1][f"{bn}.buffers"], f"{bn}'s running statistics did not move"
    for d in ("drop1", "drop2"):
        mask = b[d].cache["scale"]
        assert mask.ndim == 2 and 0 < np.count_nonzero(mask) < mask.size, f"{d} dropped no unit or all"
    assert [p for p, _ in s.plan].count("update") == 5  # fc1, bn1 (γ, β), fc2, bn2, scores


@pytest.mark.parametrize("optimizer,seed", [("adam", 0), ("nesterov", 12345)])
def test_step_back_restores_batchnorm_and_dropout_state_exactly_over_two_iterations(optimizer, seed):
    doc = _bn_dropout_graph(optimizer, seed)
    # iteration 1, from fresh weights: running_mean 0, running_var 1
    first = Stepper(doc)
    bn1 = first.run.bricks["bn1"]
    assert set(bn1.buffers) == {"running_mean", "running_var"}
    assert np.array_equal(bn1.buffers["running_mean"], np.zeros(8))
    assert np.array_equal(bn1.buffers["running_var"], np.ones(8))
    states1 = _walk_forward(first)
    _moved_and_drawn(first, states1)
    if optimizer == "adam":
        assert {"m", "v", "t"} <= set(first.optimizer.state["fc1/W"])
    _check_every_point(first, states1)
    for _ in range(len(first.plan)):
        first.step()
    # iteration 2: the weights and running statistics iteration 1 left, a new batch and new masks
    after1 = {k: v.copy() for k, v in first.run.weights_copy().items()}
    masks1 = {d: first.run.bricks[d].cache["scale"].copy() for d in ("drop1", "drop2")}
    first.run.keep_command().do(doc)
    first.close()
    doc.set_training("seed", seed + 1)
    second = Stepper(doc, weights="document")
    start = second.run.weights_copy()
    assert start.keys() == after1.keys()
    assert all(_freeze(start[k]) == _freeze(after1[k]) for k in start), "the kept weights and buffers"
    assert not np.array_equal(start["bn1/running_mean"], np.zeros(8))
    states2 = _walk_forward(second)
    _moved_and_drawn(second, states2)
    assert any(not np.array_equal(second.run.bricks[d].cache["scale"], masks1[d]) for d in masks1)
    _check_every_point(second, states2)


# ---- 2. BatchNorm's running averages ---------------------------------------------------------------
@pytest.fixture(params=["fast", "reference"])
def backend(request):
    previous = kernels.active()
    kernels.use(request.param)
    yield request.param
    kernels.use(previous.__name__.rsplit(".", 1)[-1])


def _dyadic(seed: int, shape) -> np.ndarray:
    """Quarters in [−4, 4]: with 8 values per feature, every mean and (biased) variance is exact in
    float64 whatever the order of summation, so the kernels' statistics can be compared exactly."""
    return np.random.default_rng(seed).integers(-16, 17, size=shape) / 4.0


def _exact_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per feature (axis 1), over the batch and the positions: the mean, the biased variance (÷ m)
    and the unbiased one (÷ (m − 1)), exactly (as fractions), then rounded once to float64."""
    x3 = x.reshape(x.shape[0], x.shape[1], -1)
    means, biased, unbiased = [], [], []
    for c in range(x3.shape[1]):
        vals = [Fraction(float(v)) for v in x3[:, c, :].ravel()]
        mu = sum(vals) / len(vals)
        ss = sum((v - mu) ** 2 for v in vals)
        means.append(mu), biased.append(ss / len(vals)), unbiased.append(ss / (len(vals) - 1))
        assert Fraction(float(mu)) == mu and Fraction(float(ss / len(vals))) == ss / len(vals)
    return tuple(np.array([float(v) for v in a]) for a in (means, biased, unbiased))


@pytest.mark.parametrize("shape", [(8, 3), (2, 3, 2, 2)], ids=["N,D", "N,C,H,W"])
@pytest.mark.parametrize("m", [0.9, 0.7])
def test_batchnorm_running_averages_follow_the_declared_formula(backend, m, shape):
    bn = get_brick_class("BatchNorm")("bn", momentum=m)
    # the brick's own declaration, which the test holds it to (and the lectures' convention)
    assert bn.spec("momentum").doc == "running = momentum·running + (1 − momentum)·batch"
    bn.init_weights({"x": shape}, np.random.default_rng(0), np.float64)
    running_mean, running_var = np.zeros(3), np.ones(3)
    assert np.array_equal(bn.buffers["running_mean"], running_mean)
    assert np.array_equal(bn.buffers["running_var"], running_var)
    for seed in (1, 2):  # one pass, then a second one on another batch
        x = _dyadic(seed, shape)
        mean, var, unbiased = _exact_stats(x)
        assert np.all(var > 0)
        bn.forward({"x": x}, True)
        swapped_mean = (1 - m) * running_mean + m * mean
        running_mean = m * running_mean + (1 - m) * mean
        with_unbiased = m * running_var + (1 - m) * unbiased
        swapped_var = (1 - m) * running_var + m * var
        running_var = m * running_var + (1 - m) * var  # the biased variance (÷ m), as the kernels keep
        assert bn.buffers["running_mean"].dtype == np.float64
        assert np.array_equal(bn.buffers["running_mean"], running_mean), f"running_mean after pass {seed}"
        assert np.array_equal(bn.buffers["running_var"], running_var), f"running_var after pass {seed}"
        # the data tells the conventions apart, so the two asserts above could fail on either mistake
        assert not np.array_equal(running_mean, swapped_mean) and not np.array_equal(running_var, swapped_var)
        assert not np.array_equal(running_var, with_unbiased)


@pytest.mark.parametrize("shape", [(8, 3), (2, 3, 2, 2)], ids=["N,D", "N,C,H,W"])
def test_batchnorm_test_mode_uses_the_running_statistics(backend, shape):
    bn = get_brick_class("BatchNorm")("bn", momentum=0.7, eps=0.25)
    bn.init_weights({"x": shape}, np.random.default_rng(0), np.float64)
    x = _dyadic(3, shape)
    bn.forward({"x": x}, True)  # moves the running statistics; test mode must not
    # running statistics (and ε) chosen so that every operation is exact: √(σ² + ε) = 1, 2, 4
    bn.buffers = {"running_mean": np.array([0.5, -1.25, 2.0]), "running_var": np.array([0.75, 3.75, 15.75])}
    bn.weights = {"gamma": np.array([2.0, 0.5, -1.0]), "beta": np.array([0.25, -0.5, 1.0])}
    before = {k: v.copy() for k, v in bn.buffers.items()}
    out = bn.forward({"x": x}, False)
    b = (slice(None),) + (None,) * (len(shape) - 2)  # one value per feature / channel
    want = (np.array([2.0, 0.5, -1.0])[b] * (x - np.array([0.5, -1.25, 2.0])[b]) / np.array([1.0, 2.0, 4.0])[b]
            + np.array([0.25, -0.5, 1.0])[b])  # γ (x − μ_run)/√(σ²_run + ε) + β
    assert out.shape == x.shape
    assert np.array_equal(out, want), "test mode: not γ (x − running_mean)/√(running_var + ε) + β"
    assert all(np.array_equal(bn.buffers[k], before[k]) for k in before), "test mode changed the running statistics"
    again = bn.forward({"x": x[:1]}, False)  # one sample is fine at test time: no batch statistics
    assert np.array_equal(again, want[:1])


# ---- 3. a graph file with every field away from its default ----------------------------------------
NODES = [  # (type, name, every parameter of the brick, away from its default)
    ("Input", "x", {}),
    ("Flatten", "flat", {}),
    ("Linear", "fc1", {"units": 6, "init": "xavier_avg", "init_scale": 0.02, "bias_init": 0.125, "bias": False}),
    ("BatchNorm", "bn", {"momentum": 0.8, "eps": 1e-3}),
    ("LeakyReLU", "act", {"alpha": 0.05}),
    ("Dropout", "drop", {"p": 0.25, "mode": "test_scaling", "p_means": "keep", "seed": 4}),
    ("Linear", "dec", {"units": 64, "init": "uniform", "init_scale": 0.05, "bias_init": -0.25, "bias": False}),
    ("Target", "t", {"encoding": "real", "of": "input", "column": 3}),
    ("Flatten", "tflat", {}),
    ("MSELoss", "mse", {}),
    ("L2", "reg", {"lam": 0.01, "layers": "fc1, dec", "include_biases": True}),
]
EDGES = [("x", "flat", "x"), ("flat", "fc1", "x"), ("fc1", "bn", "x"), ("bn", "act", "x"), ("act", "drop", "x"),
         ("drop", "dec", "x"), ("t", "tflat", "x"), ("dec", "mse", "x"), ("tflat", "mse", "target")]
DATA = {"source": "shapes", "n": 90, "size": 8, "noise": 0.2, "seed": 6, "classes": [0, 2],
        "val": 0.2, "test": 0.1, "split_seed": 3, "preprocess": "standardize", "n_train": 30,
        "augment": {"flip": True, "shift": 1, "jitter": 0.05}}
TRAINING = {"optimizer": "rmsprop", "lr": 0.03, "momentum": 0.5, "beta1": 0.8, "beta2": 0.99, "decay": 0.9,
            "eps": 1e-6, "batch_size": 8, "epochs": 3, "seed": 11, "schedule": "step", "step_every": 2,
            "step_factor": 0.25, "exp_k": 0.1, "plateau_patience": 5, "early_stopping": 4, "freeze": ["bn"],
            "init_from": "pretrained.npz", "diagnostics_every": 2, "overfit": 5, "diverge_factor": 50.0}
RUNS = [{"label": "rmsprop, η = 0.03", "settings": {"training.lr": 0.03, "fc1.units": 6},
         "history": [{"epoch": 1, "loss": 0.75, "val_loss": 0.875}, {"epoch": 2, "loss": 0.5}],
         "status": "finished", "summary": {"best_val_loss": 0.875}}]
PLAYGROUND = {"start": [1.5, -2.0], "x": [-3.0, 3.5], "y": [-2.5, 4.0], "steps": 50,
              "lr": {"sgd": 0.05, "momentum": 0.02, "nesterov": 0.03, "adagrad": 0.5, "rmsprop": 0.01,
                     "adam": 0.1}}


def _non_default(spec, value) -> bool:
    a, b = spec.coerce(value, "test"), spec.coerce(spec.default, "test")
    return a != b


def test_the_round_trip_document_leaves_no_field_at_its_default():
    """So that a field added later, and not round-tripped, fails the round trip below (or this)."""
    schema = fileformat.schema()
    # every training setting, away from its default (and the Settings the runs read hold the same)
    assert set(TRAINING) == set(SPECS) == set(Settings.__dataclass_fields__)
    assert set(DEFAULT_TRAINING) <= set(SPECS)
    assert set(TRAINING) == set(schema["properties"]["training"]["properties"])
    assert all(_non_default(SPECS[k], v) for k, v in TRAINING.items()), \
        [k for k, v in TRAINING.items() if not _non_default(SPECS[k], v)]
    # every data setting of the source, of the pipeline and of augmentation, away from its default
    own = {s.name: s for s in SOURCES[DATA["source"]][1]}
    pipeline = {s.name: s for s in PIPELINE}
    assert set(DATA) == {"source", "augment", "classes"} | set(own) | set(pipeline)
    assert all(_non_default({**own, **pipeline}[k], v) for k, v in DATA.items()
               if k not in ("source", "augment", "classes"))
    assert set(DATA["augment"]) == {s.name for s in AUGMENT}
    assert all(_non_default(s, DATA["augment"][s.name]) for s in AUGMENT)
    # every parameter of every node; every key of a kept run and of the playground
    for type_name, _, params in NODES:
        specs = get_brick_class(type_name).params
        assert set(params) == {s.name for s in specs}, type_name
        assert all(_non_default(s, params[s.name]) for s in specs), type_name
    assert set(RUNS[0]) == set(schema["properties"]["runs"]["items"]["properties"])
    assert set(PLAYGROUND) == set(PLAYGROUND_KEYS) and set(PLAYGROUND["lr"]) == set(PLAYGROUND_RULES)


def _full_graph() -> Graph:
    g = Graph()
    g.title = "Round trip: every field — ünïcode, \"quotes\""
    g.note = "# A note\n\nWith *Markdown*, a formula `x̂ = (x − μ)/σ` and a trailing newline.\n"
    g.seed = 42
    for i, (type_name, name, params) in enumerate(NODES):
        g.add_node(type_name, name, params, (10.5 * i + 0.25, -3.75 * i - 1.125))
    for src, dst, port in EDGES:
        g.connect(src, dst, port)
    g.set_data(json.loads(json.dumps(DATA)))
    for key, value in json.loads(json.dumps(TRAINING)).items():
        g.set_training(key, value)
    g.runs = json.loads(json.dumps(RUNS))
    g.playground = json.loads(json.dumps(PLAYGROUND))
    g.analyze()
    assert not g.problems, g.problems
    g.build(np.float64)  # then every weight and running statistic away from its initial value
    rng = np.random.default_rng(7)
    for b in g.bricks().values():
        for store in (b.weights, b.buffers):
            for k, v in store.items():
                store[k] = v + rng.uniform(0.125, 1.0, v.shape)  # keeps running_var > 0
    return g


def _same_graph(a: Graph, b: Graph) -> None:
    assert (a.title, a.note, a.seed) == (b.title, b.note, b.seed)
    assert a.training == b.training and Settings.from_dict(a.training) == Settings.from_dict(b.training)
    assert a.data == b.data and a.runs == b.runs
    # loading checks the playground section, which turns its pairs into tuples: compare as JSON
    assert json.loads(json.dumps(a.playground)) == json.loads(json.dumps(b.playground))
    assert a.nodes() == b.nodes()
    for n in a.nodes():
        ba, bb = a.brick(n), b.brick(n)
        assert type(ba) is type(bb) and _freeze(ba.config) == _freeze(bb.config), n
        assert a.pos(n) == b.pos(n) and all(type(v) is float for v in b.pos(n)), n
    assert sorted(map(tuple, map(vars, a.edges()))) == sorted(map(tuple, map(vars, b.edges())))
    wa, wb = a.weights(), b.weights()
    assert wa.keys() == wb.keys()
    assert [k for k in wa if _freeze(wa[k]) != _freeze(wb[k])] == [], "weights or buffers that changed"


def test_a_graph_file_round_trips_every_field_exactly(tmp_path):
    g = _full_graph()
    first, second = tmp_path / "one" / "g.json", tmp_path / "two" / "g.json"
    first.parent.mkdir(), second.parent.mkdir()
    fileformat.save(g, first, with_weights=True)
    saved = json.loads(first.read_text(encoding="utf-8"))
    assert set(saved) == set(fileformat.schema()["properties"]), "a field of the schema was not written"
    assert saved["seed"] == 42 and saved["training"] == TRAINING and saved["data"] == DATA
    assert saved["runs"] == RUNS and saved["playground"] == PLAYGROUND
    assert [n["params"] for n in saved["nodes"]] == [p for _, _, p in NODES]
    loaded = fileformat.load(first)
    _same_graph(g, loaded)
    # the default of every setting left out changes nothing: loading filled in no other value
    assert loaded.training == TRAINING and loaded.data == DATA
    assert json.loads(json.dumps(loaded.playground)) == PLAYGROUND
    fileformat.save(loaded, second, with_weights=True)
    assert second.read_bytes() == first.read_bytes(), "saving what was loaded wrote another document"
    weights = saved["weights"]
    with np.load(first.parent / weights) as npz:  # every weight, and BatchNorm's running statistics
        assert set(npz.files) == {"fc1/W", "bn/gamma", "bn/beta", "bn/running_mean", "bn/running_var", "dec/W"}
    assert (second.parent / weights).read_bytes() == (first.parent / weights).read_bytes()
    _same_graph(g, fileformat.load(second))
    # and without weights: the same document, byte for byte, each time
    fileformat.save(loaded, tmp_path / "bare.json")
    fileformat.save(fileformat.load(tmp_path / "bare.json"), tmp_path / "bare2.json")
    assert (tmp_path / "bare.json").read_bytes() == (tmp_path / "bare2.json").read_bytes()
    assert json.loads((tmp_path / "bare.json").read_text()) == {k: v for k, v in saved.items() if k != "weights"}
