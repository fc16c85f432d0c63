"""The Numba kernels agree with the NumPy reference: rel 1e-5 in float32, 1e-10 in float64."""
import numpy as np
import pytest

from gradviz_core.kernels import fast as F
from gradviz_core.kernels import reference as R

TOL = {np.float32: 1e-5, np.float64: 1e-10}


def close(a, b, dtype):
    """Relative agreement, measured against the size of the reference result."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    scale = max(np.abs(b).max(), 1e-30)
    assert np.abs(a - b).max() / scale <= TOL[dtype] * 10, np.abs(a - b).max() / scale


def conv_shapes(rng):
    for _ in range(6):
        groups = int(rng.choice([1, 1, 2, 3]))
        stride, pad, f = int(rng.integers(1, 3)), int(rng.integers(0, 3)), int(rng.choice([1, 3, 5]))
        # few channels per group, and enough (≥ 8) for the channels-last windows
        c, k = groups * int(rng.choice([1, 2, 3, 8, 11])), groups * int(rng.integers(1, 7))
        ho, wo = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        h, w = (ho - 1) * stride + f - 2 * pad, (wo - 1) * stride + f - 2 * pad
        if h >= 1 and w >= 1:
            yield int(rng.integers(1, 5)), c, h, w, k, f, stride, pad, groups


def conv_agrees_with_the_reference(rng, shapes, dtype):
    """Forward, backward, without dx and without a bias: as the reference computes them."""
    for n, c, h, w, k, f, s, p, g in shapes:
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        wt = rng.standard_normal((k, c // g, f, f)).astype(dtype)
        b = rng.standard_normal(k).astype(dtype)
        out = R.conv2d_forward(x, wt, b, s, p, g)
        close(F.conv2d_forward(x, wt, b, s, p, g), out, dtype)
        d = rng.standard_normal(out.shape).astype(dtype)
        want = R.conv2d_backward(d, x, wt, s, p, g)
        for got, ref in zip(F.conv2d_backward(d, x, wt, s, p, g), want):
            close(got, ref, dtype)
        assert F.conv2d_backward(d, x, wt, s, p, g, need_dx=False)[0] is None
        dx, dw, db = F.conv2d_backward(d, x, wt, s, p, g, with_bias=False)
        assert db is None
        close(dw, want[1], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(4))
def test_conv(dtype, seed):
    rng = np.random.default_rng(seed)
    conv_agrees_with_the_reference(rng, conv_shapes(rng), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("f,s,p", [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 1, 0), (1, 1, 0)])
def test_pooling(dtype, f, s, p):
    rng = np.random.default_rng(f * 10 + s)
    x = rng.standard_normal((3, 2, 7, 9)).astype(dtype)
    if (7 - f + 2 * p) % s or (9 - f + 2 * p) % s:
        x = x[:, :, :7 - (7 - f + 2 * p) % s, :9 - (9 - f + 2 * p) % s].copy()
    out, arg = R.maxpool_forward(x, f, s, p)
    fout, farg = F.maxpool_forward(x, f, s, p)
    close(fout, out, dtype)
    np.testing.assert_array_equal(farg, arg)
    d = rng.standard_normal(out.shape).astype(dtype)
    close(F.maxpool_backward(d, farg, x.shape, f, s, p), R.maxpool_backward(d, arg, x.shape, f, s, p), dtype)
    close(F.avgpool_forward(x, f, s, p), R.avgpool_forward(x, f, s, p), dtype)
    close(F.avgpool_backward(d, x.shape, f, s, p), R.avgpool_backward(d, x.shape, f, s, p), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 5, 1), (4, 3, 12), (64, 16, 1)])
def test_batchnorm(dtype, shape):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    gamma, beta = rng.standard_normal(shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    want, got = R.batchnorm_forward(x, gamma, beta, 1e-5), F.batchnorm_forward(x, gamma, beta, 1e-5)
    for a, b in zip(got, want):
        close(a, b, dtype)
    d = rng.standard_normal(shape).astype(dtype)
    for a, b in zip(F.batchnorm_backward(d, want[1], gamma, want[4]), R.batchnorm_backward(d, want[1], gamma, want[4])):
        close(a, b, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k", [(5, 3), (300, 10), (20000, 4)])
def test_softmax_and_cross_entropy(dtype, n, k):
    rng = np.random.default_rng(2)
    s = (rng.standard_normal((n, k)) * 4).astype(dtype)
    t = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    close(F.softmax(s), R.softmax(s), dtype)
    (lf, pf, logf), (lr, pr, logr) = F.softmax_xent_forward(s, t), R.softmax_xent_forward(s, t)
    close(lf, lr, dtype), close(pf, pr, dtype), close(logf, logr, dtype)
    close(F.softmax_xent_backward(pr, t), R.softmax_xent_backward(pr, t), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [7, 100_000])  # the serial and the parallel kernels
def test_elementwise(dtype, size):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(size) * 5).astype(dtype)
    d = rng.standard_normal(size).astype(dtype)
    close(F.sigmoid(x), R.sigmoid(x), dtype)
    for alpha in (0.0, 0.1):
        close(F.relu_forward(x, alpha), R.relu_forward(x, alpha), dtype)
        close(F.relu_backward(d, x, alpha), R.relu_backward(d, x, alpha), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear(dtype):
    rng = np.random.default_rng(4)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((6, 5), (5, 3), (3,)))
    close(F.linear_forward(x, w, b), R.linear_forward(x, w, b), dtype)
    d = rng.standard_normal((6, 3)).astype(dtype)
    for a, c in zip(F.linear_backward(d, x, w), R.linear_backward(d, x, w)):
        close(a, c, dtype)


def test_nan_still_propagates():
    x = np.array([[1.0, np.nan, 2.0]], dtype=np.float32)
    loss, p, _ = F.softmax_xent_forward(x, np.eye(3, dtype=np.float32)[[0]])
    assert np.isnan(loss)
    for alpha in (0.0, 0.1):  # as np.maximum does: a NaN stays NaN
        nan = np.array([np.nan, -1.0, 2.0], np.float32)
        np.testing.assert_array_equal(np.isnan(F.relu_forward(nan, alpha)), np.isnan(R.relu_forward(nan, alpha)))
        assert np.isnan(F.relu_forward(nan, alpha)[0])
    for size, stride, pad in ((2, 2, 0), (3, 2, 1)):  # a NaN anywhere in a window wins it
        x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
        x[0, 0, 1, 1] = x[0, 0, 4, 2] = np.nan
        got, want = F.maxpool_forward(x, size, stride, pad), R.maxpool_forward(x, size, stride, pad)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    conv = F.conv2d_forward(np.full((1, 1, 3, 3), np.nan, np.float32), np.ones((4, 1, 3, 3), np.float32), None, 1, 0, 1)
    assert np.isnan(conv).all()


def test_relu_of_minus_infinity_is_zero():
    out = F.relu_forward(np.array([-np.inf, -2.0, 3.0], np.float32))
    assert out.tolist() == [0.0, 0.0, 3.0] and not np.signbit(out).any()


def test_parallel_results_are_reproducible():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 8, 12, 12)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    d = rng.standard_normal((16, 8, 12, 12)).astype(np.float32)
    first = F.conv2d_backward(d, x, w, 1, 1, 1)
    for _ in range(3):
        for a, b in zip(F.conv2d_backward(d, x, w, 1, 1, 1), first):
            np.testing.assert_array_equal(a, b)


def test_warm_up_runs_every_kernel():
    from gradviz_core import kernels
    from gradviz_core.kernels import direct_conv, fast_conv
    seconds = kernels.warm_up(("float32",))
    assert seconds >= 0
    direct = (direct_conv._conv_fwd_direct, direct_conv._conv_bwd_direct) if direct_conv._direct(np.float32, 1, 3, 8) else ()
    for fn in (fast_conv._conv_fwd, fast_conv._conv_fwd_rows, fast_conv._conv_dw, fast_conv._conv_dx_rows, *direct,
               F._maxpool_fwd, F._maxpool2_fwd, F._maxpool2_bwd, F._bn_bwd):
        assert fn.signatures, f"{fn.py_func.__name__} was not compiled by warm_up"


def test_results_do_not_depend_on_the_number_of_threads_or_of_cores(monkeypatch):
    """The thread chooser may switch between 1 and 2 threads mid-run, and students' machines
    have 1 to 16 cores: every kernel gives the same bits either way (the convolution's dW
    partials are summed over a fixed number of runs of samples, not one per core)."""
    import numba

    from gradviz_core import kernels
    rng = np.random.default_rng(6)
    x = rng.standard_normal((16, 6, 10, 10)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    d = rng.standard_normal((16, 8, 5, 5)).astype(np.float32)
    w16, b16 = rng.standard_normal((16, 6, 3, 3)).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    d16 = rng.standard_normal((16, 16, 10, 10)).astype(np.float32)
    results = []
    cores = numba.config.NUMBA_NUM_THREADS
    try:
        for machine, n in ((cores, 1), (cores, 2), (1, 1), (16, 2)):
            monkeypatch.setattr("numba.config.NUMBA_NUM_THREADS", machine)  # the runs a machine splits into
            kernels.use_threads(min(n, cores))
            out = F.conv2d_forward(x, w, None, 2, 1, 2)
            results.append([out, *F.conv2d_backward(d, x, w, 2, 1, 2)])
            out = F.conv2d_forward(x, w16, b16, 1, 1, 1, "relu")  # the direct kernels, where the CPU has them
            results[-1] += [out, *F.conv2d_backward(d16, x, w16, 1, 1, 1, act_out=out)]
    finally:
        monkeypatch.setattr("numba.config.NUMBA_NUM_THREADS", cores)
        kernels.use_threads(2)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_the_thread_chooser_keeps_the_faster_count_and_measures_again(monkeypatch):
    from gradviz_core import kernels
    monkeypatch.setattr("numba.config.NUMBA_NUM_THREADS", 2)
    clock = [0.0]
    monkeypatch.setattr(kernels.time, "perf_counter", lambda: clock[0])
    set_to = []
    monkeypatch.setattr(kernels, "use_threads", lambda n: set_to.append(n) or n)
    c = kernels.ThreadChooser(probes=3, every=3.0)
    cost = {1: 1.0, 2: 3.0}                      # a busy machine: the second thread costs
    for _ in range(2 + 6):                       # two untimed warm-up steps, then 3 probes of each
        n = c.before()
        c.after(cost[n] * 32, 32)
    assert set_to[:2] == [1, 1]                  # one thread until a second is shown to pay
    assert c.choice == 1 and set_to[2:8] == [1, 2, 1, 2, 1, 2]
    clock[0] = 3.2
    cost = {1: 1.0, 2: 0.9}                      # about the same: noise, so one thread stays
    for _ in range(6):
        n = c.before()
        c.after(cost[n], 1)
    assert c.choice == 1
    clock[0] = 6.4
    cost = {1: 1.0, 2: 3.0}
    for _ in range(6):
        n = c.before()
        c.after(cost[n], 1)
    assert c.choice == 1
    assert [c.before() for _ in range(5)] == [1] * 5  # kept until the next measurement
    clock[0] = 9.6
    cost = {1: 1.0, 2: 0.6}                      # the machine went quiet: two threads pay again
    for _ in range(6):
        n = c.before()
        c.after(cost[n], 1)
    assert c.choice == 2 and c.before() == 2
    clock[0] = 10.0                              # another process takes a core: two threads' steps slow
    for _ in range(c.WATCH):
        n = c.before()
        c.after(3.0, 1)
    assert c.choice == 1 and c.before() == 1     # back to one at once, not at the next probe (12.6)
    # a probe judges by the mean: rare slow steps of two threads (a core taken) count in full
    clock[0] = 13.0
    slow = iter([0.5, 0.5, 5.0])
    for _ in range(6):
        n = c.before()
        c.after(1.0 if n == 1 else next(slow), 1)
    assert c.choice == 1                         # the median (0.5) would have taken two


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_fused_mlp_forward_agrees_with_the_layers_one_by_one(dtype):
    rng = np.random.default_rng(7)
    for _ in range(6):
        depth = int(rng.integers(1, 5))
        widths = [int(rng.integers(1, 40)) for _ in range(depth + 1)]
        n = int(rng.choice([0, 1, 7, 2047, 2049, 5000]))
        x = rng.standard_normal((n, widths[0])).astype(dtype)
        ws = [rng.standard_normal((a, b)).astype(dtype) for a, b in zip(widths, widths[1:])]
        bs = [rng.standard_normal(b).astype(dtype) for b in widths[1:]]
        acts = [int(a) for a in rng.integers(0, 5, depth)]
        alphas = [float(a) for a in rng.uniform(0, 0.3, depth)]
        got = F.mlp_forward(x, ws, bs, acts, alphas)
        want = R.mlp_forward(x, ws, bs, acts, alphas)
        assert got.dtype == dtype and got.shape == (n, widths[-1])
        if n:
            close(got, want, dtype)


def test_predictions_of_a_small_mlp_take_the_fused_path_and_equal_the_graphs(examples_dir):
    from gradviz_core.model import fileformat
    from gradviz_core.runs import probe
    from gradviz_core.runs.trainer import Trainer
    for name, fused in (("spiral_mlp.json", True), ("lesson_batchnorm.json", False), ("lesson_width.json", True)):
        t = Trainer(fileformat.load(examples_dir / name))
        nodes = t.program.upto(t.head[1])
        assert (probe.mlp_chain(t.program, nodes) is not None) == fused, name
        X = np.random.default_rng(0).uniform(-1, 1, (3000, 2))
        got = t.predict(X)
        t.program.feed(t.splits.preprocessor.transform(X).astype(t.dtype), None, t.dtype)
        want = t.program.forward(False, nodes=nodes)[t.head[1]]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_the_roofline_counts_each_kernels_flops_inside_real_training_steps():
    """gradviz bench --roofline: the arithmetic each kernel must do, counted from the arguments
    the bricks really pass (timings are reported, never asserted)."""
    import numba

    from gradviz_core import kernels
    from gradviz_core.perf import roofline
    before, threads = kernels.active(), kernels.use_threads(1)
    prof = roofline.profile("digits", 8, steps=2)
    # what runs next in the process keeps its backend and its thread count
    assert kernels.active() is before and numba.get_num_threads() == threads
    # digits: conv8 3×3 p1 on 1×8×8, pool, conv16 3×3 p1 on 8×4×4: 2·N·K·Ho·Wo·C·F² each
    conv1, conv2 = 2 * 8 * 8 * 8 * 8 * 1 * 9, 2 * 8 * 16 * 4 * 4 * 8 * 9
    assert prof["conv2d_forward"]["calls"] == 2
    assert prof["conv2d_forward"]["flops"] == conv1 + conv2
    assert prof["conv2d_backward"]["flops"] == conv1 + 2 * conv2  # no dX for the layer on the data
    assert prof["linear_forward"]["flops"] == 2 * 8 * 16 * 2 * 2 * 10
    assert "relu_forward" not in prof and "relu_backward" not in prof  # each runs inside its convolution
    # per step, the pools read 8 samples of 8 maps 8×8 and of 16 maps 4×4 (float32) and write a
    # quarter as many maxima (float32) and winners (a byte each)
    assert prof["maxpool_forward"]["bytes"] == 4 * 8 * 8 * 8 * 8 + 5 * 8 * 8 * 4 * 4 + 4 * 8 * 16 * 4 * 4 + 5 * 8 * 16 * 2 * 2
    # bytes: inputs read once, outputs written once; without dX, W is written (dW) but not read
    x, w, d = np.zeros((64, 100), np.float32), np.zeros((100, 10), np.float32), np.zeros((64, 10), np.float32)
    args = {"dout": d, "x": x, "w": w, "with_bias": True}
    assert roofline.cost("linear_backward", {**args, "need_dx": False})[1] == 4 * (640 + 6400 + 1000)
    assert roofline.cost("linear_backward", {**args, "need_dx": True})[1] == 4 * (640 + 2 * 6400 + 2 * 1000)
    ws, bs = [np.zeros((2, 100), np.float32), np.zeros((100, 1), np.float32)], [np.zeros(100, np.float32)] * 2
    grid = {"x": np.zeros((1000, 2), np.float32), "ws": ws, "bs": bs}
    assert roofline.cost("mlp_forward", grid)[1] == 4 * (2000 + 200 + 100 + 200 + 1000)
    out = (np.zeros(8, np.float32), np.zeros(8, np.float32))  # a kernel without a model of its own
    assert roofline.cost("batchnorm_forward", {"x": np.zeros(8, np.float32)}, out)[1] == 4 * 24
    rows = roofline.rows(prof, {"gemm_gflops": 100.0, "bandwidth_gbs": 50.0, "dram_gbs": 10.0})
    by = {r["kernel"]: r for r in rows}
    assert by["conv2d_backward"]["bound"] == "compute" and by["maxpool_forward"]["bound"] == "memory"
    assert all(0 < r["of_roofline"] for r in rows if r["kernel"].startswith("conv"))
    assert [r["ms"] for r in rows] == sorted((r["ms"] for r in rows), reverse=True)
    assert "| digits-b8 | conv2d_forward |" in roofline.table({"peak": {"gemm_gflops": 100.0, "bandwidth_gbs": 50.0,
                                                                     "dram_gbs": 10.0, "threads": 2},
                                                            "nets": {"digits-b8": rows}})


def big_conv_shapes():
    """Shapes whose window matrix needs several blocks (with a shorter last one), with few and
    many channels, stride 1 and 2, groups, a border wider than the filter, and small images
    (whose windows go in rows: the wide matrix would waste more than a quarter)."""
    yield 3, 2, 13, 11, 4, 3, 1, 1, 1
    yield 2, 12, 9, 10, 6, 3, 1, 2, 2
    yield 2, 9, 12, 12, 5, 5, 1, 4, 1
    yield 3, 4, 11, 13, 6, 3, 2, 1, 2
    yield 2, 1, 10, 10, 3, 5, 1, 0, 1
    yield 2, 8, 5, 5, 4, 3, 1, 1, 1  # small images: rows of windows from a channels-last copy
    yield 2, 3, 9, 10, 16, 3, 1, 1, 1  # float32 and 16 output channels: the direct kernels
    yield 2, 8, 9, 10, 16, 3, 1, 1, 1  # and 8 input channels: dX in the same pass


def direct_conv_shapes():
    """Shapes the direct kernels take (float32, stride 1, 3×3 or 5×5, output channels a group
    in multiples of 8): 16 and 8 output channels a block (and two blocks of 16), channels in
    blocks of 3 with a shorter last block, groups, borders from none to wider than the
    filter, widths that are and are not multiples of the 16-position vector."""
    yield 3, 16, 32, 32, 16, 3, 1, 1, 1  # the cifar net's middle layer
    yield 2, 3, 13, 11, 16, 3, 1, 1, 1
    yield 2, 7, 5, 9, 32, 3, 1, 0, 1
    yield 2, 4, 9, 7, 16, 3, 1, 2, 2
    yield 3, 1, 8, 8, 8, 3, 1, 1, 1
    yield 2, 6, 12, 12, 16, 5, 1, 0, 1  # LeNet's second layer
    yield 2, 5, 7, 6, 8, 5, 1, 4, 1
    yield 1, 2, 1, 1, 8, 3, 1, 1, 1
    # input channels a group in 8s too: dX in the same pass as dW (its border F − 1 − P ≥ 0)
    yield 2, 8, 9, 7, 16, 3, 1, 0, 1
    yield 2, 16, 7, 6, 16, 5, 1, 2, 2
    yield 3, 16, 16, 16, 16, 3, 1, 1, 1
    yield 2, 8, 6, 6, 8, 3, 1, 3, 1  # a border wider than the filter: dX apart


@pytest.mark.parametrize("together", [True, False])
@pytest.mark.parametrize("seed", range(2))
def test_the_direct_convolution_agrees_with_the_reference(monkeypatch, seed, together):
    """Forced on, so that it is tested on machines without AVX-512 too (where the rule would
    choose window matrices): forward, dW, db and dX as the reference computes them, dX in
    dW's pass and apart."""
    from gradviz_core.kernels import direct_conv
    monkeypatch.setattr(direct_conv, "DIRECT", "on")
    monkeypatch.setattr(direct_conv, "TOGETHER", together)
    for n, c, h, w, k, f, s, p, g in direct_conv_shapes():
        assert direct_conv._direct(np.float32, s, f, k // g)
        assert not direct_conv._direct(np.float64, s, f, k // g) and not direct_conv._direct(np.float32, 2, f, k // g)
    conv_agrees_with_the_reference(np.random.default_rng(seed), direct_conv_shapes(), np.float32)


def test_the_direct_convolution_gives_the_same_bits_with_16_lanes_and_with_8(monkeypatch):
    """AVX-512 machines run 16 positions (forward) and 16 output channels (dW) a vector, AVX2
    machines 8: each sum still adds its terms in the same order, so the vector width never
    changes a result. (8 lanes run on either CPU: AVX-512 has AVX2.)"""
    from gradviz_core.kernels import direct_conv
    monkeypatch.setattr(direct_conv, "DIRECT", "on")
    rng = np.random.default_rng(11)
    for n, c, h, w, k, f, s, p, g in direct_conv_shapes():
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        wt = rng.standard_normal((k, c // g, f, f)).astype(np.float32)
        b = rng.standard_normal(k).astype(np.float32)
        got = {}
        for lanes in (16, 8):
            monkeypatch.setattr(direct_conv, "WIDTH", lanes)
            a = F.conv2d_forward(x, wt, b, s, p, g, "relu")
            d = np.random.default_rng(1).standard_normal(a.shape).astype(np.float32)
            got[lanes] = [a, *F.conv2d_backward(d, x, wt, s, p, g, act_out=a)]
        for one, other in zip(got[16], got[8]):
            np.testing.assert_array_equal(one, other)


def test_the_direct_convolution_can_be_turned_off(monkeypatch):
    """GRADVIZ_DIRECT_CONV=off gives the window matrices' results, within float32 rounding."""
    from gradviz_core.kernels import direct_conv
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 16, 12, 12)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    d = rng.standard_normal((4, 16, 12, 12)).astype(np.float32)
    results = {}
    for mode in ("on", "off"):
        monkeypatch.setattr(direct_conv, "DIRECT", mode)
        assert direct_conv._direct(np.float32, 1, 3, 16) == (mode == "on")
        results[mode] = [F.conv2d_forward(x, w, None, 1, 1, 1), *F.conv2d_backward(d, x, w, 1, 1, 1)]
    for a, b in zip(results["on"], results["off"]):
        close(a, b, np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block", [256, 4096])
def test_conv_in_blocks(monkeypatch, dtype, block):
    """Tiny blocks of the window matrix (a few output rows, the last one shorter, wide at stride
    1): the same results as the reference, in both of dW's ways (few rows and many)."""
    from gradviz_core.kernels import fast_conv
    monkeypatch.setattr(fast_conv, "BLOCK_BYTES", block)
    conv_agrees_with_the_reference(np.random.default_rng(block), big_conv_shapes(), dtype)


@pytest.mark.parametrize("backend", [F, R])
@pytest.mark.parametrize("act,alpha", [("relu", 0.0), ("leaky_relu", 0.1), ("leaky_relu", 0.0)])
def test_a_fused_activation_gives_the_bits_of_the_separate_kernels(backend, act, alpha):
    """conv2d_forward(act) is relu_forward of the convolution, and conv2d_backward from the
    activation's output (act_out) is the convolution's backward of relu_backward: the same bits,
    NaN kept, in every block layout."""
    rng = np.random.default_rng(9)
    for n, c, h, w, k, f, s, p, g in big_conv_shapes():
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        wt = rng.standard_normal((k, c // g, f, f)).astype(np.float32)
        b = rng.standard_normal(k).astype(np.float32)
        pre = backend.conv2d_forward(x, wt, b, s, p, g)
        a = backend.conv2d_forward(x, wt, b, s, p, g, act, alpha)
        np.testing.assert_array_equal(a, backend.relu_forward(pre, alpha))
        d = rng.standard_normal(pre.shape).astype(np.float32)
        for need_dx in (True, False):
            fused = backend.conv2d_backward(d, x, wt, s, p, g, need_dx=need_dx, act_out=a, alpha=alpha)
            apart = backend.conv2d_backward(backend.relu_backward(d, pre, alpha), x, wt, s, p, g, need_dx=need_dx)
            for got, want in zip(fused, apart):
                if want is None:
                    assert got is None
                else:
                    np.testing.assert_array_equal(got, want)
    x[0, 0, 0, 0] = np.nan
    assert np.isnan(backend.conv2d_forward(x, wt, b, s, p, g, act, alpha)).any()
    if backend is F:
        with pytest.raises(ValueError, match="sigmoid"):
            F.conv2d_forward(x, wt, b, s, p, g, "sigmoid")


def test_the_direct_kernels_compile_to_packed_fmas():
    """The point of simd.py: each tap is packed FMAs on whole vectors, its broadcast folded in,
    never scalar arithmetic (what Numba's own loops gave). Read in the machine code."""
    import re

    import llvmlite.binding as llvm
    from numba import njit

    from gradviz_core.kernels.simd import conv_tile, dw_tile
    if not {"+avx2", "+fma"} <= set(llvm.get_host_cpu_features().flatten().split(",")):
        pytest.skip("this CPU has no FMA vectors")

    @njit  # not cached: the cache keeps no assembly to read
    def forward(x, w, o):
        conv_tile(x, 0, 2, 100, 10, w, 0, o, 0, 16, 3, 8, 8)

    @njit
    def dw(x, d, acc):
        dw_tile(x, 0, 0, 3, 100, 10, d, 0, 8, 20, acc, 0, 3, 3, 8)

    f32 = np.zeros(1000, np.float32)
    forward(f32, f32, f32)
    dw(f32, f32, f32)
    for fn, fmas in ((forward, 9 * 8), (dw, 9)):  # one a tap and vector in the loop's body
        asm = fn.inspect_asm(fn.signatures[0])
        packed = re.findall(r"vfmadd\d+ps\s[^\n]*%[yz]mm", asm)
        assert len(packed) >= fmas, (fn.__name__, len(packed))
        assert not re.search(r"vfmadd\d+ss", asm), fn.__name__


def test_a_window_larger_than_the_padded_input_gives_an_empty_output_and_no_gradient():
    """The graph refuses such a layer with a message; called anyway, the kernels neither
    crash nor divide by zero (the direct kernels' vectors would have nothing to cover)."""
    x = np.ones((2, 8, 2, 2), np.float32)
    w = np.ones((8, 8, 3, 3), np.float32)
    out = F.conv2d_forward(x, w, np.ones(8, np.float32), 1, 0, 1, "relu")
    assert out.shape == (2, 8, 0, 0)
    dx, dw, db = F.conv2d_backward(out, x, w, 1, 0, 1, act_out=out)
    assert dx.shape == x.shape and not dx.any() and not dw.any() and not db.any()
