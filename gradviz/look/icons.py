"""Palette icons, drawn in code: the family's colour with the brick's symbol, so that every
brick (a new one included) has one and they scale on high-DPI screens."""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

from gradviz.look.colors import FAMILY_COLORS
from gradviz_core.model.registry import get_brick_class


@lru_cache(maxsize=None)
def brick_icon(type_name: str, size: int = 32) -> QIcon:
    cls = get_brick_class(type_name)
    icon = QIcon()
    for scale in (1, 2):  # a 2× pixmap for high-DPI screens
        pm = QPixmap(size * scale, size * scale)
        pm.setDevicePixelRatio(scale)
        pm.fill(Qt.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.Antialiasing)
        p.setBrush(QColor(FAMILY_COLORS.get(cls.family, "#888888")))
        p.setPen(Qt.NoPen)
        p.drawRoundedRect(QRectF(1, 1, size - 2, size - 2), 6, 6)
        text = cls.symbol or type_name[:2]  # declared on the brick
        font = QFont()
        font.setBold(True)
        font.setPixelSize(int(size * (0.5 if len(text) <= 2 else 0.36)))
        p.setFont(font)
        p.setPen(QColor("white"))
        p.drawText(QRectF(0, 0, size, size), Qt.AlignCenter, text)
        p.end()
        icon.addPixmap(pm)
    return icon
