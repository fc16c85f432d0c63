"""Kernel backends. The backend is chosen here, and only here.

``fast`` (Numba, the default) and ``reference`` (readable NumPy) have the same
signatures. Set ``GRADVIZ_BACKEND=reference`` to force the NumPy reference.
The Numba kernels are compiled on first use and cached on disk; ``warm_up()``
compiles (or loads) all of them ahead of time.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from types import ModuleType

from gradviz_core.kernels import reference

_WARM = threading.Event()

_active: ModuleType | None = None


def active() -> ModuleType:
    if _active is None:
        use(os.environ.get("GRADVIZ_BACKEND", "fast"))
    return _active


_blas_limit = None
_malloc_tuned = False


def _tune_malloc() -> None:
    """Keep large arrays on glibc's heap instead of a fresh mmap per allocation.

    By default glibc maps every allocation over ~128 KiB anew and returns it on free, so each
    new activation array is page-faulted in again: a ReLU over 65,536 × 16 floats spent more
    time faulting than computing. These are the settings DESIGN.md gives PyTorch
    (MALLOC_MMAP_THRESHOLD_=32 MiB, a high trim threshold), made through mallopt(3).
    Elsewhere than glibc this does nothing.
    """
    global _malloc_tuned
    if _malloc_tuned:
        return
    _malloc_tuned = True
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)
        libc.mallopt(m_trim_threshold, 2 ** 31 - 1)
    except (OSError, AttributeError):
        pass


def use(name: str) -> ModuleType:
    """Switch the backend (``reference`` or ``fast``) and return the module.

    With ``fast``, BLAS runs single-threaded: Numba's parallel loops own the cores, and
    its GEMMs run inside them. Two thread pools spinning on two cores at once made small
    operations up to 20× slower.
    """
    global _active, _blas_limit
    if name == "reference":
        _active = reference
        if _blas_limit is not None:
            _blas_limit.restore_original_limits()
            _blas_limit = None
    elif name == "fast":
        from threadpoolctl import threadpool_limits

        from gradviz_core.kernels import fast
        _active = fast
        _tune_malloc()
        if _blas_limit is None:
            _blas_limit = threadpool_limits(limits=1, user_api="blas")
    else:
        raise ValueError(f"unknown kernel backend {name!r}: use 'reference' or 'fast'")
    return _active


@contextlib.contextmanager
def using(name: str):
    """Run a block on backend ``name``, then return to the backend before it (a bench or a test
    that times one backend must not leave it to whatever runs next in the process)."""
    before = _active
    use(name)
    try:
        yield _active
    finally:
        use(before.__name__.rsplit(".", 1)[-1] if before is not None else os.environ.get("GRADVIZ_BACKEND", "fast"))


def _warm_conv(k, dt, rng) -> None:
    import numpy as np
    x = rng.standard_normal((2, 4, 6, 6)).astype(dt)
    w = rng.standard_normal((4, 4, 3, 3)).astype(dt)
    b = np.zeros(4, dt)
    for stride, groups in ((1, 1), (2, 1), (1, 2)):
        wg = w[:, :4 // groups]
        out = k.conv2d_forward(x, wg, b, stride, 1, groups)
        k.conv2d_backward(out, x, wg, stride, 1, groups)
    w8 = rng.standard_normal((8, 4, 3, 3)).astype(dt)  # float32: the direct kernels (all their variants)
    out = k.conv2d_forward(x, w8, None, 1, 1, 1, "relu")
    k.conv2d_backward(out, x, w8, 1, 1, 1, act_out=out)


def _warm_rest(k, dt, rng) -> None:
    import numpy as np
    x = rng.standard_normal((2, 4, 6, 6)).astype(dt)
    b = np.zeros(4, dt)
    for size, stride, pad in ((2, 2, 0), (3, 2, 1)):  # the common 2×2 and any other pool
        out, arg = k.maxpool_forward(x, size, stride, pad)
        k.maxpool_backward(out, arg, x.shape, size, stride, pad)
    k.avgpool_backward(k.avgpool_forward(x, 2, 2, 0), x.shape, 2, 2, 0)
    x3 = x.reshape(2, 4, -1)
    o = k.batchnorm_forward(x3, b + 1, b, 1e-5)
    k.batchnorm_backward(x3, o[1], b + 1, o[4])
    s = x.reshape(8, -1)
    _, p, _ = k.softmax_xent_forward(s, np.eye(s.shape[1], dtype=dt)[np.zeros(8, int)])
    k.softmax_xent_backward(p, p)
    for big in (False, True):
        v = np.ones(k.SMALL + 1 if big else 8, dt)
        k.sigmoid(v), k.relu_forward(v), k.relu_backward(v, v), k.relu_forward(v, 0.1)
        k.relu_backward(v, v, 0.1)
    k.softmax(rng.standard_normal((k.SMALL // 4 + 1, 4)).astype(dt))
    m = s[:, :4].copy()
    k.linear_backward(k.linear_forward(m, m[:4].T.copy(), b), m, m[:4].T.copy())
    k.linear_forward(np.ones((8192, 4), dt), m[:4].T.copy(), b)  # the row-chunked path (grids)
    k.mlp_forward(m, [m[:4].T.copy(), m[:4, :4].copy()], [b, b], [1, 0], [0.0, 0.0])  # fused grids


#: the kernels by family; no kernel is in two, so two processes can each compile one family
#: into the on-disk cache at once (``families``), without both writing one kernel's index
FAMILIES = {"conv": _warm_conv, "rest": _warm_rest}


def warm_up(dtypes=("float32", "float64"), families=tuple(FAMILIES)) -> float:
    """Run every fast kernel once on tiny inputs, so that it is compiled (or loaded from the
    on-disk cache). Returns the seconds it took. Safe to call from a background thread."""
    import numpy as np

    from gradviz_core.kernels import fast as k

    t = time.perf_counter()
    for dt in dtypes:
        for family in families:
            FAMILIES[family](k, dt, np.random.default_rng(0))
    if set(families) == set(FAMILIES):
        _WARM.set()
    return time.perf_counter() - t


def ready() -> bool:
    """Whether ``warm_up`` has compiled (or loaded) every kernel: work on the window's thread
    waits for this, so a first compile never freezes the window."""
    return _WARM.is_set()


def use_threads(n: int) -> int:
    """Let the calling thread's parallel kernels use ``n`` threads (at most the cores Numba
    has); Numba's count is per calling thread. Returns the count set."""
    import numba
    n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    return n


@contextlib.contextmanager
def threads(n: int):
    """Run a block with ``n`` compute threads for the calling thread, then give back the count
    it had."""
    import numba
    before = numba.get_num_threads()
    use_threads(n)
    try:
        yield
    finally:
        use_threads(before)


class ThreadChooser:
    """Picks, while training runs, the number of compute threads that trains fastest now.

    A second thread pays on a quiet machine for large enough work, and costs on a busy one:
    a parallel loop waits for its slowest thread, and a thread that shares its core with
    another process is slow. So the trainer times its own steps (seconds per sample) with
    1 and with 2 threads in turn for a few steps and measures again every ``every`` seconds,
    following the machine's load. The risks are unequal (a second thread gains at most 2×
    on a quiet machine, and costs 3 to 4× on a busy one, where probes are noisy too), so it
    starts with one thread and takes more only where they pay: clearly faster on average (the
    mean, not the median: a busy core shows as rare, very slow steps), not about the same; and
    between probes it watches the steps taken with more, going back to one at once when they
    grow clearly slower than one thread was. Results do not depend on the count
    (see fast_conv._threads), so neither does training. With one option (a count the caller
    chose) it only sets that count.
    """

    #: more threads are taken only when their steps take less than this share of the time of
    #: fewer: timings of a few steps are noisy
    MARGIN = 0.85
    #: the steps watched between probes, while more threads than the fewest run
    WATCH = 4

    def __init__(self, options=(1, 2), probes: int = 5, every: float = 3.0) -> None:
        import numba
        self.options = sorted({max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)) for n in options})
        self.probes, self.every = probes, every
        self.choice = self.options[0]
        self._plan: list[int] = []
        self._times: dict[int, list[float]] = {}
        self._next_probe = 0.0
        self._skip = 2  # the first steps compile, fill caches and fault in pages: not timed
        self._recent: list[float] = []
        self._fewest = float("inf")  # the fewest threads' cost a sample, at the last probe

    def before(self) -> int:
        """The thread count for the next step (set for the calling thread)."""
        now = time.perf_counter()
        if not self._plan and len(self.options) > 1 and now >= self._next_probe and not self._skip:
            self._plan = [n for _ in range(self.probes) for n in self.options]  # interleaved
            self._times = {n: [] for n in self.options}
        n = self._plan[0] if self._plan else self.choice
        use_threads(n)
        self._current = n
        return n

    def after(self, seconds: float, samples: int) -> None:
        """The step just done took ``seconds`` for ``samples`` samples."""
        if self._skip:
            self._skip -= 1
            return
        cost = seconds / max(samples, 1)
        if not self._plan:
            self._watch(cost)
            return
        self._times[self._plan.pop(0)].append(cost)
        if not self._plan:
            # the mean, not the median: a second thread on a busy core costs in its slow steps (a
            # parallel loop waits for a thread that shares its core), and those are the total
            means = {n: sum(t) / len(t) for n, t in self._times.items() if t}
            choice = min(means)  # the fewest threads, unless more are clearly faster
            for n in sorted(means)[1:]:
                if means[n] < self.MARGIN * means[choice]:
                    choice = n
            self.choice, self._fewest = choice, means[min(means)]
            self._recent = []
            self._next_probe = time.perf_counter() + self.every

    def _watch(self, cost: float) -> None:
        """Between probes, with more threads than the fewest: back to the fewest at once when
        the last steps are clearly slower than the fewest were (another process took a core),
        not at the next probe."""
        if self.choice == self.options[0]:
            return
        self._recent = (self._recent + [cost])[-self.WATCH:]
        if len(self._recent) == self.WATCH and sum(self._recent) / self.WATCH * self.MARGIN > self._fewest:
            self.choice = self.options[0]
            self._next_probe = time.perf_counter() + self.every
