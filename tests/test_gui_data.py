"""The Data panel: a graph built in the window gets its data through undoable commands."""
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QFileDialog  # noqa: E402

from test_gui_editor import window  # noqa: E402,F401


def test_the_data_panel_gives_a_new_graph_its_data_undoably(window, qtbot, tmp_path, monkeypatch):
    from gradviz_core.model.commands import AddNode
    window.new()
    window.scene.push(AddNode("Input", "x"))
    assert any("no data" in p.message for p in window.graph.problems)
    panel = window.data_panel
    panel.source.setCurrentText("spiral")
    panel.source.activated.emit(panel.source.currentIndex())
    assert window.graph.data == {"source": "spiral"} and window.graph.problems == []
    assert "training samples of shape (2,), 3 classes" in panel.summary.text()
    assert panel.preview.isVisibleTo(panel) and len(panel.preview.listDataItems()) == 3  # one colour per class
    n = panel.editors["n"]
    n.selectAll()
    qtbot.keyClicks(n, "1")
    qtbot.keyClick(n, Qt.Key_Return)
    assert "data.n must be ≥ 2" in panel.error.text()  # the problem shows in the panel
    assert any("data.n must be" in p.message for p in window.graph.problems)  # and in Problems
    window.undo.undo()
    assert window.graph.data == {"source": "spiral"}
    window.undo.undo()
    assert window.graph.data is None
    (tmp_path / "pts.csv").write_text("a,b,label\n0,1,0\n1,0,1\n1,1,1\n0,0,0\n")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "pts.csv"), ""))
    panel.source.setCurrentText("csv")
    panel.source.activated.emit(panel.source.currentIndex())
    assert window.graph.data["path"].endswith("pts.csv") and window.graph.problems == []


def test_the_digits_preview_shows_images(window, examples_dir):
    window.open(examples_dir / "digits_convnet.json")
    panel = window.data_panel
    assert panel.source.currentText() == "digits"
    assert "(1, 8, 8), 10 classes" in panel.summary.text()
    assert "val" in panel.editors and "preprocess" in panel.editors
    # the first 16 as they look: a 4 × 4 grid of grey 8 × 8 tiles, their labels row by row
    import pyqtgraph as pg
    image = next(i for i in panel.preview.getPlotItem().items if isinstance(i, pg.ImageItem)).image
    assert image.shape == (4 * 10, 4 * 10, 3)
    assert (image[..., 0] == image[..., 1]).all() and image[1:9, 1:9].std() > 0
    y = window.graph.splits().train.y[:4]
    assert f"labelled {' '.join(map(str, y))} / " in panel.summary.text()


def test_colour_images_preview_in_colour_scaled_together():
    from gradviz.look.heat import sample_grid
    X = np.zeros((5, 3, 2, 2))
    X[:, 0] = 1.0  # red
    X[4, :, 0, 0] = -1.0  # one black pixel: the lowest value
    grid = sample_grid(X, cols=4)
    assert grid.shape == (2 * 4, 4 * 4, 3)  # 5 tiles: two rows of four, the last row's rest white
    assert tuple(grid[1, 1]) == (255, 127, 127) and tuple(grid[5, 1]) == (0, 0, 0)
    assert (grid[5:7, 5:7] == 255).all()
