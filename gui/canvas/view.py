"""The canvas view: zoom, pan, drop from the palette, drag to connect, commit moves."""

from __future__ import annotations

from PySide6.QtCore import QLineF, QPoint, QPointF, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QMouseEvent,
    QPainter,
    QPalette,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsLineItem, QGraphicsView, QWidget

from gui.canvas.layout import free_spot
from gui.canvas.node_item import HEIGHT, PORT_RADIUS, WIDTH, NodeItem
from gui.canvas.palette import KIND_MIME
from gui.canvas.scene import CanvasScene
from gui.edits import EditError
from gui.kinds import KINDS

MIN_ZOOM, MAX_ZOOM = 0.2, 4.0


class CanvasView(QGraphicsView):
    """Shift-drag from a node (or drag from its port) to another node adds a call; onto a
    broker, a publish to its first queue."""

    message = Signal(str)

    def __init__(self, scene: CanvasScene, parent: QWidget | None = None):
        super().__init__(scene, parent)
        self.canvas = scene
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setAcceptDrops(True)
        self.setSceneRect(-2000, -2000, 6000, 5000)
        self._connect_from: NodeItem | None = None
        self._rubber_line: QGraphicsLineItem | None = None
        self._pan_from: QPoint | None = None
        self._pressed_at: dict[str, QPointF] = {}

    # -- zoom and pan --------------------------------------------------------------------

    def zoom_by(self, factor: float) -> None:
        current = self.transform().m11()
        factor = max(MIN_ZOOM / current, min(MAX_ZOOM / current, factor))
        self.scale(factor, factor)

    def zoom(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        rect = self.canvas.itemsBoundingRect()
        if rect.isEmpty():
            return
        self.fitInView(rect.adjusted(-40, -40, 40, 40), Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.25:
            self.resetTransform()
            self.scale(1.25, 1.25)
            self.centerOn(rect.center())

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(1.15**steps)
        event.accept()

    # -- mouse: connect, pan, commit moves -----------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        node = self._node_at(event.position().toPoint())
        if node is not None and event.button() == Qt.MouseButton.LeftButton:
            local = node.mapFromScene(self.mapToScene(event.position().toPoint()))
            shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            if shift or node.on_port(local):
                self._start_connect(node)
                return
        self._pressed_at = {name: item.pos() for name, item in self.canvas.nodes.items()}
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position().toPoint() - self._pan_from
            self._pan_from = event.position().toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            return
        if self._rubber_line is not None and self._connect_from is not None:
            end = self.mapToScene(event.position().toPoint())
            self._rubber_line.setLine(QLineF(self._connect_from.center(), end))
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            return
        if self._connect_from is not None:
            self._finish_connect(self._node_at(event.position().toPoint()))
            return
        super().mouseReleaseEvent(event)
        self._commit_moves()

    def _node_at(self, pos: QPoint) -> NodeItem | None:
        for item in self.items(pos):
            if isinstance(item, NodeItem):
                return item
        return None

    def _start_connect(self, node: NodeItem) -> None:
        self._connect_from = node
        pen = QPen(self.palette().color(QPalette.ColorRole.Highlight), 2, Qt.PenStyle.DashLine)
        self._rubber_line = self.canvas.addLine(QLineF(node.center(), node.center()), pen)

    def _finish_connect(self, target: NodeItem | None) -> None:
        source = self._connect_from
        self._connect_from = None
        if self._rubber_line is not None:
            self.canvas.removeItem(self._rubber_line)
            self._rubber_line = None
        if source is None or target is None or target is source:
            return
        self.connect_nodes(source.name, target.name)

    def connect_nodes(self, source: str, target: str) -> bool:
        """Add a call (a publish, onto a broker) unless it could never run; say why if not."""
        document = self.canvas.document
        nodes = document.scenario.nodes
        source_kind, target_kind = nodes[source].kind, nodes[target].kind
        if not KINDS[source_kind].sends:
            self.message.emit(_SENDS_NOTHING.get(source_kind, f"{source} sends nothing"))
            return False
        accepts = KINDS[target_kind].accepts
        if not accepts:
            self.message.emit(f"{target} is a {KINDS[target_kind].label.lower()}: "
                              + _TAKES_NOTHING.get(target_kind, "it takes no calls"))  # fmt: skip
            return False
        try:
            if accepts == "publish":
                document.add_publish(source, target)
            else:
                document.add_call(source, target)
        except EditError as exc:
            self.message.emit(exc.message)
            return False
        if accepts == "publish":
            queue = document.scenario.nodes[source].publishes[-1].queue
            self.message.emit(f"Added publish {source} → {target}, queue {queue}")
        else:
            self.message.emit(f"Added call {source} → {target}")
        return True

    def _commit_moves(self) -> None:
        """One undoable move for everything dragged since the press."""
        before, self._pressed_at = self._pressed_at, {}
        moved = {
            name: (item.pos().x(), item.pos().y())
            for name, item in self.canvas.nodes.items()
            if name in before and item.pos() != before[name]
        }
        if moved:
            self.canvas.document.move_nodes(moved)

    # -- drop from the palette -----------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(KIND_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(KIND_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        if not event.mimeData().hasFormat(KIND_MIME):
            super().dropEvent(event)
            return
        kind = bytes(event.mimeData().data(KIND_MIME).data()).decode()
        self.add_node_at(kind, self.mapToScene(event.position().toPoint()))
        event.acceptProposedAction()

    def add_node_at(self, kind: str, center: QPointF | None = None) -> str | None:
        """Add a node centred on ``center`` (default: a free spot nearest the middle of the
        view) and select it.

        A relay or consumer takes the selected database or broker if there is one. A kind
        that cannot be valid yet (a consumer with no broker to read) is not added: the
        status bar says what to add first, and None is returned.
        """
        free = center is None
        if center is None:
            center = self.mapToScene(self.viewport().rect().center())
        pos = (center.x() - WIDTH / 2, center.y() - HEIGHT / 2)
        if free:
            taken = [(item.pos().x(), item.pos().y()) for item in self.canvas.nodes.values()]
            seen = self.mapToScene(self.viewport().rect()).boundingRect().adjusted(10, 10, -10, -10)
            bounds = (seen.left(), seen.top(), seen.right() - PORT_RADIUS, seen.bottom())
            pos = free_spot(pos, taken, (WIDTH, HEIGHT), within=bounds)
        preferred = tuple(k[1] for k in self.canvas.selection.of("node"))
        try:
            name = self.canvas.document.add_node(kind, pos, preferred)
        except EditError as exc:
            self.message.emit(exc.message)
            return None
        self.canvas.selection.set([("node", name)])
        if free and (item := self.canvas.nodes.get(name)) is not None:
            self.ensureVisible(item, 40, 40)
        return name


_SENDS_NOTHING = {
    "broker": "A broker only holds queues: connect publishers to it and add consumers to read it",
    "relay": "A relay publishes what its database's outbox holds: choose its broker and queue "
    "in the inspector",
}
_TAKES_NOTHING = {
    "client": "clients send requests, they take none",
    "relay": "it reads a database's outbox; set outbox on a call to that database instead",
    "consumer": "it reads a broker's queue; publish to the broker instead",
}
