"""Starting the app where no window can open gives a clear message, not Qt's abort."""
import subprocess
import sys

from gradviz.app.start import display_problem


def test_no_display_is_explained(monkeypatch):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "neither DISPLAY nor WAYLAND_DISPLAY is set" in display_problem()
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_problem() is None


def test_gradviz_without_a_display_exits_2_with_the_message():
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    p = subprocess.run([sys.executable, "-m", "gradviz"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2
    assert p.stderr.startswith("gradviz: cannot open the window: no screen") and "Traceback" not in p.stderr
