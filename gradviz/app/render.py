"""``gradviz render``: the real window, offscreen, after some steps, saved as an image (for
teachers' slides, the README and headless checks)."""
from __future__ import annotations

import os

from gradviz_core.fsio import OutputError


def render(path: str, output: str, steps: str = "0", size=(1280, 800), select: str | None = None,
           sets=(), train: int | None = None, view: str = "window", race: bool = False) -> None:
    app, w = _window(path, sets)
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
    if race:  # the playground's race, run to its last step and drawn
        w.playground.refresh()
        board = w.playground.view
        board.reset()
        board.advance(board.total)
        app.processEvents()
    if train is not None:
        widget = train_in_window(app, w, train, view, size)
        if widget is not w:
            saved = widget.grab().save(output)
            # the view taken out of the window goes before the window and the application:
            # a top-level pyqtgraph widget left to the interpreter's exit can crash it
            widget.hide()
            widget.deleteLater()
            app.processEvents()
            _close(app, w)
            if not saved:
                raise OutputError(f"{output}: the image could not be written")
            return
    app.processEvents()
    w.view.fit()
    app.processEvents()
    if output.lower().endswith(".svg"):
        w.export_image(output)
    elif not w.grab().save(output):
        raise OutputError(f"{output}: the image could not be written")
    _close(app, w)


def _offscreen_app():
    """The QApplication, offscreen unless a display was asked for, Qt's chatter quieted."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from gradviz.app.start import quiet_qt_messages
    quiet_qt_messages()
    return QApplication.instance() or QApplication([])


def _window(path: str, sets=()):
    """(the application, a window on the graph file with the --set overrides, its undo clean)."""
    from gradviz.app.main_window import MainWindow
    from gradviz_core.model.overrides import apply_set
    app = _offscreen_app()
    w = MainWindow(path, restore=False)
    for item in sets:
        apply_set(w.graph, item)
    w.undo.setClean()
    return app, w


def _close(app, w) -> None:
    """Close the window and let Qt delete it now, before the interpreter exits."""
    w.close()
    w.deleteLater()
    app.processEvents()


def train_in_window(app, w, epochs: int, view: str, size=(1280, 800)):
    """Train ``epochs`` epochs in the window (the real session, thread and dashboard), wait for
    the end, draw every view, and return the widget to grab for ``view``."""
    import time

    from gradviz_core import kernels
    from gradviz_core.errors import GradvizError

    kernels.warm_up()  # headless: compile now, so the run's views are drawn from the start
    w.graph.training["epochs"] = epochs
    w.undo.setClean()
    session, board = w.train_session, w.dashboard
    session.start()
    while session.result is None and session.running:
        app.processEvents()
        time.sleep(0.01)
    session.bridge.flush()
    app.processEvents()
    if session.result is None:
        raise GradvizError(f"{w.path}: training did not start")
    if session.result.status == "diverged":
        raise GradvizError(session.result.message)
    tab = {"boundary": board.boundary, "loss": board.curves, "convnet": board.convnet,
           "diagnostics": board.diagnostics, "compare": board.compare}.get(view)
    if tab is None:  # the window: the view that tells most about this graph
        tab = board.boundary if session.boundary_possible() else (
            board.convnet if board.isTabEnabled(board.tab_of(board.convnet)) else board.curves)
    board.show_view(tab)
    board.draw_all()
    app.processEvents()
    w.view.fit()
    app.processEvents()
    if view in ("window", "dashboard"):
        return w
    tab.setParent(None)  # the view alone, at the size asked for
    tab.resize(*size)
    tab.show()
    app.processEvents()
    return tab


def save_sweep_plot(drawing: dict, path: str, size=(900, 420)) -> None:
    """A sweep's plot (``runs.sweep.drawing``) as a PNG, drawn offscreen."""
    from gradviz.panels.sweep import SweepView
    app = _offscreen_app()
    view = SweepView()
    view.resize(size[0], size[1] if drawing["heatmap"] else max(size[1], 300 * len(drawing["scatters"]) + 60))
    view.show_drawing(drawing)
    view.show()
    app.processEvents()
    saved = view.grab().save(path)
    view.hide()
    view.deleteLater()
    app.processEvents()
    if not saved:
        raise OutputError(f"{path}: the image could not be written")


def worksheet(path: str, output: str, sets=(), steps: str = "all", blanks: str = "both") -> None:
    """``gradviz worksheet``: the graph drawn as the canvas draws it, then the questions and the
    answer key (``teach.worksheet``), as an HTML page (the picture inline) or a PDF."""
    import tempfile

    from gradviz.sessions.worksheets import questions
    app, w = _window(path, sets)
    sheet = questions(w.graph, steps, blanks)
    with tempfile.TemporaryDirectory() as tmp:
        picture = os.path.join(tmp, "graph.png")
        w.export_image(picture)
        data = open(picture, "rb").read()
    _close(app, w)
    write_worksheet(sheet, data, output)


def write_worksheet(sheet: dict, picture: bytes, output: str) -> None:
    """A worksheet (``teach.worksheet.questions``) with the graph's picture (PNG bytes) as an HTML
    page (the picture inline) or an A4 PDF, written whole or not at all."""
    from pathlib import Path

    from gradviz_core.model.fileformat import atomic_write
    from gradviz.sessions.worksheets import to_html
    if output.lower().endswith(".html"):
        import base64
        page = to_html(sheet, "data:image/png;base64," + base64.b64encode(picture).decode("ascii"))
        atomic_write(Path(output), page.encode("utf-8"))
        return
    import tempfile

    from PySide6.QtCore import QByteArray, QMarginsF, QUrl
    from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPdfWriter, QTextDocument
    image = QImage.fromData(QByteArray(picture))
    doc = QTextDocument()
    doc.addResource(QTextDocument.ImageResource, QUrl("graph.png"), image)
    with tempfile.TemporaryDirectory(dir=Path(output).resolve().parent) as tmp:
        pdf = str(Path(tmp) / "sheet.pdf")
        writer = QPdfWriter(pdf)
        writer.setResolution(96)  # the document's pixels are the screen's: text at its reading size
        writer.setPageLayout(QPageLayout(QPageSize(QPageSize.A4), QPageLayout.Portrait, QMarginsF(15, 15, 15, 15)))
        writer.setTitle(f"Worksheet: {sheet['title']}")
        page = writer.pageLayout().paintRectPixels(writer.resolution()).size()
        doc.setHtml(to_html(sheet, "graph.png", min(page.width() - 40, image.width() // 2)))  # drawn at 2×
        doc.setPageSize(page.toSizeF())
        doc.print_(writer)
        del writer
        if not os.path.getsize(pdf):
            raise OutputError(f"{output}: the PDF could not be written")
        atomic_write(Path(output), Path(pdf).read_bytes())
