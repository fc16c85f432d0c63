"""Brick type name -> class. The palette, the inspector and the file loader read it."""
from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from gradviz_core.errors import GraphError

if TYPE_CHECKING:
    from gradviz_core.model.brick import Brick

_REGISTRY: dict[str, type["Brick"]] = {}

#: Palette groups, in the order the palette shows them.
FAMILIES = ("Data", "Gates", "Layers", "Activations", "Losses", "Regularizers")


def register(cls: type["Brick"]) -> type["Brick"]:
    """Class decorator: make a brick available under ``cls.type_name``."""
    name = cls.type_name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"brick type {name!r} registered twice")
    if cls.family not in FAMILIES:
        raise ValueError(f"brick {name}: unknown family {cls.family!r}")
    _REGISTRY[name] = cls
    return cls


def get_brick_class(type_name: str) -> type["Brick"]:
    try:
        return _REGISTRY[type_name]
    except KeyError:
        lower = {n.lower(): n for n in _REGISTRY}
        close = [lower[m] for m in difflib.get_close_matches(type_name.lower(), list(lower), n=3)]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise GraphError(f"unknown brick type {type_name!r}{hint}") from None


def brick_types(family: str | None = None) -> list[str]:
    """Registered type names, optionally of one family, in registration order."""
    return [n for n, c in _REGISTRY.items() if family is None or c.family == family]
