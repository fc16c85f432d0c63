"""A tiny observer: subscribe / unsubscribe / emit. Plain Python, no Qt.

The Qt bridge subscribes to these events and turns them into signals.
"""
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

    def subscribe(self, event: str, fn: Listener) -> None:
        self._listeners[event].append(fn)

    def unsubscribe(self, event: str, fn: Listener) -> None:
        if fn in self._listeners.get(event, []):
            self._listeners[event].remove(fn)

    def emit(self, event: str, **payload: Any) -> None:
        for fn in list(self._listeners.get(event, ())):
            fn(**payload)
        for fn in list(self._listeners.get("*", ())):
            fn(event=event, **payload)
