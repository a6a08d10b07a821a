"""The timeline panel: a small toolbar (add a fault of a kind) above the timeline view."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QToolButton, QVBoxLayout, QWidget

from gui.document import ScenarioDocument
from gui.selection import Selection
from gui.timeline.view import TimelineView
from simulator.scenario import FAULT_KINDS, FAULT_SPECS, Scenario


def fits(scenario: Scenario, kind: str, name: str) -> bool:
    """Whether a fault of ``kind`` may target node ``name`` (its spec's ``targets``; none
    given: any node that serves requests, i.e. not a client)."""
    targets = FAULT_SPECS[kind].targets
    node_kind = scenario.nodes[name].kind
    return node_kind in targets if targets is not None else node_kind != "client"


def default_fault(document: ScenarioDocument, kind: str, preferred: str | None) -> dict | None:
    """A fault of ``kind`` on the preferred node if it fits, else on the first that does."""
    scenario = document.scenario

    names = ([preferred] if preferred in scenario.nodes else []) + list(scenario.nodes)
    target = next((n for n in names if fits(scenario, kind, n)), None)
    if target is None:
        return None
    span = scenario.duration
    return {
        "kind": kind,
        "target": target,
        "at": round(span * 0.25),
        "for": round(span * 0.15) or 1,
    }


class TimelinePanel(QWidget):
    """Add faults here; move, resize and select them in the view below."""

    message = Signal(str)
    """Something for the status bar (why a fault could not be added)."""

    def __init__(
        self, document: ScenarioDocument, selection: Selection, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.document, self.selection = document, selection
        self.view = TimelineView(document, selection)
        self.add_button = QToolButton()
        self.add_button.setText("Add fault")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        for kind in FAULT_KINDS:
            menu.addAction(kind, lambda k=kind: self.add_fault(k))
        self.add_button.setMenu(menu)
        self.status = QLabel(
            "Faults over simulated time · drag a bar to move it, its ends to resize"
        )
        bar = QHBoxLayout()
        bar.addWidget(QLabel("<b>Faults</b>"))
        bar.addWidget(self.add_button)
        bar.addWidget(self.status, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 2, 4, 2)
        column.addLayout(bar)
        column.addWidget(self.view, 1)

    def add_fault(self, kind: str) -> int | None:
        """Add a fault of ``kind`` on the selected node (or a fitting one) and select it."""
        nodes = self.selection.of("node")
        data = default_fault(self.document, kind, nodes[0][1] if nodes else None)
        if data is None:
            need = FAULT_SPECS[kind].target_text
            self.status.setText(f"A {kind} fault needs {need}: add one first")
            self.message.emit(f"A {kind} fault needs {need}: add one first")
            return None
        index = self.document.add_fault(data)
        self.selection.set([("fault", index)])
        return index
