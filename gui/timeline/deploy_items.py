"""Deploys on the timeline: one bar per deploy, in a row per service, under the faults.

A bar spans the deploy from its start to its planned end (a canary's steps drawn
as rising shares, a rolling deploy's batches as segments); drag it to move the
deploy (its bad_deploy faults move with it). After a run, the bar says what
happened: a mark where it completed, or a red line where an alert rolled it back.
What is drawn is computed Qt-free in ``deploy_shapes`` so it can be tested without
painting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsSceneMouseEvent,
    QMenu,
    QStyleOptionGraphicsItem,
    QWidget,
)

from simulator.deploys import rollback_text
from simulator.scenario import Scenario
from simulator.scenario_deploys import (
    DEPLOY_STRATEGIES,
    CanaryDeploy,
    RollingDeploy,
    planned_end,
)
from simulator.units import format_duration

DEPLOY_COLOUR = "#3a86ff"


def deploy_rows(scenario: Scenario) -> list[str]:
    """The services with deploys, in the order their first deploy appears."""
    return list(dict.fromkeys(d.target for d in scenario.deploys))


def deploy_shapes(deploy: Any) -> list[tuple[float, float, float]]:
    """(start, end, share of the new version) segments of a deploy's planned traffic."""
    if isinstance(deploy, CanaryDeploy):
        out, t = [], deploy.at
        for step in deploy.steps:
            out.append((t, t + step.hold, step.share))
            t += step.hold
        return out
    if isinstance(deploy, RollingDeploy):
        batches = deploy.batches()
        return [
            (deploy.at + i * deploy.boot_time, deploy.at + (i + 1) * deploy.boot_time,
             min(1.0, (i + 1) * deploy.batch / deploy.instances))
            for i in range(batches)
        ]  # fmt: skip
    return [(deploy.at, planned_end(deploy), 1.0)]


def outcome_text(entry: dict[str, Any] | None) -> str:
    """What the run did with the deploy: 'rolled back at 90 s (error-rate on route users)'."""
    if entry is None or entry.get("started_s") is None:
        return ""
    if entry["rolled_back"]:
        alert = entry["rollback_alert"] or {}
        at = entry["started_s"] + entry["time_to_rollback_s"]
        return (
            f"rolled back at {format_duration(at)} ({alert.get('rule')} on {alert.get('target')})"
        )
    if entry["completed_s"] is not None:
        return f"completed at {format_duration(entry['completed_s'])}"
    return "still under way at the end"


def default_deploy(
    scenario: Scenario, strategy: str, at: float, preferred: list[str]
) -> dict | None:
    """A deploy of ``strategy`` on the first preferred service (else the first service), at
    ``at``, with knobs that fit in the run; None if the scenario has no service."""
    services = [n for n, node in scenario.nodes.items() if node.kind == "service"]
    target = next((n for n in preferred if n in services), services[0] if services else None)
    if target is None:
        return None
    span = max(scenario.duration - at, 1.0)
    data: dict[str, Any] = {"strategy": strategy, "target": target, "at": round(at, 3)}
    if strategy == "blue_green":
        data["keep_old"] = round(min(300.0, span * 0.3), 3)
    elif strategy == "canary":
        data["steps"] = [{"share": "5%", "hold": round(span * 0.2, 3)},
                         {"share": "25%", "hold": round(span * 0.2, 3)}]  # fmt: skip
    else:
        workers = scenario.nodes[target].workers
        data.update(instances=min(4, workers), batch=1, boot_time=round(min(10.0, span / 10), 3))
    return data


def _traffic_end(entry: dict[str, Any] | None) -> float:
    """Until when the new version took traffic in the last run (inf: no rollback seen)."""
    if entry is None or not entry.get("rolled_back") or entry.get("started_s") is None:
        return float("inf")
    return float(entry["started_s"] + entry["time_to_rollback_s"])


class DeployBarItem(QGraphicsItem):
    """Shows deploy ``index``; ``on_commit(index, x0)`` is called when a drag moved it."""

    def __init__(
        self,
        index: int,
        deploy: Any,
        rect: QRectF,
        x_of: Callable[[float], float],
        entry: dict[str, Any] | None,
        on_commit: Callable[[int, float], None],
    ):
        super().__init__()
        self.index, self.deploy, self.entry = index, deploy, entry
        self._rect, self._x_of, self._on_commit = rect, x_of, on_commit
        self._drag: tuple[float, QRectF] | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setToolTip(_describe(deploy, entry))

    def key(self) -> tuple[str, int]:
        return ("deploy", self.index)

    def rect(self) -> QRectF:
        return QRectF(self._rect)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-2, -2, 400, 2)  # the outcome's words may run past the bar

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = QColor(DEPLOY_COLOUR)
        palette = QApplication.palette()
        rect, dx = self._rect, self._rect.left() - self._x_of(self.deploy.at)
        pale = QColor(colour)
        pale.setAlpha(60)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(pale)
        painter.drawRoundedRect(rect, 4, 4)
        fill = QColor(colour)
        fill.setAlpha(130)  # the label, in the palette's text colour, stays readable on it
        painter.setBrush(fill)
        stop = _traffic_end(self.entry)
        for start, end, share in deploy_shapes(self.deploy):  # the new version's share, as height
            if start >= stop:
                break
            x0, x1 = self._x_of(start) + dx, self._x_of(min(end, stop)) + dx
            height = max(2.0, rect.height() * share)
            painter.drawRect(QRectF(x0, rect.bottom() - height, max(x1 - x0, 2.0), height))
        selected = self.isSelected()
        highlight = palette.color(QPalette.ColorRole.Highlight)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(highlight, 2.5) if selected else QPen(colour.darker(130), 1))
        painter.drawRoundedRect(rect, 4, 4)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        label = self.deploy.label()
        outcome = outcome_text(self.entry)
        text_rect = QRectF(rect.left() + 6, rect.top(), 1000, rect.height())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         label + (f" · {outcome}" if outcome else ""))  # fmt: skip
        self._paint_outcome(painter, dx)

    def _paint_outcome(self, painter: QPainter, dx: float) -> None:
        entry = self.entry
        if entry is None or entry.get("started_s") is None:
            return
        rect = self._rect
        if entry["rolled_back"]:
            x = self._x_of(entry["started_s"] + entry["time_to_rollback_s"]) + dx
            painter.setPen(QPen(QColor("#d00000"), 2.5))
        elif entry["completed_s"] is not None:
            x = self._x_of(entry["completed_s"]) + dx
            painter.setPen(QPen(QColor("#2b9348"), 2.5))
        else:
            return
        painter.drawLine(QPointF(x, rect.top() - 1), QPointF(x, rect.bottom() + 1))

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag = (event.scenePos().x(), QRectF(self._rect))
            event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag is None:
            return
        x0, start = self._drag
        self.prepareGeometryChange()
        self._rect = start.translated(event.scenePos().x() - x0, 0)
        self.update()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        drag, self._drag = self._drag, None
        super().mouseReleaseEvent(event)
        if drag is not None and self._rect != drag[1]:
            self._on_commit(self.index, self._rect.left())


def add_deploy_menu(menu: QMenu, add: Callable[[str], Any]) -> None:
    """One action per strategy: ``add(strategy)``."""
    for strategy in DEPLOY_STRATEGIES:
        menu.addAction(f"{strategy.replace('_', '-')} deploy", lambda s=strategy: add(s))


def _describe(deploy: Any, entry: dict[str, Any] | None) -> str:
    data = deploy.model_dump(mode="json", by_alias=True, exclude={"strategy"})
    lines = [f"{deploy.strategy} deploy"] + [f"{k}: {v}" for k, v in data.items()]
    if entry is not None and entry.get("started_s") is not None:
        lines.append(f"rolled back: {rollback_text(entry)}")
        lines.append(f"requests failed during the deploy: {entry['requests_failed']:,}")
    return "\n".join(lines) + "\nDrag to move; right-click the timeline to add another."
