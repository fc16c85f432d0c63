"""Constant subgraphs computed at import: the shapes and weights some exporters compute in the
graph (ConstantOfShape, Cast, Unsqueeze, Concat of shape vectors …) become plain values."""
from __future__ import annotations

import numpy as np

from gradviz_core.formats.onnx_model import attrs as _attrs


def _fold_reshape(x, shape, allowzero=0):
    shape = [int(d) for d in shape]
    return np.reshape(x, [x.shape[i] if d == 0 and not allowzero else d for i, d in enumerate(shape)])


def _axes(a, ins, i=1):
    axes = a.get("axes")
    if axes is None and len(ins) > i:
        axes = [int(v) for v in np.asarray(ins[i]).reshape(-1)]
    return axes


def _unsqueeze(x, axes):
    for ax in sorted(ax % (x.ndim + len(axes)) for ax in axes):
        x = np.expand_dims(x, ax)
    return x


#: operators computed at import when every input is a constant (the shapes and weights that some
#: exporters compute in the graph): name -> f(inputs, attributes). The gates (Add, Mul, …) are
#: not folded: a circuit of constants is what a student steps through
FOLD = {
    "Identity": lambda ins, a: ins[0],
    "Cast": lambda ins, a: np.asarray(ins[0]).astype(
        {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64}.get(a.get("to"), np.float64)),
    "ConstantOfShape": lambda ins, a: np.full([int(d) for d in np.asarray(ins[0]).reshape(-1)],
                                              _constant_value(a.get("value"))),
    "Reshape": lambda ins, a: _fold_reshape(ins[0], ins[1], a.get("allowzero", 0)),
    "Unsqueeze": lambda ins, a: _unsqueeze(np.asarray(ins[0]), _axes(a, ins)),
    "Squeeze": lambda ins, a: np.squeeze(ins[0], axis=tuple(_axes(a, ins)) if _axes(a, ins) else None),
    "Concat": lambda ins, a: np.concatenate([np.atleast_1d(v) for v in ins], axis=a.get("axis", 0)),
    "Gather": lambda ins, a: np.take(ins[0], np.asarray(ins[1]).astype(np.int64), axis=a.get("axis", 0)),
    "Transpose": lambda ins, a: np.transpose(ins[0], a.get("perm")),
    "Sqrt": lambda ins, a: np.sqrt(ins[0]),
    "Range": lambda ins, a: np.arange(*(np.asarray(v).item() for v in ins)),
}


def _constant_value(t):
    from onnx import numpy_helper
    return 0.0 if t is None else numpy_helper.to_array(t).reshape(-1)[0]


def fold(r, node) -> bool:
    """Compute ``node`` now if it is a folding operator whose inputs are all constants."""
    if node.op_type not in FOLD or not node.input or any(t and t not in r.values for t in node.input):
        return False
    try:
        value = FOLD[node.op_type]([r.values[t] if t else None for t in node.input], _attrs(node))
    except Exception as exc:  # noqa: BLE001 - NumPy's refusal: the constants do not fit the operator
        raise r.fail(node, f"its constant inputs cannot be computed ({type(exc).__name__}: {exc})") from None
    r.values[node.output[0]] = np.asarray(value)
    return True
