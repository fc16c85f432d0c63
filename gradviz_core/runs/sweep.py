"""``gradviz sweep``: the search for meta-parameters, as the first deck's training workflow has
it: a grid of settings, or settings drawn at random from ranges (log-uniform for rates and
strengths), each trained from the same graph in a process of its own, the runs in parallel
within the cores.

Every finished run is appended to a results file (JSON lines, flushed to disk at once), and a
sweep started again with the same plan skips the runs the file already holds: interrupting a
sweep (Ctrl+C, a kill, a closed window) loses no finished run. Settings are written as
``--set`` takes them (``training.lr=0.1``, ``fc1.units=10``) and checked like the file before
any run starts.
"""
from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradviz_core.errors import GradvizError

#: settings whose ranges are drawn log-uniformly unless told otherwise: rates and strengths
LOG_KEYS = ("lr", "lam", "lam1", "lam2", "weight_decay", "init_scale", "eps", "momentum_decay")


class SweepError(GradvizError):
    """A sweep that cannot be planned or run; the message names the setting and why."""


@dataclass(frozen=True)
class Axis:
    """One setting of a sweep: its grid values, or its range (low, high, scale: log, linear, int)."""
    key: str
    values: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 0.0
    scale: str = "linear"

    @property
    def log(self) -> bool:
        if self.values:
            nums = _numbers(self.values)
            return bool(nums) and min(nums) > 0 and max(nums) / min(nums) >= 100
        return self.scale == "log"


def _numbers(values) -> list[float]:
    try:
        return [float(v) for v in values]
    except ValueError:
        return []


def parse_grid(text: str) -> Axis:
    """'training.lr=0.01,0.1,1' -> the axis of those three values."""
    key, sep, values = text.partition("=")
    items = tuple(v.strip() for v in values.split(",") if v.strip())
    if not sep or not key.strip() or not items:
        raise SweepError(f"--grid {text!r}: write KEY=V1,V2,…, e.g. --grid 'training.lr=0.01,0.1,1'")
    return Axis(key.strip(), items)


def parse_range(text: str) -> Axis:
    """'training.lr=1e-4:1' (log-uniform for rates), 'fc1.units=2:100:int', 'reg.lam=0:0.1:linear'."""
    key, sep, spec = text.partition("=")
    parts = spec.split(":")
    key = key.strip()
    if not sep or not key or len(parts) not in (2, 3):
        raise SweepError(f"--range {text!r}: write KEY=LOW:HIGH[:log|linear|int], e.g. --range 'training.lr=1e-4:1'")
    try:
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise SweepError(f"--range {text!r}: LOW and HIGH must be numbers") from None
    scale = parts[2].strip() if len(parts) == 3 else ("log" if key.rsplit(".", 1)[-1] in LOG_KEYS else "linear")
    if scale not in ("log", "linear", "int"):
        raise SweepError(f"--range {text!r}: the scale is log, linear or int, not {scale!r}")
    if not low < high:
        raise SweepError(f"--range {text!r}: LOW must be below HIGH")
    if scale == "log" and low <= 0:
        raise SweepError(f"--range {text!r}: a log-uniform range starts above 0 (e.g. 1e-4:1)")
    return Axis(key, (), low, high, scale)


def plan(grids: list[Axis], ranges: list[Axis], random: int = 0, seed: int = 0) -> list[dict[str, str]]:
    """The runs, each {key: value as --set takes it}: every combination of the grid's values,
    each crossed with ``random`` settings drawn from the ranges (seeded)."""
    keys = [a.key for a in grids + ranges]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise SweepError(f"{twice[0]}: given twice; sweep each setting once")
    if ranges and random < 1:
        raise SweepError("--range needs --random N: how many settings to draw from the ranges")
    if random and not ranges:
        raise SweepError("--random N needs at least one --range KEY=LOW:HIGH to draw from")
    points = [dict(zip([a.key for a in grids], combo)) for combo in itertools.product(*[a.values for a in grids])]
    if not random:
        return points
    rng = np.random.default_rng(seed)
    drawn = []
    for _ in range(random):
        d = {}
        for a in ranges:
            if a.scale == "log":
                v = 10 ** rng.uniform(math.log10(a.low), math.log10(a.high))
            else:
                v = rng.uniform(a.low, a.high)
            d[a.key] = str(int(round(v))) if a.scale == "int" else f"{v:.4g}"
        drawn.append(d)
    return [{**p, **d} for p in points for d in drawn]


def run_key(settings: dict, epochs: int | None) -> str:
    return json.dumps({"settings": settings, "epochs": epochs}, sort_keys=True)


def metric(record: dict) -> tuple[str, float | None]:
    """What a run is judged by: validation accuracy, else test, else training accuracy; for a
    regression, the validation (else training) loss, lower being better (negated here)."""
    for key in ("val_acc", "test_acc", "train_acc"):
        if record.get(key) is not None:
            return key, record[key]
    for key in ("val_loss", "train_loss"):
        if record.get(key) is not None:
            return key, -record[key]
    return "none", None


def run_one(graph_file: str, settings: dict, epochs: int | None) -> dict:
    """One run of the sweep, in a process of its own (one compute thread): the graph with the
    settings, trained; a run that fails says why in its record, and the sweep goes on."""
    from gradviz_core.model import fileformat
    from gradviz_core.model.overrides import apply_set
    from gradviz_core.runs.trainer import Trainer
    record = {"settings": settings, "epochs": epochs}
    try:
        with np.errstate(all="ignore"):
            graph = fileformat.load(graph_file)
            for key, value in settings.items():
                apply_set(graph, f"{key}={value}")
            graph.check()
            result = Trainer(graph, {"epochs": epochs} if epochs else None, threads=1).run()
    except GradvizError as exc:
        return {**record, "status": "error", "message": str(exc)}
    record.update({"status": result.status, "train_loss": result.train_loss, "train_acc": result.train_acc,
                   "val_loss": result.val_loss, "val_acc": result.val_acc, "test_acc": result.test_acc,
                   "seconds": round(result.seconds, 3), "epochs_run": result.epochs})
    return record


class Results:
    """The results file: one JSON line per finished run, flushed and synced as each arrives; a
    line cut short by a kill is skipped when it is read."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, dict]:
        done = {}
        if not self.path.exists():
            return done
        from gradviz_core import fsio
        fsio.regular_file(self.path, SweepError, "results file")
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                    done[run_key(record["settings"], record.get("epochs"))] = record
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # the last line of a killed sweep, or someone's note
        return done

    def append(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def check(graph_file: str, runs: list[dict]) -> None:
    """Every setting of the plan applied to the graph before anything runs: a typo fails at once."""
    from gradviz_core.model import fileformat
    from gradviz_core.model.overrides import apply_set
    keys = {}
    for settings in runs:
        for key, value in settings.items():
            keys.setdefault(key, value)
    graph = fileformat.load(graph_file)
    for key, value in keys.items():
        apply_set(graph, f"{key}={value}")


class SweepCancelled(SweepError):
    """The sweep was stopped (``stop`` set): the runs under way ended, the finished ones are kept."""


def sweep(graph_file: str, runs: list[dict], results: Results, epochs: int | None = None, jobs: int = 2,
          on_result=None, stop=None) -> list[dict]:
    """Train every run not yet in ``results`` (``jobs`` worker processes at once), appending each
    as it finishes; -> the records of the plan's runs, in the plan's order (those finished
    before included). ``stop``: a threading.Event another thread may set (the window's Stop):
    SweepCancelled. Ctrl+C (KeyboardInterrupt) ends the workers too."""
    import queue
    import threading
    done = results.load()
    todo = [s for s in runs if run_key(s, epochs) not in done]
    if todo:
        jobs_q: queue.Queue = queue.Queue()
        for s in todo:
            jobs_q.put(s)
        out_q: queue.Queue = queue.Queue()
        workers = [_Worker(str(graph_file), epochs, jobs_q, out_q) for _ in range(max(1, min(jobs, len(todo))))]
        try:
            for _ in todo:
                while True:
                    try:
                        record = out_q.get(timeout=0.2)
                        break
                    except queue.Empty:
                        if stop is not None and stop.is_set():
                            raise SweepCancelled("the sweep was stopped; the finished runs are kept") from None
                results.append(record)
                done[run_key(record["settings"], epochs)] = record
                if on_result:
                    on_result(record, sum(run_key(r, epochs) in done for r in runs), len(runs))
        finally:  # done, Ctrl+C, a kill (SIGTERM) or Stop: no worker trains on
            for w in workers:
                w.end()
    return [done[run_key(s, epochs)] for s in runs if run_key(s, epochs) in done]


class _Worker:
    """A process of its own (``python -m gradviz_core.runs.sweep_worker``) fed one run at a time as
    a JSON line, answering with the run's record; a thread in this process drives it."""

    def __init__(self, graph_file, epochs, jobs_q, out_q) -> None:
        import threading
        self.graph_file, self.epochs, self.jobs_q, self.out_q = graph_file, epochs, jobs_q, out_q
        self.proc = None
        self.ended = False
        self.thread = threading.Thread(target=self._loop, name="gradviz-sweep-worker", daemon=True)
        self.thread.start()

    def _start(self):
        import subprocess
        import sys
        return subprocess.Popen([sys.executable, "-m", "gradviz_core.runs.sweep_worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def _loop(self) -> None:
        import queue
        while not self.ended:
            try:
                settings = self.jobs_q.get_nowait()
            except queue.Empty:
                return
            try:
                if self.proc is None or self.proc.poll() is not None:
                    self.proc = self._start()
                self.proc.stdin.write(json.dumps([self.graph_file, settings, self.epochs]) + "\n")
                self.proc.stdin.flush()
                line = self.proc.stdout.readline()
                record = json.loads(line) if line else None
            except (OSError, ValueError):
                record = None
            if self.ended:
                return
            if record is None:  # the worker process died under this run
                code = self.proc.poll() if self.proc else None
                record = {"settings": settings, "epochs": self.epochs, "status": "error",
                          "message": f"its process ended (exit code {code})"}
                self.proc = None
            self.out_q.put(record)

    def end(self) -> None:
        self.ended = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


LABELS = {"val_acc": "validation accuracy", "test_acc": "test accuracy", "train_acc": "training accuracy",
          "val_loss": "validation loss", "train_loss": "training loss", "none": "score"}


def _float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def best(records: list[dict]) -> dict | None:
    ok = [r for r in records if r.get("status") != "error" and metric(r)[1] is not None]
    return max(ok, key=lambda r: metric(r)[1]) if ok else None


def drawing(axes: list[Axis], records: list[dict], planned: int | None = None) -> dict:
    """What a plot of the results shows, as plain data: the title; for a grid of two settings a
    heatmap (rows of scores, None where a run is missing); else one scatter per setting (log10
    of the value for a log axis), with the best run marked."""
    ok = [r for r in records if r.get("status") != "error" and metric(r)[1] is not None]
    key = metric(ok[0])[0] if ok else "none"
    percent = key.endswith("acc")

    def score(r):
        s = metric(r)[1]
        return 100 * s if percent else -s
    top = best(records)
    done = f"{len(records)} of {planned} runs" if planned else f"{len(records)} runs"
    title = f"Sweep: {done}"
    if top is not None:
        shown = f"{score(top):.1f}%" if percent else f"{score(top):.4g}"
        title += f"; the best, {shown} {LABELS[key]}: " + ", ".join(f"{k} = {v}" for k, v in top["settings"].items())
    out = {"title": title, "label": LABELS[key], "percent": percent, "heatmap": None, "scatters": []}
    if len(axes) == 2 and all(a.values for a in axes):
        a, b = axes
        grid = [[None] * len(b.values) for _ in a.values]
        for r in ok:
            grid[a.values.index(r["settings"][a.key])][b.values.index(r["settings"][b.key])] = score(r)
        out["heatmap"] = {"x_key": a.key, "y_key": b.key, "x_values": list(a.values), "y_values": list(b.values),
                          "grid": grid}
        return out
    for a in axes:
        points = []
        for r in ok:
            x = _float(r["settings"].get(a.key))
            if x is not None and (x > 0 or not a.log):
                points.append((math.log10(x) if a.log else x, score(r)))
        mark = None
        if top is not None and _float(top["settings"].get(a.key)) is not None:
            x = _float(top["settings"][a.key])
            mark = (math.log10(x) if a.log else x, score(top))
        out["scatters"].append({"key": a.key, "log": a.log, "points": points, "best": mark})
    return out


def ranked(records: list[dict]) -> list[dict]:
    """Best first; failed runs last."""
    return sorted(records, key=lambda r: -(metric(r)[1] if r.get("status") != "error" and metric(r)[1] is not None
                                           else -math.inf))


def score_text(record: dict) -> str:
    """A run's score as the table shows it: 97.0%, a loss, or why it failed."""
    if record.get("status") == "error":
        return "error: " + record.get("message", "")
    key, value = metric(record)
    if value is None:
        return "—"
    text = f"{100 * value:.1f}%" if key.endswith("acc") else f"{-value:.4g}"
    return text + (f" ({record['status']})" if record.get("status") not in ("done", None) else "")
