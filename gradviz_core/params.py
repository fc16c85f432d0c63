"""Declarations of a brick's settings: name, type, default, range or choices, a one-line doc.

The inspector builds its form from these, and the file loader checks values with them.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradviz_core.errors import ParamError

KINDS = ("int", "float", "bool", "choice", "str", "tensor", "floats", "ints", "names")


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

    def coerce(self, value: Any, where: str, label: str | None = None) -> Any:
        """Return ``value`` converted to this kind, or raise ParamError naming ``where`` (or
        ``label``, e.g. "training.lr", for the settings of a graph file's sections)."""
        label = label or f"{where}: parameter '{self.name}'"
        if value is None:  # null in a file (or --set KEY=null) means the default, as JSON users expect
            value = self.default
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
        if self.kind == "ints" and self.low is not None and any(v < self.low for v in out):
            raise ParamError(f"{label} must hold whole numbers ≥ {self.low:g}, got {list(out)}", node=where)
        if self.kind == "floats" and self.low is not None and len(out) < self.low:
            raise ParamError(f"{label} needs at least {int(self.low)} numbers, got {len(out)}",
                             node=where)
        return out


def _to_int(spec: ParamSpec, v: Any) -> int:
    if isinstance(v, bool):
        raise TypeError("a boolean is not a number")
    if not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"not a number ({_type_name(v)})")
    if isinstance(v, float) and not v.is_integer():
        raise ValueError("not a whole number")
    return int(v)


def _to_float(spec: ParamSpec, v: Any) -> float:
    if isinstance(v, bool):
        raise TypeError("a boolean is not a number")
    if not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"not a number ({_type_name(v)})")
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
        v = [float(p) for p in v.replace(",", " ").split()]
    if isinstance(v, (int, float)):
        v = [v]
    return tuple(_to_float(spec, x) for x in v)


def _to_ints(spec: ParamSpec, v: Any) -> tuple[int, ...]:
    if isinstance(v, str):
        v = [p for p in v.replace(",", " ").replace("x", " ").replace("×", " ").split()]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = [v]
    if not isinstance(v, (list, tuple)):
        raise TypeError("not a list of whole numbers")
    return tuple(_to_int(spec, int(x) if isinstance(x, str) else x) for x in v)


def _to_names(spec: ParamSpec, v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [p.strip() for p in v.split(",") if p.strip()]
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        raise TypeError("not a list of names")
    return tuple(v)


def _to_choice(spec: ParamSpec, v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"not a name ({_type_name(v)})")
    return v


def _to_str(spec: ParamSpec, v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"not text ({_type_name(v)})")
    return v


def _type_name(v: Any) -> str:
    return {list: "a list", dict: "an object", type(None): "null", bool: "a boolean",
            str: "text"}.get(type(v), type(v).__name__)


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
    "choice": _to_choice,
    "str": _to_str,
    "ints": _to_ints,
    "names": _to_names,
    "tensor": _to_tensor,
    "floats": _to_floats,
}
_KIND_TEXT = {
    "int": "a whole number", "float": "a number", "bool": "true or false",
    "choice": "a choice", "str": "text", "tensor": "a number or a nested list of numbers",
    "floats": "a list of numbers", "ints": "a list of whole numbers", "names": "a list of names",
}


def to_json_value(spec: ParamSpec, value: Any) -> Any:
    """The JSON form of a coerced value (tensors become nested lists)."""
    if spec.kind == "tensor":
        return np.asarray(value).tolist()
    if spec.kind in ("floats", "ints", "names"):
        return list(value)
    return value


#: names people reach for, and the setting they mean
ALIASES = {"learning_rate": "lr", "rate": "lr", "batch": "batch_size", "batchsize": "batch_size",
           "epoch": "epochs", "mu": "momentum", "weight_decay": "an L2 node (Regularizers)",
           "dropout": "a Dropout node", "number": "n", "samples": "n", "size": "n"}


def did_you_mean(key: str, known) -> str:
    alias = ALIASES.get(key.lower())
    if alias and (alias in known or " " in alias):
        return f"; did you mean {alias!r}?" if alias in known else f"; for that, use {alias}"
    close = difflib.get_close_matches(key, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
