"""A tiny observer: subscribe / unsubscribe / emit. Plain Python, no Qt.

The graph, the runs, the stepper and the trainer all publish through it, with keyword
payloads. ``emit`` calls the listeners on the emitting thread (a trainer emits on its
own thread); subscribing and unsubscribing are safe from any thread. The Qt bridge
subscribes to these events and turns them into queued signals.
"""
import threading
from collections import defaultdict
from typing import Any, Callable

Listener = Callable[..., Any]


class Events:
    """Named events with keyword payloads.

    >>> ev = Events(); seen = []
    >>> ev.subscribe("node_added", lambda **kw: seen.append(kw["name"]))
    >>> ev.emit("node_added", name="fc1"); seen
    ['fc1']
    """

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, event: str, fn: Listener) -> None:
        with self._lock:
            self._listeners[event] = self._listeners[event] + [fn]  # copy on write

    def unsubscribe(self, event: str, fn: Listener) -> None:
        with self._lock:
            if fn in self._listeners.get(event, []):
                self._listeners[event] = [f for f in self._listeners[event] if f is not fn]

    def __deepcopy__(self, memo) -> "Events":
        return Events()  # listeners belong to the object they watch, not to its copies

    def emit(self, event: str, **payload: Any) -> None:
        for fn in self._listeners.get(event, ()):
            fn(**payload)
        for fn in self._listeners.get("*", ()):
            fn(event=event, **payload)
