"""The window's files: new, open (a graph, or an ONNX model imported), the examples, save and
save as, the recovery copy of unsaved work after a crash, and the exports (the canvas as an
image; the graph as a PyTorch file, a NumPy study script or an ONNX model). A mixin of
``MainWindow``: it works on the window's document, undo stack and status bar."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QMessageBox

from gradviz.app import safety
from gradviz_core.errors import GradvizError
from gradviz_core.model import fileformat
from gradviz_core.model.graph import Graph

#: export target -> (its name, the file's suffix, the kind of file)
EXPORTS = {"pytorch": ("PyTorch", ".py", "Python file"), "numpy": ("NumPy study script", ".py", "Python file"),
           "onnx": ("ONNX", ".onnx", "ONNX model")}


class DocumentFiles:
    def new(self) -> None:
        if self.confirm_discard():
            self.set_document(Graph(), None)

    def open(self, path) -> bool:
        """Load a file; on failure the current document stays as it is and the message shows. An
        ONNX model is imported as an untitled graph (Save asks where to write it)."""
        onnx = Path(path).suffix.lower() == ".onnx"
        try:
            if onnx:
                from gradviz_core.formats.onnx_import import from_onnx
                graph = from_onnx(path)
            else:
                graph = fileformat.load(path)
        except GradvizError as exc:
            QMessageBox.warning(self, "Cannot open the file", str(exc))
            return False
        self.set_document(graph, None if onnx else Path(path))
        if onnx:
            self.statusBar().showMessage(f"Imported {Path(path).name}: {len(graph.nodes())} nodes, "
                                         f"{graph.total_params():,} parameters; Save writes it as a graph", 10000)
        else:
            safety.remember(Path(path).resolve())
        return True

    def open_example(self, path) -> bool:
        """A lesson opens as an untitled copy (Save asks where), after asking about unsaved work."""
        if not self.confirm_discard():
            return False
        try:
            graph = fileformat.load(path)
        except GradvizError as exc:
            QMessageBox.warning(self, "Cannot open the lesson", str(exc))
            return False
        self.set_document(graph, None)
        self.example = Path(path).name
        self._update_title()
        return True

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for name in safety.recent_files():
            self.recent_menu.addAction(name, lambda n=name: self.confirm_discard() and self.open(n))

    def open_dialog(self) -> None:
        if self.confirm_discard():
            name, _ = QFileDialog.getOpenFileName(self, "Open graph", "",
                                                  "gradviz graphs (*.json);;ONNX models (*.onnx)")
            if name:
                self.open(name)

    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        try:
            # kept weights go with the graph (a weights file beside it), so training resumes from them
            fileformat.save(self.graph, self.path, with_weights=bool(self.graph.weights()))
        except GradvizError as exc:  # the path said, as typed: a missing folder, a full disk…
            QMessageBox.warning(self, "Cannot save", f"{exc}\n\nYour work is still here: save it elsewhere.")
            return False
        except OSError as exc:
            QMessageBox.warning(self, "Cannot save", f"{self.path}: {exc.strerror or exc}")
            return False
        self.undo.setClean()
        safety.remember(self.path.resolve())
        safety.clear_recovery()
        return True

    def save_as(self) -> bool:
        name, _ = QFileDialog.getSaveFileName(self, "Save graph", "", "gradviz graphs (*.json)")
        if not name:
            return False
        path = Path(name)
        self.path = path if path.suffix.lower() == ".json" else path.with_name(path.name + ".json")
        return self.save()

    def confirm_discard(self) -> bool:
        if self.undo.isClean():
            return True
        answer = QMessageBox.question(self, "Unsaved changes", "Save the changes first?",
                                      QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel)
        return answer == QMessageBox.Discard or (answer == QMessageBox.Save and self.save())

    def save_recovery(self) -> None:
        """Every 30 s: keep a copy of unsaved work where a crash cannot take it."""
        if not self.undo.isClean():
            try:
                safety.save_recovery(self.graph, self.path)
            except (OSError, GradvizError) as exc:
                self.statusBar().showMessage(f"Autosave failed: {exc.strerror or exc}", 8000)

    def offer_recovery(self) -> bool:
        """After a crash, offer the unsaved work back. True if it was recovered."""
        found = safety.pending_recovery()
        if found is None:
            return False
        graph, original, when = found
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(when))
        answer = QMessageBox.question(self, "Recover unsaved work?",
                                      f"gradviz did not close cleanly. Recover the unsaved work from {stamp}"
                                      f"{f' (of {original.name})' if original else ''}?",
                                      QMessageBox.Yes | QMessageBox.No)
        safety.clear_recovery()
        if answer != QMessageBox.Yes:
            return False
        self.set_document(graph, original)
        self.undo.resetClean()  # recovered work is unsaved work
        self._update_title(False)
        return True

    def export_image(self, path) -> None:
        """The canvas as PNG (rendered at 2×) or SVG, by the file's suffix."""
        rect = self.scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
        if str(path).lower().endswith(".svg"):
            gen = QSvgGenerator()
            gen.setFileName(str(path))
            gen.setSize(rect.size().toSize())
            gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
            painter = QPainter(gen)
        else:
            image = QImage((rect.size() * 2).toSize(), QImage.Format_ARGB32)
            image.fill(QColor(self.scene.palette["background"]))
            painter = QPainter(image)
            painter.setRenderHint(QPainter.Antialiasing)
        self.scene.clearSelection()
        self.scene.render(painter, QRectF(), rect)
        painter.end()
        if not str(path).lower().endswith(".svg") and not image.save(str(path)):
            raise OSError(f"{path}: the image could not be written")

    def export_dialog(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export image", "", "PNG image (*.png);;SVG drawing (*.svg)")
        if name:
            try:
                self.export_image(name)
            except OSError as exc:
                QMessageBox.warning(self, "Cannot export", str(exc))

    def import_weights(self, name: str | None = None) -> bool:
        """A PyTorch checkpoint's weights as the graph's (one undoable step), checked by name and
        shape first; a checkpoint that does not fit says what does not, and changes nothing."""
        from gradviz_core.formats.torch_weights import load_checkpoint
        from gradviz_core.model.commands import KeepWeights
        if name is None:
            start = str(self.path.parent) if self.path else ""
            name, _ = QFileDialog.getOpenFileName(self, "Import weights from PyTorch", start,
                                                  "PyTorch checkpoint (*.pt *.pth);;All files (*)")
        if not name:
            return False
        try:
            arrays = load_checkpoint(self.graph, name)
        except GradvizError as exc:
            QMessageBox.warning(self, "Cannot import the weights", str(exc))
            return False
        if not self.scene.push(KeepWeights(arrays, text=f"import the weights of {Path(name).name}")):
            return False
        self.training_panel.refresh()  # "from the graph's weights" is now a choice
        self.statusBar().showMessage(f"The weights of {Path(name).name} are now the graph's: {len(arrays)} arrays "
                                     "(Ctrl+Z undoes it)", 10000)
        return True

    def export_worksheet(self, name: str | None = None) -> bool:
        """File > Export worksheet: the graph as the canvas draws it, the stepped values and the chain
        rule with blanks, and the answer key (``gradviz worksheet``), as HTML or PDF."""
        import tempfile

        from gradviz.app.render import write_worksheet
        from gradviz.sessions.worksheets import questions
        try:
            sheet = questions(self.graph)
        except GradvizError as exc:
            QMessageBox.warning(self, "Cannot make a worksheet", str(exc))
            return False
        if name is None:
            stem = self.path.stem if self.path else "worksheet"
            name, _ = QFileDialog.getSaveFileName(self, "Export worksheet", f"{stem}-worksheet.pdf",
                                                  "PDF (*.pdf);;Web page (*.html)")
        if not name:
            return False
        if not name.lower().endswith((".pdf", ".html")):
            name += ".pdf"
        try:
            with tempfile.TemporaryDirectory() as tmp:
                picture = Path(tmp) / "graph.png"
                self.export_image(str(picture))
                write_worksheet(sheet, picture.read_bytes(), name)
        except (GradvizError, OSError) as exc:
            QMessageBox.warning(self, "Cannot export the worksheet", str(exc))
            return False
        blanks = sum(len(i["blanks"]) for i in sheet["items"])
        self.statusBar().showMessage(f"Wrote {name}: {blanks} blanks, and the answer key on pages of its own", 10000)
        return True

    def export_code(self, to: str, name: str | None = None) -> bool:
        """The graph as a PyTorch file, a NumPy study script or an ONNX model (``gradviz
        export``), the scripts with their arrays file beside them; a graph that cannot be
        written says which node and why."""
        from gradviz_core.formats import export_files, pytorch, numpy_script
        what, suffix, kind = EXPORTS[to]
        try:  # first, so that a graph that cannot be written says so before a file is asked for
            {"pytorch": pytorch.plan, "numpy": numpy_script.plan}.get(to, lambda g: export_files(g, to, "x.onnx"))(
                self.graph)
        except GradvizError as exc:
            QMessageBox.warning(self, f"Cannot export to {what}", str(exc))
            return False
        if name is None:
            stem = self.path.stem if self.path else Path(getattr(self, "example", None) or "model").stem
            name, _ = QFileDialog.getSaveFileName(self, f"Export to {what}", f"{stem}{suffix}", f"{kind} (*{suffix})")
        if not name:
            return False
        try:
            for path, data in export_files(self.graph, to, Path(name)).items():
                fileformat.atomic_write(path, data)
        except (GradvizError, OSError) as exc:
            QMessageBox.warning(self, f"Cannot export to {what}", str(exc))
            return False
        after = (f"run it with python {Path(name).name} (its arrays are in {pytorch.arrays_name(name)})"
                 if suffix == ".py" else "load it with onnxruntime")
        self.statusBar().showMessage(f"Wrote {name}: {after}", 10000)
        return True
