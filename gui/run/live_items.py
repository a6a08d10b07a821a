"""The drawing come alive: overlay items painted over the editor's node and call items.

Each overlay is a child of the item it decorates, so it moves with it and needs
nothing from the editor's classes. Overlays take no mouse buttons or hovers:
clicks go through to the node or call below, which selects it as usual.
``LiveOverlay`` maps states (from ``live_state``) onto the scene's items.
"""

from __future__ import annotations

import math
from typing import Any

import shiboken6
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from gui.canvas.badge_layout import first_choice, flow, leader, place_block, search_area
from gui.canvas.edge_item import ROW_WIDTH, EdgeItem
from gui.canvas.node_item import HEIGHT, STRIP, WIDTH, NodeItem
from gui.canvas.scene import CanvasScene
from gui.run.live_state import (
    BREAKER_COLOURS,
    HEALTH_COLOURS,
    edge_names,
    edge_tooltip,
    message_badges,
)

MAX_CHANGES = 16  # overlay changes applied per call to flush()
FAULT_RED = "#c1121f"
EJECTED_COLOUR = "#6a4c93"  # a balancer's outlier detection took this backend out
HEALTH_WORDS = {"crashed": "CRASHED", "partitioned": "PARTITIONED: black hole"}


def _font(size: float, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSizeF(size)
    font.setBold(bold)
    return font


def _fitting_font(text: str, width: float, bold: bool) -> QFont:
    """7.5 pt, or smaller (down to 6 pt) when the text would overflow its strip."""
    font = _font(7.5, bold)
    wide = QFontMetricsF(font).horizontalAdvance(text)
    if wide > width:
        font.setPointSizeF(max(6.0, 7.5 * width / wide))
    return font


def compound_text(state: dict[str, Any]) -> str:
    """The compound badge: measured now (if anything was) and the worst case."""
    now = state.get("compound_now")
    worst = f"×{state['compound_worst']} worst"
    return f"route ×{now:.1f} now / {worst}" if now is not None else f"route {worst}"


def compound_colour(severity: float) -> str:
    """Amber for a route that multiplies a little, deep red for one that multiplies tenfold;
    dark enough everywhere for white text."""
    s = max(0.0, min(1.0, severity))
    return QColor.fromHsvF((32 - 32 * s) / 360, 0.9, 0.85 - 0.2 * s).name()


def severity_colour(severity: float) -> QColor:
    """Yellow for a light touch, red for a route or node badly hit."""
    s = max(0.0, min(1.0, severity))
    return QColor.fromHsvF((50 - 50 * s) / 360, 0.85, 0.95)


class _Overlay(QGraphicsItem):
    def __init__(self, parent: QGraphicsItem):
        super().__init__(parent)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setAcceptHoverEvents(False)
        self.state: dict[str, Any] | None = None

    def set_state(self, state: dict[str, Any] | None) -> None:
        if state != self.state:
            self.prepareGeometryChange()
            self.state = state
            self.update()


class NodeLiveOverlay(_Overlay):
    """Utilisation fill, health border, queue gauge with numbers, active-fault chips, blast halo.

    Only the strip under the node answers a hover (with what its figures mean): over
    the body, the node's own tooltip shows as when editing.
    """

    def set_state(self, state: dict[str, Any] | None) -> None:
        super().set_state(state)
        self.setToolTip((state or {}).get("tooltip", ""))

    def boundingRect(self) -> QRectF:
        return QRectF(-8, -24, WIDTH + 16, HEIGHT + STRIP + 34)

    def strip_rect(self) -> QRectF:
        """The live strip (workers, queue, or a client's answered and failing share)."""
        return QRectF(4, HEIGHT + 3, WIDTH - 8, STRIP)

    def chip_rects(self) -> list[QRectF]:
        """The active-fault chips above the node."""
        return [rect for rect, _ in self.chips()]

    def chips(self) -> list[tuple[QRectF, str]]:
        """(rect, text) of each active-fault chip, right-aligned over the node; labels are cut
        short so the row never outgrows the node (``LIVE_ZONE``): no edge badge goes there."""
        labels = [f"⚡ {label}" for label in (self.state or {}).get("faults", [])]
        if not labels:
            return []
        metrics = QFontMetricsF(_font(7.5, bold=True))
        room = WIDTH + 8 - 4 * (len(labels) - 1)
        widths = [metrics.horizontalAdvance(t) + 10 for t in labels]
        if sum(widths) > room:
            share = room / len(labels)
            labels = [
                metrics.elidedText(t, Qt.TextElideMode.ElideRight, share - 10) for t in labels
            ]
            widths = [min(w, share) for w in widths]
        out, x = [], WIDTH
        for text, width in zip(reversed(labels), reversed(widths), strict=True):
            x -= width
            out.append((QRectF(x, -19, width, metrics.height() + 3), text))
            x -= 4
        return out

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        if self.state and self.state.get("health"):
            path.addRect(self.strip_rect())
        return path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        state = self.state
        if not state:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        body = QRectF(0, 0, WIDTH, HEIGHT)
        if state.get("blast") is not None:  # under the strip: the halo must not hide its text
            self._paint_blast(painter, body, state["blast"], state.get("blast_source", False))
        if state.get("health"):
            self._paint_health(painter, body, state)
        self._paint_faults(painter, state.get("faults", []))

    def _paint_health(self, painter: QPainter, body: QRectF, state: dict[str, Any]) -> None:
        health = state["health"]
        colour = QColor(HEALTH_COLOURS[health])
        outline = QPainterPath()
        outline.addRoundedRect(body, 8, 8)
        fill = QColor(colour)
        fill.setAlphaF(0.30 if health in ("crashed", "partitioned") else 0.22)
        share = 1.0 if health in ("crashed", "partitioned") else state["utilization"]
        painter.save()
        painter.setClipPath(outline)
        painter.fillRect(QRectF(0, 0, WIDTH * share, HEIGHT), fill)
        painter.restore()
        if health != "ok":
            painter.setPen(QPen(colour, 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(body.adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        strip = self.strip_rect()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.drawRoundedRect(strip, 4, 4)
        if state["queue_share"] > 0:
            gauge = QColor("#e76f51" if state["queue_share"] >= 0.8 else "#457b9d")
            gauge.setAlphaF(0.45)
            painter.setBrush(gauge)
            painter.drawRoundedRect(
                QRectF(strip.x(), strip.y(), strip.width() * state["queue_share"], STRIP), 4, 4
            )
        painter.setPen(QPen(colour.darker(130), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(strip, 4, 4)
        text = HEALTH_WORDS.get(health, state["text"])
        painter.setFont(_fitting_font(text, strip.width() - 6, bold=health != "ok"))
        painter.setPen(QColor("#212529"))
        painter.drawText(strip, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_blast(self, painter: QPainter, body: QRectF, severity: float, source: bool) -> None:
        pen = QPen(severity_colour(severity), 5)
        if source:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(body.adjusted(-5, -5, 5, 5), 11, 11)

    def _paint_faults(self, painter: QPainter, faults: list[str]) -> None:
        if not faults:
            return
        painter.setFont(_font(7.5, bold=True))
        for chip, text in self.chips():
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(FAULT_RED))
            painter.drawRoundedRect(chip, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)


class EdgeLiveOverlay(_Overlay):
    """Width by traffic, colour by the share of attempts that fail; badges for that share,
    attempts per call, the compound amplification of the routes through it and the
    breaker, and on a message edge (dashed, like the edge) its lag, lost and duplicated
    messages. The badges sit in a block placed clear of the nodes' live zones and of
    every edge's policy badges (``badge_layout``); hovering them explains each figure."""

    def __init__(self, parent: QGraphicsItem):
        super().__init__(parent)
        self._rects: list[tuple[QRectF, str, str]] = []
        self._bounds = QRectF()
        self._anchor: Any = None
        self._placed: dict[tuple[float, float], tuple[QRectF, Any]] = {}
        self.name = ""

    def set_state(self, state: dict[str, Any] | None) -> None:
        if state == self.state:
            return
        self.prepareGeometryChange()
        self.state = state
        # The scene asks for bounds far more often than states change: measure once here.
        self._rects = self._badge_rects() if state else []
        self._bounds = self._measure() if state else QRectF()
        self.setToolTip(edge_tooltip(self.name, state) if state and self._rects else "")
        self.update()

    def _edge(self) -> EdgeItem:
        return self.parentItem()  # type: ignore[return-value]

    def badges(self) -> list[tuple[str, str]]:
        state = self.state or {}
        out = []  # the line's width already says how busy it is; a number here never sits still
        if state.get("error_share", 0) >= 0.01:
            out.append((f"{state['error_share'] * 100:.0f}% of attempts fail", state["colour"]))
        if state.get("amplification", 1) >= 1.05:
            out.append((f"×{state['amplification']:.1f} attempts/call", "#d9822b"))
        if "compound_worst" in state:
            out.append((compound_text(state), compound_colour(state["compound_severity"])))
        breaker = state.get("breaker")
        if breaker:
            word = {"open": "OPEN", "half_open": "half-open"}.get(breaker, breaker)
            out.append((f"breaker {word}", BREAKER_COLOURS.get(breaker, "#6c757d")))
        if state.get("ejected"):
            word = "ejected · panic: used" if state.get("ejected_in_panic") else "EJECTED"
            out.append((word, EJECTED_COLOUR))
        return out + message_badges(state)

    def _badge_rects(self) -> list[tuple[QRectF, str, str]]:
        """The badges in rows, under the arrow's middle or at the nearest free spot; on a
        drawing too crowded for all of them, the first ones and a "+N more" (the tooltip
        has every figure)."""
        items = self.badges()
        if not items:
            return []
        for keep in range(len(items), 0, -1):
            shown = items[:keep]
            if keep < len(items):
                shown = [*shown, (f"+{len(items) - keep} more", "#6c757d")]
            placed = self._place(shown, last_resort=keep == 1)
            if placed is not None:
                return placed
        return []

    def _place(
        self, items: list[tuple[str, str]], last_resort: bool
    ) -> list[tuple[QRectF, str, str]] | None:
        metrics = QFontMetricsF(_font(7.5, bold=True))
        height = metrics.height() + 3
        layout = flow([metrics.horizontalAdvance(t) + 10 for t, _ in items], height, ROW_WIDTH)
        width = max(r.right() for r in layout)
        # Placed for a width rounded up, so that a figure ticking from 9 to 10 keeps its spot.
        size = (24.0 * math.ceil(width / 24.0), layout[-1].bottom())
        edge = self._edge()
        if size not in self._placed:
            area = search_area(edge._path)
            others = [
                block.adjusted(-2, -2, 2, 2)
                for sibling in getattr(edge.scene(), "edges", {}).values()
                if sibling is not edge
                for child in sibling.childItems()
                if isinstance(child, EdgeLiveOverlay) and (block := child.badge_block()) is not None
            ]
            obstacles = edge.obstacles(area, own=True) + [o for o in others if o.intersects(area)]
            self._placed[size] = place_block(edge._path, size[0], size[1], obstacles, above=False)
        found = self._placed[size]
        if found is None:
            if not last_resort:
                return None
            found = (first_choice(edge._path, size[0], size[1], above=False), edge._mid)
        block, self._anchor = found
        dx = block.x() + (size[0] - width) / 2
        return [
            (rect.translated(dx, block.y()), text, colour)
            for rect, (text, colour) in zip(layout, items, strict=True)
        ]

    def badge_block(self) -> QRectF | None:
        """The rect the live badges fill, if any."""
        if not self._rects:
            return None
        block = QRectF(self._rects[0][0])
        for rect, _, _ in self._rects[1:]:
            block |= rect
        return block

    def relayout(self) -> None:
        """The drawing moved: forget the spots found for the badges."""
        self._placed.clear()
        state, self.state = self.state, None
        self.set_state(state)

    def _measure(self) -> QRectF:
        edge = self._edge()
        rect = edge._path.boundingRect() | edge._head.boundingRect()
        for badge, _, _ in self._rects:
            rect |= badge
        return rect.adjusted(-8, -8, 8, 8)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        for rect, _, _ in self._rects:
            path.addRect(rect)
        return path

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        state = self.state
        if not state:
            return
        edge = self._edge()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = QColor(state["colour"])
        pen = QPen(colour, state["width"], Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        if edge.dashed:
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            width = max(float(state["width"]), 1.0)  # a dash pattern is in pen widths
            pen.setDashPattern([max(10.0 / width, 1.2), max(6.0 / width, 0.8)])
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(edge._path)
        painter.setPen(QPen(colour, 1))
        painter.setBrush(QBrush(colour))
        painter.drawPolygon(edge._head)
        block = self.badge_block()
        line = leader(block, self._anchor) if block is not None and self._anchor else None
        if line is not None:
            painter.setPen(QPen(colour, 1, Qt.PenStyle.DotLine))
            painter.drawLine(*line)
        painter.setFont(_font(7.5, bold=True))
        for rect, text, badge_colour in self._rects:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(badge_colour))
            painter.drawRoundedRect(rect, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


class LiveOverlay:
    """Puts run states (and blast-radius highlights) on a CanvasScene's items."""

    def __init__(self, scene: CanvasScene):
        self.scene = scene
        self._nodes: dict[str, NodeLiveOverlay] = {}
        self._edges: dict[tuple, EdgeLiveOverlay] = {}
        self.names: dict[tuple, str] = {}
        self.node_states: dict[str, dict[str, Any]] = {}
        self._pending: dict[Any, tuple[_Overlay, dict[str, Any] | None]] = {}

    def show(
        self,
        scenario: Any,
        nodes: dict[str, dict[str, Any]],
        edges: dict[str, dict[str, Any]],
        blast: dict[str, tuple[float, bool]] | None = None,
    ) -> None:
        """States by node name and engine edge name; ``blast``: name → (severity, is_source)."""
        self.names = edge_names(scenario)
        self.node_states = nodes
        blast = blast or {}
        self._cache_items(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        for name, item in self.scene.nodes.items():
            state = dict(nodes.get(name) or {})
            if name in blast:
                state["blast"], state["blast_source"] = blast[name]
            overlay = self._overlay(self._nodes, name, item, NodeLiveOverlay)
            self._pending[("node", name)] = (overlay, state or None)
        for key, item in self.scene.edges.items():
            edge = self.names.get(key)
            state = edges.get(edge) if edge else None
            overlay = self._overlay(self._edges, key, item, EdgeLiveOverlay)
            overlay.name = f"{item.source.name} → {item.target.name}"
            self._pending[key] = (overlay, state)
        self.flush()

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def flush(self, limit: int = MAX_CHANGES) -> None:
        """Apply up to ``limit`` changed states; the rest wait for the next call.

        Repainting is paid per changed item: on a large drawing, spreading the
        changes over a few timer ticks keeps every event-loop turn short.
        """
        changed = 0
        while self._pending and changed < limit:
            key = next(iter(self._pending))
            overlay, state = self._pending.pop(key)
            if shiboken6.isValid(overlay) and overlay.state != state:
                overlay.set_state(state)
                changed += 1

    def clear(self) -> None:
        self._pending.clear()
        for overlay in [*self._nodes.values(), *self._edges.values()]:
            if shiboken6.isValid(overlay):
                overlay.set_state(None)
        self.node_states = {}
        self._cache_items(QGraphicsItem.CacheMode.NoCache)

    def _cache_items(self, mode: QGraphicsItem.CacheMode) -> None:
        """While states stream in, the editor's items (unchanged) repaint from a pixmap."""
        for item in [*self.scene.nodes.values(), *self.scene.edges.values()]:
            if item.cacheMode() != mode:
                item.setCacheMode(mode)

    @staticmethod
    def _overlay(store: dict, key: Any, item: NodeItem | EdgeItem, cls: type[_Overlay]) -> Any:
        overlay = store.get(key)
        if overlay is None or not shiboken6.isValid(overlay) or overlay.parentItem() is not item:
            overlay = cls(item)
            store[key] = overlay
        return overlay

    def state_of(self, name: str) -> dict[str, Any] | None:
        overlay = self._nodes.get(name)
        return overlay.state if overlay is not None and shiboken6.isValid(overlay) else None

    def edge_state_of(self, key: tuple) -> dict[str, Any] | None:
        """The state shown on the edge with canvas key ``key`` (``("call", "api", 0)``…)."""
        overlay = self._edges.get(key)
        return overlay.state if overlay is not None and shiboken6.isValid(overlay) else None
