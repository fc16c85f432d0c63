"""``gradviz import-weights GRAPH.json CKPT.pt``: the weights a PyTorch export trained, back in
the graph they came from.

``read_state_dict`` reads a ``torch.save`` file (the zip archive PyTorch writes since 1.6)
without PyTorch: its pickle may name tensors, storages and ordered dicts and nothing else
(a pickle that asks for anything more is refused, never run), and each tensor is a view of
its storage's bytes. ``graph_weights`` checks the checkpoint against the graph by name and
shape, naming every weight that is missing, left over or of another shape, and turns it into
gradviz's names and layouts (a Linear's W back to (D, K)).
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np

from gradviz_core import fsio
from gradviz_core.errors import GradvizError

#: PyTorch's storage classes -> the NumPy type of their elements (little-endian)
STORAGES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
            "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
            "BoolStorage": "?"}


class CheckpointError(GradvizError):
    """A checkpoint that cannot be read or does not fit the graph; the message says why."""


class _Storage:
    def __init__(self, dtype: str) -> None:
        self.dtype = dtype


def _rebuild_tensor(storage, offset, size, stride, *_):
    item = storage.itemsize
    if not size:
        return storage[offset:offset + 1].reshape(()).copy()
    return np.lib.stride_tricks.as_strided(storage[offset:], tuple(size), tuple(s * item for s in stride)).copy()


def _rebuild_parameter(data, *_):
    return data


class _Tensors(pickle.Unpickler):
    """Tensors, storages, dicts, numbers and strings: a state_dict, never code."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, path: Path) -> None:
        super().__init__(file)
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in STORAGES:
            return _Storage(STORAGES[name])
        if module == "collections" and name == "OrderedDict":
            from collections import OrderedDict
            return OrderedDict
        if module == "torch" and name == "BFloat16Storage":
            raise CheckpointError(f"{self.path}: holds bfloat16 tensors; save them as float32 first "
                                  "(model.float().state_dict())")
        raise CheckpointError(f"{self.path}: not a plain state_dict: it asks to run {module}.{name} when it is "
                              "read, and gradviz reads only tensors (never code) from a checkpoint")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _Storage)):
            raise CheckpointError(f"{self.path}: a storage of a kind gradviz does not read ({pid!r:.60})")
        kind, key, numel = pid[1], pid[2], int(pid[4])
        try:
            raw = self.archive.read(f"{self.prefix}data/{key}")
        except KeyError:
            raise CheckpointError(f"{self.path}: the tensor data {key} is missing from the archive") from None
        dtype = np.dtype(kind.dtype)
        if len(raw) < numel * dtype.itemsize:
            raise CheckpointError(f"{self.path}: the tensor data {key} is cut short")
        return np.frombuffer(raw, dtype, count=numel)


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a ``torch.save`` file, by name ({"fc1.weight": array, …}); a checkpoint
    that wraps its state_dict ({"model": …} or {"state_dict": …}) is unwrapped, and
    DistributedDataParallel's "module." prefix is removed."""
    path = Path(path)
    size = fsio.regular_file(path, CheckpointError, "checkpoint")
    fsio.check_fits(path, 2 * size, CheckpointError, "its tensors")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (torch.save writes a zip archive; a file from "
                              "before PyTorch 1.6, or from torch.save(..., _use_new_zipfile_serialization=False), "
                              "must be saved again with a newer PyTorch)") from None
    with archive:
        pkl = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if not pkl:
            raise CheckpointError(f"{path}: a zip archive, but not one torch.save wrote (it has no data.pkl)")
        prefix = pkl[0][:-len("data.pkl")]
        order = archive.read(prefix + "byteorder").decode().strip() if prefix + "byteorder" in archive.namelist() \
            else "little"
        if order != "little":
            raise CheckpointError(f"{path}: written on a big-endian machine; gradviz reads little-endian checkpoints")
        import io
        try:
            state = _Tensors(io.BytesIO(archive.read(pkl[0])), archive, prefix, path).load()
        except CheckpointError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError):
            raise CheckpointError(f"{path}: its data.pkl is damaged (it cannot be read as a state_dict)") from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{path}: holds {type(state).__name__ if not isinstance(state, dict) else 'an empty dict'}, "
                              "not a state_dict (save model.state_dict())")
    out = {}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            out[key[len("module."):] if str(key).startswith("module.") else str(key)] = value
    if not out:
        raise CheckpointError(f"{path}: holds no tensors (save model.state_dict())")
    return out


def graph_weights(graph, state: dict[str, np.ndarray], where: str | Path) -> dict[str, np.ndarray]:
    """The checkpoint as the graph's weights ({"node/name": float64 array}), checked by name and
    shape against what the graph's PyTorch export holds; CheckpointError naming every mismatch."""
    from gradviz_core.formats.pytorch import plan
    p = plan(graph)
    run = p["run"]
    expected: dict[str, tuple[str, str, bool, tuple]] = {}  # torch key -> (node, weight, transposed, shape)
    constants = set()
    for node, attr, cls, kw in p["modules"]:
        b = run.bricks[node]
        held = {**b.weights, **b.buffers}
        if cls == "Value" and not held:
            constants.add(f"{attr}.value")  # a typed number, not a weight: the graph's own value stays
            continue
        for w, value in held.items():
            t = w in b.torch_transposed
            expected[f"{attr}.{b.torch_names.get(w, w)}"] = (node, w, t, np.shape(value)[::-1] if t else np.shape(value))
    problems = []
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected and k not in constants]
    if missing:
        problems.append(f"has no {', '.join(missing[:6])}{' …' if len(missing) > 6 else ''}")
    if extra:
        problems.append(f"holds {', '.join(extra[:6])}{' …' if len(extra) > 6 else ''}, which this graph has no "
                        "layer for")
    for key, (node, w, t, shape) in expected.items():
        if key in state and tuple(state[key].shape) != tuple(shape):
            problems.append(f"{key} is {'×'.join(map(str, state[key].shape)) or 'a number'} but {node} "
                            f"({run.bricks[node].type_name}) takes {'×'.join(map(str, shape)) or 'a number'} here")
    if problems:
        raise CheckpointError(f"{where}: does not fit {graph.title or 'this graph'}: " + "; ".join(problems)
                              + " (was it saved from this graph's export?)")
    out = {}
    for key, (node, w, t, _) in expected.items():
        value = np.asarray(state[key], np.float64)
        if not np.isfinite(value).all():
            raise CheckpointError(f"{where}: {key} holds NaN or infinity (did the training diverge?); "
                                  "the graph's weights are left as they were")
        out[f"{node}/{w}"] = value.T.copy() if t else value
    return out


def load_checkpoint(graph, path: str | Path) -> dict[str, np.ndarray]:
    """``read_state_dict`` then ``graph_weights``: the graph's weights from a checkpoint file."""
    return graph_weights(graph, read_state_dict(path), path)
