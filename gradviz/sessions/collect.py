"""Python's cyclic garbage collector runs on the window's thread only.

Left automatic, a collection runs on whichever thread happens to allocate past the threshold:
often the trainer or a compute thread. If the garbage holds a dead Qt wrapper, its C++
destructor then runs off the GUI thread and takes Qt's mutex while it waits for the GIL, and the
GUI thread, deleting a widget, waits for that mutex with the GIL held: the window freezes for
good (and pytest-timeout, which needs the GIL, cannot fire). pyqtgraph's ``GarbageCollector``
turns automatic collection off and collects, by the same generational thresholds, from a timer
on the GUI thread; ``collect_on_gui_thread`` keeps the one instance the process needs.
"""
from __future__ import annotations

import gc
import threading

_collector = None


def collect_on_gui_thread(interval: float = 0.5):
    """Install the collector once (call it on the GUI thread, with a QApplication); returns it."""
    global _collector
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("the garbage collector's timer must start on the GUI thread")
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector
        _collector = GarbageCollector(interval=interval)
    gc.disable()  # again: a library may have turned it back on
    return _collector


def collect_now() -> None:
    """A collection by the thresholds, now (on the GUI thread, between tests or on close)."""
    if _collector is not None and threading.current_thread() is threading.main_thread():
        _collector.check()
