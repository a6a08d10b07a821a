"""The alert lane under the fault timeline, and the alert rules in the scenario's inspector."""

from __future__ import annotations

import pytest
from conftest import settle
from PySide6.QtCore import QPointF
from run_scenarios import tiny

from gui.run import controller as states
from gui.timeline.alert_lane import describe
from simulator.scenario import dump_scenario, load_scenario


def firing(rule: str, target: str, fired: float, resolved: float | None, **kw) -> dict:
    return {"rule": rule, "metric": kw.get("metric", "error_rate"), "target": target,
            "severity": kw.get("severity", "critical"), "fired_s": fired,
            "resolved_s": resolved, "value": kw.get("value", 0.5)}  # fmt: skip


def test_the_lane_draws_one_bar_per_firing_on_the_timelines_axis(window, qtbot):
    window.show()
    settle(qtbot, window)
    lane = window.timeline.alerts
    firings = [
        firing("error-rate", "route users", 70.0, 92.0),
        firing(
            "breaker-open",
            "call protected_api->protected_db",
            61.0,
            None,
            metric="breaker_open",
            severity="warning",
            value=1.0,
        ),
        firing("error-rate", "route users", 120.0, 125.0),
    ]
    lane.show_firings(firings, now=100.0)
    # Rows by rule and target in firing order; the third firing is after "now": not yet shown.
    assert lane.rows == [("error-rate", "route users"),
                         ("breaker-open", "call protected_api->protected_db")]  # fmt: skip
    assert len(lane.firings) == 2
    errors, breaker = lane.firings
    rect = lane.bar_rect(errors)
    view = window.timeline.view
    assert rect.left() == pytest.approx(view.frameWidth() + view.x_of(70.0))
    assert rect.right() == pytest.approx(view.frameWidth() + view.x_of(92.0))
    assert lane.bar_rect(breaker).right() == pytest.approx(view.frameWidth() + view.x_of(100.0))
    assert lane.firing_at(lane.bar_rect(breaker).center()) is breaker
    assert lane.firing_at(QPointF(5.0, 5.0)) is None
    text = describe(breaker)
    assert "breaker-open (warning) on call protected_api->protected_db" in text
    assert "still firing" in text and "opened 1 time so far" in text
    # Replay earlier: a firing resolved later shows as still firing then.
    lane.show_firings(firings, now=80.0)
    assert [f["resolved_s"] for f in lane.firings] == [None, None]
    lane.clear()
    assert lane.rows == [] and lane.firings == []


@pytest.fixture
def tiny_window(make_window, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(dump_scenario(tiny("20s")), encoding="utf-8")
    window = make_window(path)
    window.run_session.toolbar.speed_box.setCurrentIndex(3)
    return window


def test_a_run_fills_the_lane_live_and_the_replay_follows_the_scrubber(qtbot, tiny_window):
    """The tiny chain's db crashes at 8 s: its breaker opens and the breaker-open alert fires
    while the run is live; scrubbing back before it empties the lane again."""
    window = tiny_window
    session, lane = window.run_session, window.timeline.alerts
    session.toolbar.run_action.trigger()
    qtbot.waitUntil(lambda: bool(lane.firings), timeout=30_000)
    record = session.controller.record
    qtbot.waitUntil(lambda: session.controller.state == states.FINISHED, timeout=60_000)
    summary = record.summary
    assert ("breaker-open", "call api->db") in {(a["rule"], a["target"]) for a in summary["alerts"]}
    fired = min(a["fired_s"] for a in summary["alerts"])
    assert 8.0 < fired <= 11.0  # within a bucket or two of the breaker's opening
    session.scrubber.seek(fired - 1.0)
    qtbot.waitUntil(lambda: lane.firings == [], timeout=5_000)
    session.scrubber.seek(19.5)
    qtbot.waitUntil(lambda: ("breaker-open", "call api->db") in lane.rows, timeout=5_000)
    session.reset()
    assert lane.firings == []


def test_alert_rules_are_edited_in_the_scenario_inspector_and_saved(window, qtbot, tmp_path):
    window.selection.set([])
    settle(qtbot, window)
    doc = window.document
    defaults = window.inspector.editor("alerts.defaults")
    rules = window.inspector.editor("alerts.rules")
    assert defaults is not None and rules is not None
    rules.setText("[{name: nope, metric: p99_latency, target: route nobody, above: 1s}]")
    rules.editingFinished.emit()
    settle(qtbot, window)
    # Taken, as a fault on a missing node would be, and listed with the scenario's problems.
    window.problems.refresh()
    assert any("no route 'nobody'" in p.message for p in window.problems.problems)
    rules = window.inspector.editor("alerts.rules")
    rules.setText("[{name: slow, metric: p99_latency, target: route users, above: 800ms}]")
    rules.editingFinished.emit()
    (rule,) = doc.scenario.alerts.rules
    assert (rule.name, rule.target, rule.above) == ("slow", "route users", "800ms")
    path = tmp_path / "saved.yaml"
    window.files.dialogs.save_as_answer = path
    assert window.files.save_as()
    text = path.read_text(encoding="utf-8")
    assert "alerts:" in text and "above: 800ms" in text
    assert load_scenario(path).alerts == doc.scenario.alerts


def test_a_rules_window_is_offered_taken_and_saved(window, qtbot, tmp_path):
    """The rules' editor names the window field (its example and tooltip come from the
    schema), and a rule's window goes into the scenario and into the saved file."""
    window.selection.set([])
    settle(qtbot, window)
    rules = window.inspector.editor("alerts.rules")
    assert "window:" in rules.placeholderText()
    assert "window (the lookback" in rules.toolTip()
    rules.setText("[{name: error-rate, window: 1min, for: 5s}]")
    rules.editingFinished.emit()
    settle(qtbot, window)
    (rule,) = window.document.scenario.alerts.rules
    assert (rule.window, rule.for_) == (60.0, 5.0)
    path = tmp_path / "saved.yaml"
    window.files.dialogs.save_as_answer = path
    assert window.files.save_as()
    assert "window: 60s" in path.read_text(encoding="utf-8")
    assert load_scenario(path).alerts == window.document.scenario.alerts


def test_a_live_lane_keeps_firings_older_than_the_snapshots_last_few(window, qtbot):
    """A live snapshot carries only the latest firings: the lane keeps every firing it has
    seen, updates one that resolved, and starts afresh with the next run."""
    from types import SimpleNamespace

    session, lane = window.run_session, window.timeline.alerts
    record = SimpleNamespace(summary=None, latest={"alerts": [firing("a", "route x", 1.0, None)]})
    session._show_alerts(record, 5.0)
    record.latest = {"alerts": [firing("a", "route x", 1.0, 3.0), firing("b", "node y", 4.0, None)]}
    session._show_alerts(record, 5.0)
    record.latest = {"alerts": [firing("c", "node z", 6.0, None)]}  # a and b left the snapshot
    session._show_alerts(record, 7.0)
    assert [(f["rule"], f["resolved_s"]) for f in lane.firings] == [
        ("a", 3.0), ("b", None), ("c", None)
    ]  # fmt: skip
    session._show_alerts(SimpleNamespace(summary=None, latest={"alerts": []}), 1.0)
    assert lane.firings == []  # a new run
