"""A node on the canvas: its kind's icon, its name, a one-line summary and a connect port."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QApplication, QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from gui import kinds
from gui.icons import kind_renderer
from gui.kinds import short_duration, summary

__all__ = [
    "HEIGHT",
    "LIVE_ZONE",
    "PORT_RADIUS",
    "STRIP",
    "WIDTH",
    "NodeItem",
    "short_duration",
    "summary",
]

if TYPE_CHECKING:
    from gui.canvas.edge_item import EdgeItem

WIDTH, HEIGHT = 172.0, 58.0
PORT_RADIUS = 7.0
STRIP = 17.0  # the live status strip a run paints under a node
CHIPS = 22.0  # the band above a node where a run paints its active faults
LIVE_ZONE = QRectF(-8, -CHIPS, WIDTH + 16, CHIPS + HEIGHT + 3 + STRIP + 4)
"""What a node occupies during a run, in its own coordinates: fault chips above, the body
and its port, the live strip below. Edge badges are laid out around it (``badge_layout``)."""


class NodeItem(QGraphicsItem):
    """Drawn from the document's node; moved by the user, committed on mouse release."""

    def __init__(self, name: str, node: Any):
        super().__init__()
        self.name = name
        self.edges: list[EdgeItem] = []
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self._hover = False
        self.set_node(node)

    def set_node(self, node: Any) -> None:
        self.kind = node.kind
        self.summary = summary(node)
        self.setToolTip(f"{self.name} ({self.kind})\n{node.description}".strip())
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(-2, -2, WIDTH + PORT_RADIUS + 4, HEIGHT + 4)

    def body(self) -> QRectF:
        return QRectF(0, 0, WIDTH, HEIGHT)

    def center(self) -> QPointF:
        return self.pos() + QPointF(WIDTH / 2, HEIGHT / 2)

    def port_center(self) -> QPointF:
        return QPointF(WIDTH, HEIGHT / 2)

    def on_port(self, local: QPointF) -> bool:
        if not self.has_port():
            return False
        delta = local - self.port_center()
        return delta.x() ** 2 + delta.y() ** 2 <= (PORT_RADIUS + 3) ** 2

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self.body(), 8, 8)
        path.addEllipse(self.port_center(), PORT_RADIUS + 3, PORT_RADIUS + 3)
        return path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        palette = QApplication.palette()
        accent = QColor(kinds.colour(self.kind))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = self.isSelected()
        border = palette.color(QPalette.ColorRole.Highlight) if selected else accent
        painter.setPen(QPen(border, 3 if selected else 1.5))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(self.body(), 8, 8)
        painter.fillRect(QRectF(0.75, 8, 5, HEIGHT - 16), accent)
        kind_renderer(self.kind).render(painter, QRectF(12, 11, 36, 36))
        self._paint_text(painter, palette)
        self._paint_port(painter, accent)

    def _paint_text(self, painter: QPainter, palette: QPalette) -> None:
        font = QFont(painter.font())
        font.setBold(True)
        font.setPointSizeF(10)
        painter.setFont(font)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        _draw_elided(painter, QRectF(56, 8, WIDTH - 62, 22), self.name)
        font.setBold(False)
        font.setPointSizeF(8.5)
        painter.setFont(font)
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        _draw_elided(painter, QRectF(56, 30, WIDTH - 62, 20), self.summary)

    def has_port(self) -> bool:
        """Brokers and relays send nothing a user draws: they have no port to drag from."""
        entry = kinds.KINDS.get(self.kind)
        return entry is None or entry.sends

    def _paint_port(self, painter: QPainter, accent: QColor) -> None:
        if not self.has_port():
            return
        if self.kind == "client" and not (self._hover or self.isSelected()):
            return
        painter.setPen(QPen(accent, 1.5))
        painter.setBrush(
            accent if self._hover else QApplication.palette().color(QPalette.ColorRole.Base)
        )
        painter.drawEllipse(self.port_center(), PORT_RADIUS - 2, PORT_RADIUS - 2)

    def hoverEnterEvent(self, event: Any) -> None:
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: Any) -> None:
        self._hover = False
        self.update()

    def hoverMoveEvent(self, event: Any) -> None:
        on_port = self.on_port(event.pos())
        self.setCursor(Qt.CursorShape.CrossCursor if on_port else Qt.CursorShape.ArrowCursor)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.adjust()
        return super().itemChange(change, value)


def _draw_elided(painter: QPainter, rect: QRectF, text: str) -> None:
    """One line of text, left-aligned, cut with an ellipsis to fit ``rect``."""
    elided = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, int(rect.width()))
    painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, elided)
