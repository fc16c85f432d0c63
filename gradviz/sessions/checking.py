"""The window's gradient check: the core's numerical check, run off the window's thread on the
graph and the samples being stepped; the result comes back as a Qt signal."""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from gradviz_core.errors import GradvizError


class GradientCheck(QObject):
    started = Signal()
    finished = Signal(object)  # a gradcheck.Report
    failed = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.running = False

    def start(self, graph, samples, training: bool) -> bool:
        if self.running:
            self.failed.emit("a gradient check is already running")
            return False
        from gradviz_core.runs.gradcheck import check_graph
        doc = graph.clone()  # the check reads its own copy: editing meanwhile is safe
        self.running = True
        self.started.emit()

        def work() -> None:
            try:
                report = check_graph(doc, training=training, samples=64, batch_samples=samples)
            except GradvizError as exc:
                self._finish(self.failed, str(exc))
            except Exception as exc:  # noqa: BLE001 - a message, never a traceback
                self._finish(self.failed, f"internal error: {type(exc).__name__}: {exc} (please report this)")
            else:
                self._finish(self.finished, report)
        threading.Thread(target=work, name="gradviz-gradcheck", daemon=True).start()
        return True

    def _finish(self, signal, value) -> None:
        self.running = False
        try:
            signal.emit(value)  # queued to the window's thread: this object lives there
        except RuntimeError:
            pass  # the window was closed meanwhile
