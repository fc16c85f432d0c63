"""gradviz_core: the computational-graph engine behind gradviz.

Pure Python + NumPy (+ Numba kernels). It never imports Qt, so it can be used from
scripts, notebooks, the CLI and the tests. Its folders are its layers, each importing only
from those below it (tests/test_layers.py checks):

    errors, events, params, shapes, memory   the base every layer uses
    kernels/    the compute kernels: readable NumPy and Numba, the same signatures
    data/       data sets, their declarations, preprocessing and augmentation
    model/      the document: the graph, the brick contract, commands, settings, the file format
    bricks/     the brick types, one module per family
    runs/       stepping, training, the gradient check, the playground's race
    teach/ formats/ perf/   lessons and their claims; PyTorch, NumPy and ONNX; gradviz bench

This face hands on what scripts use most: ``Graph``, the errors and the brick registry.
"""
from gradviz_core.errors import GradvizError, GraphError, GraphFileError, ShapeError
from gradviz_core import bricks as _bricks  # noqa: F401  (registers every brick type)
from gradviz_core.model.registry import brick_types, get_brick_class
from gradviz_core.model.graph import Graph

__all__ = ["Graph", "GradvizError", "GraphFileError", "ShapeError", "GraphError",
           "brick_types", "get_brick_class"]
__version__ = "0.2.0"
