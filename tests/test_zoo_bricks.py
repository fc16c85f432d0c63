"""The bricks the model zoo brought (issue 28), against PyTorch's own functions in float64: the
same output, the same input and weight gradients by autograd. (Their finite-difference checks
are in test_bricks, with every brick's.)"""
from __future__ import annotations

import numpy as np
import pytest

from gradviz_core import get_brick_class


def _ours(type_name, params, inputs, weights=None, training=True):
    b = get_brick_class(type_name)("b", **params)
    shapes = {k: v.shape for k, v in inputs.items()}
    b.init_weights(shapes, np.random.default_rng(0), np.float64)
    b.weights.update(weights or {})
    b.zero_grads()
    out = b.forward(inputs, training)
    g = np.random.default_rng(9).standard_normal(out.shape)
    return b, out, g, b.backward(g)


def _cases():
    rng = np.random.default_rng(4)
    img = rng.standard_normal((3, 7, 5, 4))
    vec = rng.standard_normal((4, 6))
    return [
        ("LRN", {"size": 5, "alpha": 1e-2, "beta": 0.75, "k": 2.0}, {"x": img * 3},
         lambda t, x, **w: t.nn.functional.local_response_norm(x["x"], 5, 1e-2, 0.75, 2.0), {}),
        ("LRN", {"size": 3, "alpha": 0.7, "beta": 1.3, "k": 0.5}, {"x": img},
         lambda t, x, **w: t.nn.functional.local_response_norm(x["x"], 3, 0.7, 1.3, 0.5), {}),
        ("PReLU", {}, {"x": img}, lambda t, x, a: t.nn.functional.prelu(x["x"], a), {"a": rng.uniform(0, 0.5, 7)}),
        ("PReLU", {}, {"x": vec}, lambda t, x, a: t.nn.functional.prelu(x["x"], a), {"a": rng.uniform(0, 0.5, 6)}),
        ("SELU", {}, {"x": vec}, lambda t, x, **w: t.nn.functional.selu(x["x"]), {}),
        ("Softplus", {}, {"x": vec * 5}, lambda t, x, **w: t.nn.functional.softplus(x["x"]), {}),
        ("LogSoftmax", {}, {"x": vec * 5}, lambda t, x, **w: t.log_softmax(x["x"], dim=-1), {}),
        ("GlobalAvgPool2D", {}, {"x": img}, lambda t, x, **w: t.nn.functional.adaptive_avg_pool2d(x["x"], 1), {}),
        ("Pad2D", {"top": 2, "bottom": -1, "left": 0, "right": 3}, {"x": img},
         lambda t, x, **w: t.nn.functional.pad(x["x"], (0, 3, 2, -1)), {}),
        ("AddN", {"inputs": 3}, {f"in{i}": rng.standard_normal((2, 3, 2, 2)) for i in range(3)},
         lambda t, x, **w: x["in0"] + x["in1"] + x["in2"], {}),
        ("Concat", {"inputs": 3}, {f"in{i}": rng.standard_normal((2, i + 1, 2, 2)) for i in range(3)},
         lambda t, x, **w: t.cat([x["in0"], x["in1"], x["in2"]], dim=1), {}),
        ("ChannelShuffle", {"groups": 3}, {"x": rng.standard_normal((2, 6, 3, 2))},
         lambda t, x, **w: t.nn.functional.channel_shuffle(x["x"], 3), {}),
        ("Abs", {}, {"x": vec}, lambda t, x, **w: t.abs(x["x"]), {}),
        ("Conv2D", {"filters": 2, "size": 1, "size_w": 3, "stride": 1, "stride_w": 2, "padding": 1, "bias": False},
         {"x": img}, lambda t, x, W: t.nn.functional.conv2d(x["x"], W, stride=(1, 2), padding=1),
         {"W": rng.standard_normal((2, 7, 1, 3))}),
        ("MaxPool2D", {"size": 3, "size_w": 2, "stride": 2, "stride_w": 1}, {"x": img},
         lambda t, x, **w: t.nn.functional.max_pool2d(x["x"], (3, 2), (2, 1)), {}),
        ("AvgPool2D", {"size": 1, "size_w": 2, "stride": 1, "stride_w": 2}, {"x": img},
         lambda t, x, **w: t.nn.functional.avg_pool2d(x["x"], (1, 2), (1, 2)), {}),
    ]


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_a_new_brick_computes_and_differentiates_as_pytorch_does(case):
    torch = pytest.importorskip("torch")
    type_name, params, inputs, theirs_fn, weights = case
    b, out, g, grads = _ours(type_name, params, inputs, weights)
    xs = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in inputs.items()}
    ws = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in weights.items()}
    theirs = theirs_fn(torch, xs, **ws)
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    for k, x in xs.items():
        np.testing.assert_allclose(grads[k], x.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)
    for k, w in ws.items():
        np.testing.assert_allclose(b.grad(k), w.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_a_border_of_minus_infinity_before_a_max_pool_never_wins():
    """Pad2D with −∞ then a max pool is a max pool padded on one side only: every window's
    maximum is a value of the image, and the gradient reaches only the image."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5, 5))
    pad, padded, _, _ = _ours("Pad2D", {"top": 1, "bottom": 0, "left": 1, "right": 0, "fill": "-inf"}, {"x": x})
    assert padded.shape == (2, 3, 6, 6) and np.isneginf(padded[:, :, 0]).all() and np.isneginf(padded[:, :, :, 0]).all()
    pool, out, g, grads = _ours("MaxPool2D", {"size": 3, "stride": 3}, {"x": padded})
    assert np.isfinite(out).all()
    back = pad.backward(grads["x"])["x"]
    assert back.shape == x.shape and np.isclose(back.sum(), g.sum())  # every window's gradient reached x
