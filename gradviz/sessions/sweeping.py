"""A meta-parameter sweep run from the window (Train > Sweep…): the plan checked on the GUI
thread, the runs in worker processes driven from a Python thread, each finished run handed
back as a plain dict by a Qt signal. Stop (or closing the window) ends the runs under way;
the finished ones are in the results file, and the same sweep started again goes on."""
from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from shiboken6 import isValid

from gradviz_core.errors import GradvizError
from gradviz_core.runs import sweep as sw


class SweepSession(QObject):
    result = Signal(object)       # one finished run's record (a plain dict)
    finished = Signal(str)        # what happened, in words
    failed = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.thread: threading.Thread | None = None
        self.stop_event = threading.Event()
        self.axes: list[sw.Axis] = []
        self.runs: list[dict] = []
        self.records: list[dict] = []
        self.results: sw.Results | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def plan(self, graph, grid_lines: list[str], range_lines: list[str], random: int, seed: int = 0) -> list[dict]:
        """The runs of these lines (one --grid or --range each), checked against the graph."""
        grids = [sw.parse_grid(line) for line in grid_lines if line.strip()]
        ranges = [sw.parse_range(line) for line in range_lines if line.strip()]
        if not grids and not ranges:
            raise sw.SweepError("give what to search: a line KEY=V1,V2,… for a grid, or KEY=LOW:HIGH with a "
                                "number of random draws")
        runs = sw.plan(grids, ranges, random if ranges else 0, seed)
        from gradviz_core.model.overrides import apply_set
        probe = graph.clone()
        for settings in runs:  # every value: a typo fails here, before any run
            for key, value in settings.items():
                apply_set(probe, f"{key}={value}")
        self.axes = grids + ranges
        return runs

    def start(self, graph, path: Path | None, runs: list[dict], epochs: int | None, jobs: int) -> str:
        """Sweep the document as it is now (a copy is saved for the worker processes); -> where the
        results go."""
        if self.running:
            raise GradvizError("a sweep is already running; stop it first")
        from gradviz_core.model import fileformat
        self._tmp = tempfile.TemporaryDirectory(prefix="gradviz-sweep-")
        copy = Path(self._tmp.name) / (path.name if path else "untitled.json")
        graph_copy = graph.clone()
        graph_copy.base_dir = graph.base_dir
        fileformat.save(graph_copy, copy, with_weights=bool(graph.weights()))
        if graph.data and graph.base_dir:  # data files are found from the document's own folder
            import json
            doc = json.loads(copy.read_text())
            for key in ("path", "labels"):
                if doc.get("data", {}).get(key) and not Path(doc["data"][key]).is_absolute():
                    doc["data"][key] = str(Path(graph.base_dir) / doc["data"][key])
            copy.write_text(json.dumps(doc))
        import os
        keep = path is not None and os.access(path.parent, os.W_OK)  # an example in a read-only install: not
        where = (path.parent / f"{path.stem}.sweep.jsonl") if keep else Path(self._tmp.name) / "sweep.jsonl"
        self.results = sw.Results(where)
        self.runs, self.records = runs, []
        self.stop_event.clear()
        self.thread = threading.Thread(target=self._run, args=(str(copy), runs, epochs, jobs), name="gradviz-sweep",
                                       daemon=True)
        self.thread.start()
        return str(where)

    def _run(self, graph_file, runs, epochs, jobs) -> None:
        try:
            records = sw.sweep(graph_file, runs, self.results, epochs, jobs,
                               on_result=lambda record, done, total: self._emit(self.result, record),
                               stop=self.stop_event)
        except sw.SweepCancelled as exc:
            self._emit(self.finished, str(exc))
        except GradvizError as exc:
            self._emit(self.failed, str(exc))
        except Exception as exc:  # noqa: BLE001 - a message in the dialog, never a traceback
            self._emit(self.failed, f"internal error: {type(exc).__name__}: {exc} (please report this)")
        else:
            self._emit(self.finished, f"{len(records)} of {len(runs)} runs done")

    def _emit(self, signal, value) -> None:
        if isValid(self):
            try:
                signal.emit(value)
            except RuntimeError:
                pass

    def drawing(self) -> dict:
        return sw.drawing(self.axes, self.records, len(self.runs))

    def rows(self) -> tuple[list[str], list[tuple[list[str], str]]]:
        """(the settings' keys, the finished runs best first: their values and their score)."""
        keys = [a.key for a in self.axes]
        return keys, [([str(r["settings"].get(k, "")) for k in keys], sw.score_text(r)) for r in sw.ranked(self.records)]

    def add(self, record: dict) -> None:
        """On the GUI thread: a finished run joins the records drawn."""
        self.records.append(record)

    def stop(self, wait: float = 10.0) -> None:
        """End the runs under way (the finished ones are kept)."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(wait)
