"""A run's control from any thread: start it on a thread of its own, pause, resume, pause
after a step or at the end of an epoch, cancel. Every order of calls holds (a cancel is never
lost; starting a running run is refused).

``RunControl`` is the base of a run that loops (the trainer): it keeps ``steps`` and
``epoch``, calls ``_go_on()`` before each step and ``_pause_here(unit)`` after each step and
each epoch, and gives ``_run()``, whose result it announces as "done" once the run is
finished. The compute threads for the run's kernels are chosen here too: the count asked
for, or the one that trains fastest now, measured (``kernels.ThreadChooser``).
"""
from __future__ import annotations

import threading

import numpy as np

from gradviz_core.errors import GradvizError


class RunControl:
    def __init__(self, threads: int | None = None) -> None:
        #: compute threads for this run's kernels (None: measured while it runs)
        self.threads = threads
        self.steps = 0
        self.epoch = 0
        self._epoch_done = True
        self._pause_at: tuple[str, int] | None = None  # ("step" | "epoch", number): pause there
        self._cond = threading.Condition()
        self._state = "ready"          # ready, running, paused, finished
        self._cancelled = False
        self._thread: threading.Thread | None = None
        self.result = None

    def _run(self):
        raise NotImplementedError

    # ---- starting and ending ----------------------------------------------------------------
    def start(self) -> threading.Thread:
        """Run the loop on a daemon thread (the caller's thread stays free)."""
        self._begin()
        self._thread = threading.Thread(target=self._loop, name="gradviz-trainer", daemon=True)
        self._thread.start()
        return self._thread

    def run(self):
        """Run on the calling thread until done (blocks)."""
        self._begin()
        return self._loop()

    def _begin(self) -> None:
        with self._cond:
            if self._state in ("running", "paused"):
                raise GradvizError("this training run is already running")
            if self._state == "finished":
                raise GradvizError("this training run has finished; start a new one")
            self._state = "running"

    def _loop(self):
        from gradviz_core.kernels import ThreadChooser
        # Numba's thread count is per calling thread (this one): the count asked for, or the
        # one that trains fastest now, measured
        self.chooser = ThreadChooser((self.threads,)) if self.threads else ThreadChooser()
        try:
            # overflow on the way to a divergence is handled by the guard, not warned about
            with np.errstate(all="ignore"):
                result = self._run()
        finally:
            with self._cond:
                self._state = "finished"
        # only now: whoever hears "done" finds the run finished, not still running (a window
        # closed at that moment would otherwise ask whether to keep the weights of a live run)
        self.events.emit("done", record=result)
        return result

    def join(self, timeout: float | None = None):
        if self._thread:
            self._thread.join(timeout)
        return self.result

    @property
    def state(self) -> str:
        return self._state

    # ---- pausing ------------------------------------------------------------------------------
    def pause(self) -> None:
        with self._cond:
            if self._state == "running":
                self._state = "paused"

    def resume(self) -> None:
        with self._cond:
            if self._state == "paused":
                self._state = "running"
                self._cond.notify_all()

    def pause_after(self, unit: str, count: int = 1) -> None:
        """Run ``count`` more steps (``unit`` "step") or to the end of the epoch (``unit``
        "epoch"), then pause; resumes a paused run. Starts nothing: call ``start`` for a new one."""
        with self._cond:
            self._pause_at = ("step", self.steps + count) if unit == "step" else \
                ("epoch", self.epoch + (count if self._epoch_done else count - 1))
            if self._state == "paused":
                self._state = "running"
                self._cond.notify_all()

    def _pause_here(self, unit: str) -> None:
        with self._cond:
            at = self._pause_at
            if at and at[0] == unit and (self.steps if unit == "step" else self.epoch) >= at[1]:
                self._pause_at = None
                if self._state == "running":
                    self._state = "paused"
                    self.events.emit("paused", record={"step": self.steps, "epoch": self.epoch})

    def cancel(self) -> None:
        """Stop at the next step; never lost, whatever is called after it."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def _go_on(self) -> bool:
        """Wait while paused; False once cancelled."""
        with self._cond:
            while self._state == "paused" and not self._cancelled:
                self._cond.wait()
            return not self._cancelled
