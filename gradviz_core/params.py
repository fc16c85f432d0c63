"""Declarations of a brick's settings: name, type, default, range or choices, a one-line doc.

The inspector builds its form from these, and the file loader checks values with them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradviz_core.errors import ParamError

KINDS = ("int", "float", "bool", "choice", "str", "tensor", "floats")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: str
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name}: unknown kind {self.kind!r}")

    def describe_range(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        parts = []
        if self.low is not None:
            parts.append(f"≥ {self.low:g}")
        if self.high is not None:
            parts.append(f"≤ {self.high:g}")
        return " and ".join(parts)

    def coerce(self, value: Any, where: str) -> Any:
        """Return ``value`` converted to this kind, or raise ParamError naming ``where``."""
        label = f"{where}: parameter '{self.name}'"
        try:
            out = _COERCE[self.kind](self, value)
        except (TypeError, ValueError) as exc:
            raise ParamError(f"{label} must be {_KIND_TEXT[self.kind]}, got {value!r} ({exc})",
                             node=where) from None
        if self.kind in ("int", "float"):
            if (self.low is not None and out < self.low) or (self.high is not None and out > self.high):
                raise ParamError(f"{label} must be {self.describe_range()}, got {out:g}", node=where)
        if self.kind == "choice" and out not in self.choices:
            raise ParamError(f"{label} must be {self.describe_range()}, got {value!r}", node=where)
        if self.kind == "floats" and self.low is not None and len(out) < self.low:
            raise ParamError(f"{label} needs at least {int(self.low)} numbers, got {len(out)}",
                             node=where)
        return out


def _to_int(spec: ParamSpec, v: Any) -> int:
    if isinstance(v, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(v, float) and not v.is_integer():
        raise ValueError("not a whole number")
    return int(v)


def _to_float(spec: ParamSpec, v: Any) -> float:
    if isinstance(v, bool):
        raise TypeError("a boolean is not a number")
    out = float(v)
    if not math.isfinite(out):
        raise ValueError("not a finite number")
    return out


def _to_bool(spec: ParamSpec, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    raise TypeError("expected true or false")


def _to_tensor(spec: ParamSpec, v: Any) -> np.ndarray:
    if isinstance(v, str):
        v = parse_tensor_text(v)
    arr = np.asarray(v, dtype=np.float64)
    if arr.dtype == object:
        raise ValueError("rows of different lengths")
    if not np.all(np.isfinite(arr)):
        raise ValueError("contains NaN or infinity")
    return arr


def _to_floats(spec: ParamSpec, v: Any) -> tuple[float, ...]:
    if isinstance(v, str):
        v = [p for p in v.replace(",", " ").split()]
    if isinstance(v, (int, float)):
        v = [v]
    return tuple(_to_float(spec, x) for x in v)


def parse_tensor_text(text: str) -> Any:
    """Parse what a user types for a tensor: ``3``, ``1, 2, 3``, ``[[1, 2], [3, 4]]``
    or rows separated by ``;`` as in ``1 2; 3 4``."""
    import json

    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    rows = [r for r in text.split(";") if r.strip()]
    parsed = [[float(x) for x in r.replace(",", " ").split()] for r in rows]
    if len(parsed) == 1:
        return parsed[0][0] if len(parsed[0]) == 1 else parsed[0]
    return parsed


_COERCE = {
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "choice": lambda s, v: str(v),
    "str": lambda s, v: str(v),
    "tensor": _to_tensor,
    "floats": _to_floats,
}
_KIND_TEXT = {
    "int": "a whole number", "float": "a number", "bool": "true or false",
    "choice": "a choice", "str": "text", "tensor": "a number or a nested list of numbers",
    "floats": "a list of numbers",
}


def to_json_value(spec: ParamSpec, value: Any) -> Any:
    """The JSON form of a coerced value (tensors become nested lists)."""
    if spec.kind == "tensor":
        return np.asarray(value).tolist()
    if spec.kind == "floats":
        return list(value)
    return value
