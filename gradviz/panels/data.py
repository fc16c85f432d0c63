"""The Data panel: the graph's data section, as a form generated from its declarations
(``gradviz_core.data.spec``). The source, its settings, the splits and the preprocessing;
CSV and NPZ files through a file dialog. Every change is one undoable command. The data's
problems show here (and in Problems), and a preview shows the 2D points coloured by class,
or a few of the images."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QFileDialog, QFormLayout, QHBoxLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)

from gradviz.look.heat import sample_grid
from gradviz.panels.forms import Choice, make_editor, replace_host
from gradviz.look.axes import readable_axes
from gradviz.look.colors import CLASS_COLORS
from gradviz_core.data.spec import PIPELINE, SOURCES

NO_DATA = "(no data)"


#: the sources read from a file or folder: what the dialog asks for, and its file pattern (None:
#: a folder)
BROWSE = {"csv": ("a CSV file", "CSV files (*.csv)"), "npz": ("an NPZ file", "NumPy archives (*.npz)"),
          "idx": ("the images' IDX file", "IDX files (*-ubyte *-ubyte.gz *.idx *.idx.gz);;All files (*)"),
          "cifar": ("a CIFAR batch file", "CIFAR batches (data_batch_* test_batch);;All files (*)"),
          "folder": ("the folder of class folders", None)}

class DataPanel(QWidget):
    data_edited = Signal(object)  # the new data section (a dict or None)

    def __init__(self) -> None:
        super().__init__()
        self.source = Choice()
        self.source.addItems([NO_DATA, *SOURCES])
        self.source.setToolTip("where the Input and Target nodes get their samples")
        self.source.activated.connect(self._source_chosen)
        self.doc = QLabel()
        self.doc.setWordWrap(True)
        self.form_host = QWidget()
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #e03131;")
        self.preview = pg.PlotWidget()
        readable_axes(self.preview)
        self.preview.setBackground(None)
        self.preview.setMinimumHeight(180)
        self.preview.setAspectLocked(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.source)
        lay.addWidget(self.doc)
        lay.addWidget(self.form_host)
        lay.addWidget(self.error)
        lay.addWidget(self.summary)
        lay.addWidget(self.preview)
        lay.addStretch(1)
        self.graph = None
        self._form = 0

    # ---- the form follows the graph ------------------------------------------------------------
    def show_graph(self, graph) -> None:
        self.graph = graph
        self._form += 1
        spec = graph.data
        name = spec.get("source") if isinstance(spec, dict) else None
        self.source.setCurrentText(name if name in SOURCES else NO_DATA)
        self.form_host = replace_host(self, self.form_host)
        form = QFormLayout(self.form_host)
        self.editors = {}
        if name in SOURCES:
            doc, specs, _ = SOURCES[name]
            self.doc.setText(f"<i>{doc}</i>")
            for ps in (*specs, *PIPELINE):
                value = spec.get(ps.name, ps.default)
                editor = make_editor(ps, value, lambda v, k=ps.name, f=self._form: self._set(f, k, v),
                                     self.error.setText)
                if ps.name == "path":
                    row = QWidget()
                    h = QHBoxLayout(row)
                    h.setContentsMargins(0, 0, 0, 0)
                    h.addWidget(editor, 1)
                    browse = QPushButton("Browse…")
                    browse.clicked.connect(lambda _=False, n=name: self._browse(n))
                    h.addWidget(browse)
                    form.addRow(ps.name, row)
                else:
                    form.addRow(ps.name, editor)
                self.editors[ps.name] = editor
        else:
            self.doc.setText("<i>Choose a source: a toy 2D set, the digits, synthetic images, your own CSV "
                             "or NPZ file, MNIST's IDX files, CIFAR's batches or a folder of images.</i>")
        problems = [p.message for p in graph.problems if p.message.startswith(("data", "/")) or
                    (p.node and graph.brick(p.node).is_source and "data" in p.message)]
        self.error.setText(problems[0] if problems else "")
        self._preview()

    def _set(self, form: int, key: str, value) -> None:
        if form != self._form or self.graph is None or not isinstance(self.graph.data, dict):
            return
        if self.graph.data.get(key) == value:
            return  # nothing changed: no command
        self.data_edited.emit({**self.graph.data, key: value})

    def _source_chosen(self) -> None:
        name = self.source.currentText()
        current = self.graph.data.get("source") if self.graph and isinstance(self.graph.data, dict) else None
        if name == current or (name == NO_DATA and current is None):
            return
        if name == NO_DATA:
            self.data_edited.emit(None)
        elif name in BROWSE:
            self._browse(name)
        else:
            self.data_edited.emit({"source": name})

    def _browse(self, source: str) -> None:
        what, pattern = BROWSE[source]
        if pattern is None:
            path = QFileDialog.getExistingDirectory(self, f"Choose {what}", "")
        else:
            path, _ = QFileDialog.getOpenFileName(self, f"Choose {what}", "", pattern)
        if path:
            same = isinstance(self.graph.data, dict) and self.graph.data.get("source") == source
            keep = dict(self.graph.data) if same else {"source": source}
            self.data_edited.emit({**keep, "path": path})
        else:
            self.show_graph(self.graph)  # the choice goes back to what the graph has

    # ---- the preview ---------------------------------------------------------------------------
    def _preview(self) -> None:
        self.preview.clear()
        self.summary.setText("")
        if self.graph is None or self.graph.data is None or self.error.text():
            self.preview.hide()
            return
        try:
            splits = self.graph.splits()
        except Exception:  # noqa: BLE001 - the problem is already shown above
            self.preview.hide()
            return
        ds = splits.train
        kind = f"{ds.classes} classes" if ds.classes else "real-valued targets"
        val = len(splits.val) if splits.val is not None else 0
        test = len(splits.test) if splits.test is not None else 0
        self.summary.setText(f"{len(ds)} training samples of shape {tuple(ds.X.shape[1:])}, {kind}; "
                             f"{val} for validation, {test} for testing")
        self.preview.show()
        for axis in ("left", "bottom"):
            self.preview.showAxis(axis)
        if ds.X.ndim == 2 and ds.X.shape[1] == 2:
            for k in range(ds.classes or 1):
                pts = ds.X[ds.y == k] if ds.classes else ds.X
                self.preview.addItem(pg.ScatterPlotItem(pts[:, 0], pts[:, 1], size=6, pen=None,
                                                        brush=CLASS_COLORS[k % len(CLASS_COLORS)]))
        elif ds.X.ndim == 4:  # the first 16 images as they look, their labels in the summary
            n = min(16, len(ds))
            image = pg.ImageItem(sample_grid(ds.X[:n]), axisOrder="row-major")
            self.preview.addItem(image)
            self.preview.invertY(True)
            for axis in ("left", "bottom"):
                self.preview.hideAxis(axis)
            if ds.classes and ds.y.ndim == 1:  # row by row, as the grid reads
                rows = [" ".join(str(int(v)) for v in ds.y[r:r + 4]) for r in range(0, n, 4)]
                self.summary.setText(f"{self.summary.text()}. The first {n}, row by row, are labelled "
                                     f"{' / '.join(rows)}")
        else:
            self.preview.hide()
            return
        self.preview.autoRange()
