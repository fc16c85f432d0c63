"""The inspector: a form generated from the selected brick's parameter declarations."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit,
                               QSpinBox, QVBoxLayout, QWidget)

from gradviz_core.params import to_json_value


class Inspector(QWidget):
    param_edited = Signal(str, str, object)  # node, parameter, value

    def __init__(self) -> None:
        super().__init__()
        self.title = QLabel("Select a node")
        self.title.setWordWrap(True)
        self.form_host = QWidget()
        self.formulas = QLabel()
        self.formulas.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.form_host)
        lay.addWidget(self.formulas)
        lay.addStretch(1)
        self.node: str | None = None
        self.editors: dict = {}

    def show_node(self, graph, name: str | None) -> None:
        self.node = name
        old = self.form_host
        self.layout().removeWidget(old)
        old.hide()  # deleteLater alone leaves it on screen until the event loop runs
        old.deleteLater()
        self.form_host = QWidget()
        self.layout().insertWidget(1, self.form_host)
        self.form_host.show()  # a child added to a visible widget is otherwise shown only later
        self.editors = {}
        if name is None or name not in graph:
            self.title.setText("Select a node")
            self.formulas.setText("")
            return
        b = graph.brick(name)
        count = graph.param_count(name)
        shapes = graph.input_shapes(name)
        count_text = b.param_count_text(shapes) if count is not None else "—"
        self.title.setText(f"<b>{name}</b> · {b.type_name}<br><i>{b.doc}</i>")
        self.formulas.setText(f"<b>forward</b>: {b.forward_text}<br><b>backward</b>: {b.backward_text}"
                              f"<br><b>parameters</b>: {count_text}")
        form = QFormLayout(self.form_host)
        for spec in b.params:
            editor = self._editor(spec, b.config[spec.name])
            editor.setToolTip(f"{spec.doc} ({spec.describe_range()})" if spec.describe_range() else spec.doc)
            form.addRow(spec.name, editor)
            self.editors[spec.name] = editor

    def _editor(self, spec, value):
        emit = lambda v, n=spec.name: self.param_edited.emit(self.node, n, v)  # noqa: E731
        if spec.kind == "int":
            w = QSpinBox()
            w.setRange(int(spec.low if spec.low is not None else -10**9), int(spec.high if spec.high is not None else 10**9))
            w.setValue(value)
            w.editingFinished.connect(lambda: emit(w.value()))
        elif spec.kind == "float":
            w = QDoubleSpinBox(decimals=6)
            w.setRange(spec.low if spec.low is not None else -1e9, spec.high if spec.high is not None else 1e9)
            w.setValue(value)
            w.editingFinished.connect(lambda: emit(w.value()))
        elif spec.kind == "bool":
            w = QCheckBox()
            w.setChecked(value)
            w.toggled.connect(emit)
        elif spec.kind == "choice":
            w = QComboBox()
            w.addItems(spec.choices)
            w.setCurrentText(value)
            w.currentTextChanged.connect(emit)
        else:  # tensor, floats, str: typed as text, checked by the core
            w = QLineEdit(str(to_json_value(spec, value)))
            w.editingFinished.connect(lambda: emit(w.text()))
        return w
