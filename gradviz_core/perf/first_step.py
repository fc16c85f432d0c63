"""One training step of the digits ConvNet in a new process, its time split into its parts
(for ``gradviz bench``'s start-up measurement: the parent times this process from its start to
the "ready" line, which carries the parts as JSON; what the parent saw before this script's
first line is the interpreter's own start)."""
import json
import time

t0 = time.perf_counter()
parts = {}


def _lap(name: str) -> None:
    global t0
    now = time.perf_counter()
    parts[name] = round(now - t0, 4)
    t0 = now


import numpy as np  # noqa: E402

_lap("import numpy")
import numba  # noqa: E402,F401

_lap("import numba")
from gradviz_core.runs.trainer import Trainer  # noqa: E402

_lap("import gradviz_core (model, bricks, runs; networkx)")
from gradviz_core import kernels  # noqa: E402

kernels.active()
_lap("import the kernels (SciPy's BLAS for Numba, the dispatchers)")
from gradviz_core.perf.bench import build  # noqa: E402

if __name__ == "__main__":
    tr = Trainer(build("digits", 32))
    _lap("build the run (the digits data, the graph, the weights)")
    tr.step(tr.splits.train.X[:32].astype(np.float32), tr.splits.train.y[:32])
    _lap("the first step (the cached kernels loaded)")
    print("ready " + json.dumps(parts), flush=True)
