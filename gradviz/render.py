"""``gradviz render``: the real window, offscreen, after some steps, saved as an image (for
teachers' slides, the README and headless checks)."""
from __future__ import annotations

import os


def render(path: str, output: str, steps: str = "0", size=(1280, 800), select: str | None = None,
           sets=()) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from gradviz.app import quiet_qt_messages
    from gradviz.main_window import MainWindow
    from gradviz_core.overrides import apply_set

    quiet_qt_messages()
    app = QApplication.instance() or QApplication([])
    w = MainWindow(path, restore=False)
    for item in sets:
        apply_set(w.graph, item)
    w.undo.setClean()
    w.resize(*size)
    w.show()
    app.processEvents()
    session = w.session
    if steps == "all":
        session.travel(10**9)
    elif steps in ("forward", "backward"):
        session.run_phase(steps)
    elif int(steps):
        session.travel(int(steps))
    if select:
        w.select_node(select)
    app.processEvents()
    w.view.fit()
    app.processEvents()
    if output.lower().endswith(".svg"):
        w.export_image(output)
    elif not w.grab().save(output):
        raise OSError(f"{output}: the image could not be written")
    w.close()
