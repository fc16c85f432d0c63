"""Plot axes as a student reads them: in the plotted quantity's own units (pyqtgraph would
otherwise rescale small numbers and write "loss (x0.001)" over ticks 100…700, so 0.7 reads as
700), and drawn from a cached pixmap until their range changes (repainting axis text is the
costliest part of a plot's frame)."""
from __future__ import annotations

from PySide6.QtWidgets import QGraphicsItem

SIDES = ("left", "bottom", "right", "top")


def readable_axes(plot) -> None:
    """``plot``: a PlotItem or a PlotWidget."""
    item = plot.getPlotItem() if hasattr(plot, "getPlotItem") else plot
    for name in SIDES:
        axis = item.getAxis(name)
        axis.enableAutoSIPrefix(False)
        axis.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
