"""Shapes with a symbolic batch dimension.

A shape is a tuple whose entries are ints, except the batch dimension, which is
``None`` and prints as ``N``: a Linear layer on 2D points maps ``(N, 2)`` to ``(N, 16)``.
A scalar has shape ``()``.
"""
from __future__ import annotations

import math

from gradviz_core.errors import ShapeError

Shape = tuple  # tuple[int | None, ...]


def fmt(shape: Shape | None) -> str:
    if shape is None:
        return "?"
    if len(shape) == 0:
        return "scalar"
    inner = ", ".join("N" if d is None else str(d) for d in shape)
    return f"({inner}{',' if len(shape) == 1 else ''})"


def broadcast(a: Shape, b: Shape, where: str) -> Shape:
    """NumPy broadcasting, aligned from the right, with N matching N or 1.

    Rules (as in NumPy): compare trailing dimensions; two dimensions fit when they are
    equal or one of them is 1; a missing dimension counts as 1. The batch size N only
    fits N or 1, since it is not known until data arrives.
    """
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else 1
        db = b[-i] if i <= len(b) else 1
        if da == db or db == 1:
            out.append(da)
        elif da == 1:
            out.append(db)
        else:
            raise ShapeError(
                f"{where}: shapes {fmt(a)} and {fmt(b)} do not broadcast: dimension "
                f"{'N' if da is None else da} against {'N' if db is None else db} "
                f"(dimensions must be equal or one of them 1, counted from the right)")
    return tuple(reversed(out))


def numel(shape: Shape) -> int:
    """Elements per sample (the batch dimension is left out)."""
    return math.prod(d for d in shape if d is not None)
