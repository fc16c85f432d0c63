"""How smoothly a large canvas pans and zooms: milliseconds per fully rendered frame.

python -m gradviz.bench.canvas [NODES]   (offscreen works: QT_QPA_PLATFORM=offscreen)
"""
from __future__ import annotations

import sys
import time


def build(n: int):
    from gradviz_core.model.graph import Graph

    g = Graph()
    with g.batch():
        g.add_node("Constant", "c0", {"value": [1.0, 2.0, 3.0]}, pos=(0, 0))
        for i in range(1, n):
            g.add_node("Tanh" if i % 2 else "Scale", f"n{i}", pos=((i % 20) * 230.0, (i // 20) * 110.0))
            g.connect("c0" if i == 1 else f"n{i - 1}", f"n{i}", "x")
    return g


def measure(n: int = 200, frames: int = 60) -> dict:
    from PySide6.QtGui import QUndoStack
    from PySide6.QtWidgets import QApplication

    from gradviz.canvas.scene import GraphScene, GraphView

    app = QApplication.instance() or QApplication([])
    scene = GraphScene(build(n), QUndoStack())
    view = GraphView(scene)
    view.resize(1280, 800)
    view.show()
    app.processEvents()
    view.fit()
    out = {"nodes": n}
    for kind in ("zoom", "pan"):
        t = time.perf_counter()
        for i in range(frames):
            if kind == "zoom":
                f = 1.08 if (i // 10) % 2 == 0 else 1 / 1.08
                view.scale(f, f)
            else:
                bar = view.horizontalScrollBar()
                bar.setValue(bar.value() + (25 if (i // 10) % 2 == 0 else -25))
            view.viewport().grab()  # a full render of the visible canvas, as a repaint does
        out[f"{kind}_ms_per_frame"] = (time.perf_counter() - t) / frames * 1e3
    return out


def step_redraw(n: int = 20, steps: int = 40) -> float:
    """Milliseconds to take one step in the window and redraw the canvas (a 20-node chain of
    tensor gates in the lectures' default window): the median over ``steps`` steps."""
    return open_and_step(build(n), steps)[1]


def open_and_step(graph, steps: int = 40) -> tuple[float, float]:
    """(seconds to open ``graph`` in a new window until it is painted, the median milliseconds
    of one step and its canvas redraw over ``steps`` steps)."""
    import os
    import statistics
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from gradviz.app.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    w = MainWindow(restore=False)
    w.resize(1280, 800)
    w.show()
    app.processEvents()
    t = time.perf_counter()
    w.set_document(graph, None)
    app.processEvents()
    w.view.viewport().repaint()
    opened = time.perf_counter() - t
    times = []
    for _ in range(steps):
        s = w.session.ensure()
        if s.done:
            w.session.reset()
        t = time.perf_counter()
        w.session.step()
        w.view.viewport().repaint()  # paint now, as the next frame would
        times.append((time.perf_counter() - t) * 1e3)
    w.undo.setClean()
    w.close()
    return opened, statistics.median(times[2:])


def sizes(ns) -> list[dict]:
    """The window's side of ``gradviz bench --sizes``: each chain of ``gradviz_core.perf.sizes``
    opened, and stepped with its redraw."""
    import json

    from gradviz_core.model import fileformat
    from gradviz_core.perf.sizes import chain_doc

    out = []
    for n in ns:
        graph = fileformat.loads(json.dumps(chain_doc(n)))
        opened, ms = open_and_step(graph, steps=20)
        out.append({"nodes": len(graph.nodes()), "open_s": round(opened, 3), "step_redraw_ms": round(ms, 2)})
    return out


if __name__ == "__main__":
    r = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
    print(f"{r['nodes']} nodes: zoom {r['zoom_ms_per_frame']:.1f} ms/frame, pan {r['pan_ms_per_frame']:.1f} ms/frame "
          f"(60 fps needs ≤ 16.7)")
