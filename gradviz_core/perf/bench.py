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
    from gradviz_core.model.graph import Graph

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
    from gradviz_core.runs.trainer import Trainer

    with kernels.using(backend):
        nets = {}
        for net, (_, _, _, batches) in NETS.items():
            for bs in batches:
                tr = Trainer(build(net, bs), threads=THREADS)  # as PyTorch: DESIGN.md's 2 threads
                X = tr.splits.train.X[:bs].astype(np.float32)
                y = tr.splits.train.y[:bs]
                nets[f"{net}-b{bs}"] = bs * _rate(lambda: tr.step(X, y), seconds)
        tr = Trainer(build("mlp", 32), threads=THREADS)
        pts = np.random.default_rng(0).uniform(-1, 1, (GRID * GRID, 2))
        with kernels.threads(THREADS):
            grid_ms = 1e3 / _rate(lambda: tr.predict(pts), seconds)
        return {"nets": nets, "grid_ms": grid_ms}


def time_torch(seconds: float) -> dict | None:
    """Run ``bench_torch`` in its own process; None when PyTorch is not installed."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="33554432", MALLOC_TRIM_THRESHOLD_="4294967296",
               OMP_NUM_THREADS=str(THREADS))
    p = subprocess.run([sys.executable, "-m", "gradviz_core.perf.bench_torch", str(seconds)],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0 or not p.stdout.strip():
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def time_first_step(runs: int = 3) -> tuple[float, dict]:
    """Seconds from starting a new Python process to the end of its first training step
    (the digits ConvNet), with the JIT cache already on disk, and that time's parts: the
    best of ``runs``."""
    best, parts = float("inf"), {}
    for _ in range(runs):
        t = time.perf_counter()
        # the script by its path: with -m, Python would import the package before its first line
        from gradviz_core.perf import first_step
        p = subprocess.Popen([sys.executable, first_step.__file__], stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        elapsed = time.perf_counter() - t
        p.wait()
        if line.startswith("ready") and elapsed < best:
            inside = json.loads(line.partition(" ")[2] or "{}")
            best = elapsed
            parts = {"start the interpreter": round(elapsed - sum(inside.values()), 4), **inside}
    return best, parts


def environment() -> dict:
    """Which BLAS and which kernels the figures come from (threadpoolctl's view of the loaded
    libraries, Numba's threading layer), and the OpenBLAS pin, if any."""
    import platform

    import numba
    from threadpoolctl import threadpool_info

    from gradviz_core import kernels
    kernels.use("fast")  # as the timings ran: BLAS single-threaded under Numba's threads
    kernels.warm_up(("float32",))  # a parallel kernel has run: Numba's threading layer is chosen
    blas = [{k: lib.get(k) for k in ("internal_api", "version", "architecture", "threading_layer", "num_threads")}
            for lib in threadpool_info() if lib.get("user_api") == "blas"]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "blas": blas,
            "numba": {"version": numba.__version__, "threading_layer": numba.threading_layer(),
                      "threads": numba.config.NUMBA_NUM_THREADS},
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}


def unpinned(seconds: float) -> dict | None:
    """The same figures with the ``OPENBLAS_CORETYPE`` pin lifted for that run alone (users'
    machines have no such pin); None when this machine has no pin (the figures are unpinned)."""
    if not os.environ.get("OPENBLAS_CORETYPE"):
        return None
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    p = subprocess.run([sys.executable, "-m", "gradviz", "bench", "--json", "--seconds", str(seconds), "--pinned"],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0 or not p.stdout.strip():
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def _busy_process():
    """Another process keeping one core busy."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def time_digits(threads: int | None, epochs: int = 40) -> float:
    """Seconds to train examples/digits_convnet for ``epochs`` with ``threads`` compute threads
    (None: the trainer's own choice), after a warm-up run."""
    from gradviz_core import kernels
    from gradviz_core.model import fileformat
    from gradviz_core.runs.trainer import Trainer

    kernels.use("fast")
    from gradviz_core.model.fileformat import examples_dir
    path = examples_dir() / "digits_convnet.json"
    g = fileformat.load(path)
    g.training["epochs"] = 1
    Trainer(g, threads=threads).run()  # compiled and warm
    g.training["epochs"] = epochs
    t = time.perf_counter()
    Trainer(g, threads=threads).run()
    return time.perf_counter() - t


def busy(epochs: int = 40) -> dict:
    """digits_convnet on a quiet machine and with another process keeping one core busy, with
    1 thread, 2 threads and the trainer's own choice (each in a fresh process)."""
    def timed(threads):
        code = ("import sys, json; from gradviz_core.perf.bench import time_digits; "
                f"print(json.dumps(time_digits({threads!r}, {epochs})))")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "the timing failed")
        return round(float(p.stdout.strip().splitlines()[-1]), 3)
    out = {"epochs": epochs, "quiet": {}, "busy": {}}
    for label in ("1", "2", "auto"):
        out["quiet"][label] = timed(None if label == "auto" else int(label))
    hog = _busy_process()
    try:
        time.sleep(0.3)
        for label in ("1", "2", "auto"):
            out["busy"][label] = timed(None if label == "auto" else int(label))
    finally:
        hog.terminate()
        hog.wait()
    out["busy_over_quiet_1"] = round(out["busy"]["auto"] / out["quiet"]["1"], 2)
    return out


def run(seconds: float = 1.0, progress=lambda msg: None) -> dict:
    progress("timing the Numba kernels (compiling them first if needed)…")
    fast = time_gradviz("fast", seconds)
    progress("timing the NumPy reference kernels…")
    ref = time_gradviz("reference", seconds)
    progress("timing PyTorch CPU eager, if installed…")
    torch = time_torch(seconds)
    progress("timing a new process up to its first training step…")
    first, first_parts = time_first_step()
    nets = {k: {"gradviz": fast["nets"][k], "numpy": ref["nets"][k],
                "torch": torch["nets"].get(k) if torch else None} for k in fast["nets"]}
    return {"nets": nets, "grid_ms": {"gradviz": fast["grid_ms"], "numpy": ref["grid_ms"],
                                      "torch": torch["grid_ms"] if torch else None},
            "threads": THREADS, "first_step_s": first,
            "first_step_parts_s": first_parts}


def ratios(result: dict) -> dict:
    """gradviz ÷ PyTorch per net, and PyTorch's grid time ÷ gradviz's."""
    out = {k: round(r["gradviz"] / r["torch"], 2) for k, r in result["nets"].items() if r.get("torch")}
    g = result["grid_ms"]
    if g.get("torch"):
        out["grid"] = round(g["torch"] / g["gradviz"], 2)
    return out


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
    if result.get("unpinned"):
        u = ratios(result["unpinned"])
        lines.append("\nWith the OPENBLAS_CORETYPE pin lifted for that run: "
                     + ", ".join(f"{k} {v:.2f}×" for k, v in u.items()))
    elif "environment" in result and not result["environment"]["openblas_coretype"]:
        lines.append("\nOPENBLAS_CORETYPE is not set here: the figures above are unpinned.")
    if "busy" in result:
        b = result["busy"]
        lines.append(f"\ndigits_convnet, {b['epochs']} epochs: quiet {b['quiet']['1']} s (1 thread), "
                     f"{b['quiet']['2']} s (2), {b['quiet']['auto']} s (the trainer's choice); with another "
                     f"process keeping a core busy {b['busy']['1']} s, {b['busy']['2']} s, {b['busy']['auto']} s: "
                     f"{b['busy_over_quiet_1']}× the quiet 1-thread time (target: at most 1.25×).")
    if "environment" in result:
        e = result["environment"]
        blas = "; ".join(f"{b['internal_api']} {b['version']} ({b['architecture']} kernels, "
                         f"{b['threading_layer']})" for b in e["blas"])
        lines.append(f"\nRan on {e['cpu']} ({e['cores']} cores); BLAS: {blas}; Numba {e['numba']['version']} "
                     f"with its {e['numba']['threading_layer']} threading layer, {e['numba']['threads']} threads; "
                     f"OPENBLAS_CORETYPE={e['openblas_coretype'] or 'unset'}.")
    if "first_step_s" in result:
        lines.append(f"\nA new process reaches the end of its first training step in "
                     f"{result['first_step_s']:.2f} s (JIT cache on disk): "
                     + ", ".join(f"{k} {v:.2f} s" for k, v in result.get("first_step_parts_s", {}).items()) + ".")
    return "\n".join(lines)
