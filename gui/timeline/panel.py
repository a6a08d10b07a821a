"""The timeline panel: a small toolbar (add a fault of a kind) above the timeline view."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QToolButton, QVBoxLayout, QWidget

from gui.document import ScenarioDocument
from gui.selection import Selection
from gui.timeline.view import TimelineView
from simulator.scenario import FAULT_KINDS


def default_fault(document: ScenarioDocument, kind: str, preferred: str | None) -> dict | None:
    """A fault of ``kind`` on the preferred node if it fits, else on the first that does."""
    scenario = document.scenario

    def fits(name: str) -> bool:
        return (scenario.nodes[name].kind == "client") == (kind == "surge")

    names = ([preferred] if preferred in scenario.nodes else []) + list(scenario.nodes)
    target = next((n for n in names if fits(n)), None)
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
            self.status.setText(f"No node can take a {kind} fault")
            return None
        index = self.document.add_fault(data)
        self.selection.set([("fault", index)])
        return index
