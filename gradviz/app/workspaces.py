"""The window's docks and its four workspaces.

A workspace is what one kind of work needs around the canvas: **Build** (the bricks, the
inspector, the problems, the lesson, the data), **Step** (the stepper strip below, the values
panel in front), **Train** (the training controls, the dashboard below) and **Playground** (the
optimizer race below, in place of the dashboard). View > Build/Step/Train/Playground
(Ctrl+1…4) switches; stepping, training and a two-number graph switch by themselves. Each leaves
the canvas at least half the window's width and height, and the side panels hold at most four
tabs, never elided. The workspace and the window's geometry are remembered (settings under
``layout/``, with a version: a layout saved by another version is not restored).
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QScrollArea, QTabBar, QWidget
from shiboken6 import isValid

from gradviz.app import safety

LAYOUT_VERSION = 1
SIDE_WIDTH = 340      # the right-hand panels
PALETTE_WIDTH = 170   # the bricks
BOTTOM_SHARE = 0.4    # the most of the window's height a panel below the canvas takes


@dataclass(frozen=True)
class Workspace:
    name: str
    keys: str
    side: tuple[str, ...]          # the right-hand panels, as tabs; the first in front
    bottom: str | None             # the panel below the canvas
    tip: str


WORKSPACES = {w.name: w for w in (
    Workspace("Build", "Ctrl+1", ("Inspector", "Problems", "Lesson", "Data"), None,
              "wire bricks: the inspector, the problems, the lesson and the data beside the canvas"),
    Workspace("Step", "Ctrl+2", ("Values", "Inspector", "Lesson", "Problems"), "Stepper",
              "step the passes: the stepper below the canvas, the values panel in front"),
    Workspace("Train", "Ctrl+3", ("Training", "Data", "Lesson", "Problems"), "Dashboard",
              "train: the controls beside the canvas, the dashboard below it"),
    Workspace("Playground", "Ctrl+4", ("Lesson", "Training", "Inspector", "Problems"), "Playground",
              "race the update rules on a loss of two numbers, below the canvas"),
)}
SIDE = ("Inspector", "Problems", "Lesson", "Values", "Data", "Training")
BOTTOM = ("Stepper", "Dashboard", "Playground")


def _scrolling(widget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area


def make_docks(window, side: dict, palette) -> dict[str, QDockWidget]:
    """The bricks on the left and the side panels on the right (``side``: title -> widget;
    Values, Data and Training scroll)."""
    docks = {}
    for title, widget, area in [("Bricks", palette, Qt.LeftDockWidgetArea)] + \
            [(t, side[t], Qt.RightDockWidgetArea) for t in SIDE]:
        dock = QDockWidget(title, window)
        dock.setObjectName(title)
        dock.setWidget(_scrolling(widget) if title in ("Values", "Data", "Training") else widget)
        window.addDockWidget(area, dock)
        docks[title] = dock
    first = docks[SIDE[0]]
    for title in SIDE[1:]:
        window.tabifyDockWidget(first, docks[title])
    return docks


def add_bottom(window, title: str, dock: QDockWidget) -> None:
    """A panel below the canvas (the stepper strip, the dashboard, the playground)."""
    dock.setObjectName(title)
    window.addDockWidget(Qt.BottomDockWidgetArea, dock)
    window.docks[title] = dock
    dock.hide()


def _tabs_in_full(window) -> None:
    """Dock tabs are never elided: too many scroll instead."""
    for bar in window.findChildren(QTabBar):
        if bar.parent() is window:
            bar.setElideMode(Qt.ElideNone)
            bar.setUsesScrollButtons(True)
            bar.setExpanding(False)


def apply(window, name: str) -> None:
    """Lay the window out for one workspace."""
    ws = WORKSPACES[name]
    docks = window.docks
    window.workspace = name
    for title in SIDE:
        docks[title].setVisible(title in ws.side)
    for title in BOTTOM:
        docks[title].setVisible(title == ws.bottom)
    docks["Bricks"].show()
    docks[ws.side[0]].raise_()
    window.resizeDocks([docks["Bricks"], docks[ws.side[0]]], [PALETTE_WIDTH, SIDE_WIDTH], Qt.Horizontal)
    if ws.bottom is not None:
        bottom = docks[ws.bottom]
        want = bottom.widget().sizeHint().height() if ws.bottom == "Stepper" else \
            int(window.height() * BOTTOM_SHARE)
        window.resizeDocks([bottom], [min(want, int(window.height() * BOTTOM_SHARE))], Qt.Vertical)
    _tabs_in_full(window)
    for key, action in getattr(window, "workspace_actions", {}).items():
        action.setChecked(key == name)
    QTimer.singleShot(0, window, lambda: isValid(window) and window.view.fit())  # the graph, whole


def switch(window, name: str) -> None:
    """Another workspace, if it is not the one shown (a step, a run, a race switch by themselves)."""
    if getattr(window, "workspace", None) != name:
        apply(window, name)


def remember(window) -> None:
    s = safety.settings()
    s.setValue("layout/version", LAYOUT_VERSION)
    s.setValue("layout/workspace", window.workspace)
    s.setValue("layout/geometry", window.saveGeometry())
    s.setValue("layout/size", [window.width(), window.height()])


def restore(window) -> str:
    """The remembered geometry (if this version saved it); the workspace to start in."""
    s = safety.settings()
    if int(s.value("layout/version", 0) or 0) != LAYOUT_VERSION:
        return "Build"
    geometry = s.value("layout/geometry")
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        window.restoreGeometry(geometry)  # the place, on the screen it was on
    size = s.value("layout/size")
    if isinstance(size, (list, tuple)) and len(size) == 2:
        window.resize(int(size[0]), int(size[1]))  # the size, even where the screen clamps the geometry
    name = s.value("layout/workspace", "Build")
    return name if name in WORKSPACES else "Build"


def hide_title(dock: QDockWidget) -> None:
    dock.setTitleBarWidget(QWidget())  # a strip, not a panel
