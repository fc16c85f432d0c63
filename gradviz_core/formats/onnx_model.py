"""An ONNX file read as a model, checked before anything of it is trusted: a regular file of a size
that fits, a model protobuf with a graph of nodes, an opset gradviz knows, external data only in
files inside the model's folder, initializers that hold the values their shapes claim."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from gradviz_core import fsio
from gradviz_core.errors import GradvizError
from gradviz_core.formats.onnx_export import need_onnx


class OnnxImportError(GradvizError):
    pass


#: the opsets of the default domain whose operators gradviz reads as it reads today's (ONNX's
#: operators took their present form, broadcasting included, in opset 7)
OPSETS = (7, 28)


def load_model(path, where: str):
    """The ONNX model at ``path``, checked to be one before anything of it is read: a regular
    file of a size that fits, a model protobuf with a graph of nodes, an opset gradviz knows,
    external data only in files inside the model's folder."""
    onnx = need_onnx()
    size = fsio.regular_file(path, OnnxImportError, "ONNX model (.onnx)")
    if size == 0:
        raise OnnxImportError(f"{where}: is empty (0 bytes): not an ONNX model")
    fsio.check_fits(path, 2 * size, OnnxImportError, "the model")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - protobuf's errors: the bytes are no model
        raise OnnxImportError(f"{where}: not an ONNX model (its bytes are not a model written by ONNX)") from None
    if not model.ir_version or not model.HasField("graph"):
        raise OnnxImportError(f"{where}: not an ONNX model (it holds no ONNX version and no graph)")
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    opset = opsets.get("ai.onnx")
    if opset is None:
        raise OnnxImportError(f"{where}: names no opset of ONNX's standard operators (opset_import); "
                              "gradviz reads ONNX's standard operators only")
    lo, hi = OPSETS
    if not lo <= opset <= hi:
        raise OnnxImportError(f"{where}: uses opset {opset} of ONNX's operators; gradviz reads opsets {lo} "
                              f"to {hi} ({'re-export it with a newer exporter' if opset < lo else 'export it with opset_version ≤ ' + str(hi)})")
    if not model.graph.node:
        raise OnnxImportError(f"{where}: its graph has no nodes: there is nothing to compute")
    _load_external(model, Path(path), where)
    return model


def _load_external(model, path: Path, where: str) -> None:
    """Initializers whose data is stored beside the model (models over 2 GB): each file must be a
    regular file inside the model's folder, of the size the tensors need."""
    from onnx import TensorProto
    from onnx.external_data_helper import load_external_data_for_model
    folder = path.parent.resolve()
    external = [t for t in model.graph.initializer if t.data_location == TensorProto.EXTERNAL]
    for t in external:
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location", "")
        target = (folder / location).resolve()
        if not location or Path(location).is_absolute() or folder not in (target, *target.parents):
            raise OnnxImportError(f"{where}: the initializer {t.name!r} keeps its values in {location!r}, "
                                  "outside the model's folder; gradviz reads external data only from files "
                                  "beside the model")
        size = fsio.regular_file(target, OnnxImportError, "file of the model's external data")
        try:
            end = int(info.get("offset", 0)) + int(info.get("length", size))
        except ValueError:
            end = -1
        if not 0 <= end <= size:
            raise OnnxImportError(f"{where}: the initializer {t.name!r} reads bytes past the end of {location!r}")
    if external:
        try:
            load_external_data_for_model(model, str(folder))
        except Exception:  # noqa: BLE001 - onnx's checks on the locations
            raise OnnxImportError(f"{where}: its external data cannot be read from the model's folder") from None


def initializer(t, where: str, numpy_helper) -> np.ndarray:
    """An initializer's values, their count checked against its shape before they are read."""
    dims = list(t.dims)
    if any(d < 0 for d in dims):
        raise OnnxImportError(f"{where}: the initializer {t.name!r} has the shape {dims}: a size below 0")
    try:
        a = numpy_helper.to_array(t)
    except Exception:  # noqa: BLE001 - onnx's errors on a tensor that does not hold its values
        a = None
    if a is None or a.size != int(np.prod(dims, dtype=object)) or a.dtype.kind not in "biuf":
        raise OnnxImportError(f"{where}: the initializer {t.name!r} of shape {dims} does not hold "
                              f"{'its ' + str(int(np.prod(dims, dtype=object))) if dims else 'its'} values")
    return a


def constant(node):
    from onnx import helper, numpy_helper
    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        if a.name in ("value_float", "value_int", "value_floats", "value_ints"):
            return np.asarray(helper.get_attribute_value(a))
    raise GradvizError(f"Constant node {node.name!r}: only value, value_float(s) and value_int(s) are read")


def attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}
