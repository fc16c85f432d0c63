"""gradviz_core: the computational-graph engine behind gradviz.

Pure Python + NumPy (+ Numba kernels). It never imports Qt, so it can be used from
scripts, notebooks, the CLI and the tests.
"""
from gradviz_core.errors import GradvizError, GraphFileError, ShapeError, GraphError
from gradviz_core import bricks as _bricks  # noqa: F401  (registers every brick type)
from gradviz_core.registry import brick_types, get_brick_class
from gradviz_core.graph import Graph

__all__ = ["Graph", "GradvizError", "GraphFileError", "ShapeError", "GraphError",
           "brick_types", "get_brick_class"]
__version__ = "0.2.0"
