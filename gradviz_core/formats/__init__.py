"""The world's formats: a graph exported as a PyTorch file (``pytorch``), a NumPy study script
(``numpy_script``) or an ONNX model (``onnx_export``), an ONNX model imported as a graph
(``onnx_import``), and the file format's JSON Schema generated from the declarations
(``schema_gen``). It may import the model, the runs and everything below them; not the
teaching aids or the performance tools.
"""
from __future__ import annotations

#: export target -> what ``export_bytes`` writes
TARGETS = ("pytorch", "numpy", "onnx")


def export_bytes(graph, to: str) -> bytes:
    """The file ``gradviz export --to TO`` writes: pytorch, numpy or onnx."""
    if to == "onnx":
        from gradviz_core.formats.onnx_export import to_onnx
        return to_onnx(graph).SerializeToString()
    if to == "numpy":
        from gradviz_core.formats.numpy_script import to_numpy
        return to_numpy(graph).encode("utf-8")
    from gradviz_core.formats.pytorch import to_pytorch
    return to_pytorch(graph).encode("utf-8")
