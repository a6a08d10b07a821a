"""The canvas scene: mirrors the document's nodes and edges as items, in answer to its signals.

Edges are keyed like the selection: ``("call", source, index)``,
``("publish", source, index)``, ``("relay", relay)``, ``("outbox", relay)`` and
``("consume", consumer)``. Every edge belongs to the node whose fields draw it
(``key[1]``), and is redrawn with that node's others whenever it changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject, QPointF
from PySide6.QtWidgets import QGraphicsScene

from gui.canvas.edge_item import EdgeItem
from gui.canvas.layout import default_positions
from gui.canvas.node_item import NodeItem
from gui.document import ScenarioDocument
from gui.kinds import edge_targets
from gui.selection import EDGE_KINDS, Selection


class CanvasScene(QGraphicsScene):
    """Items for the document's scenario; the selection is kept in step both ways."""

    def __init__(
        self, document: ScenarioDocument, selection: Selection, parent: QObject | None = None
    ):
        super().__init__(parent)
        self.document, self.selection = document, selection
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[tuple, EdgeItem] = {}
        self._syncing = False
        document.reset.connect(self._on_reset)
        document.node_added.connect(self._on_node_added)
        document.node_removed.connect(self._on_node_removed)
        document.node_changed.connect(self._on_node_changed)
        for signal in (
            document.call_added, document.call_removed, document.call_changed,
            document.publish_added, document.publish_removed, document.publish_changed,
        ):  # fmt: skip
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
        self.relayout_badges()

    def relayout_badges(self) -> None:
        """Place every edge's badges again, in a fixed order, each clear of the nodes and of
        the badges placed before it: a node or an edge came, went or moved."""
        edges = [self.edges[k] for k in sorted(self.edges, key=repr)]
        for edge in edges:
            edge.relayout()
        for edge in edges:
            edge.boundingRect()  # measures, in this order

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
        # Edges drawn by other nodes' fields may have been waiting for this one (an undo
        # that brings back a broker its consumers name).
        scenario = self.document.scenario
        with self._quiet():
            for other, node in scenario.nodes.items():
                if other == name or name in edge_targets(node):
                    self._sync_edges(other)
        self.relayout_badges()
        self._on_scene_selection_changed()

    def _on_node_removed(self, name: str) -> None:
        item = self.nodes.pop(name)
        with self._quiet():
            for key in [k for k, e in self.edges.items() if item in (e.source, e.target)]:
                self._remove_edge(key)
            self.removeItem(item)
        self.relayout_badges()
        self._on_scene_selection_changed()

    def _on_node_changed(self, name: str) -> None:
        """A relay's database or a consumer's broker are fields: its edges follow them."""
        with self._quiet():
            self._sync_edges(name)
        self.relayout_badges()
        self._on_scene_selection_changed()

    def _on_layout_changed(self, name: str) -> None:
        item = self.nodes.get(name)
        pos = self.document.scenario.layout.get(name)
        if item is not None and pos is not None and item.pos() != QPointF(*pos):
            item.setPos(QPointF(*pos))
        self.relayout_badges()

    def _on_calls_changed(self, name: str, index: int = 0) -> None:
        with self._quiet():
            self._sync_edges(name)
        self.relayout_badges()
        self._on_scene_selection_changed()

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Item churn caused by the document must not echo back as a selection change."""
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False

    def _remove_edge(self, key: tuple) -> None:
        edge = self.edges.pop(key)
        edge.detach()
        self.removeItem(edge)

    def _sync_edges(self, name: str) -> None:
        """Redraw every edge of ``name``: cheap, and always right after inserts and deletes."""
        selected = {k for k, e in self.edges.items() if k[1] == name and e.isSelected()}
        for key in [k for k in self.edges if k[1] == name]:
            self._remove_edge(key)
        node = self.document.scenario.nodes.get(name)
        if node is None or name not in self.nodes:
            return
        self.nodes[name].set_node(node)  # a summary may count calls (a balancer's backends)
        lanes: dict[frozenset[str], int] = {}
        for key, source, target, model in _edges_of(name, node):
            a, b = self.nodes.get(source), self.nodes.get(target)
            if a is None or b is None or a is b:
                continue
            pair = frozenset((source, target))
            lane = lanes.get(pair, 0)
            lanes[pair] = lane + 1
            edge = EdgeItem(a, b, key, model, _lane_offset(lane))
            self.addItem(edge)
            self.edges[key] = edge
            edge.setSelected(key in selected)

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
        if key[0] in EDGE_KINDS:
            return self.edges.get(key)
        return None


def _edges_of(name: str, node: Any) -> Iterator[tuple[tuple, str, str, Any]]:
    """(key, source, target, model) for every edge ``node``'s fields draw."""
    for index, call in enumerate(node.calls):
        yield ("call", name, index), name, call.to, call
    for index, publish in enumerate(node.publishes):
        yield ("publish", name, index), name, publish.to, publish
    if node.kind == "relay":
        yield ("outbox", name), name, node.database, node
        yield ("relay", name), name, node.publish.to, node.publish
    if node.kind == "consumer":
        yield ("consume", name), node.broker, name, node


def _lane_offset(lane: int) -> int:
    """0, 1, -1, 2, -2…: parallel calls fan out on both sides of the straight line."""
    return (lane + 1) // 2 * (1 if lane % 2 else -1)
