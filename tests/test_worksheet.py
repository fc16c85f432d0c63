"""gradviz worksheet and File > Export a worksheet (issue 30, part 1): the graph, the stepped
values and the chain rule with blanks, the answer key on pages of its own, every number the
stepper's own as the window writes it (read back from the HTML and, where pdftotext is, the PDF)."""
import html
import json
import re
import shutil
import subprocess

import pytest

from gradviz_core.teach.worksheet import BLANK, number
from test_cli import run as cli


def _items(page: str, part: str) -> list[str]:
    body = page.split("<div class='key'>")[0 if part == "sheet" else 1]
    return [html.unescape(re.sub(r"<[^>]+>", "", li)) for li in re.findall(r"<li>(.*?)</li>", body)]


@pytest.mark.parametrize("example", ["circuit_xyz.json", "sigmoid_neuron.json"])
def test_the_worksheet_asks_what_the_stepper_computes_and_its_key_answers_it(example, examples_dir, tmp_path):
    code, out, err = cli("worksheet", examples_dir / example, "-o", tmp_path / "sheet.html")
    assert code == 0, err
    page = (tmp_path / "sheet.html").read_text(encoding="utf-8")
    assert "<img src='data:image/png;base64," in page  # the graph as the canvas draws it
    asked, key = _items(page, "sheet"), _items(page, "key")
    assert len(asked) == len(key) and sum(line.count(BLANK) for line in asked) >= 4
    code, out, _ = cli("step", examples_dir / example, "--json")
    stepped = json.loads(out)
    values, grads = stepped["values"], stepped["grads"]
    forward = [line for line in key if not line.startswith("∂")]
    for line in forward:  # every node's value, as the stepper has it
        node = line.split(" = ")[0]
        assert line.endswith(" = " + number(values[node])), line
    chain = [line for line in key if line.startswith("∂") and " += " in line]
    assert chain
    for line in chain:  # ∂f/∂x += ∂f/∂q · ∂q/∂x = −4 · 1 = −4: the product is the gradient x receives
        src = line.split(" += ")[0].split("/∂")[1]
        assert line.endswith(" = " + number(grads[src])), line
    for q, a in zip(asked, key):  # the blanks hide exactly the key's numbers
        pattern = re.escape(q).replace(re.escape(BLANK), r"(\S+)")
        assert re.fullmatch(pattern, a), (q, a)


def test_what_the_students_fill_in_is_chosen(examples_dir, tmp_path):
    code, _, err = cli("worksheet", examples_dir / "circuit_xyz.json", "-o", tmp_path / "v.html", "--blanks", "values")
    assert code == 0, err
    asked = _items((tmp_path / "v.html").read_text(encoding="utf-8"), "sheet")
    assert all(BLANK not in line for line in asked if line.startswith("∂"))
    assert [line for line in asked if BLANK in line] == ["q = Add(a=x, b=y) = Add(−2, 5) = " + BLANK,
                                                         "f = Multiply(a=q, b=z) = Multiply(3, −4) = " + BLANK]
    code, _, err = cli("worksheet", examples_dir / "circuit_xyz.json", "-o", tmp_path / "s.html", "--steps", "4")
    assert code == 0 and len(_items((tmp_path / "s.html").read_text(encoding="utf-8"), "sheet")) == 4
    for args, says in ((("--steps", "zero"), "--steps zero: give a number of steps"),
                       (("-o", tmp_path / "x.txt"), "an .html or a .pdf file")):
        out = ("-o", tmp_path / "w.html") if args[0] != "-o" else ()
        code, _, err = cli("worksheet", examples_dir / "circuit_xyz.json", *out, *args)
        assert code == 2 and says in err and "Traceback" not in err, err


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="reading a PDF's text needs pdftotext (poppler-utils)")
def test_the_pdf_holds_the_same_text_with_the_key_on_a_page_of_its_own(examples_dir, tmp_path):
    code, _, err = cli("worksheet", examples_dir / "circuit_xyz.json", "-o", tmp_path / "sheet.pdf")
    assert code == 0, err
    first = subprocess.run(["pdftotext", "-l", "1", str(tmp_path / "sheet.pdf"), "-"], capture_output=True,
                           text=True).stdout
    rest = subprocess.run(["pdftotext", "-f", "2", str(tmp_path / "sheet.pdf"), "-"], capture_output=True,
                          text=True).stdout
    assert "∂f/∂x += ∂f/∂q · ∂q/∂x = −4 · " + BLANK + " = " + BLANK in first and "Answer key" not in first
    assert "Answer key" in rest and "∂f/∂x += ∂f/∂q · ∂q/∂x = −4 · 1 = −4" in rest and "f = −12" in rest


def test_file_export_a_worksheet_in_the_window(qtbot, examples_dir, monkeypatch, tmp_path):
    pytest.importorskip("pytestqt")
    from PySide6.QtWidgets import QFileDialog, QMessageBox
    from gradviz.app.main_window import MainWindow
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    w = MainWindow(str(examples_dir / "circuit_xyz.json"))
    qtbot.addWidget(w)
    w.show()
    action = next(a for a in w.menuBar().actions()[0].menu().actions() if "worksheet" in a.text().replace("&", ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "sheet.html"), ""))
    action.trigger()
    assert "Wrote" in w.statusBar().currentMessage() and "10 blanks" in w.statusBar().currentMessage()
    key = _items((tmp_path / "sheet.html").read_text(encoding="utf-8"), "key")
    assert "f = Multiply(a=q, b=z) = Multiply(3, −4) = −12" in key
