"""The open scenario as a Qt document: one Scenario, one undo stack, fine-grained signals.

Every change goes through a QUndoCommand pushed on ``undo_stack``; each command
holds the scenario before and after (scenarios are never mutated in place, so
keeping both is cheap and exact). When a command is done or undone the document
compares the two and emits what changed: the canvas, inspector and timeline
redraw only in answer to these signals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from gui import edits
from simulator.scenario import Scenario

SCENARIO_FIELDS = ("name", "description", "seed", "duration", "warmup", "bucket", "murphy")


class SnapshotCommand(QUndoCommand):
    """Replace the document's scenario with ``after``; undo puts ``before`` back."""

    def __init__(self, document: ScenarioDocument, before: Scenario, after: Scenario, text: str):
        super().__init__(text)
        self._document, self._before, self._after = document, before, after

    def redo(self) -> None:
        self._document._apply(self._after)

    def undo(self) -> None:
        self._document._apply(self._before)


class AddNodeCommand(SnapshotCommand):
    pass


class RemoveCommand(SnapshotCommand):
    pass


class AddCallCommand(SnapshotCommand):
    pass


class MoveNodesCommand(SnapshotCommand):
    pass


class SetFieldCommand(SnapshotCommand):
    pass


class RenameNodeCommand(SnapshotCommand):
    pass


class FaultCommand(SnapshotCommand):
    pass


class ImportCommand(SnapshotCommand):
    pass


class ScenarioDocument(QObject):
    """A Scenario being edited, and the signals that say how it changed."""

    node_added = Signal(str)
    node_removed = Signal(str)
    node_changed = Signal(str)
    call_added = Signal(str, int)
    call_removed = Signal(str, int)
    call_changed = Signal(str, int)
    publish_added = Signal(str, int)
    publish_removed = Signal(str, int)
    publish_changed = Signal(str, int)
    fault_added = Signal(int)
    fault_removed = Signal(int)
    fault_changed = Signal(int)
    deploys_changed = Signal()
    layout_changed = Signal(str)
    scenario_changed = Signal()
    reset = Signal()
    """The whole scenario was replaced (new file, open): views rebuild from scratch."""
    path_changed = Signal(object)

    def __init__(self, scenario: Scenario, path: Path | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._scenario = scenario
        self._path = path
        self._source_text: str | None = None
        self.undo_stack = QUndoStack(self)

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def source_text(self) -> str | None:
        """The text the scenario was read from or last saved as; saving edits it, so the
        file keeps its comments and layout (None for a new document)."""
        return self._source_text

    def set_source_text(self, text: str | None) -> None:
        self._source_text = text

    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    def content_signals(self) -> tuple:
        """Every signal that says the scenario's content changed (not layout or path).

        Views that simply rebuild on any change connect to these, once each.
        """
        return (
            self.reset, self.scenario_changed,
            self.node_added, self.node_removed, self.node_changed,
            self.call_added, self.call_removed, self.call_changed,
            self.publish_added, self.publish_removed, self.publish_changed,
            self.fault_added, self.fault_removed, self.fault_changed, self.deploys_changed,
        )  # fmt: skip

    def replace(
        self, scenario: Scenario, path: Path | None, source_text: str | None = None
    ) -> None:
        """Start over on another scenario (open, new): the undo history goes too.

        ``source_text`` is the text ``scenario`` was read from, if any."""
        self.undo_stack.clear()
        self._scenario = scenario
        self._source_text = source_text
        self.set_path(path)
        self.undo_stack.setClean()
        self.reset.emit()

    def set_path(self, path: Path | None) -> None:
        self._path = path
        self.path_changed.emit(path)

    # -- edits: each builds the new scenario, then pushes a command ---------------------

    def _push(self, cls: type[SnapshotCommand], after: Scenario, text: str) -> None:
        if after != self._scenario:
            self.undo_stack.push(cls(self, self._scenario, after, text))

    def import_settings(self, after: Scenario, text: str) -> None:
        """Settings read from another tool (``simulator.importers``), as one undoable edit."""
        self._push(ImportCommand, after, text)

    def add_node(self, kind: str, pos: tuple[float, float], preferred: tuple[str, ...] = ()) -> str:
        """Add a node of ``kind``; raises EditError (a relay with no database…) and adds none."""
        after, name = edits.add_node(self._scenario, kind, pos, preferred=preferred)
        self._push(AddNodeCommand, after, f"Add {name}")
        return name

    def remove(
        self,
        nodes: set[str],
        calls: set[tuple[str, int]],
        faults: set[int],
        publishes: set[tuple[str, int]] | None = None,
    ) -> set[str]:
        """Delete nodes, calls, publishes and faults in one undoable step.

        Returns the nodes removed: ``nodes`` and the relays and consumers that needed them.
        """
        after = edits.remove_faults(self._scenario, faults)
        after = edits.remove_edges(
            after,
            {c for c in calls if c[0] not in nodes},
            {p for p in publishes or set() if p[0] not in nodes},
        )
        removed = edits.dependents(after, nodes) if nodes else set()
        if nodes:
            after = edits.remove_nodes(after, nodes)
        self._push(RemoveCommand, after, "Delete")
        return removed

    def add_call(self, source: str, target: str) -> None:
        self._push(AddCallCommand, edits.add_call(self._scenario, source, target), "Connect")

    def add_publish(self, source: str, broker: str, queue: str | None = None) -> None:
        after = edits.add_publish(self._scenario, source, broker, queue)
        self._push(AddCallCommand, after, "Connect")

    def add_entry(self, path: edits.Path, field: str, stem: str) -> str:
        """A new named entry (a broker's queue) with default settings; returns its name."""
        after, key = edits.add_entry(self._scenario, path, field, stem)
        self._push(SetFieldCommand, after, f"Add {key}")
        return key

    def rename_entry(self, path: edits.Path, field: str, old: str, new: str) -> None:
        after = edits.rename_entry(self._scenario, path, field, old, new)
        self._push(SetFieldCommand, after, f"Rename {old} to {new}")

    def remove_entry(self, path: edits.Path, field: str, key: str) -> None:
        after = edits.remove_entry(self._scenario, path, field, key)
        self._push(SetFieldCommand, after, f"Remove {key}")

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        self._push(MoveNodesCommand, edits.move_nodes(self._scenario, positions), "Move")

    def set_field(self, path: edits.Path, field: str, raw: Any) -> None:
        """Set a field from typed text; raises EditError (and changes nothing) if invalid."""
        after = edits.set_field(self._scenario, path, field, raw)
        self._push(SetFieldCommand, after, f"Set {field}")

    def rename_node(self, old: str, new: str) -> None:
        after = edits.rename_node(self._scenario, old, new)
        self._push(RenameNodeCommand, after, f"Rename {old} to {new}")

    def add_fault(self, data: dict[str, Any]) -> int:
        self._push(FaultCommand, edits.add_fault(self._scenario, data), f"Add {data['kind']} fault")
        return len(self._scenario.faults) - 1

    def set_fault_window(self, index: int, at: float, for_: float | None) -> None:
        after = edits.set_fault_window(self._scenario, index, at, for_)
        self._push(FaultCommand, after, "Move fault")

    def add_deploy(self, data: dict[str, Any]) -> int:
        after = edits.add_deploy(self._scenario, data)
        self._push(FaultCommand, after, f"Add {data['strategy']} deploy")
        return len(self._scenario.deploys) - 1

    def set_deploy_at(self, index: int, at: float) -> None:
        self._push(FaultCommand, edits.set_deploy_at(self._scenario, index, at), "Move deploy")

    def remove_deploys(self, indexes: set[int]) -> None:
        self._push(FaultCommand, edits.remove_deploys(self._scenario, indexes), "Delete deploy")

    def paste(self, nodes: dict[str, Any], layout: dict[str, Any]) -> list[str]:
        after, names = edits.paste_nodes(self._scenario, nodes, layout)
        self._push(AddNodeCommand, after, "Paste")
        return names

    # -- applying a snapshot and saying what changed -------------------------------------

    def _apply(self, after: Scenario) -> None:
        before, self._scenario = self._scenario, after
        self._emit_nodes(before, after)
        self._emit_faults(before.faults, after.faults)
        if before.deploys != after.deploys:
            self.deploys_changed.emit()
        for name in after.layout:
            if before.layout.get(name) != after.layout[name]:
                self.layout_changed.emit(name)
        if any(getattr(before, f) != getattr(after, f) for f in SCENARIO_FIELDS):
            self.scenario_changed.emit()

    def _emit_nodes(self, before: Scenario, after: Scenario) -> None:
        """Removed nodes first, then added ones, then changes: edges always find both ends."""
        for name in before.nodes:
            if name not in after.nodes:
                self.node_removed.emit(name)
        for name in after.nodes:
            if name not in before.nodes:
                self.node_added.emit(name)
        calls = (self.call_added, self.call_removed, self.call_changed)
        publishes = (self.publish_added, self.publish_removed, self.publish_changed)
        for name, node in after.nodes.items():
            old = before.nodes.get(name)
            if old is None:
                self._emit_edges(calls, name, [], node.calls)
                self._emit_edges(publishes, name, [], node.publishes)
                continue
            if old is not node and _without_edges(old) != _without_edges(node):
                self.node_changed.emit(name)
            self._emit_edges(calls, name, old.calls, node.calls)
            self._emit_edges(publishes, name, old.publishes, node.publishes)

    @staticmethod
    def _emit_edges(signals: tuple, name: str, old: list, new: list) -> None:
        added, removed, changed = signals
        for i in range(len(new), len(old)):
            removed.emit(name, i)
        for i, edge in enumerate(new):
            if i >= len(old):
                added.emit(name, i)
            elif old[i] != edge:
                changed.emit(name, i)

    def _emit_faults(self, old: list, new: list) -> None:
        for i in range(len(new), len(old)):
            self.fault_removed.emit(i)
        for i, fault in enumerate(new):
            if i >= len(old):
                self.fault_added.emit(i)
            elif old[i] != fault:
                self.fault_changed.emit(i)


def _without_edges(node: Any) -> Any:
    return node.model_copy(update={"calls": [], "publishes": []})
