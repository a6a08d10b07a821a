"""The canvas scene: mirrors the document's nodes and calls as items, in answer to its signals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QObject, QPointF
from PySide6.QtWidgets import QGraphicsScene

from gui.canvas.edge_item import EdgeItem
from gui.canvas.layout import default_positions
from gui.canvas.node_item import NodeItem
from gui.document import ScenarioDocument
from gui.selection import Selection


class CanvasScene(QGraphicsScene):
    """Items for the document's scenario; the selection is kept in step both ways."""

    def __init__(
        self, document: ScenarioDocument, selection: Selection, parent: QObject | None = None
    ):
        super().__init__(parent)
        self.document, self.selection = document, selection
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[tuple[str, int], EdgeItem] = {}
        self._syncing = False
        document.reset.connect(self._on_reset)
        document.node_added.connect(self._on_node_added)
        document.node_removed.connect(self._on_node_removed)
        document.node_changed.connect(self._on_node_changed)
        for signal in (document.call_added, document.call_removed, document.call_changed):
            signal.connect(self._on_calls_changed)
        document.layout_changed.connect(self._on_layout_changed)
        self.selectionChanged.connect(self._on_scene_selection_changed)
        selection.changed.connect(self._on_selection_changed)
        self._on_reset()

    # -- document -> items ---------------------------------------------------------------

    def _on_reset(self) -> None:
        with self._quiet():
            self.clear()
            self.nodes.clear()
            self.edges.clear()
        positions = default_positions(self.document.scenario)
        for name in self.document.scenario.nodes:
            self._add_node_item(name, positions[name])
        for name in self.document.scenario.nodes:
            self._sync_edges(name)

    def _add_node_item(self, name: str, pos: tuple[float, float]) -> None:
        item = NodeItem(name, self.document.scenario.nodes[name])
        item.setPos(QPointF(*pos))
        self.addItem(item)
        self.nodes[name] = item

    def _on_node_added(self, name: str) -> None:
        pos = (
            self.document.scenario.layout.get(name)
            or default_positions(self.document.scenario)[name]
        )
        self._add_node_item(name, pos)

    def _on_node_removed(self, name: str) -> None:
        item = self.nodes.pop(name)
        with self._quiet():
            for key in [k for k, e in self.edges.items() if item in (e.source, e.target)]:
                self._remove_edge(key)
            self.removeItem(item)
        self._on_scene_selection_changed()

    def _on_node_changed(self, name: str) -> None:
        self.nodes[name].set_node(self.document.scenario.nodes[name])

    def _on_layout_changed(self, name: str) -> None:
        item = self.nodes.get(name)
        pos = self.document.scenario.layout.get(name)
        if item is not None and pos is not None and item.pos() != QPointF(*pos):
            item.setPos(QPointF(*pos))

    def _on_calls_changed(self, name: str, index: int = 0) -> None:
        with self._quiet():
            self._sync_edges(name)
        self._on_scene_selection_changed()

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Item churn caused by the document must not echo back as a selection change."""
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False

    def _remove_edge(self, key: tuple[str, int]) -> None:
        edge = self.edges.pop(key)
        edge.detach()
        self.removeItem(edge)

    def _sync_edges(self, name: str) -> None:
        """Redraw every call of ``name``: cheap, and always right after inserts and deletes."""
        selected = {k for k, e in self.edges.items() if k[0] == name and e.isSelected()}
        for key in [k for k in self.edges if k[0] == name]:
            self._remove_edge(key)
        node = self.document.scenario.nodes.get(name)
        if node is None or name not in self.nodes:
            return
        self.nodes[name].set_node(node)  # a summary may count calls (a balancer's backends)
        lanes: dict[str, int] = {}
        for index, call in enumerate(node.calls):
            target = self.nodes.get(call.to)
            if target is None or target is self.nodes[name]:
                continue
            lane = lanes.get(call.to, 0)
            lanes[call.to] = lane + 1
            edge = EdgeItem(self.nodes[name], target, index, call, _lane_offset(lane))
            self.addItem(edge)
            self.edges[(name, index)] = edge
            edge.setSelected((name, index) in selected)

    # -- selection, both ways ------------------------------------------------------------

    def _on_scene_selection_changed(self) -> None:
        if self._syncing:
            return
        keys = [("node", i.name) for i in self.selectedItems() if isinstance(i, NodeItem)]
        keys += [i.key() for i in self.selectedItems() if isinstance(i, EdgeItem)]
        faults = self.selection.of("fault") if not keys else []
        self.selection.set(keys + faults)

    def _on_selection_changed(self) -> None:
        with self._quiet():
            wanted = set(self.selection.keys)
            for name, item in self.nodes.items():
                item.setSelected(("node", name) in wanted)
            for edge in self.edges.values():
                edge.setSelected(edge.key() in wanted)

    def item_for(self, key: tuple) -> NodeItem | EdgeItem | None:
        if key[0] == "node":
            return self.nodes.get(key[1])
        if key[0] == "call":
            return self.edges.get((key[1], key[2]))
        return None


def _lane_offset(lane: int) -> int:
    """0, 1, -1, 2, -2…: parallel calls fan out on both sides of the straight line."""
    return (lane + 1) // 2 * (1 if lane % 2 else -1)
