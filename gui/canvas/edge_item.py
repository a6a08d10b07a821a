"""An edge on the canvas: a call (solid arrow, caller to callee) or a message path (dashed).

Message paths are a publish (publisher to broker), a relay's publish (relay to
broker) and its outbox reads (relay to database), and a consumer's subscription
(broker to consumer). Each carries badges for its key policies, and the queue
it names.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPalette,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QApplication, QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from gui.canvas.badge_layout import (
    first_choice,
    flow,
    leader,
    obstacles_near,
    place_block,
    search_area,
)
from gui.canvas.node_item import LIVE_ZONE, NodeItem
from simulator.units import format_duration

BADGE_COLORS = {
    "timeout": "#5a6f8c",
    "retry": "#d9822b",
    "breaker": "#c23b3b",
    "fallback": "#2e8b57",
    "bulkhead": "#7a52b3",
    "pool": "#7a52b3",
    "throttle": "#a0522d",
    "queue": "#2b7f8e",
    "outbox": "#5f6b77",
    "hedge": "#2f7fbf",
}
ROW_WIDTH = 230.0  # badges that do not fit in a stack go in rows this wide
MESSAGE_EDGES = ("publish", "relay", "outbox", "consume")
"""Edge kinds drawn dashed: messages, not synchronous calls."""


def edge_badges(kind: str, model: Any) -> list[tuple[str, str]]:
    """The badges of an edge of ``kind`` ("call", "publish"…) drawn from ``model``: the call
    or publish, or the relay or consumer node whose fields draw the edge."""
    if kind == "outbox":
        return [("outbox", f"outbox{' (log)' if model.mode == 'log_tailing' else ''}")]
    if kind == "consume":
        return [("queue", model.queue)]
    if kind in ("publish", "relay"):
        return [("queue", model.queue), *badges(model)]
    return badges(model)


def describe(kind: str, source: str, target: str, model: Any) -> str:
    """The edge's tooltip."""
    if kind == "publish":
        return f"{source} publishes to {target}, queue {model.queue}"
    if kind == "relay":
        return f"{source} publishes the outbox rows to {target}, queue {model.queue}"
    if kind == "outbox":
        return f"{source} reads the outbox table of {target} ({model.mode.replace('_', ' ')})"
    if kind == "consume":
        return f"{target} consumes queue {model.queue} of {source}"
    return f"{source} → {target}"


def badges(call: Any) -> list[tuple[str, str]]:
    """(policy, short text) for each policy worth seeing at a glance."""
    out = []
    if call.timeout is not None:
        out.append(("timeout", f"timeout {format_duration(call.timeout)}"))
    if call.retry is not None and call.retry.strategy != "none":
        out.append(
            ("retry", f"retry {call.retry.attempts}× {call.retry.strategy.replace('_', ' ')}")
        )
    if call.breaker is not None:
        out.append(("breaker", "breaker"))
    if call.bulkhead is not None:
        out.append(("bulkhead", f"bulkhead {call.bulkhead.max_concurrent}"))
    if call.pool is not None:
        out.append(("pool", f"pool {call.pool.max_size}+{call.pool.overflow}"))
    if call.fallback is not None:
        out.append(("fallback", f"fallback {call.fallback.kind}"))
    if call.adaptive_throttling is not None:
        out.append(("throttle", "adaptive"))
    hedge = getattr(call, "hedge", None)  # a relay's publish has none
    if hedge is not None:
        after = (
            format_duration(hedge.delay)
            if hedge.delay is not None
            else f"p{hedge.percentile * 100:g}"
        )
        times = f"{hedge.max_hedges}× " if hedge.max_hedges > 1 else ""
        out.append(("hedge", f"hedge {times}{after} ≤{hedge.budget * 100:g}%"))
    return out


def _boundary(rect: QRectF, inside: QPointF, outside: QPointF) -> QPointF:
    """Where the segment from the rect's centre towards ``outside`` leaves the rect."""
    dx, dy = outside.x() - inside.x(), outside.y() - inside.y()
    if dx == 0 and dy == 0:
        return inside
    sx = (rect.width() / 2) / abs(dx) if dx else math.inf
    sy = (rect.height() / 2) / abs(dy) if dy else math.inf
    s = min(sx, sy, 1.0)
    return QPointF(inside.x() + dx * s, inside.y() + dy * s)


class EdgeItem(QGraphicsItem):
    """The edge selected by ``key`` (``("call", source, index)``, ``("publish", …)``,
    ``("consume", consumer)``…) drawn from ``model``; ``lane`` bends parallel edges apart."""

    def __init__(self, source: NodeItem, target: NodeItem, key: tuple, model: Any, lane: int = 0):
        super().__init__()
        self.source, self.target, self.lane = source, target, lane
        self._key = key
        self.kind = key[0]
        self.index = key[2] if len(key) > 2 else 0
        self.dashed = self.kind in MESSAGE_EDGES
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(2)  # badges stay readable where an arrow is short
        self._path = QPainterPath()
        self._head = QPolygonF()
        self._mid = QPointF()
        source.edges.append(self)
        target.edges.append(self)
        self.set_model(model)

    def key(self) -> tuple:
        return self._key

    def set_model(self, model: Any) -> None:
        self.badges = edge_badges(self.kind, model)
        self.setToolTip(describe(self.kind, self.source.name, self.target.name, model))
        self.adjust()

    def pen_style(self) -> Qt.PenStyle:
        return Qt.PenStyle.DashLine if self.dashed else Qt.PenStyle.SolidLine

    def detach(self) -> None:
        for node in (self.source, self.target):
            if self in node.edges:
                node.edges.remove(self)

    def adjust(self) -> None:
        self.prepareGeometryChange()
        a, b = self.source.center(), self.target.center()
        line = QLineF(a, b)
        normal = line.normalVector().unitVector()
        bend = 28.0 * self.lane
        ctrl = line.center() + QPointF(normal.dx() * bend, normal.dy() * bend)
        rect_a = QRectF(self.source.pos(), self.source.body().size())
        rect_b = QRectF(self.target.pos(), self.target.body().size())
        start = _boundary(rect_a, a, ctrl)
        end = _boundary(rect_b, b, ctrl)
        self._path = QPainterPath(start)
        self._path.quadTo(ctrl, end)
        self._mid = self._path.pointAtPercent(0.5)
        self._head = self._arrow_head(end, self._path.angleAtPercent(0.99))
        self._rects: list[tuple[QRectF, str, str]] | None = None  # measured on first use
        self._anchor = self._mid
        for child in self.childItems():  # a run's overlay places its badges along the path too
            relayout = getattr(child, "relayout", None)
            if relayout is not None:
                relayout()

    @staticmethod
    def _arrow_head(tip: QPointF, angle_deg: float) -> QPolygonF:
        angle = math.radians(angle_deg)
        size = 11.0
        back = QPointF(-math.cos(angle) * size, math.sin(angle) * size)
        side = QPointF(math.sin(angle) * size * 0.45, math.cos(angle) * size * 0.45)
        return QPolygonF([tip, tip + back + side, tip + back - side])

    def _badge_rects(self) -> list[tuple[QRectF, str, str]]:
        """Badges stacked away from the arrow, from a spot near its middle that covers no
        node's live zone and no other edge's badges (``badge_layout``).

        Cached until the next ``adjust`` or ``relayout``: the scene asks for bounds on
        every repaint.
        """
        if getattr(self, "_rects", None) is not None:
            return self._rects
        self._rects = self._measure_badges()
        return self._rects

    def badge_block(self) -> QRectF | None:
        """The rect all policy badges fit in (scene coordinates), if measured and any."""
        rects = getattr(self, "_rects", None)
        if not rects:
            return None
        block = QRectF(rects[0][0])
        for rect, _, _ in rects[1:]:
            block |= rect
        return block

    def relayout(self) -> None:
        """Forget where the badges went: the drawing around them changed."""
        self.prepareGeometryChange()
        self._rects = None

    def obstacles(self, area: QRectF, own: bool = False) -> list[QRectF]:
        """Nodes' live zones and other edges' badge blocks (this one's too if ``own``)."""
        scene = self.scene()
        if scene is None:
            return []
        # The scene's own dicts, not scene.items(): asking the index from inside a bounds
        # computation would ask this item for its bounds again.
        rects = [node.mapRectToScene(LIVE_ZONE) for node in getattr(scene, "nodes", {}).values()]
        for edge in getattr(scene, "edges", {}).values():
            block = edge.badge_block() if own or edge is not self else None
            if block is not None:
                rects.append(block.adjusted(-2, -2, 2, 2))
        return obstacles_near(area, rects)

    def _measure_badges(self) -> list[tuple[QRectF, str, str]]:
        self._anchor = self._mid
        if not self.badges:
            return []
        metrics = QFontMetricsF(self._badge_font())
        height = metrics.height() + 3
        widths = [metrics.horizontalAdvance(text) + 10 for _, text in self.badges]
        obstacles = self.obstacles(search_area(self._path))
        # A stack, the first badge nearest the arrow; where no stack fits, rows (shorter).
        total = len(widths) * height + (len(widths) - 1) * 2
        found = place_block(self._path, max(widths), total, obstacles, above=True)
        if found is not None:
            block, self._anchor = found
            upward = block.bottom() <= self._anchor.y()
            rects = []
            y = block.bottom() - height if upward else block.top()
            for (policy, text), width in zip(self.badges, widths, strict=True):
                x = block.center().x() - width / 2
                rects.append((QRectF(x, y, width, height), policy, text))
                y += -(height + 2) if upward else height + 2
            return rects
        layout = flow(widths, height, ROW_WIDTH)
        size = layout[0].united(layout[-1])
        size = QRectF(0, 0, max(r.right() for r in layout), size.bottom())
        found = place_block(self._path, size.width(), size.height(), obstacles, above=True)
        if found is None:  # a crowded drawing: overlapping beats vanishing
            block = first_choice(self._path, size.width(), size.height(), above=True)
            self._anchor = self._mid
        else:
            block, self._anchor = found
        return [
            (rect.translated(block.topLeft()), policy, text)
            for rect, (policy, text) in zip(layout, self.badges, strict=True)
        ]

    @staticmethod
    def _badge_font() -> QFont:
        font = QFont()
        font.setPointSizeF(7.5)
        return font

    def boundingRect(self) -> QRectF:
        rect = self._path.boundingRect() | self._head.boundingRect()
        for badge, _, _ in self._badge_rects():
            rect |= badge
        return rect.adjusted(-4, -4, 4, 4)

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(12)
        shape = stroker.createStroke(self._path)
        for rect, _, _ in self._badge_rects():
            shape.addRect(rect)
        return shape

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        palette = QApplication.palette()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = self.isSelected()
        color = palette.color(QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.Text)
        if not selected:
            color.setAlphaF(0.65)
        pen = QPen(color, 2.5 if selected else 1.6)
        if self.dashed:
            pen.setDashPattern([5.0, 3.0])
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        painter.setPen(QPen(color, 1.0))
        painter.setBrush(color)
        painter.drawPolygon(self._head)
        self._paint_badges(painter)

    def _paint_badges(self, painter: QPainter) -> None:
        block = self.badge_block()
        line = leader(block, self._anchor) if block is not None else None
        if line is not None:
            colour = QApplication.palette().color(QPalette.ColorRole.Text)
            colour.setAlphaF(0.45)
            painter.setPen(QPen(colour, 1, Qt.PenStyle.DotLine))
            painter.drawLine(*line)
        painter.setFont(self._badge_font())
        for rect, policy, text in self._badge_rects():
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(BADGE_COLORS[policy]))
            painter.drawRoundedRect(rect, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
