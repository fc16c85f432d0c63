"""Work off the GUI thread. Results come back as Qt signals, which Qt queues to the GUI thread."""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal
from shiboken6 import isValid


class KernelWarmUp(QObject):
    """Compiles (or loads from the disk cache) every Numba kernel in the background, once per
    process, so that the first step or training run never freezes the window."""

    finished = Signal(float)  # seconds it took
    failed = Signal(str)
    _started = False

    def start(self) -> bool:
        if KernelWarmUp._started:
            return False
        KernelWarmUp._started = True
        threading.Thread(target=self._run, name="gradviz-jit-warm-up", daemon=True).start()
        return True

    def _run(self) -> None:
        try:
            from gradviz_core import kernels
            kernels.active()
            seconds = kernels.warm_up()
        except Exception as exc:  # noqa: BLE001 - reported in the status bar, never a traceback
            self._emit(self.failed, f"{type(exc).__name__}: {exc}")
        else:
            self._emit(self.finished, seconds)

    def _emit(self, signal, value) -> None:
        if isValid(self):  # the window may have been closed meanwhile: then no one is listening
            try:
                signal.emit(value)
            except RuntimeError:
                pass
