"""Every brick's backward pass against centered finite differences in float64."""
import numpy as np
import pytest

from brick_cases import CASES, SPECIAL
from gradviz_core import brick_types, get_brick_class, kernels
from gradviz_core.runs.gradcheck import check_brick
from gradviz_core.model.init import weight_param_specs  # noqa: F401  (the registry is loaded)

TOL = 1e-7


def make(type_name, params, inputs, dtype=np.float64, seed=0):
    brick = get_brick_class(type_name)("b", **params)
    shapes = {k: tuple(np.shape(v)) for k, v in inputs.items()}
    brick.init_weights(shapes, np.random.default_rng(seed), dtype)
    if "running_mean" in brick.buffers:  # test mode needs running statistics that are not trivial
        rng = np.random.default_rng(seed + 1)
        brick.buffers["running_mean"] = rng.standard_normal(brick.buffers["running_mean"].shape)
        brick.buffers["running_var"] = rng.uniform(0.5, 2.0, brick.buffers["running_var"].shape)
    brick.astype(dtype)
    brick.zero_grads()
    return brick


def test_every_brick_has_a_gradient_check():
    assert set(brick_types()) == set(CASES) | set(SPECIAL)


def _inferred_matches(brick, inputs, out):
    shapes = {k: tuple(np.shape(v)) for k, v in inputs.items()}
    want = brick.infer_shape(shapes)
    assert tuple(want) == np.shape(out)


@pytest.fixture(params=["fast", "reference"])
def backend(request):
    """Every check runs on the Numba kernels and on the NumPy reference."""
    previous = kernels.active()
    kernels.use(request.param)
    yield request.param
    kernels.use("fast" if previous.__name__.endswith("fast") else "reference")


@pytest.mark.parametrize("type_name", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backward_matches_finite_differences(type_name, seed, backend):
    rng = np.random.default_rng(1000 * seed + len(type_name))
    checked = 0
    for params, inputs, training in CASES[type_name](rng):
        brick = make(type_name, params, inputs, seed=seed)
        out = brick.forward(inputs, training)
        _inferred_matches(brick, inputs, out)
        if brick.has_kink and (brick.kink_distance() or 1.0) < 1e-4:
            continue  # a randomized input landed on a kink: no derivative there
        errors = check_brick(brick, inputs, training, seed=seed)
        assert errors, f"{type_name}: nothing was checked"
        bad = {k: v for k, v in errors.items() if v > TOL}
        assert not bad, f"{type_name} {params} training={training}: {bad}"
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("type_name", sorted(CASES))
def test_float32_agrees_with_float64(type_name, backend):
    rng = np.random.default_rng(7)
    for params, inputs, training in CASES[type_name](rng):
        b64 = make(type_name, params, inputs, np.float64)
        b32 = make(type_name, params, inputs, np.float32)
        in32 = {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in inputs.items()}
        o64, o32 = b64.forward(inputs, training), b32.forward(in32, training)
        assert o32.dtype == np.float32, f"{type_name} left float32"
        np.testing.assert_allclose(o32, o64, rtol=1e-4, atol=1e-5)
        g = np.random.default_rng(1).standard_normal(np.shape(o64))
        d64, d32 = b64.backward(g), b32.backward(g.astype(np.float32))
        for port, d in d64.items():
            if d is not None:
                assert np.asarray(d32[port]).dtype == np.float32, f"{type_name}.{port} left float32"
                np.testing.assert_allclose(d32[port], d, rtol=1e-3, atol=1e-4)


def test_constant_and_variable():
    rng = np.random.default_rng(3)
    value = rng.standard_normal((2, 3))
    for type_name, trainable in (("Constant", False), ("Variable", True)):
        brick = make(type_name, {"value": value.tolist()}, {})
        assert brick.config["trainable"] is trainable
        assert ("value" in brick.weights) is trainable
        np.testing.assert_allclose(brick.forward({}, True), value)
    variable = make("Variable", {"value": value.tolist()}, {})
    errors = check_brick(variable, {})
    assert errors["weight value"] < TOL


def _targets(rng):
    fc = make("Linear", {"units": 3}, {"x": rng.standard_normal((2, 4))})
    fc.name = "fc"
    conv = make("Conv2D", {"filters": 2, "size": 3}, {"x": rng.standard_normal((2, 2, 5, 5))})
    conv.name = "conv"
    return {"fc": fc, "conv": conv}


@pytest.mark.parametrize("type_name,params", [
    ("L2", {"lam": 0.3}), ("L1", {"lam": 0.2}), ("ElasticNet", {"l1": 0.1, "l2": 0.4}),
    ("L2", {"lam": 0.3, "include_biases": True}), ("L1", {"lam": 0.2, "layers": "conv"}),
])
def test_regularizers(type_name, params):
    rng = np.random.default_rng(5)
    targets = _targets(rng)
    reg = get_brick_class(type_name)("reg", **params)
    reg.bind(targets)
    names = {(n, w) for n, _, w in reg.targets}
    expect_layers = {"conv"} if params.get("layers") else {"fc", "conv"}
    expect = {(n, w) for n in expect_layers for w in ("W", "b")
              if w == "W" or params.get("include_biases")}
    assert names == expect
    extra = [(b, w) for _, b, w in reg.targets]
    errors = check_brick(reg, {}, extra=extra)
    assert len(errors) == len(extra)
    assert max(errors.values()) < TOL, errors


def test_l2_value_is_half_lambda_norm_squared():
    rng = np.random.default_rng(0)
    targets = _targets(rng)
    reg = get_brick_class("L2")("reg", lam=0.5)
    reg.bind(targets)
    want = 0.25 * sum(np.sum(b.weights["W"] ** 2) for b in targets.values())
    assert float(reg.forward({}, True)) == pytest.approx(want)


def test_maxnorm_clips_each_unit_after_update():
    rng = np.random.default_rng(1)
    targets = _targets(rng)
    for b in targets.values():
        b.weights["W"] = b.weights["W"] * 50
    reg = get_brick_class("MaxNorm")("mn", c=2.0)
    reg.bind(targets)
    assert float(reg.forward({}, True)) == 0.0
    reg.project()
    fc_norms = np.linalg.norm(targets["fc"].weights["W"], axis=0)        # one per output unit
    conv_norms = np.sqrt((targets["conv"].weights["W"] ** 2).sum(axis=(1, 2, 3)))  # one per filter
    assert np.all(fc_norms <= 2.0 + 1e-9) and np.allclose(fc_norms, 2.0)
    assert np.all(conv_norms <= 2.0 + 1e-9)


def test_dropout_modes_keep_expectation():
    x = np.ones((200, 50))
    for mode in ("inverted", "test_scaling"):
        d = make("Dropout", {"p": 0.3, "mode": mode}, {"x": x})
        train, test = d.forward({"x": x}, True), d.forward({"x": x}, False)
        kept = (train != 0).mean()
        assert abs(kept - 0.7) < 0.02
        # inverted: E[train] = x = test;  test_scaling: E[train] = 0.7 x = test
        assert abs(train.mean() - test.mean()) < 0.03


def test_dropout_is_reproducible_per_draw():
    x = np.ones((4, 10))
    a = make("Dropout", {"p": 0.5, "seed": 3}, {"x": x})
    b = make("Dropout", {"p": 0.5, "seed": 3}, {"x": x})
    np.testing.assert_array_equal(a.forward({"x": x}, True), b.forward({"x": x}, True))
    np.testing.assert_array_equal(a.forward({"x": x}, True), a.forward({"x": x}, True))
    a.begin_iteration(0, 1)  # the next iteration draws a new mask
    assert not np.array_equal(a.forward({"x": x}, True), b.forward({"x": x}, True))
    b.begin_iteration(7, 1)  # and the training seed changes the masks too
    a.begin_iteration(0, 1)
    assert not np.array_equal(a.forward({"x": x}, True), b.forward({"x": x}, True))


def test_batchnorm_training_normalizes_and_updates_running_averages():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 3)) * 4 + 2
    bn = make("BatchNorm", {"momentum": 0.5}, {"x": x})
    bn.buffers = {"running_mean": np.zeros(3), "running_var": np.ones(3)}
    out = bn.forward({"x": x}, True)
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(0), 1, atol=1e-3)
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.5 * x.mean(0))
    np.testing.assert_allclose(bn.buffers["running_var"], 0.5 + 0.5 * x.var(0))


@pytest.mark.parametrize("m", [0.9, 0.7])
def test_batchnorm_running_averages_keep_m_of_the_old_and_1_minus_m_of_the_batch(m):
    # at momentum 0.5 m and 1 − m are the same: a swapped momentum shows only away from it
    rng = np.random.default_rng()
    x1, x2 = rng.standard_normal((32, 3)) * 3 + 1, rng.standard_normal((32, 3)) - 2
    bn = make("BatchNorm", {"momentum": m}, {"x": x1})
    bn.buffers = {"running_mean": np.zeros(3), "running_var": np.ones(3)}
    bn.forward({"x": x1}, True)
    mean, var = (1 - m) * x1.mean(0), m + (1 - m) * x1.var(0)
    np.testing.assert_allclose(bn.buffers["running_mean"], mean, rtol=1e-12)
    np.testing.assert_allclose(bn.buffers["running_var"], var, rtol=1e-12)
    bn.forward({"x": x2}, True)  # a second batch: the average moves on from the first
    np.testing.assert_allclose(bn.buffers["running_mean"], m * mean + (1 - m) * x2.mean(0), rtol=1e-12)
    np.testing.assert_allclose(bn.buffers["running_var"], m * var + (1 - m) * x2.var(0), rtol=1e-12)


def test_max_margin_loss_has_both_forms_of_the_lectures():
    s = np.array([[3.2, 5.1, -1.7], [1.0, 1.5, 1.2]])
    y = np.array([0, 0])
    total = make("MaxMarginLoss", {"form": "sum"}, {"x": s, "target": y})
    worst = make("MaxMarginLoss", {"form": "max"}, {"x": s, "target": y})
    # cs231n's first example: 2.9 either way; the second has two violations, 1.5 and 1.2
    assert float(total.forward({"x": s, "target": y}, True)) == pytest.approx((2.9 + 2.7) / 2)
    assert float(worst.forward({"x": s, "target": y}, True)) == pytest.approx((2.9 + 1.5) / 2)
    np.testing.assert_allclose(worst.backward(np.float64(1.0))["x"], [[-0.5, 0.5, 0], [-0.5, 0.5, 0]])
    assert worst.initial_loss(3)[0] == 1.0 and total.initial_loss(3)[0] == 2.0
