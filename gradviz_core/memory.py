"""How much memory a graph and its data will need, estimated before anything is allocated, so
that a graph that cannot fit is refused with the estimate instead of ending in MemoryError."""
from __future__ import annotations

import math
import os

from gradviz_core.errors import GradvizError

#: of the memory available, how much a run may plan to use
SHARE = 0.8


def available_bytes() -> int:
    """The memory the system can give without swapping (MemAvailable), or a guess; no more than
    the process's own limit of address space leaves (``ulimit -v``)."""
    return min(_system_bytes(), _address_space_left())


def _system_bytes() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3


def _address_space_left() -> int:
    """RLIMIT_AS less the address space this process already holds (infinite without a limit)."""
    try:
        import resource
        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        return 1 << 62
    if limit == resource.RLIM_INFINITY:
        return 1 << 62
    used = 0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
    except OSError:
        pass
    return max(limit - used, 0)


def fmt_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PB"


def arrays(graph, batch: int, itemsize: int) -> list[tuple[int, str, str, tuple]]:
    """[(bytes, node, array, shape)] of every weight and every node's output at this batch size,
    the largest first (one copy each; a run keeps more, see ``graph_bytes``)."""
    out = []
    for name, shape in graph.shapes.items():
        if shape is None:
            continue
        full = tuple(batch if d is None else d for d in shape)
        out.append((itemsize * math.prod(full), name, "output", full))
        ins = graph.input_shapes(name)
        if all(s is not None for s in ins.values()):
            for w, wshape in graph.brick(name).weight_shapes(ins).items():
                out.append((itemsize * math.prod(wshape), name, w, tuple(wshape)))
    return sorted(out, key=lambda a: -a[0])


def graph_bytes(graph, batch: int, itemsize: int) -> tuple[int, int]:
    """(weights, activations) in bytes: each weight with its gradient and two optimizer slots,
    each node's output at this batch size with its gradient and its cache."""
    weights = 4 * itemsize * graph.total_params()
    acts = 0
    for shape in graph.shapes.values():
        if shape is not None:
            acts += 3 * itemsize * math.prod(batch if d is None else d for d in shape)
    return weights, acts


def too_big(graph, batch: int, itemsize: int, what: str = "this graph") -> str | None:
    """Why ``graph`` cannot run here at this batch size and precision, naming the node and the
    array that needs the most (None when it fits)."""
    weights, acts = graph_bytes(graph, max(batch, 1), itemsize)
    need, have = weights + acts, available_bytes()
    if need <= SHARE * have:
        return None
    size, node, array, shape = arrays(graph, max(batch, 1), itemsize)[0]
    kept = "with its gradient and the optimizer's two slots" if array != "output" else "with its gradient and cache"
    dims = " × ".join(str(d) for d in shape)
    precision = {4: "float32", 8: "float64"}.get(itemsize, f"{itemsize}-byte numbers")
    return (f"{node}: {array} ({dims}) needs {fmt_bytes(size)} in {precision}, "
            f"{fmt_bytes((4 if array != 'output' else 3) * size)} {kept}; {what} needs about {fmt_bytes(need)} "
            f"in all, but this machine has {fmt_bytes(have)} available; use fewer units or filters, "
            "or a smaller batch")


def check_graph_fits(graph, batch: int, itemsize: int, what: str = "this graph") -> None:
    why = too_big(graph, batch, itemsize, what)
    if why:
        raise GradvizError(why)


def data_bytes(samples: int, values_per_sample: int) -> int:
    """The bytes a data set of ``samples`` × ``values_per_sample`` numbers takes in a run: held
    four times over in float64 (the raw set, its splits, preprocessed, in the training dtype)."""
    return 4 * 8 * samples * values_per_sample


def check_data_fits(samples: int, values_per_sample: int, what: str = "data") -> None:
    """A dataset of ``samples`` × ``values_per_sample`` numbers, held a few times over (the raw
    set, its splits, preprocessed and in the training dtype)."""
    need, have = data_bytes(samples, values_per_sample), available_bytes()
    if need > SHARE * have:
        raise GradvizError(f"{what}: {samples:,} samples of {values_per_sample:,} values need about "
                           f"{fmt_bytes(need)}, but this machine has {fmt_bytes(have)} available; "
                           "use fewer samples")
