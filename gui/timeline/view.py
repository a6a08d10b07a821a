"""The fault timeline: one row per target, one bar per fault, over the scenario's simulated time."""

from __future__ import annotations

import contextlib
import math

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QContextMenuEvent, QPalette, QPen, QResizeEvent
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QMenu, QWidget

from gui.document import ScenarioDocument
from gui.edits import EditError
from gui.selection import Selection
from gui.timeline.deploy_items import DeployBarItem, deploy_rows
from gui.timeline.items import FaultBarItem
from simulator.scenario_deploys import planned_end
from simulator.units import format_duration

LEFT, RIGHT, TOP, ROW = 130.0, 40.0, 24.0, 28.0


def nice_step(span: float, parts: int = 8) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``parts`` ticks."""
    raw = max(span / parts, 1e-9)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


class TimelineView(QGraphicsView):
    """Redrawn from the document's faults; dragging a bar commits one undoable change."""

    def __init__(
        self, document: ScenarioDocument, selection: Selection, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.document, self.selection = document, selection
        self.setScene(QGraphicsScene(self))
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumHeight(64)  # two rows of bars; the splitter above gives it more
        self.bars: list[FaultBarItem] = []
        self.deploy_bars: list[DeployBarItem] = []
        self.deploy_results: list[dict] | None = None  # the last run's JSON deploys
        self.context_menu_hook = None  # (menu, t) -> None: the panel adds its actions
        self._syncing = False
        self._pending = False
        for signal in (
            document.reset,
            document.scenario_changed,
            document.fault_added,
            document.fault_removed,
            document.fault_changed,
            document.node_removed,
            document.node_added,
            document.deploys_changed,
        ):
            signal.connect(self._on_faults_changed)
        selection.changed.connect(self._on_selection_changed)
        self.scene().selectionChanged.connect(self._on_scene_selection_changed)
        self.rebuild()

    def _on_faults_changed(self, *args: object) -> None:
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.rebuild)

    @property
    def rebuild_pending(self) -> bool:
        """A change has been seen and the bars not rebuilt for it yet (they will be, next tick)."""
        return self._pending

    def set_deploy_results(self, results: list[dict] | None) -> None:
        """The last run's ``deploys`` (JSON), drawn on the bars; None forgets them."""
        if results != self.deploy_results:
            self.deploy_results = results
            self._on_faults_changed()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if self.context_menu_hook is None:
            return super().contextMenuEvent(event)
        menu = QMenu(self)
        self.context_menu_hook(menu, self.t_of(self.mapToScene(event.pos()).x()))
        menu.exec(event.globalPos())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._on_faults_changed()

    # -- geometry ------------------------------------------------------------------------

    def scale_x(self) -> float:
        width = max(200.0, self.viewport().width() - LEFT - RIGHT)
        return width / max(self.document.scenario.duration, 1e-9)

    def x_of(self, t: float) -> float:
        return LEFT + t * self.scale_x()

    def t_of(self, x: float) -> float:
        duration = self.document.scenario.duration
        t = (x - LEFT) / self.scale_x()
        step = nice_step(duration, 200)
        return min(max(0.0, round(t / step) * step), duration)

    def rows(self) -> list[str]:
        """Targets in the order their first fault appears."""
        return list(dict.fromkeys(f.target for f in self.document.scenario.faults))

    # -- drawing -------------------------------------------------------------------------

    def rebuild(self) -> None:
        self._pending = False
        self._syncing = True
        scene = self.scene()
        scene.clear()
        self.bars = []
        self.deploy_bars = []
        rows = self.rows()
        deploys = deploy_rows(self.document.scenario)
        height = TOP + ROW * max(1, len(rows) + len(deploys)) + 8
        scene.setSceneRect(0, 0, max(self.viewport().width() - 2, 300), height)
        self._draw_axis(height)
        for row, target in enumerate(rows, start=len(deploys)):
            label = scene.addSimpleText(target)
            label.setBrush(self.palette().color(QPalette.ColorRole.Text))
            label.setPos(8, TOP + row * ROW + 6)
        # Deploys first: a bad_deploy fault below is a property of the version one ships.
        for row, target in enumerate(deploys):
            label = scene.addSimpleText(f"deploy {target}")
            label.setBrush(self.palette().color(QPalette.ColorRole.Text))
            label.setPos(8, TOP + row * ROW + 6)
        if not rows and not deploys:
            hint = scene.addSimpleText("No faults yet: use “Add fault” to inject one.")
            hint.setBrush(self.palette().color(QPalette.ColorRole.PlaceholderText))
            hint.setPos(LEFT, TOP + 6)
        for index, fault in enumerate(self.document.scenario.faults):
            self._add_bar(index, fault, len(deploys) + rows.index(fault.target))
        for index, deploy in enumerate(self.document.scenario.deploys):
            self._add_deploy_bar(index, deploy, deploys.index(deploy.target))
        self._syncing = False
        self._on_selection_changed()

    def _draw_axis(self, height: float) -> None:
        scene, duration = self.scene(), self.document.scenario.duration
        grid = self.palette().color(QPalette.ColorRole.Mid)
        text = self.palette().color(QPalette.ColorRole.Text)
        step = nice_step(duration)
        t = 0.0
        while t <= duration + 1e-9:
            x = self.x_of(t)
            scene.addLine(x, TOP - 4, x, height, QPen(grid, 0.5))
            label = scene.addSimpleText(format_duration(t))
            label.setBrush(text)
            label.setPos(x + 2, 2)
            t += step
        if self.document.scenario.warmup > 0:
            warm = QRectF(LEFT, TOP, self.x_of(self.document.scenario.warmup) - LEFT, height - TOP)
            shade = QColor(grid)
            shade.setAlpha(60)
            scene.addRect(warm, QPen(Qt.PenStyle.NoPen), shade).setToolTip("warm-up")

    def _add_bar(self, index: int, fault, row: int) -> None:
        at, end = fault.window(self.document.scenario.duration)
        x0, x1 = self.x_of(at), self.x_of(end)
        rect = QRectF(x0, TOP + row * ROW + 3, max(x1 - x0, 6.0), ROW - 6)
        bar = FaultBarItem(index, fault, rect, fault.for_ is None, self._on_bar_dragged)
        self.scene().addItem(bar)
        self.bars.append(bar)

    def _add_deploy_bar(self, index: int, deploy, row: int) -> None:
        x0 = self.x_of(deploy.at)
        x1 = self.x_of(min(planned_end(deploy), self.document.scenario.duration))
        rect = QRectF(x0, TOP + row * ROW + 3, max(x1 - x0, 6.0), ROW - 6)
        results = self.deploy_results
        entry = results[index] if results is not None and index < len(results) else None
        bar = DeployBarItem(index, deploy, rect, self.x_of, entry, self._on_deploy_dragged)
        self.scene().addItem(bar)
        self.deploy_bars.append(bar)

    def _on_deploy_dragged(self, index: int, x0: float) -> None:
        with contextlib.suppress(EditError):
            self.document.set_deploy_at(index, self.t_of(x0))
        self._on_faults_changed()

    # -- edits and selection -------------------------------------------------------------

    def _on_bar_dragged(self, index: int, x0: float, x1: float) -> None:
        at = self.t_of(x0)
        for_ = None if math.isinf(x1) else max(self.t_of(x1) - at, 0.0)
        with contextlib.suppress(EditError):
            self.document.set_fault_window(index, at, for_)
        self._on_faults_changed()

    def _on_scene_selection_changed(self) -> None:
        if self._syncing:
            return
        keys = [b.key() for b in [*self.bars, *self.deploy_bars] if b.isSelected()]
        if keys:
            self.selection.set(keys)
        elif self.selection.of("fault") or self.selection.of("deploy"):
            self.selection.set([k for k in self.selection.keys if k[0] not in ("fault", "deploy")])

    def _on_selection_changed(self) -> None:
        self._syncing = True
        wanted = set(self.selection.keys)
        for bar in [*self.bars, *self.deploy_bars]:
            bar.setSelected(bar.key() in wanted)
        self._syncing = False
