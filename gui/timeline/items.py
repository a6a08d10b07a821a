"""A fault's window as a bar on the timeline: drag its body to move it, its ends to resize."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from simulator.scenario import FAULT_COLOURS

EDGE_GRIP = 6.0


class FaultBarItem(QGraphicsItem):
    """Shows fault ``index``; ``on_commit(index, x0, x1)`` is called when a drag ends."""

    def __init__(
        self,
        index: int,
        fault: Any,
        rect: QRectF,
        open_ended: bool,
        on_commit: Callable[[int, float, float], None],
    ):
        super().__init__()
        self.index, self.fault, self.open_ended = index, fault, open_ended
        self._rect, self._on_commit = rect, on_commit
        self._drag: tuple[str, float, QRectF] | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setToolTip(_describe(fault))

    def key(self) -> tuple[str, int]:
        return ("fault", self.index)

    def rect(self) -> QRectF:
        return QRectF(self._rect)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-2, -2, 2, 2)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(FAULT_COLOURS.get(self.fault.kind, "#888888"))
        selected = self.isSelected()
        highlight = QApplication.palette().color(QPalette.ColorRole.Highlight)
        painter.setPen(QPen(highlight, 2.5) if selected else QPen(color.darker(130), 1))
        painter.setBrush(color)
        painter.drawRoundedRect(self._rect, 4, 4)
        painter.setPen(QColor("white"))
        label = self.fault.label() + (" →" if self.open_ended else "")
        text_rect = self._rect.adjusted(6, 0, -4, 0)
        metrics = painter.fontMetrics()
        elided = metrics.elidedText(label, Qt.TextElideMode.ElideRight, int(text_rect.width()))
        painter.drawText(
            text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided
        )

    def _grip(self, pos: QPointF) -> str:
        if pos.x() <= self._rect.left() + EDGE_GRIP:
            return "left"
        if pos.x() >= self._rect.right() - EDGE_GRIP:
            return "right"
        return "move"

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        grip = self._grip(event.pos())
        shape = Qt.CursorShape.SizeHorCursor if grip != "move" else Qt.CursorShape.OpenHandCursor
        self.setCursor(shape)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag = (self._grip(event.pos()), event.scenePos().x(), QRectF(self._rect))
            event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag is None:
            return
        grip, x0, start = self._drag
        dx = event.scenePos().x() - x0
        self.prepareGeometryChange()
        rect = QRectF(start)
        if grip == "move":
            rect.translate(dx, 0)
        elif grip == "left":
            rect.setLeft(min(start.left() + dx, start.right() - 4))
        else:
            rect.setRight(max(start.right() + dx, start.left() + 4))
        self._rect = rect
        self.update()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        drag, self._drag = self._drag, None
        super().mouseReleaseEvent(event)
        if drag is not None and self._rect != drag[2]:
            grip = drag[0]
            self._on_commit(
                self.index,
                self._rect.left(),
                self._rect.right() if grip != "move" or not self.open_ended else float("inf"),
            )


def _describe(fault: Any) -> str:
    data = fault.model_dump(mode="json", by_alias=True, exclude={"kind"})
    lines = [f"{fault.kind} fault"] + [f"{k}: {v}" for k, v in data.items() if v is not None]
    return "\n".join(lines) + "\nDrag to move; drag an end to resize."
