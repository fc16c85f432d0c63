"""Render the README's screenshots from the real app, offscreen: python tools/screenshots.py"""
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication  # noqa: E402

from gradviz.main_window import MainWindow  # noqa: E402


def shot(window, path: Path, select: str | None = None) -> None:
    app = QApplication.instance()
    if select:
        window.select_node(select)
    app.processEvents()
    window.view.fit()
    app.processEvents()
    window.grab().save(str(path))
    print("wrote", path)


def main() -> None:
    app = QApplication.instance() or QApplication([])
    out = ROOT / "docs"
    out.mkdir(exist_ok=True)
    w = MainWindow(str(ROOT / "examples" / "circuit_xyz.json"))
    w.resize(1280, 760)
    w.show()
    shot(w, out / "editor-circuit.png", select="q")
    w.open(ROOT / "examples" / "digits_convnet.json")
    shot(w, out / "editor-convnet.png", select="conv2")
    w.scene.set_theme("dark")
    w.open(ROOT / "examples" / "mlp_softmax.json")
    shot(w, out / "editor-dark.png", select="fc1")
    w.undo.setClean()
    app.quit()


if __name__ == "__main__":
    main()
