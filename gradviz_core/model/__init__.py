"""The document: what the student builds and saves.

The graph of bricks with its ports, shapes and problems (``graph``), the brick contract and
the registry of brick types (``brick``, ``registry``, ``init``), the undoable edits
(``commands``), the declared training settings (``settings``), the file format (``fileformat``),
the layout and the ``--set`` overrides. It may import the base modules of ``gradviz_core``
(errors, events, params, shapes, memory) and ``data``; never the runs, the teaching aids, the
formats or the performance tools, which all build on it.
"""
from gradviz_core.model.brick import Brick
from gradviz_core.model.graph import Graph, Problem
from gradviz_core.model.registry import brick_types, get_brick_class, register

__all__ = ["Brick", "Graph", "Problem", "brick_types", "get_brick_class", "register"]
