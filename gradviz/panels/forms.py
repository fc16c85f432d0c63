"""Forms generated from declarations (``ParamSpec``): one editor per setting, and the swap of
one form for the next. The inspector, the Data panel and the Training panel all use them."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QWidget

from gradviz_core.params import to_json_value

ERROR_STYLE = "QLineEdit { border: 2px solid #e03131; }"


def replace_host(owner: QWidget, old: QWidget) -> QWidget:
    """A fresh, empty widget in ``old``'s place in ``owner``'s layout. The old form is disabled
    (its pending editingFinished must not reach anyone) and hidden at once (deleteLater alone
    leaves it on screen until the event loop runs)."""
    lay = owner.layout()
    index = lay.indexOf(old)
    old.setEnabled(False)
    lay.removeWidget(old)
    old.hide()
    old.deleteLater()
    new = QWidget()
    lay.insertWidget(index, new)
    new.show()  # a child added to a visible widget is otherwise shown only later
    return new


def value_text(spec, value) -> str:
    """A value as the user reads and types it, with every digit kept."""
    if spec.kind == "float":
        return repr(float(value))
    if spec.kind in ("tensor", "floats", "ints", "names"):
        return str(to_json_value(spec, value))
    return str(value)


def parse_text(spec, text: str):
    """What the user typed, as the value the core checks (numbers as numbers)."""
    text = text.strip()
    if spec.kind == "int":
        return int(text)
    if spec.kind == "float":
        return float(text)
    return text


class Choice(QComboBox):
    """A choice that takes the mouse wheel only once clicked (focused): a wheel turned over it
    on the way down a form scrolls the form instead of changing the choice."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.StrongFocus)

    def wheelEvent(self, event) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()  # to the scroll area


def make_editor(spec, value, emit, bad_text):
    """The editor for one declaration: a check box, a choice, or a text field in which numbers
    keep every digit. ``emit(value)`` gets what the user set; ``bad_text(message)`` text
    that is not a number."""
    if spec.kind == "bool":
        w = QCheckBox()
        w.setChecked(bool(value))
        w.toggled.connect(emit)
    elif spec.kind == "choice":
        w = Choice()
        w.addItems(spec.choices)
        w.setCurrentText(value)
        w.currentTextChanged.connect(emit)
    else:  # numbers, tensors and names: typed as text, checked by the declaration
        w = QLineEdit(value_text(spec, value))

        def finished() -> None:
            w.setStyleSheet("")
            try:
                v = parse_text(spec, w.text())
            except ValueError:
                bad_text(f"{spec.name} must be {'a whole number' if spec.kind == 'int' else 'a number'}, "
                         f"not {w.text()!r}")
                return
            emit(v)
        w.editingFinished.connect(finished)
    w.setToolTip(f"{spec.doc} ({spec.describe_range()})" if spec.describe_range() else spec.doc)
    return w
