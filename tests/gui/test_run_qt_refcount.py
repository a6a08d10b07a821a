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


def _keeps_none_alive(paint, times: int) -> bool:
    """Paint ``times`` times; False if None's reference count ran down meanwhile."""
    before = sys.getrefcount(None)
    for _ in range(times):
        paint()
    return sys.getrefcount(None) - before > -100


def test_painting_and_null_returns_keep_none_alive(qapp):
    scene = QGraphicsScene()
    item = _Item()
    scene.addItem(item)
    image = QImage(40, 40, QImage.Format.Format_ARGB32)

    def paint() -> None:
        painter = QPainter(image)
        scene.render(painter)
        painter.end()
        item.parentItem()

    assert _keeps_none_alive(paint, 300), "this PySide6 build leaks None; avoid it"


def test_painting_a_live_plot_keeps_none_alive(qapp):
    """The live plots are repainted on every refresh of a run: the same guard for them."""
    import numpy as np

    from gui.plots.live_view import PlotView
    from gui.plots.spec import PlotData, plot_spec

    t = np.arange(0.0, 60.0)
    columns = {"time_s": t, "route.users.p99_ms": 50 + t, "route.users.p50_ms": 20 + t,
               "route.users.requests": np.full(60, 10.0)}  # fmt: skip
    faults = [{"kind": "crash", "target": "db", "start_s": 10.0, "end_s": 20.0}]
    view = PlotView("latency")
    view.resize(500, 300)
    view.show_spec(plot_spec("latency", PlotData(columns, faults, 60.0, 59.0)))
    assert view.error is None
    image = QImage(500, 300, QImage.Format.Format_ARGB32)

    def paint() -> None:
        painter = QPainter(image)
        view.render(painter)
        painter.end()

    assert _keeps_none_alive(paint, 100), "this PySide6 build leaks None; avoid it"
    view.deleteLater()
