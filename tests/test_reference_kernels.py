"""The NumPy reference kernels against the textbook loop nest (forward values)."""
import numpy as np
import pytest

from gradviz_core.kernels import reference as ref


def naive_conv(x, w, b, s, p, g):
    n, c, h, wd = x.shape
    k, cg, f, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = (h - f + 2 * p) // s + 1, (wd - f + 2 * p) // s + 1
    out = np.zeros((n, k, ho, wo))
    kg = k // g
    for i in range(n):
        for kk in range(k):
            grp = kk // kg
            for y in range(ho):
                for xx in range(wo):
                    win = xp[i, grp * cg:(grp + 1) * cg, y * s:y * s + f, xx * s:xx * s + f]
                    out[i, kk, y, xx] = np.sum(win * w[kk]) + (b[kk] if b is not None else 0)
    return out


def naive_pool(x, f, s, p, op):
    n, c, h, w = x.shape
    fill = -np.inf if op is np.max else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)
    ho, wo = (h - f + 2 * p) // s + 1, (w - f + 2 * p) // s + 1
    out = np.zeros((n, c, ho, wo))
    for y in range(ho):
        for xx in range(wo):
            out[:, :, y, xx] = op(xp[:, :, y * s:y * s + f, xx * s:xx * s + f], axis=(2, 3))
    return out


@pytest.mark.parametrize("s,p,g,f", [(1, 0, 1, 3), (2, 1, 1, 3), (1, 1, 2, 3), (2, 2, 3, 5), (1, 0, 1, 1)])
def test_conv_forward_matches_loops(s, p, g, f):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3 * g, 9, 7))
    w = rng.standard_normal((2 * g, 3, f, f))
    b = rng.standard_normal(2 * g)
    np.testing.assert_allclose(ref.conv2d_forward(x, w, b, s, p, g), naive_conv(x, w, b, s, p, g),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f,s,p", [(2, 2, 0), (3, 1, 1), (3, 2, 1), (2, 1, 0)])
def test_pool_forward_matches_loops(f, s, p):
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 6))
    out, arg = ref.maxpool_forward(x, f, s, p)
    np.testing.assert_array_equal(out, naive_pool(x, f, s, p, np.max))
    assert arg.min() >= 0 and arg.max() < f * f
    np.testing.assert_allclose(ref.avgpool_forward(x, f, s, p), naive_pool(x, f, s, p, np.mean))


def test_maxpool_gradient_goes_to_the_winner_only():
    x = np.array([[[[1.0, 5.0], [3.0, 2.0]]]])
    out, arg = ref.maxpool_forward(x, 2, 2, 0)
    dx = ref.maxpool_backward(np.array([[[[7.0]]]]), arg, x.shape, 2, 2, 0)
    np.testing.assert_array_equal(dx, [[[[0.0, 7.0], [0.0, 0.0]]]])


def test_softmax_xent_of_uniform_scores_is_log_k():
    s = np.zeros((4, 10))
    t = np.eye(10)[[0, 3, 5, 9]]
    loss, p, _ = ref.softmax_xent_forward(s, t)
    assert loss == pytest.approx(np.log(10))
    np.testing.assert_allclose(p, 0.1)


def test_softmax_is_stable_for_huge_scores():
    p = ref.softmax(np.array([[1000.0, 1000.0, -1000.0]]))
    np.testing.assert_allclose(p, [[0.5, 0.5, 0.0]])
    assert np.all(np.isfinite(ref.sigmoid(np.array([-1000.0, 1000.0]))))
