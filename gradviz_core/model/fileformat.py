"""Graph files: versioned JSON checked against ``schema/graph.schema.json``.

Loading migrates older versions step by step (``MIGRATIONS[v]`` turns version v into
v + 1). Weights go to ``.npz`` files as ``node/weight`` arrays. Every save is atomic:
a temporary file in the same folder, then a rename. Every failure raises
``GraphFileError`` with one message that names the file and the place in it.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import stat
import tempfile
import time
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import jsonschema
import numpy as np

from gradviz_core import fsio
from gradviz_core.errors import GradvizError, GraphFileError
from gradviz_core.model.graph import DEFAULT_TRAINING, Graph
from gradviz_core.model.settings import check_playground

FORMAT = "gradviz-graph"
VERSION = 1
#: version v -> a function that rewrites a version-v document as version v + 1
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


def schema() -> dict:
    return json.loads(resources.files("gradviz_core.schema").joinpath("graph.schema.json").read_text(encoding="utf-8"))


# ---- reading -------------------------------------------------------------------------------
def load(path: str | os.PathLike) -> Graph:
    """Read a graph file (and its weights file, if it names one)."""
    path = Path(path)
    size = fsio.regular_file(path, GraphFileError, "graph file")
    fsio.check_fits(path, size, GraphFileError, "the file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise GraphFileError(f"{path}: not a text file (byte {exc.start} is not UTF-8)") from None
    except OSError as exc:
        raise GraphFileError(f"{path}: cannot be read ({exc.strerror})") from None
    graph = loads(text, where=str(path), base_dir=str(path.parent))
    doc_weights = json.loads(text).get("weights")
    if doc_weights:
        load_weights(graph, path.parent / doc_weights)
    return graph


def loads(text: str, where: str = "<graph>", base_dir: str | None = None) -> Graph:
    if not text.strip():
        raise GraphFileError(f"{where}: the file is empty (a graph file is a JSON object: "
                             f"{{\"format\": \"{FORMAT}\", \"version\": {VERSION}, \"nodes\": […], …}})")
    try:
        doc = json.loads(text)
    except RecursionError:
        raise GraphFileError(f"{where}: its JSON is nested too deeply to be a graph file (a graph file is "
                             "an object of nodes, edges and settings, a few levels deep)") from None
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip())
        hint = " (the file looks truncated)" if truncated else ""
        raise GraphFileError(f"{where}: line {exc.lineno}, column {exc.colno}: not valid JSON: "
                             f"{exc.msg}{hint}") from None
    return from_dict(doc, where, base_dir)


def _lists_are_lists(data: dict, where: str) -> None:
    """A file writes a shape as a JSON list; a string ("1, 8, 8") is what a form's text field
    takes, and in a file it is refused rather than read silently."""
    from gradviz_core.data.spec import SOURCES
    source = data.get("source")
    specs = {p.name: p for p in SOURCES[source][1]} if isinstance(source, str) and source in SOURCES else {}
    for key, value in data.items():
        if key in specs and specs[key].kind == "ints" and isinstance(value, str):
            raise GraphFileError(f"{where}: data.{key}: write it as a list of whole numbers, e.g. [1, 8, 8], "
                                 f"not the string {value!r}")


def migrate(doc: dict, where: str = "<graph>") -> dict:
    """Bring a document of any known version up to ``VERSION``."""
    if not isinstance(doc, dict):
        raise GraphFileError(f"{where}: the top level must be a JSON object, not {_json_type(doc)}")
    if doc.get("format") != FORMAT:
        raise GraphFileError(f"{where}: not a gradviz graph file (\"format\" should be \"{FORMAT}\", "
                             f"got {doc.get('format')!r})")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise GraphFileError(f"{where}: \"version\" must be a whole number ≥ 1, got {version!r}")
    if version > VERSION:
        raise GraphFileError(f"{where}: written by a newer gradviz (file version {version}); this one "
                             f"reads versions up to {VERSION}")
    while doc["version"] < VERSION:
        v = doc["version"]
        doc = MIGRATIONS[v](dict(doc))
        doc["version"] = v + 1
    return doc


def from_dict(doc: Any, where: str = "<graph>", base_dir: str | None = None) -> Graph:
    """``base_dir``: the graph file's folder, which relative data and weights paths start from
    (set before the data is first loaded, so they work from any current folder)."""
    doc = migrate(doc, where)
    # the data and training sections are checked setting by setting by their declarations (a bad
    # setting becomes a problem of the graph, named by its key); the schema says the same
    rest = {k: v for k, v in doc.items() if k not in ("data", "training")}
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema()).iter_errors(rest))
    if error is not None:
        raise GraphFileError(f"{where}: {_json_path(error.absolute_path)}: {error.message}")
    for section in ("data", "training"):
        value = doc.get(section)
        if value is not None and not isinstance(value, dict):
            raise GraphFileError(f"{where}: {section}: must be an object of settings, not {_json_type(value)}")
    _lists_are_lists(doc.get("data") or {}, where)
    g = Graph()
    g.base_dir = base_dir
    g.title, g.note, g.seed = doc.get("title", ""), doc.get("note", ""), doc.get("seed", 0)
    g.training = {**DEFAULT_TRAINING, **doc.get("training", {})}
    g.data = doc.get("data")
    g.runs = list(doc.get("runs", []))
    if doc.get("playground") is not None:
        try:
            g.playground = check_playground(doc["playground"])
        except GradvizError as exc:
            raise GraphFileError(f"{where}: {exc}") from None
    with g.batch():  # analysed once, when every node and edge is in
        for i, node in enumerate(doc["nodes"]):
            try:
                g.add_node(node["type"], node["name"], node.get("params", {}), tuple(node.get("pos", (0, 0))))
            except GradvizError as exc:
                raise GraphFileError(f"{where}: nodes[{i}] ({node['name']}): {_strip(exc, node['name'])}") from None
        for i, e in enumerate(doc["edges"]):
            try:
                g.connect(e["from"], e["to"], e["port"])
            except GradvizError as exc:
                raise GraphFileError(f"{where}: edges[{i}] ({e['from']} → {e['to']}.{e['port']}): {exc}") from None
    return g


# ---- writing ---------------------------------------------------------------------------------
def to_dict(graph: Graph, weights: str | None = None) -> dict:
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "title": graph.title,
                           "note": graph.note, "seed": graph.seed,
                           "nodes": [graph.node_spec(n) for n in graph.nodes()],
                           "edges": [{"from": e.src, "to": e.dst, "port": e.port} for e in graph.edges()],
                           "data": graph.data, "training": dict(graph.training)}
    if weights:
        doc["weights"] = weights
    if graph.runs:
        doc["runs"] = graph.runs
    if graph.playground:
        doc["playground"] = {k: list(v) if isinstance(v, tuple) else v for k, v in graph.playground.items()}
    return doc


def save(graph: Graph, path: str | os.PathLike, with_weights: bool = False) -> None:
    """Write the graph atomically; with ``with_weights`` also its weights beside it.

    The weights file is named after its content (``<name>.weights.<hash>.npz``) and written
    before the graph file that names it, so a save that is killed midway leaves the old
    graph with the old weights, never a mix; the previous weights file goes once the new
    graph file is in place."""
    import hashlib
    import io

    typed = path
    path = Path(path)
    fsio.check_output(typed)  # before the weights are written: a refused save leaves nothing
    weights_name = None
    previous = _weights_named_by(path)
    if with_weights:
        buf = io.BytesIO()
        np.savez(buf, **graph.weights())
        data = buf.getvalue()
        weights_name = f"{path.stem}.weights.{hashlib.sha256(data).hexdigest()[:10]}.npz"
        atomic_write(path.parent / weights_name, data, typed=typed)
    text = json.dumps(to_dict(graph, weights_name), indent=1, ensure_ascii=False) + "\n"
    try:
        atomic_write(path, text.encode("utf-8"), typed=typed)
    except BaseException:
        if weights_name and weights_name != previous:  # no orphan weights beside the old graph
            with contextlib.suppress(OSError):
                (path.parent / weights_name).unlink()
        raise
    if previous and previous != weights_name and previous.startswith(f"{path.stem}.weights."):
        with contextlib.suppress(OSError):
            (path.parent / previous).unlink()


def _weights_named_by(path: Path) -> str | None:
    try:
        name = json.loads(path.read_text(encoding="utf-8")).get("weights")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) and "/" not in name and "\\" not in name else None


#: temporary files of a save older than this are leftovers of a save that was killed
STALE_TMP_SECONDS = 60


def atomic_write(path: Path, data: bytes, typed: str | os.PathLike | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename. The
    output path is checked first; a failed write leaves nothing and raises ``fsio.OutputError``
    naming ``typed`` (the path as the user gave it; ``path`` by default). The file keeps the
    permissions of the one it replaces; leftovers of killed saves in the folder are removed."""
    typed = path if typed is None else typed
    path = Path(path)
    fsio.check_output(path)
    _remove_leftovers(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise fsio.write_failed(typed, exc) from None
        raise


#: the end of the name of a save's temporary file
TMP_SUFFIX = ".gradviz.tmp"


def _remove_leftovers(path: Path) -> None:
    """Temporary files of gradviz's saves in ``path``'s folder (and, by an older naming, of saves
    to ``path``) that are too old to belong to a save still running."""
    now = time.time()
    for old in {*path.parent.glob(f".*{TMP_SUFFIX}"), *path.parent.glob(f".{glob.escape(path.name)}.*.tmp")}:
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > STALE_TMP_SECONDS:
                old.unlink()


def save_weights(graph: Graph, path: str | os.PathLike) -> None:
    import io

    fsio.check_output(path)
    buf = io.BytesIO()
    np.savez(buf, **graph.weights())
    atomic_write(Path(path), buf.getvalue(), typed=path)


def load_weights(graph: Graph, path: str | os.PathLike, strict: bool = True) -> None:
    """Load ``node/weight`` arrays into a graph (its weights are built first)."""
    path = Path(path)
    fsio.npz_arrays(path, GraphFileError, "weights file")  # sized from the headers first
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise GraphFileError(f"{path}: a damaged .npz weights file (its arrays cannot be read)") from None
    try:
        graph.build(np.float64)
        graph.set_weights(arrays, strict=strict)
    except GradvizError as exc:
        raise GraphFileError(f"{path}: {exc}") from None


# ---- helpers -------------------------------------------------------------------------------
def _json_path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "top level"


def _json_type(v: Any) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number",
            bool: "a boolean", type(None): "null"}.get(type(v), type(v).__name__)


def _strip(exc: Exception, name: str) -> str:
    msg = str(exc)
    return msg[len(name) + 2:] if msg.startswith(f"{name}: ") else msg


# ---- the examples shipped with gradviz ---------------------------------------------------------
def examples_dir() -> Path:
    """examples/ beside the sources, or the copy installed as gradviz_core.examples."""
    core = Path(__file__).resolve().parents[1]
    here = core.parent / "examples"
    return here if here.is_dir() else core / "examples"


def find(path) -> Path:
    """``path`` as given, or, when no such file exists and it is a bare name
    ("circuit_xyz.json"), the example of that name shipped with gradviz."""
    p = Path(path)
    if not p.exists() and p.name == str(path) and (examples_dir() / p.name).is_file():
        return examples_dir() / p.name
    return p
