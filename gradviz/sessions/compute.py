"""Work for the views, off the window's thread.

A ``Compute`` runs one job at a time on its own thread; a job asked for while another runs
waits, and a newer request replaces a waiting one (only the newest frame matters). The
result comes back as the signal ``done(tag, result)``, delivered on the window's thread, so a
view only puts the finished image on screen and the event loop never waits for NumPy or the
kernels. A job that raises reports ``failed(tag, message)``.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from gradviz_core.errors import GradvizError


class Compute(QObject):
    done = Signal(str, object)
    failed = Signal(str, str)
    _finished = Signal(int, str, object, object)  # generation, tag, result, error message (from the thread)

    def __init__(self, parent=None, threads: int = 1) -> None:
        super().__init__(parent)
        self.threads = threads
        self._cond = threading.Condition()
        self._pending: tuple | None = None
        self._running = False
        self._closed = False
        self._generation = 0
        self._finished.connect(self._deliver)  # queued: runs on the window's thread
        self._thread = threading.Thread(target=self._loop, name="gradviz-views", daemon=True)
        self._thread.start()

    def request(self, tag: str, job) -> None:
        with self._cond:
            self._pending = (tag, job)
            self._cond.notify()

    def busy(self) -> bool:
        with self._cond:
            return self._running or self._pending is not None

    def cancel(self) -> None:
        """Forget the waiting job, and the result of the one in hand: they were for a document
        that is gone (its result, even one already on its way, is not delivered)."""
        with self._cond:
            self._pending = None
            self._generation += 1

    def _deliver(self, generation: int, tag: str, result, error) -> None:
        with self._cond:
            if generation != self._generation:
                return
        if error is not None:
            self.failed.emit(tag, error)
        else:
            self.done.emit(tag, result)

    def close(self, timeout: float = 5.0) -> None:
        """End the thread (after the job in hand, if any)."""
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify()
        self._thread.join(timeout)

    def _loop(self) -> None:
        if self.threads:
            from gradviz_core.kernels import use_threads
            use_threads(self.threads)  # the trainer has the other core
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                (tag, job), self._pending = self._pending, None
                self._running = True
                generation = self._generation
            try:
                result = job()
            except GradvizError as exc:
                self._finished.emit(generation, tag, None, str(exc))
            except Exception as exc:  # noqa: BLE001 - a view's message, never a traceback
                self._finished.emit(generation, tag, None, f"internal error: {type(exc).__name__}: {exc}")
            else:
                self._finished.emit(generation, tag, result, None)
            finally:
                with self._cond:
                    self._running = False
