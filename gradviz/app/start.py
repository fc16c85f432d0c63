"""Start the desktop app, with a clear message instead of Qt's abort when no screen works."""
from __future__ import annotations

import ctypes.util
import os
import sys
from pathlib import Path

XCB_PACKAGES = "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0"


def display_problem() -> str | None:
    """Why Qt could not open a window here, or None. (Qt itself aborts the process.)"""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and platform != "xcb":
        return None
    if sys.platform.startswith("linux"):
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return ("no screen: neither DISPLAY nor WAYLAND_DISPLAY is set. The command-line verbs "
                    "(gradviz step, gradcheck, train, bench) work without one.")
        missing = [lib for lib in ("xcb-cursor", "xcb-icccm", "xcb-keysyms", "xkbcommon-x11")
                   if ctypes.util.find_library(lib) is None]
        if missing and not os.environ.get("WAYLAND_DISPLAY"):
            return (f"Qt's X11 plugin needs system libraries that pip does not install ({', '.join(missing)}). "
                    f"On Debian or Ubuntu: sudo apt-get install {XCB_PACKAGES}")
    return None


def quiet_qt_messages() -> None:
    """Leave out the offscreen plugin's notes ("does not support propagateSizeHints") that mean
    nothing to a user; other Qt messages still print."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(mode, context, message) -> None:
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)
    qInstallMessageHandler(handler)


ICON = Path(__file__).resolve().parents[1] / "assets" / "gradviz.svg"


def app_icon():
    """The app's icon (gradviz/assets/gradviz.svg, shipped in the wheel)."""
    from PySide6.QtGui import QIcon
    return QIcon(str(ICON))


def run(path: str | None = None) -> int:
    problem = display_problem()
    if problem:
        print(f"gradviz: cannot open the window: {problem}", file=sys.stderr)
        return 2
    from PySide6.QtWidgets import QApplication

    from gradviz.app.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("gradviz")
    app.setWindowIcon(app_icon())
    window = MainWindow(path)
    window.show()
    return app.exec()
