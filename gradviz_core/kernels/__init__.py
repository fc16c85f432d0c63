"""Kernel backends. The backend is chosen here, and only here.

``reference`` is readable NumPy; ``fast`` (Numba) keeps the same signatures.
Set ``GRADVIZ_BACKEND=reference`` to force the NumPy reference.
"""
from __future__ import annotations

import os
from types import ModuleType

from gradviz_core.kernels import reference

_active: ModuleType = reference


def active() -> ModuleType:
    return _active


def use(name: str) -> ModuleType:
    """Switch the backend (``reference`` or ``fast``) and return the module."""
    global _active
    if name == "reference":
        _active = reference
    elif name == "fast":
        from gradviz_core.kernels import fast
        _active = fast
    else:
        raise ValueError(f"unknown kernel backend {name!r}: use 'reference' or 'fast'")
    return _active


if os.environ.get("GRADVIZ_BACKEND", "reference") != "reference":
    use(os.environ["GRADVIZ_BACKEND"])
