import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
#: examples at a real network's size, left out of the tests that run every example's whole graph
#: many times over (a numerical check of every node, a run of its float64 NumPy study script):
#: their bricks are checked one by one, and their own tests read them (test_lessons)
HEAVY = {"lesson_alexnet.json": "AlexNet's 61 million weights: a numerical check of its every node would take "
                                "hours, a float64 step of its study script minutes and 2 GB"}


def pytest_configure(config):
    """Before the workers start (and once, in the process that starts them): fill Numba's
    on-disk cache, the two families of kernels in two processes at once. With a cold cache
    each worker would otherwise compile every kernel itself, about 40 s of two cores."""
    if hasattr(config, "workerinput"):
        return
    from gradviz_core.kernels import FAMILIES
    code = "import sys; from gradviz_core import kernels; kernels.warm_up(families=(sys.argv[1],))"
    procs = [subprocess.Popen([sys.executable, "-c", code, family]) for family in FAMILIES]
    for p in procs:
        try:
            p.wait(timeout=300)  # a failure shows in the tests that use the kernels
        except subprocess.TimeoutExpired:  # never hang here: the workers compile what is missing
            p.kill()


@pytest.fixture
def cli():
    """The command line in this process: cli("step", FILE, "--json") -> (exit code, stdout, stderr)."""
    from clirun import run_here
    return run_here


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(autouse=True)
def _no_dialog_waits(monkeypatch):
    """Offscreen, a message box or a file dialog waits for an answer no one gives: the test
    would hang. One a test did not answer itself (by patching it) fails the test and names the
    box instead."""
    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is None:
        return

    def unanswered(*args, **kwargs):
        raise AssertionError(f"a dialog no test answers would wait forever: {args[1:3]}")
    for kind in ("question", "warning", "information", "critical"):
        monkeypatch.setattr(widgets.QMessageBox, kind, unanswered)
    for kind in ("getOpenFileName", "getSaveFileName", "getExistingDirectory"):
        monkeypatch.setattr(widgets.QFileDialog, kind, unanswered)


@pytest.fixture(autouse=True)
def _no_silent_hang():
    """A test that deadlocks (two threads each waiting for what the other holds, the GIL among
    them) cannot be stopped by pytest-timeout, which needs the GIL. faulthandler's watchdog is a
    C thread: it prints every thread's stack and ends the worker, so the run reports the test
    instead of hanging CI. After the test, garbage is collected here, on the GUI thread (the
    window turns automatic collection off)."""
    import faulthandler
    faulthandler.dump_traceback_later(240, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()
    collect = sys.modules.get("gradviz.sessions.collect")
    if collect is not None:
        collect.collect_now()


@pytest.fixture(autouse=True)
def _app_state(tmp_path, monkeypatch):
    """The app's settings and recovery files go to a temporary folder, never the user's home."""
    monkeypatch.setenv("GRADVIZ_STATE_DIR", str(tmp_path / "gradviz-state"))


@pytest.fixture
def settle():
    """``settle()``: every Qt event already posted on this thread is delivered, and those their
    delivery posts (a layout request resizes widgets, which request layouts of their own), round
    after round until a round delivers none. Then the layout is final: a test reads geometry after
    it instead of after some milliseconds of the event loop. No clock is involved; the bound on the
    rounds only turns an endless stream of events into a failure."""
    from PySide6.QtCore import QCoreApplication, QObject

    class Counter(QObject):
        seen = 0

        def eventFilter(self, obj, event):
            self.seen += 1
            return False

    def run(rounds: int = 1000) -> None:
        app = QCoreApplication.instance()
        counter = Counter()
        app.installEventFilter(counter)
        try:
            for _ in range(rounds):
                counter.seen = 0
                QCoreApplication.sendPostedEvents()
                if not counter.seen:
                    return
            raise AssertionError(f"events were still being posted after {rounds} rounds of delivery")
        finally:
            app.removeEventFilter(counter)
    return run
