"""Worksheets for the window and the renderer (File > Export a worksheet, gradviz worksheet):
the engine's questions and page (``teach.worksheet``), reached from the GUI's floor that may."""
from __future__ import annotations

from gradviz_core.teach.worksheet import questions, to_html

__all__ = ["questions", "to_html"]
