"""Deploys in the app: added from the timeline, edited in the inspector, saved, drawn after a
run."""

from __future__ import annotations

from pathlib import Path

from conftest import settle
from PySide6.QtCore import QPointF

from gui.timeline.deploy_items import deploy_shapes, outcome_text
from simulator.analysis import summarize
from simulator.engine import Simulation
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def test_add_a_deploy_edit_it_and_save_it(make_window, qtbot, tmp_path, drag, dialogs):
    window = make_window(ROOT / "scenarios" / "mm1.yaml")
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    doc = window.document
    service = next(n for n, node in doc.scenario.nodes.items() if node.kind == "service")
    window.selection.set([("node", service)])
    index = window.timeline.add_deploy("canary")
    assert index == 0 and doc.scenario.deploys[0].target == service
    assert window.selection.keys == (("deploy", 0),)
    settle(qtbot, window)
    # The inspector edits the selected deploy like a fault.
    assert window.inspector.editor("at") is not None  # the deploy's own fields
    window.inspector.form.commit("at", "30s")
    assert doc.scenario.deploys[0].at == 30.0
    # bad_deploy is in the fault palette, and goes where the deploy is.
    fault = window.timeline.add_fault("bad_deploy")
    assert doc.scenario.faults[fault].at == 30.0
    # Drag the deploy: its bad version moves with it.
    settle(qtbot, window)
    view = window.timeline.view
    rect = view.deploy_bars[0].rect()
    view.ensureVisible(rect)
    drag(view, rect.center(), rect.center() + QPointF(20 * view.scale_x(), 0))
    moved = doc.scenario.deploys[0].at
    assert abs(moved - 50.0) < 1.01 and doc.scenario.faults[fault].at == moved
    doc.undo_stack.undo()
    assert doc.scenario.deploys[0].at == 30.0
    # Saved and read back, the deploy is the same.
    path = tmp_path / "deployed.yaml"
    dialogs.save_as_answer = path
    assert window.files.save_as()
    assert load_scenario(path).deploys == doc.scenario.deploys


def test_delete_a_deploy_takes_its_bad_version(make_window):
    window = make_window(ROOT / "scenarios" / "blue-green.yaml")
    doc = window.document
    window.selection.set([("deploy", 1)])
    window.edit_actions.delete()
    assert [d.target for d in doc.scenario.deploys] == ["api"]
    assert [f.target for f in doc.scenario.faults] == ["api"]


def test_rename_a_service_renames_its_deploys(make_window):
    window = make_window(ROOT / "scenarios" / "canary.yaml")
    window.document.rename_node("api", "checkout")
    assert window.document.scenario.deploys[0].target == "checkout"
    assert window.document.scenario.faults[0].target == "checkout"


def test_after_a_run_the_bar_says_rolled_back(make_window, qtbot):
    window = make_window(ROOT / "scenarios" / "blue-green.yaml")
    summary = summarize(Simulation(window.document.scenario).run_to_end())
    view = window.timeline.view
    view.set_deploy_results(summary["deploys"])
    settle(qtbot, window)
    first, second = view.deploy_bars
    text = outcome_text(first.entry)
    assert text.startswith("rolled back at ") and text.endswith("(error-rate on route users)")
    assert "error-rate" in first.toolTip() and "rolled back: after " in first.toolTip()
    assert outcome_text(second.entry) == "completed at 180s"
    view.set_deploy_results(None)
    settle(qtbot, window)
    assert view.deploy_bars[0].entry is None


def test_deploy_shapes_follow_the_strategy():
    canary = load_scenario(ROOT / "scenarios" / "canary.yaml").deploys[0]
    assert deploy_shapes(canary) == [(60.0, 180.0, 0.05), (180.0, 300.0, 0.25)]
