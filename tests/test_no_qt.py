"""gradviz_core must never load Qt: importing all of it leaves Qt out of sys.modules."""
import subprocess
import sys

CODE = """
import pkgutil, importlib, sys
import gradviz_core
for m in pkgutil.walk_packages(gradviz_core.__path__, "gradviz_core."):
    importlib.import_module(m.name)
import gradviz.cli
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6", "pyqtgraph"))
print(",".join(bad))
"""


def test_importing_the_core_loads_no_qt():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_check_itself_can_see_qt():
    code = CODE.replace("import gradviz.cli", "import PySide6.QtCore")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "PySide6" in out.stdout
