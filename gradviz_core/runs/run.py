"""Runs: stepping, training and gradient checks each work on their own copy of the document.

The ``Graph`` the editor changes is the document. A ``Run`` clones it into an executable
copy with its own bricks (weights, caches, the fed batch), and never writes into the
document's bricks. Trained weights go back only through the undoable
``commands.KeepWeights``.

One run path: the stepper, the trainer and the gradient checker all build a ``Run`` and
go through its batching, feeding, forward, backward and update, so stepping one whole
iteration on the first batch gives the weights the trainer has after its first step.

Which seed drives what:

=====================  ======================================================================
``graph.seed``         weight initialization, per node: ``node_rng(graph.seed, node name)``
``training.seed``      batch order (epoch e shuffles with ``[seed, 0, e]``), augmentation
                       (iteration t draws with ``[seed, 1, t]``) and dropout masks (iteration
                       t, with the Dropout node's own ``seed`` and its name mixed in)
``data.seed``          the toy data sets' samples; ``data.split_seed``: the train/val/test split
=====================  ======================================================================

Editing the document makes a live run stale: it emits ``"stale"`` (``reason``, ``change``)
and refuses to go on with ``StaleRunError``. A training run (``live=True``) instead takes
changes that keep every weight's shape at its next step: the ``settings.LIVE`` training
settings and node parameters such as a regularizer's λ; it emits ``"settings_applied"``.
"""
from __future__ import annotations

import json
import math
import threading
import weakref
import zipfile
from pathlib import Path

import numpy as np

from gradviz_core.data.augment import augment
from gradviz_core.runs.engine import Program
from gradviz_core.errors import GradvizError, GraphError
from gradviz_core.events import Events
from gradviz_core.model.graph import Graph
from gradviz_core.memory import check_graph_fits
from gradviz_core.runs.optim import make_optimizer
from gradviz_core.runs.schedules import Schedule
from gradviz_core.model.settings import LIVE, Settings

#: document events that never affect a run
_HARMLESS = ("node_moved", "weights_changed", "meta_changed", "playground_changed")


class StaleRunError(GradvizError):
    """A run was asked to go on after the document it copied was edited."""


def signature(graph: Graph) -> tuple:
    """What a run's arrays depend on: nodes, types, edges, shapes, weight shapes and data."""
    nodes = []
    for n in graph.nodes():
        b, shape = graph.brick(n), graph.shapes.get(n)
        ins = graph.input_shapes(n)
        wshapes = (tuple(sorted(b.weight_shapes(ins).items()))
                   if shape is not None and all(s is not None for s in ins.values()) else None)
        nodes.append((n, b.type_name, shape, wshapes))
    edges = sorted((e.src, e.dst, e.port) for e in graph.edges())
    return tuple(nodes), tuple(edges), json.dumps(graph.data, sort_keys=True, default=str)


#: a document event in words, for the stale message
_CHANGES = {
    "node_added": "node {name} was added",
    "node_removed": "node {name} was removed",
    "edge_added": "{src} was connected to {dst}.{port}",
    "edge_removed": "{src} was disconnected from {dst}.{port}",
    "param_changed": "{name}.{key} changed to {value}",
    "training_changed": "training.{key} changed to {value}",
    "data_changed": "the data changed",
}


def _shown(value) -> str:
    """A setting's value as the user wrote it: 1, 0.001, [1, 2], 'adam'."""
    if isinstance(value, np.ndarray):
        return f"{float(value):g}" if value.ndim == 0 else str(value.tolist())
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def describe_change(event: str, payload: dict) -> str:
    text = _CHANGES.get(event)
    if not text:
        return event.replace("_", " ")
    shown = {k: _shown(v) if k == "value" else v for k, v in payload.items()}
    return text.format(**shown)


class Run:
    """An executable copy of ``doc``, with one batching, seeding and update policy.

    ``weights``: "fresh" starts from seeded initial weights (and ``training.init_from``, as a
    training run starts); "document" starts from the document's weights where they fit.
    ``dtype``: float32 for training, float64 for reading numbers and checking gradients.
    """

    def __init__(self, doc: Graph, dtype=np.float64, *, weights: str = "fresh",
                 overrides: dict | None = None, live: bool = False, all_input_grads: bool = False,
                 kind: str = "run", fuse: bool = False) -> None:
        if weights not in ("fresh", "document"):
            raise ValueError(f"weights must be 'fresh' or 'document', not {weights!r}")
        self.doc, self.kind, self.live = doc, kind, live
        self.dtype = np.dtype(dtype)
        self.events = Events()
        self.settings = s = Settings.from_dict({**doc.training, **(overrides or {})})
        doc.check()
        self.graph = g = doc.clone()
        if weights == "fresh":
            for b in g.bricks().values():
                b.weights, b.buffers = {}, {}
        self.splits = g.splits() if g.data is not None else None
        n = len(self.splits.train) if self.splits is not None else 1
        check_graph_fits(g, min(s.batch_size or n, n), self.dtype.itemsize, f"this {kind}")
        g.build(self.dtype)
        self.bricks = bricks = g.bricks()
        for name in s.freeze:
            if name not in bricks:
                raise GraphError(f"training.freeze: there is no node named {name!r}", node=name)
        self.loaded = (load_pretrained(g, s.init_from, doc.base_dir)
                       if s.init_from and weights == "fresh" else [])
        self.regs = [n for n in g.order if bricks[n].acts_on_weights]
        self.program = Program(g, skip=frozenset(self.regs) if s.overfit else frozenset(),
                               all_input_grads=all_input_grads, fuse=fuse)
        #: nodes whose weights the update changes, in order (frozen ones left out)
        self.update_order = [n for n in self.program.order if bricks[n].weights and n not in s.freeze]
        self.optimizer = make_optimizer(vars(s))
        self.schedule = Schedule(s.schedule, s.lr, s.step_every, s.step_factor, s.exp_k, s.plateau_patience)
        self.train_set = None
        if self.splits is not None:
            train = self.splits.train
            self.train_set = train.subset(np.arange(min(s.overfit, len(train)))) if s.overfit else train
            self._train_X = self.train_set.X.astype(self.dtype)
        self.stale: str | None = None
        self._signature = signature(doc)
        self._pending: list[tuple] = []
        self._param_wait: list[tuple] = []
        self._lock = threading.Lock()
        self._listener = _weak_listener(self, doc)
        doc.events.subscribe("*", self._listener)

    # ---- batches -------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        n = len(self.train_set)
        return min(self.settings.batch_size or n, n)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The order in which epoch ``epoch`` (from 1) visits the training samples."""
        return np.random.default_rng([self.settings.seed, 0, epoch]).permutation(len(self.train_set))

    def take(self, idx: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Training samples ``idx`` in the run's dtype, augmented as iteration ``step`` draws."""
        X, y = self._train_X[idx], self.train_set.y[idx]
        if self.splits.augment:
            X = augment(X, np.random.default_rng([self.settings.seed, 1, step]), **self.splits.augment)
        return X, y

    def batch(self, step: int = 1) -> tuple[np.ndarray, np.ndarray] | None:
        """The batch of iteration ``step`` (from 1), exactly as the trainer takes it; None
        when the graph has no data."""
        if self.train_set is None:
            return None
        bs = self.batch_size
        per_epoch = math.ceil(len(self.train_set) / bs)
        epoch, k = divmod(step - 1, per_epoch)
        return self.take(self.epoch_order(epoch + 1)[k * bs:(k + 1) * bs], step)

    def samples(self, idx) -> tuple[np.ndarray, np.ndarray]:
        """Chosen training samples, unshuffled and not augmented (the stepper's "these samples");
        None when the graph has no data (a circuit of constants)."""
        if self.train_set is None:
            return None
        idx = np.asarray(idx, dtype=np.int64)
        n = len(self.train_set)
        if idx.size == 0 or idx.min() < 0 or idx.max() >= n:
            raise GraphError(f"samples must be in 0..{n - 1} (the training set has {n})")
        return self._train_X[idx], self.train_set.y[idx]

    def feed(self, X, y, step: int | None = None) -> None:
        """Give the data nodes a batch for iteration ``step``."""
        self.program.feed(X, y, self.dtype, self.settings.seed, step)

    # ---- the update ------------------------------------------------------------------------
    def update_node(self, node: str, show: bool = False) -> dict:
        """Apply the optimizer to ``node``'s weights, then the constraints (max-norm).

        With ``show``, the weights are replaced rather than changed in place (the same
        arithmetic, so the same bits) and {weight: {"old", "grad", "step", ..., "new"}} is
        returned. A weight that no gradient reached is left as it is."""
        b = self.bricks[node]
        out = {}
        for w in list(b.weights):
            g = b.grads.get(w)
            if g is None:
                continue
            key = f"{node}/{w}"
            if show:
                old = b.weights[w]
                new, info = self.optimizer.step(key, old, g)
                b.weights[w] = new
                out[w] = {"old": old, "grad": g, **info, "new": new}
            else:
                self.optimizer.apply(key, b.weights[w], g)
        for r in self.regs:
            self.bricks[r].project(node)
        for w in out:
            out[w]["new"] = b.weights[w]
        return out

    def update(self) -> None:
        for node in self.update_order:
            self.update_node(node)

    def params(self) -> list[tuple[str, object, str]]:
        """[(key "node/weight", brick, weight name)] of every weight the update changes."""
        return [(f"{n}/{w}", self.bricks[n], w) for n in self.update_order for w in self.bricks[n].weights]

    # ---- weights out ---------------------------------------------------------------------------
    def weights_copy(self) -> dict[str, np.ndarray]:
        """Copies of every weight and buffer, as {"node/name": array} (the .npz layout)."""
        return {k: v.copy() for k, v in self.graph.weights().items()}

    def keep_command(self, text: str = "keep the trained weights"):
        """The undoable command that copies this run's weights into the document."""
        from gradviz_core.model.commands import KeepWeights
        return KeepWeights(self.weights_copy(), text)

    # ---- staleness and live changes ----------------------------------------------------------
    def check_fresh(self) -> None:
        if self.stale:
            raise StaleRunError(f"this {self.kind} is out of date: {self.stale}; start it again "
                                "to run the edited graph")

    def apply_pending(self) -> list[str]:
        """Take the live changes made since the last call (the trainer calls this before each
        step). Returns them in words."""
        with self._lock:
            pending, self._pending = self._pending, []
        done = []
        for change in pending:
            if change[0] == "training":
                _, key, value = change
                self._apply_setting(key, value)
                done.append(f"training.{key} = {value!r}")
            else:
                _, node, key, value = change
                b = self.bricks[node]
                b.config[key] = value
                if b.acts_on_weights:
                    b.bind(self.bricks)
                done.append(f"{node}.{key} = {value!r}")
        if done:
            self.events.emit("settings_applied", changes=done)
        return done

    def _apply_setting(self, key: str, value) -> None:
        s = self.settings
        setattr(s, key, float(value) if isinstance(getattr(s, key), float) else value)
        if key == "lr":
            scale = self.optimizer.lr / self.schedule.lr0 if self.schedule.lr0 else 1.0
            self.schedule.lr0 = float(value)
            self.schedule.lr = self.optimizer.lr = float(value) * scale
        else:
            self.optimizer.configure(**{key: getattr(s, key)})

    def _on_doc_event(self, event: str, **payload) -> None:
        if self.stale or event in _HARMLESS:
            return
        if event == "analyzed":
            waiting, self._param_wait = self._param_wait, []
            if waiting:
                if signature(self.doc) == self._signature:
                    with self._lock:
                        self._pending += [("param", *w) for w in waiting]
                else:
                    n, k, v = waiting[-1]
                    self._go_stale(f"{n}.{k} changed to {_shown(v)}, which changes the shapes or the weights",
                                   "param_changed")
            return
        if self.live and event == "training_changed":
            key = payload["key"]
            if key in LIVE and self.optimizer.configurable(key):
                with self._lock:
                    self._pending.append(("training", key, payload["value"]))
                return
            self._go_stale(describe_change(event, payload) + ", which needs a new run", event)
            return
        if self.live and event == "param_changed":
            self._param_wait.append((payload["name"], payload["key"], payload["value"]))
            return
        self._go_stale(describe_change(event, payload), event)

    def _go_stale(self, reason: str, change: str) -> None:
        self.stale = reason
        self.events.emit("stale", reason=reason, change=change)

    def close(self) -> None:
        """Stop following the document (a run that is closed never goes stale)."""
        self.doc.events.unsubscribe("*", self._listener)


def _weak_listener(run: Run, doc: Graph):
    """A document listener that does not keep the run alive: a run nobody holds goes away."""
    ref = weakref.ref(run)

    def listener(event: str, **payload) -> None:
        r = ref()
        if r is None:
            doc.events.unsubscribe("*", listener)
        else:
            r._on_doc_event(event, **payload)
    return listener


def load_pretrained(graph: Graph, source: str, base_dir=None) -> list[str]:
    """Copy weights whose node/weight name and shape match from a .npz file, or from the
    weights of another graph file (transfer learning). Returns the names copied."""
    from gradviz_core.model import fileformat

    path = Path(source).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if not path.is_file():
        raise GraphError(f"training.init_from: {path} " + ("is a folder" if path.is_dir() else "does not exist")
                         + "; give a .npz weights file or a graph file saved with its weights")
    if path.suffix == ".json":
        other = fileformat.load(path)
        arrays = other.weights()
    else:
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
            raise GraphError(f"training.init_from: {path} is not a readable .npz weights file ({exc})") from None
    mine = graph.weights()
    same = {k: v for k, v in arrays.items() if k in mine and mine[k].shape == v.shape}
    if not same:
        raise GraphError(f"training.init_from: {path} has no weights that fit this graph "
                         "(names are node/weight and shapes must match)")
    graph.set_weights(same)
    return sorted(same)
