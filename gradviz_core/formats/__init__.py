"""The world's formats: a graph exported as a PyTorch file (``pytorch``), a NumPy study script
(``numpy_script``) or an ONNX model (``onnx_export``), an ONNX model imported as a graph
(``onnx_import``), and the file format's JSON Schema generated from the declarations
(``schema_gen``). It may import the model, the runs and everything below them; not the
teaching aids or the performance tools.
"""
from __future__ import annotations

#: export target -> what ``export_bytes`` writes
TARGETS = ("pytorch", "numpy", "onnx")


def export_files(graph, to: str, output) -> dict:
    """The files ``gradviz export --to TO -o OUTPUT`` writes, {path: bytes}: the PyTorch file
    and the NumPy study script with their arrays file beside them (``net.arrays.npz``), or
    the ONNX model."""
    from pathlib import Path
    output = Path(output)
    if to == "onnx":
        from gradviz_core.formats.onnx_export import to_onnx
        return {output: to_onnx(graph).SerializeToString()}
    from gradviz_core.formats.pytorch import arrays_file, arrays_name
    if to == "numpy":
        from gradviz_core.formats.numpy_script import to_numpy
        text, arrays = to_numpy(graph, output)
    else:
        from gradviz_core.formats.pytorch import to_pytorch
        text, arrays = to_pytorch(graph, output)
    # the arrays first: a script is never left without the file it reads
    return {output.with_name(arrays_name(output)): arrays_file(arrays), output: text.encode("utf-8")}
