"""Compare strategies opens on a call that has the policy it varies, and warns otherwise."""

from __future__ import annotations

from conftest import ROOT

from gui.run.compare_choice import default_choice, model_at, warning
from simulator.scenario import load_scenario

RETRY_STORM = ROOT / "scenarios" / "retry-storm.yaml"


def test_compare_opens_on_the_call_with_the_retry_and_warns_on_one_without(make_window):
    """Issue 12 bug 4: it opened on users → api, which has no retry, and added one silently."""
    window = make_window(RETRY_STORM)
    window.run_session.compare_action.trigger()
    dialog = window.run_session.compare_dialog
    assert dialog.target_box.currentText() == "call api → inventory"
    assert dialog.field_box.currentText() == "retry.strategy"
    assert "no retry" not in dialog.status.text()
    dialog.target_box.setCurrentIndex(dialog.target_box.findText("call users → api"))
    dialog.field_box.setCurrentText("retry.strategy")
    assert "call users → api has no retry set" in dialog.status.text()
    dialog.field_box.setCurrentText("timeout")
    assert "no " not in dialog.status.text()
    dialog.target_box.setCurrentIndex(dialog.target_box.findText("call api → inventory"))
    dialog.field_box.setCurrentText("breaker.failure_rate")
    assert "has no breaker set" in dialog.status.text()
    dialog.close()


def test_default_choice_falls_back_to_another_policy_and_to_nothing():
    scenario = load_scenario(RETRY_STORM)
    targets = [("a", "nodes.users.calls[0]", True), ("b", "nodes.api.calls[0]", True)]
    assert default_choice(scenario, targets, ["breaker.failure_rate", "retry.attempts"]) == (
        1,
        "retry.attempts",
    )
    assert default_choice(scenario, targets[:1], ["retry.strategy"]) is None
    assert model_at(scenario, "nodes.api.calls[5]") is None
    assert warning(scenario, "x", "nodes.api.calls[0]", "retry.attempts") == ""
