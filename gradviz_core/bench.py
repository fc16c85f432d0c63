"""The performance reference nets of DESIGN.md, timed side by side.

A training step is forward + backward + SGD update, timed on a fixed batch after a
warm-up (so JIT compilation is not counted). The same nets run on the Numba kernels
("gradviz"), on the NumPy reference kernels ("numpy") and, when it is installed, on
PyTorch CPU eager with the same number of threads ("torch", in its own process with
the malloc settings that give its fast, stable figure).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

THREADS = 2
GRID = 256


def _conv(k, f=3, p=1):
    return ("Conv2D", {"filters": k, "size": f, "padding": p})


_RELU, _POOL, _FLAT = ("ReLU", {}), ("MaxPool2D", {"size": 2}), ("Flatten", {})

#: name -> (sample shape, classes, layers, batch sizes)
NETS = {
    "mlp": ((2,), 3, [("Linear", {"units": 16}), _RELU, ("Linear", {"units": 16}), _RELU,
                      ("Linear", {"units": 3})], (32, 256)),
    "digits": ((1, 8, 8), 10, [_conv(8), _RELU, _POOL, _conv(16), _RELU, _POOL, _FLAT,
                               ("Linear", {"units": 10})], (32, 128)),
    "lenet": ((1, 28, 28), 10, [_conv(6, 5, 0), _RELU, _POOL, _conv(16, 5, 0), _RELU, _POOL, _FLAT,
                                ("Linear", {"units": 120}), _RELU, ("Linear", {"units": 84}), _RELU,
                                ("Linear", {"units": 10})], (64,)),
    "cifar": ((3, 32, 32), 10, [_conv(16), _RELU, _conv(16), _RELU, _POOL,
                                _conv(16), _RELU, _conv(16), _RELU, _POOL, _FLAT,
                                ("Linear", {"units": 10})], (64,)),
}


def build(net: str, batch: int):
    """The net as a gradviz graph on random data (the mlp on the 3-class spiral of 300 points)."""
    from gradviz_core.graph import Graph

    shape, classes, layers, _ = NETS[net]
    g = Graph()
    g.set_data({"source": "spiral", "n": 300, "classes": 3} if net == "mlp" else
               {"source": "random", "n": max(batch, 256), "shape": list(shape), "classes": classes})
    g.training.update(batch_size=batch, lr=0.01)
    g.add_node("Input", "x")
    prev = "x"
    for i, (t, params) in enumerate(layers):
        name = f"{t.lower()}{i}"
        g.add_node(t, name, params)
        g.connect(prev, name, "x")
        prev = name
    g.add_node("Target", "y")
    g.add_node("SoftmaxCrossEntropy", "loss")
    g.connect(prev, "loss", "x")
    g.connect("y", "loss", "target")
    return g


def _rate(step, seconds: float) -> float:
    """Calls per second of ``step`` after a warm-up."""
    t = time.perf_counter()
    while time.perf_counter() - t < min(0.3, seconds / 3):
        step()
    n, t = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t) < seconds:
        step()
        n += 1
    return n / elapsed


def time_gradviz(backend: str, seconds: float) -> dict:
    from gradviz_core import kernels
    from gradviz_core.train import Trainer

    kernels.use(backend)
    try:
        nets = {}
        for net, (_, _, _, batches) in NETS.items():
            for bs in batches:
                tr = Trainer(build(net, bs))
                X = tr.splits.train.X[:bs].astype(np.float32)
                y = tr.splits.train.y[:bs]
                nets[f"{net}-b{bs}"] = bs * _rate(lambda: tr.step(X, y), seconds)
        tr = Trainer(build("mlp", 32))
        pts = np.random.default_rng(0).uniform(-1, 1, (GRID * GRID, 2))
        grid_ms = 1e3 / _rate(lambda: tr.predict(pts), seconds)
        return {"nets": nets, "grid_ms": grid_ms}
    finally:
        kernels.use("reference")


def time_torch(seconds: float) -> dict | None:
    """Run ``bench_torch`` in its own process; None when PyTorch is not installed."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="33554432", MALLOC_TRIM_THRESHOLD_="4294967296",
               OMP_NUM_THREADS=str(THREADS))
    p = subprocess.run([sys.executable, "-m", "gradviz_core.bench_torch", str(seconds)],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0 or not p.stdout.strip():
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def time_first_step(runs: int = 3) -> float:
    """Seconds from starting a new Python process to the end of its first training step
    (the digits ConvNet), with the JIT cache already on disk. The best of ``runs``."""
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "gradviz_core.first_step"], stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        elapsed = time.perf_counter() - t
        p.wait()
        if line.strip() == "ready":
            best = min(best, elapsed)
    return best


def run(seconds: float = 1.0, progress=lambda msg: None) -> dict:
    progress("timing the Numba kernels (compiling them first if needed)…")
    fast = time_gradviz("fast", seconds)
    progress("timing the NumPy reference kernels…")
    ref = time_gradviz("reference", seconds)
    progress("timing PyTorch CPU eager, if installed…")
    torch = time_torch(seconds)
    progress("timing a new process up to its first training step…")
    first = time_first_step()
    nets = {k: {"gradviz": fast["nets"][k], "numpy": ref["nets"][k],
                "torch": torch["nets"].get(k) if torch else None} for k in fast["nets"]}
    return {"nets": nets, "grid_ms": {"gradviz": fast["grid_ms"], "numpy": ref["grid_ms"],
                                      "torch": torch["grid_ms"] if torch else None},
            "threads": THREADS, "first_step_s": first}


def table(result: dict) -> str:
    """A Markdown table of samples/s, with gradviz's ratio to each."""
    lines = ["| net | gradviz (samples/s) | NumPy reference | PyTorch eager | gradviz / PyTorch |",
             "|---|---:|---:|---:|---:|"]

    def num(v):
        return "—" if v is None else f"{v:,.0f}"
    for k, r in result["nets"].items():
        ratio = f"{r['gradviz'] / r['torch']:.2f}×" if r["torch"] else "—"
        lines.append(f"| {k} | {num(r['gradviz'])} | {num(r['numpy'])} | {num(r['torch'])} | {ratio} |")
    g = result["grid_ms"]
    ratio = f"{g['torch'] / g['gradviz']:.2f}×" if g["torch"] else "—"
    fmt = lambda v: "—" if v is None else f"{v:.2f} ms"  # noqa: E731
    lines.append(f"| grid 256×256 forward | {fmt(g['gradviz'])} | {fmt(g['numpy'])} | {fmt(g['torch'])} "
                 f"| {ratio} faster |")
    if "first_step_s" in result:
        lines.append(f"\nA new process reaches the end of its first training step in "
                     f"{result['first_step_s']:.2f} s (JIT cache on disk).")
    return "\n".join(lines)
