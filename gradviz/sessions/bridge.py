"""The one place where core events cross into Qt.

A ``Bridge`` subscribes to a core ``Events`` object. An event emitted on the window's thread
(a step the student took) is delivered at once, as the signal ``event(name, payload)``. An
event emitted on another thread (a training run) is queued and delivered on the window's
thread by a timer at the frame rate, coalesced: of the events of one name that arrive
within a frame, only the newest is delivered, except those in ``keep_all`` (every epoch
record, every warning). Panels subscribe to the bridge and know no threads.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread, QTimer, Signal

FRAME_MS = 33  # about 30 frames per second


class Bridge(QObject):
    event = Signal(str, object)  # event name, payload (a dict)

    def __init__(self, parent: QObject | None = None, keep_all: tuple[str, ...] = ("epoch", "warning", "done",
                                                                                    "stale")) -> None:
        super().__init__(parent)
        self.keep_all = set(keep_all)
        self._lock = threading.Lock()
        self._queue: list[tuple[str, dict]] = []
        self._sources: list = []
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    def attach(self, events) -> None:
        events.subscribe("*", self._listen)
        self._sources.append(events)

    def detach_all(self) -> None:
        for events in self._sources:
            events.unsubscribe("*", self._listen)
        self._sources = []
        with self._lock:
            self._queue = []

    def _listen(self, event: str, **payload) -> None:
        if QThread.currentThread() is self.thread():
            self.event.emit(event, payload)
            return
        with self._lock:  # any other thread: queued for the next frame
            self._queue.append((event, payload))

    def flush(self) -> None:
        with self._lock:
            queued, self._queue = self._queue, []
        if not queued:
            return
        newest = {}
        for i, (name, _) in enumerate(queued):
            newest[name] = i
        for i, (name, payload) in enumerate(queued):
            if name in self.keep_all or newest[name] == i:
                self.event.emit(name, payload)
