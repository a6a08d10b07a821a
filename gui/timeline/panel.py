"""The timeline panel: a small toolbar (add a fault of a kind) above the timeline view."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.document import ScenarioDocument
from gui.selection import Selection
from gui.timeline.alert_lane import AlertLane, alert_scroller
from gui.timeline.deploy_items import add_deploy_menu, default_deploy
from gui.timeline.view import TimelineView
from simulator.scenario import FAULT_KINDS, FAULT_SPECS, Scenario, fault_target_problem
from simulator.topology import nothing_written_to
from simulator.units import format_duration


def fits(scenario: Scenario, kind: str, name: str) -> bool:
    """Whether a fault of ``kind`` may target node ``name``, by the rule the file's check
    uses (its spec's ``targets``; a corruption needs a writer, a leak a memory model)."""
    return fault_target_problem(scenario, kind, name) is None


def acts_on(scenario: Scenario, kind: str, name: str) -> bool:
    """Whether a fitting fault would change anything there: a full disk needs writes to it
    (a broker: any publish); ``murphy validate`` warns of one that has none."""
    return not (kind == "disk_full" and nothing_written_to(scenario, name))


FAULT_DEFAULTS: dict[str, dict[str, Any]] = {
    "latency": {"add": "1s"},
    "bad_deploy": {"error_rate": "20%"},
}
"""What a fault added from the app sets beyond its window, per kind, where the spec's own
defaults would do nothing (a latency fault's ``add 0s``, ``multiply 1``). One second more per
request is a visible slowdown next to the examples' millisecond service times. A kind not
listed starts from its spec's defaults (errors 100%, throttled to 50%, surge ×2, drop 1%);
``tests/gui/test_gui_timeline.py`` runs every kind as added and fails for one that changes
nothing, so a new kind whose defaults are inert gets an entry here."""


def selected_targets(selection: Selection, scenario: Scenario) -> list[str]:
    """The nodes a new fault should go on, best first: the selected nodes, the callee of a
    selected call or publish, the target of a selected fault."""
    names: list[str] = []
    for key in selection.keys:
        if key[0] == "node":
            names.append(key[1])
        elif key[0] in ("call", "publish") and key[1] in scenario.nodes:
            node = scenario.nodes[key[1]]
            edges = node.calls if key[0] == "call" else node.publishes
            if key[2] < len(edges):
                names.append(edges[key[2]].to)
        elif key[0] == "fault" and key[1] < len(scenario.faults):
            names.append(scenario.faults[key[1]].target)
    return [n for n in names if n in scenario.nodes]


def default_fault(
    document: ScenarioDocument, kind: str, preferred: str | list[str] | None
) -> dict | None:
    """A fault of ``kind`` on the first preferred node that fits, else on the first node that
    does, with the kind's defaults (``FAULT_DEFAULTS``)."""
    scenario = document.scenario
    wanted = [preferred] if isinstance(preferred, str) else list(preferred or [])
    names = [n for n in wanted if n in scenario.nodes] + list(scenario.nodes)
    fitting = [n for n in names if fits(scenario, kind, n)]
    # Where it acts, unless the user chose the node: a chosen node is taken as chosen.
    acting = [n for n in fitting if n in wanted or acts_on(scenario, kind, n)]
    target = next(iter(acting or fitting), None)
    if target is None:
        return None
    span = scenario.duration
    if kind == "bad_deploy":  # the version of the target's first deploy, for as long as it runs
        deploy = next(d for d in scenario.deploys if d.target == target)
        return {"kind": kind, "target": target, "at": deploy.at, **FAULT_DEFAULTS[kind]}
    return {
        "kind": kind,
        "target": target,
        "at": round(span * 0.25),
        "for": round(span * 0.15) or 1,
        **FAULT_DEFAULTS.get(kind, {}),
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
        self.deploy_button = QToolButton()
        self.deploy_button.setText("Add deploy")
        self.deploy_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        deploy_menu = QMenu(self.deploy_button)
        add_deploy_menu(deploy_menu, self.add_deploy)
        self.deploy_button.setMenu(deploy_menu)
        self.view.context_menu_hook = self._context_menu
        hint = ("Faults and deploys over simulated time · drag a bar to move it, a fault's ends "
                "to resize · right-click to add a deploy there")  # fmt: skip
        self.status = QLabel(hint)
        self.status.setToolTip(hint)
        # Cut short rather than hold the window wider than a small screen.
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("<b>Faults</b>"))
        bar.addWidget(self.add_button)
        bar.addWidget(self.deploy_button)
        bar.addWidget(self.status, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 2, 4, 2)
        column.addLayout(bar)
        column.addWidget(self.view, 1)
        self.alerts = AlertLane(self.view)
        column.addWidget(alert_scroller(self.alerts))

    def add_fault(self, kind: str) -> int | None:
        """Add a fault of ``kind`` on the selected node (or a fitting one) and select it; say
        so when the selection could not take it."""
        wanted = selected_targets(self.selection, self.document.scenario)
        data = default_fault(self.document, kind, wanted)
        need = FAULT_SPECS[kind].target_text
        if data is None:
            self._say(f"A {kind} fault needs {need}: add one first")
            return None
        index = self.document.add_fault(data)
        self.selection.set([("fault", index)])
        if wanted and data["target"] != wanted[0]:
            self._say(f"A {kind} fault needs {need}, which {wanted[0]} is not: it went on "
                      f"{data['target']} (change its target in the inspector)")  # fmt: skip
        return index

    def add_deploy(self, strategy: str, at: float | None = None) -> int | None:
        """Add a deploy of ``strategy`` on the selected service (or the first one) at ``at``
        (default: a quarter into the run) and select it."""
        scenario = self.document.scenario
        wanted = selected_targets(self.selection, scenario)
        when = round(scenario.duration * 0.25) if at is None else at
        data = default_deploy(scenario, strategy, when, wanted)
        if data is None:
            self._say("A deploy needs a service: add one first")
            return None
        index = self.document.add_deploy(data)
        self.selection.set([("deploy", index)])
        return index

    def _context_menu(self, menu: QMenu, t: float) -> None:
        sub = menu.addMenu(f"Add deploy at {format_duration(t)}")
        add_deploy_menu(sub, lambda strategy: self.add_deploy(strategy, t))

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)
