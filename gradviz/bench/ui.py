"""How the window behaves while it trains (``gradviz bench --ui``): the longest stall of its
event loop and the decision boundary's refreshes per second while ``spiral_mlp`` trains in
the real window (offscreen), and the training speed in the app with one compute thread and
with two, so the app's thread count is a measured choice (``training.APP_THREADS``)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from gradviz_core.model.fileformat import examples_dir

EXAMPLES = examples_dir()
TICK_MS = 5


def _window(path: Path):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from gradviz.app.main_window import MainWindow
    from gradviz_core import kernels

    app = QApplication.instance() or QApplication([])
    kernels.warm_up()
    w = MainWindow(str(path), restore=False)
    w.resize(1400, 900)
    w.show()
    app.processEvents()
    return app, w


def _loop_for(app, seconds: float, until=None) -> float:
    """Run the event loop for ``seconds`` (or until ``until()``); returns the longest gap between
    two ticks of a 5 ms timer, less the 5 ms: the longest time the window could not respond."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    gaps, last = [0.0], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
        if until is not None and until():
            loop.quit()

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    timer.start()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    timer.stop()
    return max(0.0, max(gaps) * 1000 - TICK_MS)


def training_smoothness(seconds: float = 4.0) -> dict:
    """max_stall_ms and boundary_fps while spiral_mlp trains in the window, the Boundary tab
    in front (the boundary, the points and the hidden units redrawn live)."""
    app, w = _window(EXAMPLES / "spiral_mlp.json")
    w.graph.training["epochs"] = 10**6
    board = w.dashboard
    session = w.train_session
    session.start()
    board.show_view(board.boundary)
    _loop_for(app, 0.5)  # the first frames (one-time setup of the plots) are not the steady state
    frames0 = board.boundary.frames
    t0 = time.perf_counter()
    stall = _loop_for(app, seconds)
    fps = (board.boundary.frames - frames0) / (time.perf_counter() - t0)
    steps = session.trainer.steps
    session.stop(wait=True)
    w.undo.setClean()
    w.close()
    return {"max_stall_ms": round(stall, 1), "boundary_fps": round(fps, 1), "spiral_steps": steps}


def app_training_speed(threads: int, epochs: int = 15) -> float:
    """Seconds to train digits_convnet for ``epochs`` in the window, the ConvNet tab in front
    and redrawing, with ``threads`` compute threads."""
    app, w = _window(EXAMPLES / "digits_convnet.json")
    w.graph.training["epochs"] = epochs
    session = w.train_session
    session.threads = threads
    w.dashboard.show_view(w.dashboard.curves)
    session.start()
    t0 = time.perf_counter()
    _loop_for(app, 600, until=lambda: session.result is not None)
    seconds = time.perf_counter() - t0
    w.undo.setClean()
    w.close()
    return seconds


def run(busy: bool = False, scale: float = 1.0) -> dict:
    """``scale``: the measuring times and the epochs trained, as a share of the full bench's."""
    out = training_smoothness(4.0 * scale)
    hog = _busy_process() if busy else None
    try:
        epochs = max(1, round(15 * scale))
        out["app_digits_epochs"] = epochs
        out["app_digits_s"] = {str(n): round(app_training_speed(n, epochs), 2) for n in (1, 2)}
    finally:
        if hog is not None:
            hog.terminate()
    out["busy"] = busy
    from gradviz.sessions.training import APP_THREADS
    out["app_threads"] = APP_THREADS
    return out


def _busy_process():
    """Another process keeping one core busy (the bench's --busy)."""
    import subprocess
    import sys
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])
