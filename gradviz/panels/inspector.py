"""The inspector: a form generated from the selected brick's parameter declarations.

Each form belongs to one node: its editors carry that node's name, and a form that has been
replaced (another node selected) never emits again. An edit that leaves a value as it was
emits nothing. Numbers are typed as text in a notation that keeps every digit (1e-07 stays
1e-07); text that is not a valid value is marked in the field, with the reason beside it,
and the field goes back to the current value.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QFormLayout, QLabel, QLineEdit, QVBoxLayout,
                               QWidget)

from gradviz_core.errors import GradvizError
from gradviz.panels.forms import ERROR_STYLE, make_editor, replace_host, value_text


class Inspector(QWidget):
    param_edited = Signal(str, str, object)  # node, parameter, value

    def __init__(self) -> None:
        super().__init__()
        self.title = QLabel("Select a node")
        self.title.setWordWrap(True)
        self.form_host = QWidget()
        self.formulas = QLabel()
        self.formulas.setWordWrap(True)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #e03131;")
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.form_host)
        lay.addWidget(self.error)
        lay.addWidget(self.formulas)
        lay.addStretch(1)
        self.node: str | None = None
        self.editors: dict = {}
        self.graph = None
        self._form = 0  # which form is current: editors of older forms are ignored

    def show_node(self, graph, name: str | None) -> None:
        self.graph, self.node = graph, name
        self._form += 1
        self.form_host = replace_host(self, self.form_host)
        self.editors = {}
        self.error.setText("")
        if name is None or name not in graph:
            self.title.setText("Select a node")
            self.formulas.setText("")
            return
        b = graph.brick(name)
        count = graph.param_count(name)
        shapes = graph.input_shapes(name)
        count_text = b.param_count_text(shapes) if count is not None else "—"
        self.title.setText(f"<b>{name}</b> · {b.type_name}<br><i>{b.doc}</i>")
        forward, backward = b.formulas()
        sums = b.arithmetic(shapes) if graph.shapes.get(name) is not None else []
        self.formulas.setText(f"<b>forward</b>: {forward}<br><b>backward</b>: {backward}"
                              f"<br><b>parameters</b>: {count_text}" + "".join(f"<br>{line}" for line in sums))
        form = QFormLayout(self.form_host)
        for spec in b.params:
            editor = self._editor(spec, b.config[spec.name], name, self._form)
            form.addRow(spec.name, editor)
            self.editors[spec.name] = editor

    # ---- one editor per declaration ------------------------------------------------------------
    def _editor(self, spec, value, node: str, form: int):
        def emit(v) -> None:
            if form != self._form or self.graph is None or node not in self.graph:
                return  # a replaced form, or a node that is gone
            current = self.graph.brick(node).config[spec.name]
            try:
                new = spec.coerce(v, node)
            except GradvizError as exc:
                self._refuse(spec, node, str(exc))
                return
            if not _same(new, current):
                self.param_edited.emit(node, spec.name, new)

        def bad_text(message: str) -> None:
            if form == self._form:
                self._refuse(spec, node, f"{node}: {message}")
        return make_editor(spec, value, emit, bad_text)

    def _refuse(self, spec, node: str, message: str) -> None:
        """Mark the field, say why beside it, and show the value it keeps."""
        self.error.setText(message)
        w = self.editors.get(spec.name)
        if isinstance(w, QLineEdit) and self.graph is not None and node in self.graph:
            w.setStyleSheet(ERROR_STYLE)
            w.setToolTip(message)
            w.blockSignals(True)
            w.setText(value_text(spec, self.graph.brick(node).config[spec.name]))
            w.blockSignals(False)


def _same(a, b) -> bool:
    import numpy as np
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and bool(np.all(np.asarray(a) == np.asarray(b)))
    return a == b
