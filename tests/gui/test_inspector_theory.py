"""The inspector's queueing-theory section: the prediction before a run, beside the measured
figures after it, and the assumptions that do not hold."""

from __future__ import annotations

from conftest import ROOT, settle
from PySide6.QtWidgets import QLabel

from simulator.analysis import summarize
from simulator.engine import Simulation


def _cell(window, name: str) -> str:
    label = window.inspector.widget().findChild(QLabel, name)
    return label.text() if label is not None else ""


def test_a_service_shows_erlang_c_before_and_beside_a_run(qtbot, make_window):
    window = make_window(ROOT / "scenarios" / "mmc.yaml")
    window.selection.set([("node", "server")])
    settle(qtbot, window)
    assert "M/M/c" in _cell(window, "theory:verdict")
    assert "its assumptions hold" in _cell(window, "theory:verdict")
    assert _cell(window, "theory:predicted:mean_wait") == "2.86 ms"
    assert _cell(window, "theory:predicted:wait_probability") == "45.8%"
    assert _cell(window, "theory:measured:mean_wait") == ""  # nothing run yet
    scenario = window.document.scenario.model_copy(update={"duration": 120.0})
    summary = summarize(Simulation(scenario).run_to_end())
    window.inspector.set_run(scenario, summary)
    settle(qtbot, window)
    measured = float(_cell(window, "theory:measured:mean_wait").split()[0])
    assert 2.5 < measured < 3.2
    assert _cell(window, "theory:measured:utilization").startswith(("79", "80", "81"))
    waited = float(_cell(window, "theory:measured:wait_probability").rstrip("%"))
    assert 41 < waited < 50  # Erlang C: 45.8%
    window.inspector.set_run(None, None)
    settle(qtbot, window)
    assert _cell(window, "theory:measured:mean_wait") == ""


def test_the_caveats_say_which_assumptions_do_not_hold(qtbot, make_window):
    window = make_window(ROOT / "scenarios" / "retry-storm.yaml")
    window.selection.set([("node", "inventory")])
    settle(qtbot, window)
    assert "approximate: 4 assumptions do not hold" in _cell(window, "theory:verdict")
    caveats = _cell(window, "theory:caveats")
    assert "retries" in caveats and "throttled to 30% on inventory" in caveats
    window.selection.set([("node", "users")])  # a client is no queue: no section
    settle(qtbot, window)
    assert window.inspector.widget().findChild(QLabel, "theory:verdict") is None


def test_an_overloaded_service_says_it_is_unstable(qtbot, make_window):
    window = make_window(ROOT / "scenarios" / "mm1.yaml")
    window.selection.set([("node", "server")])
    settle(qtbot, window)
    window.inspector.editor("service_time.mean").setText("20ms")
    window.inspector.editor("service_time.mean").editingFinished.emit()
    settle(qtbot, window)
    assert "unstable: the queue grows without bound" in _cell(window, "theory:verdict")


def test_a_backend_behind_a_balancer_gets_its_share(qtbot, make_window):
    window = make_window(ROOT / "scenarios" / "load-balancer.yaml")
    window.selection.set([("node", "app1")])
    settle(qtbot, window)
    assert "λ = 200/s" in _cell(window, "theory:verdict")  # 600/s over three instances
    assert _cell(window, "theory:predicted:utilization") == "25%"
    assert "round robin" in _cell(window, "theory:caveats")
