"""Guard against a Qt binding that loses references to None when painting (PySide6 6.12.0).

A live run repaints the drawing ten times a second; with such a binding None's
reference count runs down and the interpreter aborts after a minute or two.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene


class _Item(QGraphicsItem):
    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, 10, 10)

    def paint(self, painter, option, widget=None) -> None:
        pass


def test_painting_and_null_returns_keep_none_alive(qapp):
    scene = QGraphicsScene()
    item = _Item()
    scene.addItem(item)
    image = QImage(40, 40, QImage.Format.Format_ARGB32)
    before = sys.getrefcount(None)
    for _ in range(300):
        painter = QPainter(image)
        scene.render(painter)
        painter.end()
        item.parentItem()
    assert sys.getrefcount(None) - before > -100, "this PySide6 build leaks None; avoid it"
