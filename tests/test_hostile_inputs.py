"""Issue 27's case table. Hostile inputs on the command line, one row each: files built in the
test's folder that a careless reader trusts (a header that claims 80 GB, a named pipe, a gzip
bomb, a pickle that declares a 2⁶²-byte field, a PNG that claims 20000×20000…), writers pointed
where they cannot write, garbage that must not be accepted and refusals that must say why.

The contract: bad input exits 2 with ONE line on stderr, ``gradviz: error: <path or field>:
<a sentence>``, naming what the user typed; never exit 3 ("internal error … please report
this"), never a hang, never more memory than the input warrants; a failed write leaves
nothing behind (no partial file, no hidden ``.*.tmp``, no orphan ``*.weights.*.npz``); valid
input exits 0.

Every row runs ``python -m gradviz`` in a new process, from the row's own folder (so the paths
in the arguments are the ones a user types), bounded by ``timeout=20`` s (a hang fails and
names the row) and 2 GiB of address space (RLIMIT_AS: a reader that allocates what a header
claims fails with MemoryError instead of swapping the machine).
"""
from __future__ import annotations

import functools
import gzip
import io
import json
import os
import pickle
import resource
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]  # the repository
EXAMPLES = ROOT / "examples"
TIMEOUT = 20            # seconds: a reader that blocks on a pipe fails here, naming the case
MEMORY = 2 << 30        # bytes of address space each run may take (the inputs warrant far less)


# ---- running the command line, bounded ---------------------------------------------------------
def _bounded() -> None:
    """In the child, before gradviz starts: at most MEMORY bytes of address space."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_bounded(args, cwd: Path, case: str):
    """gradviz ARGS from the folder ``cwd`` in a new process -> (exit code, stdout, stderr);
    a run that outlives TIMEOUT fails the test, naming the case."""
    try:
        p = subprocess.run([sys.executable, "-m", "gradviz", *map(str, args)], cwd=cwd, capture_output=True,
                           text=True, timeout=TIMEOUT, preexec_fn=_bounded, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: gradviz {' '.join(map(str, args))} hung: no answer within {TIMEOUT} s")
    return p.returncode, p.stdout, p.stderr


def _tree(folder: Path) -> set[str]:
    """Every file and folder under ``folder``, hidden ones too."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# ---- building files ----------------------------------------------------------------------------
def graph(d: Path, data: dict | None = None, example: str = "mlp_softmax.json", file: str = "g.json",
          **keys) -> str:
    """A copy of an example with its data section (and other top-level keys) replaced."""
    doc = json.loads((EXAMPLES / example).read_text())
    if data is not None:
        doc["data"] = data
    doc.update(keys)
    (d / file).write_text(json.dumps(doc))
    return file


def onnx_model(path: Path, classes: int = 3, features: int = 2, opset: int = 17, W=None,
               no_nodes: bool = False) -> Path:
    """Gemm(input, W, b) -> scores (N, classes): a small valid linear classifier, or one with
    the initializer ``W`` given (a hand-made TensorProto), or with no nodes at all."""
    from onnx import TensorProto, helper, numpy_helper
    if W is None:
        W = numpy_helper.from_array(np.full((features, classes), 0.1, np.float32), "W")
    b = numpy_helper.from_array(np.zeros(classes, np.float32), "b")
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", features])
    if no_nodes:
        g = helper.make_graph([], "nothing", [x], [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                               ["N", features])])
    else:
        g = helper.make_graph([helper.make_node("Gemm", ["input", "W", "b"], ["scores"])], "hostile", [x],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", classes])],
                              initializer=[W, b])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


def bare_tensor(dims, name: str = "W"):
    """An initializer with these dims and no data at all."""
    from onnx import TensorProto
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(dims)
    return t


def idx_bytes(a: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}[a.dtype]
    return bytes([0, 0, code, a.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in a.shape) + a.tobytes()


def idx_header(code: int, dims) -> bytes:
    return bytes([0, 0, code, len(dims)]) + b"".join(int(n).to_bytes(4, "big") for n in dims)


def small_labels(d: Path, n: int = 4, name: str = "lab.idx") -> str:
    (d / name).write_bytes(idx_bytes((np.arange(n) % 3).astype(np.uint8)))
    return name


@functools.lru_cache(maxsize=1)
def _zeros_member(mib: int = 64) -> bytes:
    """One gzip member of ``mib`` MiB of zeros: about a thousandth of that on disk."""
    return gzip.compress(bytes(mib << 20), compresslevel=9)


def png(path: Path, width: int, height: int, rows: int | None = None) -> None:
    """An 8-bit grey PNG written by hand; its IHDR says width × height whatever the pixels are
    (``rows``: how many rows of pixel data follow; all of them by default)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = height if rows is None else rows
    pixels = zlib.compress(b"".join(b"\0" + bytes(width) for _ in range(rows)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def npz_claiming(path: Path, members: dict[str, tuple], real: dict[str, np.ndarray] | None = None) -> None:
    """An .npz whose members' .npy headers claim these (dtype, shape), followed by 64 bytes of
    data only; ``real``: members written whole."""
    with zipfile.ZipFile(path, "w") as z:
        for name, (dtype, shape) in members.items():
            buf = io.BytesIO()
            np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                       "fortran_order": False, "shape": shape})
            z.writestr(f"{name}.npy", buf.getvalue() + bytes(64))
        for name, a in (real or {}).items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a)
            z.writestr(f"{name}.npy", buf.getvalue())


def cifar_batch(path: Path, data, labels) -> str:
    with open(path, "wb") as fh:
        pickle.dump({b"batch_label": b"hostile", b"data": data, b"labels": labels}, fh, protocol=2)
    return path.name


# ---- the builders: each makes its files in the case folder and returns the arguments -----------
def import_to(output: str, prepare: Callable[[Path], None] | None = None):
    def build(d: Path):
        onnx_model(d / "m.onnx")
        if prepare:
            prepare(d)
        return ["import", "m.onnx", "-o", output]
    return build


def export_to(to: str, output: str, prepare: Callable[[Path], None] | None = None):
    def build(d: Path):
        g = graph(d)
        if prepare:
            prepare(d)
        return ["export", g, "--to", to, "-o", output]
    return build


def save_to(verb: str, output: str, prepare: Callable[[Path], None] | None = None):
    def build(d: Path):
        g = graph(d)
        if prepare:
            prepare(d)
        extra = ["--steps", "1", "--json"] if verb == "train" else []
        return [verb, g, *extra, "--save", output]
    return build


def mkdir(name: str):
    return lambda d: (d / name).mkdir(parents=True)


def read_only(d: Path) -> None:
    (d / "ro").mkdir()
    (d / "ro" / "keep.txt").write_text("already here\n")
    os.chmod(d / "ro", 0o500)


def info_on(data: Callable[[Path], dict], example: str = "mlp_softmax.json", **keys):
    def build(d: Path):
        return ["info", graph(d, data(d), example, **keys)]
    return build


def gzip_bomb_idx(d: Path) -> dict:
    """A gzipped IDX whose header claims 60000 × 10000 × 10000 bytes (6 TB) and that inflates to
    4 GiB of zeros (about 4 MB on disk: 64 gzip members of 64 MiB each, which gzip reads as one
    stream)."""
    with open(d / "train-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(gzip.compress(idx_header(0x08, (60000, 10000, 10000))))
        for _ in range(64):
            fh.write(_zeros_member())
    (d / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(60000, np.uint8))))
    return {"source": "idx", "path": "train-images-idx3-ubyte.gz"}


def idx_overflow(d: Path) -> dict:
    """Rank 4, every size 65536: the product is 2⁶⁴, which wraps to 0 in 64-bit integers."""
    (d / "ovf-idx4-ubyte").write_bytes(idx_header(0x08, (65536,) * 4))
    return {"source": "idx", "path": "ovf-idx4-ubyte", "labels": small_labels(d)}


def idx_fifo(d: Path) -> dict:
    os.mkfifo(d / "pipe-images-idx3-ubyte")
    return {"source": "idx", "path": "pipe-images-idx3-ubyte", "labels": small_labels(d)}


def folder_with(first: Callable[[Path], None]):
    """A folder of two classes: a/ holds what ``first`` makes, b/ one good 4×4 PNG."""
    def data(d: Path) -> dict:
        (d / "imgs" / "a").mkdir(parents=True)
        first(d / "imgs" / "a")
        png(d / "imgs" / "b" / "y.png", 4, 4)
        return {"source": "folder", "path": "imgs"}
    return data


def idx_no_valid_labels(d: Path) -> dict:
    (d / "img-idx3-ubyte").write_bytes(idx_bytes(np.zeros((4, 8, 8), np.uint8)))
    (d / "lab.idx").write_bytes(idx_bytes(np.full(4, -1, np.int8)))
    return {"source": "idx", "path": "img-idx3-ubyte", "labels": "lab.idx"}


def idx_valid(d: Path) -> dict:
    (d / "img-idx3-ubyte").write_bytes(idx_bytes((np.arange(40 * 64) % 251).astype(np.uint8).reshape(40, 8, 8)))
    (d / "lab.idx").write_bytes(idx_bytes((np.arange(40) % 10).astype(np.uint8)))
    return {"source": "idx", "path": "img-idx3-ubyte", "labels": "lab.idx"}


def onnx_import(make: Callable[[Path], None], model: str = "m.onnx"):
    def build(d: Path):
        make(d)
        return ["import", model, "-o", "g.json"]
    return build


def external_outside(d: Path) -> None:
    """W's data is external, in a file one folder above the model's."""
    from onnx import TensorProto, numpy_helper
    W = np.full((2, 3), 0.1, np.float32)
    (d / "outside.bin").write_bytes(W.tobytes())
    t = numpy_helper.from_array(W, "W")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../outside.bin"), ("offset", "0"), ("length", str(W.nbytes))):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    onnx_model(d / "models" / "m.onnx", W=t)


def huge_binbytes8(d: Path) -> dict:
    """Protocol 4: BINBYTES8 with a declared length of 2⁶² bytes, then two bytes."""
    (d / "data_batch_1").write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"xx" + b".")
    return {"source": "cifar", "path": "data_batch_1"}


def nested_graph(d: Path):
    (d / "g.json").write_text('{"a":' * 5000 + "1" + "}" * 5000)
    return ["info", "g.json"]


def weights_npz(make: Callable[[Path], None]):
    def build(d: Path):
        make(d / "w.npz")
        return ["info", graph(d, weights="w.npz")]
    return build


# ---- the table ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path], list]   # makes the files in the case folder -> the arguments
    code: int                       # the exit code the contract asks: 2, or 0 for valid input
    says: tuple[str, ...] = ()      # what the one stderr line must contain (the path or field named)
    never: tuple[str, ...] = ()     # what it must not contain
    issue: str = ""                 # the issue's expectation
    nonroot: bool = False           # needs permissions to hold (root ignores them)


CASES = [
    # -- writers with a bad output path: exit 2 naming the path typed, nothing left behind --
    Case("import-o-missing-folder", import_to("nodir/sub/g.json"), 2, ("nodir/sub/g.json",),
         issue="names nodir/sub/g.json, not a hidden temporary; no orphan weights"),
    Case("import-o-existing-folder", import_to("g.json", mkdir("g.json")), 2, ("g.json",),
         issue="names g.json (a folder); no orphan g.weights.*.npz beside it"),
    Case("import-o-read-only-folder", import_to("ro/g.json", read_only), 2, ("ro/g.json",), nonroot=True,
         issue="names ro/g.json; no orphan weights"),
    *[Case(f"export-{to}-o-missing-folder", export_to(to, f"missing/x.{ext}"), 2, (f"missing/x.{ext}",),
           issue="names the path typed")
      for to, ext in (("pytorch", "py"), ("numpy", "py"), ("onnx", "onnx"))],
    Case("export-o-existing-folder", export_to("pytorch", "x.py", mkdir("x.py")), 2, ("x.py",),
         issue="names x.py (a folder)"),
    Case("export-o-read-only-folder", export_to("numpy", "ro/x.py", read_only), 2, ("ro/x.py",), nonroot=True,
         issue="names ro/x.py; no .x.py.*.tmp left"),
    Case("step-save-missing-folder", save_to("step", "nodir/w.npz"), 2, ("nodir/w.npz",),
         issue="names nodir/w.npz"),
    Case("step-save-existing-folder", save_to("step", "w.npz", mkdir("w.npz")), 2, ("w.npz",),
         issue="names w.npz (a folder)"),
    Case("step-save-read-only-folder", save_to("step", "ro/w.npz", read_only), 2, ("ro/w.npz",), nonroot=True,
         issue="names ro/w.npz; no .w.npz.*.tmp left"),
    Case("train-save-missing-folder", save_to("train", "nodir/w.npz"), 2, ("nodir/w.npz",),
         issue="names nodir/w.npz"),
    # -- data read before it is sized: refused from the header, within the memory bound --
    Case("idx-gzip-bomb-header-6TB", info_on(gzip_bomb_idx), 2, ("train-images-idx3-ubyte.gz",),
         issue="refused from the header (6 TB), before inflating 4 GiB"),
    Case("idx-path-dev-zero", info_on(lambda d: {"source": "idx", "path": "/dev/zero", "labels": small_labels(d)}),
         2, ("/dev/zero",), issue="refused (not a regular file), never read to the end"),
    Case("cifar-path-dev-zero", info_on(lambda d: {"source": "cifar", "path": "/dev/zero"}), 2, ("/dev/zero",),
         issue="refused (not a regular file), never read to the end"),
    Case("csv-path-dev-zero", info_on(lambda d: {"source": "csv", "path": "/dev/zero"}), 2, ("/dev/zero",),
         issue="refused (not a regular file), never read to the end"),
    Case("npz-path-dev-zero", info_on(lambda d: {"source": "npz", "path": "/dev/zero"}), 2, ("/dev/zero",),
         ("allow_pickle",), issue="refused (not a regular file); [extension] no allow_pickle jargon"),
    Case("npz-header-claims-80GB", info_on(lambda d: npz_claiming(d / "big.npz", {"X": ("<f8", (10**10,))},
                                                                  {"y": np.zeros(3)}) or
                                           {"source": "npz", "path": "big.npz"}),
         2, ("big.npz",), issue="refused from the .npy header (80 GB), nothing allocated"),
    Case("weights-npz-header-claims-80GB",
         weights_npz(lambda p: npz_claiming(p, {"fc1/W": ("<f8", (10**10,))})), 2, ("w.npz",),
         issue="refused from the .npy header (80 GB), nothing allocated"),
    Case("idx-dims-product-overflows", info_on(idx_overflow), 2, ("ovf-idx4-ubyte",),
         issue="65536⁴ refused (not wrapped to 0 bytes)"),
    # -- hangs --
    Case("idx-path-is-a-fifo", info_on(idx_fifo), 2, ("pipe-images-idx3-ubyte",),
         issue="refused (not a regular file), never blocks"),
    Case("folder-fifo-named-x-png", info_on(folder_with(lambda a: os.mkfifo(a / "x.png"))), 2, ("x.png",),
         issue="refused (not a regular file), never blocks"),
    # -- crafted files --
    Case("folder-png-claims-20000x20000", info_on(folder_with(lambda a: png(a / "big.png", 20000, 20000, rows=2))),
         2, ("big.png",), issue="refused naming big.png (Pillow's DecompressionBombError)"),
    Case("onnx-initializer-negative-dims", onnx_import(lambda d: onnx_model(d / "m.onnx", W=bare_tensor([-2, 3]))),
         2, ("m.onnx",), issue="refused naming the model (and the initializer)"),
    Case("onnx-initializer-dims-no-data", onnx_import(lambda d: onnx_model(d / "m.onnx", W=bare_tensor([2, 3]))),
         2, ("m.onnx",), issue="refused naming the model (and the initializer)"),
    Case("cifar-data-is-strings",
         info_on(lambda d: {"source": "cifar", "path": cifar_batch(d / "data_batch_1", np.full((2, 3072), "a"), [0, 1])}),
         2, ("data_batch_1",), issue="refused naming the batch"),
    Case("cifar-labels-are-strings",
         info_on(lambda d: {"source": "cifar", "path": cifar_batch(d / "data_batch_1", np.zeros((2, 3072), np.uint8),
                                                                   ["cat", "dog"])}),
         2, ("data_batch_1",), issue="refused naming the batch"),
    Case("cifar-pickle-binbytes8-2e62", info_on(huge_binbytes8), 2, ("data_batch_1",),
         issue="refused: a field longer than the file, nothing allocated"),
    Case("graph-json-nested-5000-deep", nested_graph, 2, ("g.json",), issue="refused naming g.json"),
    # -- garbage accepted --
    Case("onnx-empty-file", onnx_import(lambda d: (d / "m.onnx").write_bytes(b"")), 2, ("m.onnx",),
         issue="refused: 0 bytes is no model"),
    Case("onnx-no-nodes", onnx_import(lambda d: onnx_model(d / "m.onnx", no_nodes=True)), 2, ("m.onnx",),
         issue="refused: a model with no nodes"),
    Case("onnx-opset-1", onnx_import(lambda d: onnx_model(d / "m.onnx", opset=1)), 2, ("m.onnx", "opset"),
         issue="refused naming the opset"),
    Case("onnx-opset-99", onnx_import(lambda d: onnx_model(d / "m.onnx", opset=99)), 2, ("m.onnx", "opset"),
         issue="refused naming the opset"),
    # -- refusals that puzzle --
    Case("onnx-classifier-1001-classes", onnx_import(lambda d: onnx_model(d / "m.onnx", classes=1001)), 0,
         issue="imports: the class count comes from the model"),
    Case("onnx-external-data-outside-folder", onnx_import(external_outside, "models/m.onnx"), 2,
         ("models/m.onnx",), ("(ValidationError)",), issue="says why (data outside the model's folder)"),
    Case("csv-path-etc-passwd", info_on(lambda d: {"source": "csv", "path": "/etc/passwd"}), 2, ("/etc/passwd",),
         ("root:",), issue="refused without quoting the file's content"),
    Case("npz-path-etc-passwd", info_on(lambda d: {"source": "npz", "path": "/etc/passwd"}), 2, ("/etc/passwd",),
         ("root:", "allow_pickle"), issue="refused without quoting the file; [extension] no allow_pickle"),
    Case("idx-path-etc-passwd", info_on(lambda d: {"source": "idx", "path": "/etc/passwd",
                                                   "labels": small_labels(d)}),
         2, ("/etc/passwd",), ("root:",), issue="refused without quoting the file's content"),
    Case("cifar-path-etc-passwd", info_on(lambda d: {"source": "cifar", "path": "/etc/passwd"}), 2,
         ("/etc/passwd",), ("root:",), issue="refused without quoting the file's content"),
    Case("weights-npz-object-array",
         weights_npz(lambda p: np.savez(p, **{"fc1/W": np.array([None, 1], dtype=object)})), 2, ("w.npz",),
         ("allow_pickle",), issue="refused naming w.npz, without saying allow_pickle"),
    Case("data-npz-object-array",
         info_on(lambda d: np.savez(d / "obj.npz", X=np.array([[None, 1]] * 3, dtype=object), y=np.zeros(3))
                 or {"source": "npz", "path": "obj.npz"}),
         2, ("obj.npz",), ("allow_pickle",), issue="[extension] refused naming obj.npz, without allow_pickle"),
    Case("idx-labels-none-valid", info_on(idx_no_valid_labels), 2, ("lab.idx",), ("0..-1",),
         issue="refused naming the labels file, never 'labels must be 0..-1'"),
    # -- valid input, for contrast: the harness itself works --
    Case("valid-import", import_to("out/g.json", mkdir("out")), 0, issue="exit 0"),
    Case("valid-step-save", save_to("step", "w.npz"), 0, issue="exit 0"),
    Case("valid-idx-info", info_on(idx_valid, "digits_convnet.json"), 0, issue="exit 0"),
]


def _unlock(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            os.chmod(p, 0o700)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, tmp_path):
    if case.nonroot and os.geteuid() == 0:
        pytest.skip("root ignores permissions: a read-only folder is writable")
    d = tmp_path / "case"
    d.mkdir()
    args = case.build(d)
    before = _tree(d)
    try:
        code, _, err = run_bounded(args, d, case.id)
        after = _tree(d)
    finally:
        _unlock(d)
    wrong = []   # every way the run broke the contract, all told at once
    if "please report this" in err or "Traceback" in err:
        wrong.append("an internal error")
    if code != case.code:
        wrong.append(f"exit {code}, not {case.code}")
    if case.code == 2:
        if not (err.startswith("gradviz: error: ") and err.count("\n") == 1 and err.endswith("\n")):
            wrong.append("stderr is not one line starting 'gradviz: error: '")
        wrong += [f"does not name {s!r}" for s in case.says if s not in err]
        wrong += [f"says {s!r}" for s in case.never if s in err]
        left = sorted(after - before)
        if left:
            wrong.append(f"left behind {left}")
    elif "gradviz: error" in err:
        wrong.append("an error on valid input")
    assert not wrong, f"{case.id} (expected: {case.issue}): {'; '.join(wrong)}; stderr {err[-600:]!r}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cifar_batches_stored_as_floats_in_0_255_load_as_pixels_in_0_1(tmp_path, dtype):
    """Some conversions of CIFAR store the pixels as floats 0.0 … 255.0: the reader gives
    [0, 1] whatever their type, as it does for the distributed uint8."""
    from gradviz_core.data import load_dataset
    data = (np.arange(4 * 3072) % 256).astype(dtype).reshape(4, 3072)
    cifar_batch(tmp_path / "data_batch_1", data, [0, 1, 2, 3])
    ds = load_dataset({"source": "cifar", "path": "data_batch_1"}, tmp_path)
    assert ds.X.shape == (4, 3, 32, 32)
    assert ds.X.min() >= 0.0 and ds.X.max() <= 1.0, f"pixels span {ds.X.min()} … {ds.X.max()}"
    np.testing.assert_allclose(ds.X.reshape(4, -1), data / 255.0)
