"""The alert lane under the fault timeline: one bar per firing, from fired to resolved.

One row per rule and target, in the order they first fired, labelled with the
target as the fault rows are; a bar carries its rule's name, is coloured by
severity and runs on to the current time (with an arrow) while it still fires.
Drawn from the firings a run sends (live, in its snapshots; in replay, the run's
firings as they stood at the scrubbed time: ``simulator.alerting.firings_at``).
It reads the timeline view's time axis so a firing sits under the fault that caused it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QScrollArea, QToolTip, QWidget

from gui.timeline.view import LEFT, TimelineView
from simulator.alerting import describe_value, firings_at

ROW = 18.0
HEAD = 16.0  # the lane's title row
VISIBLE_ROWS = 3  # the lane scrolls past this many rows: the canvas keeps its height
VCENTER = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
SEVERITY_COLOURS = {"critical": "#d62828", "warning": "#f59f00", "info": "#4dabf7"}
"""Red pages someone, amber asks for a look, blue is for the record; all read on dark too."""


class AlertLane(QWidget):
    """The firings of the run on show, over the timeline view's axis."""

    def __init__(self, view: TimelineView, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = view
        self.firings: list[dict[str, Any]] = []
        self.now: float | None = None
        self.rows: list[tuple[str, str]] = []
        self.setMouseTracking(True)
        self.setObjectName("timeline:alerts")

    # -- model -------------------------------------------------------------------------

    def show_firings(self, firings: list[dict[str, Any]], now: float) -> None:
        """The run's firings as they stood at ``now`` (later ones are left out)."""
        shown = firings_at(firings, now)
        if shown == self.firings and now == self.now:
            return
        self.firings, self.now = shown, now
        rows = list(dict.fromkeys((f["rule"], f["target"]) for f in shown))
        if rows != self.rows:
            self.rows = rows
            self.updateGeometry()
            self.setMinimumHeight(self.sizeHint().height())
        self.update()

    def clear(self) -> None:
        self.firings, self.now, self.rows = [], None, []
        self.updateGeometry()
        self.setMinimumHeight(self.sizeHint().height())
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(300, int(HEAD + ROW * len(self.rows) + 4))

    # -- geometry ----------------------------------------------------------------------

    def x_of(self, t: float) -> float:
        """The timeline view's x of ``t``, in this widget (both start at the same left edge)."""
        return self.view.frameWidth() + self.view.x_of(t)

    def bar_rect(self, firing: dict[str, Any]) -> QRectF:
        row = self.rows.index((firing["rule"], firing["target"]))
        end = firing["resolved_s"] if firing["resolved_s"] is not None else self.now or 0.0
        x0, x1 = self.x_of(firing["fired_s"]), self.x_of(end)
        return QRectF(x0, HEAD + row * ROW + 2, max(x1 - x0, 4.0), ROW - 4)

    def firing_at(self, pos: QPointF) -> dict[str, Any] | None:
        for firing in reversed(self.firings):
            if self.bar_rect(firing).adjusted(-2, -2, 2, 2).contains(pos):
                return firing
        return None

    # -- drawing -----------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text, grid = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Mid)
        title = painter.font()
        title.setBold(True)
        painter.setFont(title)
        painter.setPen(text)
        painter.drawText(QRectF(8, 0, LEFT - 12, HEAD), Qt.AlignmentFlag.AlignVCenter, "Alerts")
        title.setBold(False)
        painter.setFont(title)
        if not self.rows:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            words = "none fired" if self.now is not None else "appear here as a run fires them"
            painter.drawText(QRectF(LEFT, 0, self.width() - LEFT, HEAD), VCENTER, words)
            return
        metrics = painter.fontMetrics()
        for row, (_rule, target) in enumerate(self.rows):
            y = HEAD + row * ROW
            painter.setPen(QPen(grid, 0.5))
            painter.drawLine(QPointF(LEFT, y + ROW), QPointF(self.width(), y + ROW))
            painter.setPen(text)
            label = metrics.elidedText(target, Qt.TextElideMode.ElideMiddle, int(LEFT - 12))
            painter.drawText(QRectF(8, y, LEFT - 12, ROW), VCENTER, label)
        for firing in self.firings:
            self._paint_bar(painter, firing)

    def _paint_bar(self, painter: QPainter, firing: dict[str, Any]) -> None:
        rect = self.bar_rect(firing)
        colour = QColor(SEVERITY_COLOURS.get(firing["severity"], "#adb5bd"))
        painter.setPen(QPen(colour.darker(140), 1))
        painter.setBrush(colour)
        painter.drawRoundedRect(rect, 3, 3)
        label = firing["rule"] + (" →" if firing["resolved_s"] is None else "")
        inside = rect.adjusted(4, 0, -3, 0)
        elided = painter.fontMetrics().elidedText(
            label, Qt.TextElideMode.ElideRight, int(inside.width())
        )
        if elided and elided != "…":
            painter.setPen(QColor("white") if firing["severity"] != "warning" else QColor("black"))
            painter.drawText(inside, VCENTER, elided)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            firing = self.firing_at(QPointF(event.pos()))
            if firing is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(event.globalPos(), describe(firing), self)
            return True
        return super().event(event)


def describe(firing: dict[str, Any]) -> str:
    """A firing in words, for its tooltip."""
    resolved = firing["resolved_s"]
    until = "still firing" if resolved is None else f"resolved at {resolved:g} s"
    value = describe_value(firing["metric"], firing["value"])
    return (
        f"{firing['rule']} ({firing['severity']}) on {firing['target']}\n"
        f"fired at {firing['fired_s']:g} s, {until}\n"
        f"{firing['metric'].replace('_', ' ')} when it fired: {value}"
    )


def alert_scroller(lane: AlertLane) -> QScrollArea:
    """The lane in a frameless scroll area a few rows high, so many alerts never push the
    canvas off the screen."""
    scroller = QScrollArea()
    scroller.setObjectName("timeline:alerts-scroller")
    scroller.setWidgetResizable(True)
    scroller.setFrameShape(QScrollArea.Shape.NoFrame)
    scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroller.setWidget(lane)
    scroller.setMaximumHeight(int(HEAD + ROW * VISIBLE_ROWS + 4))
    scroller.setMinimumHeight(int(HEAD + 4))
    return scroller
