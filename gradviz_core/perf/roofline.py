"""Each fast kernel of the reference nets against this machine's roofline (``gradviz bench --roofline``).

The machine's two ceilings are measured, not quoted: the float32 GEMM rate of its BLAS on a
large product (with the bench's thread count) and the memory bandwidth of a large copy. A
kernel doing F flops on B bytes (its inputs read once and its outputs written once, the least
memory traffic it could have) can reach at most min(peak, F / B · bandwidth): that is its
roofline. Kernels are timed inside real training steps of each net, with the arguments the
bricks give them, so caches and allocation are as in training.
"""
from __future__ import annotations

import inspect
import time
from collections import defaultdict

import numpy as np
from numba import prange

from gradviz_core.perf.bench import GRID, NETS, THREADS, build
from gradviz_core.kernels.jit import _jit


def _best(fn, seconds: float = 0.5) -> float:
    fn()
    best, t0 = float("inf"), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _copy_body(dst, src):
    for i in prange(src.size):
        dst[i] = src[i]


def peaks(threads: int = THREADS) -> dict:
    """GFLOP/s of a 2048² float32 GEMM on ``threads`` BLAS threads, and GB/s (read and write
    counted) of a parallel copy on as many threads: of 8 MB, the size of the reference nets'
    largest activations, which stay in the last-level cache between layers (the roofline's
    bandwidth), and of 256 MB, from main memory."""
    from threadpoolctl import threadpool_limits

    from gradviz_core import kernels

    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        gflops = 2 * 2048 ** 3 / _best(lambda: a @ a) / 1e9
    copy = _jit(parallel=True)(_copy_body)
    gbs = {}
    with kernels.threads(threads):
        for label, mb in (("cache", 8), ("dram", 256)):
            src = np.ones(mb * 2 ** 18, np.float32)
            dst = np.empty_like(src)
            gbs[label] = 2 * src.nbytes / _best(lambda: copy(dst, src)) / 1e9
    return {"gemm_gflops": gflops, "bandwidth_gbs": gbs["cache"], "dram_gbs": gbs["dram"], "threads": threads}


def _conv_out(x_shape, w_shape, stride, pad):
    n, _, h, w = x_shape
    k, cg, f, _ = w_shape
    return n, k, (h + 2 * pad - f) // stride + 1, (w + 2 * pad - f) // stride + 1, cg, f


def _conv_flops(x_shape, w_shape, stride, pad):
    n, k, ho, wo, cg, f = _conv_out(x_shape, w_shape, stride, pad)
    return 2 * n * k * ho * wo * cg * f * f


def _arrays(v):
    """The arrays in a value: itself, or those of a tuple or list of them."""
    if isinstance(v, np.ndarray):
        return [v]
    if isinstance(v, (tuple, list)):
        return [a for x in v for a in _arrays(x)]
    return []


def cost(kernel: str, a: dict, out=None) -> tuple[float, float]:
    """(flops, bytes) of one call, from its arguments by name (and its result ``out``): the
    arithmetic it must do and the least memory it must move (inputs read once, outputs written
    once)."""
    size = lambda v: v.size * v.itemsize  # noqa: E731
    if kernel == "conv2d_forward":
        x, w = a["x"], a["w"]
        n, k, ho, wo, _, _ = _conv_out(x.shape, w.shape, a["stride"], a["pad"])
        return _conv_flops(x.shape, w.shape, a["stride"], a["pad"]), size(x) + size(w) + n * k * ho * wo * x.itemsize
    if kernel == "conv2d_backward":
        x, w, need_dx = a["x"], a["w"], a["need_dx"]
        passes = 2 if need_dx else 1  # dW, and dX when asked: each as many flops as the forward pass
        # reads dout and x, writes dW; with dX, also reads W and writes dX; through a fused
        # activation, also reads its output and writes the gradient at its input
        fused = a.get("act_out") is not None
        return (passes * _conv_flops(x.shape, w.shape, a["stride"], a["pad"]),
                size(a["dout"]) * (3 if fused else 1) + size(x) + size(w) + (size(w) + size(x) if need_dx else 0))
    if kernel == "linear_forward":
        x, w = a["x"], a["w"]
        return 2 * x.shape[0] * w.size, size(x) + size(w) + x.shape[0] * w.shape[1] * x.itemsize
    if kernel == "linear_backward":
        x, w = a["x"], a["w"]
        need_dx = a["need_dx"]
        return ((2 if need_dx else 1) * 2 * x.shape[0] * w.size,
                size(a["dout"]) + size(x) + size(w) + (size(w) + size(x) if need_dx else 0))
    if kernel == "mlp_forward":
        x, ws = a["x"], a["ws"]
        weights = sum(size(v) for v in _arrays(ws) + _arrays(a["bs"]))
        return (sum(2 * x.shape[0] * w.size for w in ws),
                size(x) + weights + x.shape[0] * ws[-1].shape[1] * x.itemsize)
    if kernel in ("relu_forward", "sigmoid"):
        return a["x"].size, 2 * size(a["x"])
    if kernel == "relu_backward":
        return a["x"].size, 3 * size(a["x"])
    if kernel == "maxpool_forward":
        x, f, s = a["x"], a["size"], a["stride"]
        n, c, h, w = x.shape
        out_n = n * c * ((h + 2 * a["pad"] - f) // s + 1) * ((w + 2 * a["pad"] - f) // s + 1)
        # writes the maxima and the winners (a byte each for 2×2 windows in the fast kernels)
        written = sum(size(v) for v in _arrays(out)) if out is not None else out_n * (x.itemsize + 8)
        return out_n * (f * f - 1), size(x) + written
    if kernel == "maxpool_backward":
        dout = a["dout"]
        return 0.0, size(dout) + size(a["arg"]) + int(np.prod(a["x_shape"])) * dout.itemsize
    return 0.0, sum(size(v) for v in _arrays(list(a.values())) + _arrays(out))  # the rest: ins and outs


def profile(net: str, batch: int, steps: int = 30, grid: bool = False) -> dict:
    """Seconds, flops and bytes per training step of each fast kernel of ``net`` (with ``grid``:
    per prediction of the bench's 256×256 grid instead). The backend and thread count in use
    before are restored after."""
    from gradviz_core import kernels
    from gradviz_core.kernels import fast
    from gradviz_core.runs.trainer import Trainer

    stats = defaultdict(lambda: [0, 0.0, 0.0, 0.0])  # calls, seconds, flops, bytes
    names = [n for n in dir(fast) if not n.startswith("_") and callable(getattr(fast, n))
             and getattr(getattr(fast, n), "__module__", "").startswith("gradviz_core.kernels")]
    originals = {n: getattr(fast, n) for n in names}

    def timed(name, f):
        sig = inspect.signature(f)

        def call(*args, **kw):
            t = time.perf_counter()
            out = f(*args, **kw)
            s = stats[name]
            s[0] += 1
            s[1] += time.perf_counter() - t
            bound = sig.bind(*args, **kw)
            bound.apply_defaults()
            flops, nbytes = cost(name, bound.arguments, out)
            s[2] += flops
            s[3] += nbytes
            return out
        return call
    with kernels.using("fast"), kernels.threads(THREADS):
        try:
            tr = Trainer(build(net, batch), threads=THREADS)
            X = tr.splits.train.X[:batch].astype(np.float32)
            y = tr.splits.train.y[:batch]
            pts = np.random.default_rng(0).uniform(-1, 1, (GRID * GRID, 2))
            work = (lambda: tr.predict(pts)) if grid else (lambda: tr.step(X, y))
            for _ in range(5):
                work()
            for n, f in originals.items():
                setattr(fast, n, timed(n, f))
            for _ in range(steps):
                work()
        finally:
            for n, f in originals.items():
                setattr(fast, n, f)
    return {k: {"calls": c / steps, "seconds": s / steps, "flops": fl / steps, "bytes": b / steps}
            for k, (c, s, fl, b) in stats.items()}


def rows(prof: dict, peak: dict) -> list[dict]:
    """Each kernel's achieved rate against its roofline, the slowest first."""
    out = []
    for k, r in sorted(prof.items(), key=lambda kv: -kv[1]["seconds"]):
        if r["seconds"] <= 0:
            continue
        intensity = r["flops"] / r["bytes"] if r["bytes"] else float("inf")
        # a call moving a megabyte or more streams from main memory: a training step's activations
        # outgrow the last-level cache; smaller ones stay in cache
        bandwidth = peak["dram_gbs"] if r["bytes"] / r["calls"] >= 2 ** 20 else peak["bandwidth_gbs"]
        roof = min(peak["gemm_gflops"], intensity * bandwidth)
        gflops, gbs = r["flops"] / r["seconds"] / 1e9, r["bytes"] / r["seconds"] / 1e9
        memory_bound = roof < peak["gemm_gflops"]
        share = gbs / bandwidth if memory_bound else gflops / roof
        out.append({"kernel": k, "calls": r["calls"], "ms": r["seconds"] * 1e3, "gflops": gflops, "gbs": gbs,
                    "call_us": r["seconds"] / r["calls"] * 1e6, "intensity": intensity, "roof_gflops": roof,
                    "bandwidth_gbs": bandwidth, "bound": "memory" if memory_bound else "compute",
                    "of_roofline": share})
    return out


def run(steps: int = 30, progress=lambda msg: None) -> dict:
    progress("measuring this machine's GEMM rate and memory bandwidth…")
    peak = peaks()
    nets = {}
    for net, (_, _, _, batches) in NETS.items():
        for bs in batches:
            progress(f"timing each kernel of {net}-b{bs}…")
            nets[f"{net}-b{bs}"] = rows(profile(net, bs, steps), peak)
    progress("timing the grid's kernels…")
    nets["grid 256×256"] = rows(profile("mlp", 32, steps, grid=True), peak)
    return {"peak": peak, "nets": nets}


def table(result: dict) -> str:
    p = result["peak"]
    lines = [f"Roofline: float32 GEMM {p['gemm_gflops']:.0f} GFLOP/s on {p['threads']} threads; memory "
             f"{p['bandwidth_gbs']:.1f} GB/s (an 8 MB copy on {p['threads']} threads, in the last-level "
             f"cache; from main memory {p['dram_gbs']:.1f} GB/s, the bound for calls moving 1 MB or more). "
             "A kernel's roofline is the lower of the GEMM rate and its flops per byte times the bandwidth; "
             "calls of a few µs are bound by call overhead instead.", "",
             "| net | kernel | calls/step | µs/call | ms/step | GFLOP/s | flop/byte | roofline | achieved |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for net, rs in result["nets"].items():
        for r in rs:
            roof = (f"{r['roof_gflops']:.0f} GFLOP/s" if r["bound"] == "compute"
                    else f"{r['bandwidth_gbs']:.1f} GB/s")
            rate = f"{r['gflops']:.1f}" if r["bound"] == "compute" else f"{r['gflops']:.2f} ({r['gbs']:.1f} GB/s)"
            lines.append(f"| {net} | {r['kernel']} | {r['calls']:.0f} | {r['call_us']:.0f} | {r['ms']:.3f} | {rate} | "
                         f"{r['intensity']:.1f} | {roof} | {100 * r['of_roofline']:.0f}% |")
    return "\n".join(lines)
