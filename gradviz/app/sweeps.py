"""Train > Sweep…: the window's meta-parameter search. The dialog asks what to search and shows
the runs as they finish; the sweep session runs them off the GUI thread, in worker processes."""
from __future__ import annotations

import os

from gradviz_core.errors import GradvizError


class SweepActions:
    sweep_window = None
    sweeper = None

    def sweep_dialog(self):
        """Open (or bring back) the sweep dialog for this document."""
        from gradviz.panels.sweep import SweepDialog
        from gradviz.sessions.sweeping import SweepSession
        if self.sweeper is None:
            self.sweeper = SweepSession(self)
            self.sweeper.result.connect(self._sweep_result)
            self.sweeper.finished.connect(lambda text: self._sweep_done(text, failed=False))
            self.sweeper.failed.connect(lambda text: self._sweep_done(text, failed=True))
        if self.sweep_window is None:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            self.sweep_window = SweepDialog(self, jobs=cores)
            self.sweep_window.run_clicked.connect(self._sweep_run)
            self.sweep_window.stop_clicked.connect(self._sweep_stop)
        self.sweep_window.show()
        self.sweep_window.raise_()
        return self.sweep_window

    def _sweep_run(self, grid_lines, range_lines, draws, epochs, jobs) -> None:
        d = self.sweep_window
        try:
            runs = self.sweeper.plan(self.graph, grid_lines, range_lines, draws)
            where = self.sweeper.start(self.graph, self.path, runs, epochs or None, jobs)
        except GradvizError as exc:
            d.status.setText(f"<span style='color:#e03131'>{exc}</span>")
            return
        d.set_running(True)
        d.status.setText(f"{len(runs)} runs, {jobs} at once; each is kept in {where} as it ends")
        self._sweep_show()

    def _sweep_result(self, record: dict) -> None:
        self.sweeper.add(record)
        self._sweep_show()

    def _sweep_show(self) -> None:
        keys, rows = self.sweeper.rows()
        self.sweep_window.show_rows(keys, rows)
        self.sweep_window.view.show_drawing(self.sweeper.drawing())

    def _sweep_stop(self) -> None:
        self.sweeper.stop()

    def _sweep_done(self, text: str, failed: bool) -> None:
        d = self.sweep_window
        if d is None:
            return
        d.set_running(False)
        d.status.setText(f"<span style='color:#e03131'>{text}</span>" if failed else text)
