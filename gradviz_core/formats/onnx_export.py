"""``gradviz export FILE --to onnx -o model.onnx``: a graph's forward pass as an ONNX model.

The model computes what the graph computes at test time, from its input (or from nothing,
for a circuit of constants) to its outputs: every node that does not depend on a target, a
loss or a regularizer, which only training uses. Its outputs are those nodes that nothing
else in the model reads (a classifier's scores, a circuit's f), each named as its node. It
carries the graph's weights (the trained ones, or its seeded fresh ones) in float32, and
BatchNorm's running averages; Dropout is the identity, as at test time.

Each brick declares its ONNX form (``Brick.onnx_op``, or ``Brick.onnx`` writing its nodes into
``Model``); a node without one is refused by name. ``onnx`` is an optional dependency:
``pip install 'gradviz[onnx]'``.
"""
from __future__ import annotations

import numpy as np

from gradviz_core.errors import GradvizError, GraphError
from gradviz_core.model.graph import Graph
from gradviz_core.runs.run import Run

OPSET = 17
#: the IR version of opset 17, which onnxruntime 1.14 and later read
IR_VERSION = 8


def need_onnx():
    try:
        import onnx
    except ImportError:
        raise GradvizError("ONNX needs the onnx package: pip install 'gradviz[onnx]'") from None
    return onnx


class Model:
    """What the bricks write into: nodes, initializers and the graph's input."""

    def __init__(self, graph: Graph) -> None:
        self.onnx = need_onnx()
        self.graph = graph
        self.nodes: list = []
        self.initializers: dict[str, np.ndarray] = {}
        self.inputs: list = []

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> None:
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], name=output, **attrs))

    def const(self, value, name: str) -> str:
        """An initializer (float32, or int64 for integers) named ``name``; returns the name."""
        a = np.asarray(value)
        self.initializers[name] = a.astype(np.int64 if a.dtype.kind in "iu" else np.float32)
        return name

    def weights(self, brick, *names: str) -> list[str]:
        """The brick's weights and buffers that it has, in this order, as initializers."""
        held = {**brick.weights, **brick.buffers}
        return [self.const(held[w], f"{brick.name}.{w}") for w in names if w in held]

    def value_info(self, name: str):
        """The float32 tensor of node ``name``, its batch axis named N."""
        shape = ["N" if d is None else d for d in self.graph.shapes[name]]
        return self.onnx.helper.make_tensor_value_info(name, self.onnx.TensorProto.FLOAT, shape)

    def input(self, name: str) -> None:
        self.inputs.append(self.value_info(name))


def inference_nodes(graph: Graph, bricks: dict) -> list[str]:
    """The nodes an exported model computes: those that depend on no training-only node."""
    left_out: set[str] = set()
    for n in graph.order:
        if bricks[n].onnx_training_only or any(src in left_out for src in graph.inputs_of(n).values()):
            left_out.add(n)
    return [n for n in graph.order if n not in left_out]


def to_onnx(graph: Graph):
    """The ``onnx.ModelProto`` of the graph's forward pass at test time."""
    graph.check()
    run = Run(graph, np.float32, weights="document" if graph.weights() else "fresh", kind="export")
    bricks = run.bricks
    keep = inference_nodes(graph, bricks)
    if not keep:
        raise GraphError("nothing to export: every node is a target, a loss or a regularizer")
    m = Model(graph)
    for n in keep:
        b = bricks[n]
        ins = [graph.inputs_of(n)[p] for p in b.input_ports()]
        if not b.onnx(m, ins, n, graph.input_shapes(n)):
            raise GraphError(f"{n} ({b.type_name}): no ONNX form for it in the export", node=n)
    kept = set(keep)
    outputs = [n for n in keep if not any(e.src == n and e.dst in kept for e in graph.edges())]
    onnx = m.onnx
    helper = onnx.helper
    value_info = [m.value_info(n) for n in outputs]
    initializers = [onnx.numpy_helper.from_array(a, name) for name, a in m.initializers.items()]
    g = helper.make_graph(m.nodes, _name(graph), m.inputs, value_info, initializer=initializers,
                          doc_string=graph.note[:2000])
    from gradviz_core import __version__
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="gradviz", producer_version=__version__)
    onnx.checker.check_model(model)
    return model


def _name(graph: Graph) -> str:
    return (graph.title or "gradviz graph").strip()[:200]


def export(graph: Graph, path) -> list[str]:
    """Write ``path``; returns the model's output names."""
    from pathlib import Path

    from gradviz_core.model.fileformat import atomic_write
    model = to_onnx(graph)
    atomic_write(Path(path), model.SerializeToString())
    return [o.name for o in model.graph.output]
