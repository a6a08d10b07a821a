"""The Tune a call dialog: a tiny search in the background, its verdict, plot, exports, Apply."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QPushButton
from run_scenarios import tiny

from gui.document import ScenarioDocument
from gui.plots.tune_dialog import TuneDialog


def _dialog(qtbot, duration: str = "6s", executor: str | None = "serial") -> TuneDialog:
    document = ScenarioDocument(tiny(duration))
    dialog = TuneDialog(document, executor=executor, call="api->db")
    qtbot.addWidget(dialog)
    return dialog


def test_a_tiny_search_shows_the_best_plots_exports_and_applies_undoably(qtbot, tmp_path):
    dialog = _dialog(qtbot, "16s")  # the database crashes at 8 s: retries only add attempts
    assert dialog.call_box.currentData() == "api->db"
    assert not dialog.export_button.isEnabled() and not dialog.apply_button.isEnabled()
    # around the call's own settings: 300 ms, 3 attempts, a rate breaker at 50%
    assert "300ms" in dialog.space_edits["timeout"].text()
    assert not dialog.space_edits["breaker.failure_rate"].isHidden()
    assert dialog.space_edits["breaker.failures"].isHidden()
    dialog.space_edits["timeout"].setText("100ms, 300ms")
    dialog.space_edits["retry.attempts"].setText("1, 3")
    dialog.space_edits["retry.budget.percent"].setText("")
    dialog.space_edits["breaker.failure_rate"].setText("")
    dialog.objective_edit.setText("attempts min")
    dialog.budget.setValue(12)
    with qtbot.waitSignal(dialog.done, timeout=120_000):
        dialog.run_button.click()
    assert dialog.error is None, dialog.error
    tuning = dialog.tuning
    assert tuning is not None and tuning.call.edge == "api->db"
    assert [d.field for d in tuning.space] == ["timeout", "retry.attempts"]
    assert dialog.table.rowCount() == len(tuning.ranking) >= 2
    assert "attempts min" in dialog.verdict.text()
    assert dialog.results.isTabEnabled(dialog.figure_tab) and dialog.figure_canvas is not None
    answers = iter([tmp_path / "tune.svg", tmp_path / "tune.png"])
    dialog.save_path = lambda *args: next(answers)
    dialog.choose_directory = lambda *args: tmp_path / "out"
    dialog.figure_button.click()
    assert (tmp_path / "tune.svg").read_text().lstrip().startswith("<?xml")
    assert dialog.save_figure().read_bytes().startswith(b"\x89PNG")
    dialog.export_button.click()
    data = json.loads((tmp_path / "out" / "tune.json").read_text())
    assert data["call"] == "api->db" and len(data["ranking"]) == dialog.table.rowCount()
    assert (tmp_path / "out" / "tune.csv").read_text().startswith("rank,index,timeout,")
    document = dialog.document
    before = document.scenario
    assert not tuning.best.baseline and tuning.best.settings["retry.attempts"] == 1
    assert dialog.apply_button.isEnabled()
    dialog.apply_button.click()
    call = document.scenario.nodes["api"].calls[0]
    best = tuning.best.settings
    assert call.timeout == best["timeout"]
    assert (call.retry.attempts if call.retry else 1) == best["retry.attempts"]
    assert document.undo_stack.count() == 1 and "Applied" in dialog.status.text()
    document.undo_stack.undo()
    assert document.scenario == before


def test_apply_refuses_when_the_call_changed_since_the_search(qtbot):
    dialog = _dialog(qtbot)
    dialog.space_edits["timeout"].setText("50ms, 300ms")
    for field in ("retry.attempts", "retry.budget.percent", "breaker.failure_rate"):
        dialog.space_edits[field].setText("")
    dialog.objective_edit.setText("p99 min")
    dialog.budget.setValue(4)
    with qtbot.waitSignal(dialog.done, timeout=120_000):
        dialog.start()
    assert dialog.tuning is not None
    dialog.document.set_field(("nodes", "api", "calls", 0), "timeout", "2s")
    assert not dialog.apply_best()
    assert "changed since the search" in dialog.status.text()


def test_bad_input_is_reported_and_nothing_runs(qtbot):
    dialog = _dialog(qtbot)
    dialog.objective_edit.setText("p99 below 2s")
    dialog.start()
    assert dialog.job is None and "objective cannot be read" in dialog.status.text()
    dialog.objective_edit.setText("success max")
    dialog.space_edits["timeout"].setText("soon")
    dialog.start()
    assert dialog.job is None and "values cannot be read" in dialog.status.text()
    assert dialog.run_button.isEnabled()


def test_cancel_stops_the_search(qtbot):
    dialog = _dialog(qtbot, "30s", executor=None)  # a process pool of its own
    dialog.budget.setValue(400)
    dialog.start()
    assert dialog.running and dialog.cancel_button.isEnabled()
    with qtbot.waitSignal(dialog.done, timeout=60_000):
        dialog.cancel()
    assert dialog.cancelled and dialog.tuning is None
    assert "Cancelled" in dialog.status.text() and dialog.run_button.isEnabled()


def test_the_run_menu_opens_the_dialog_on_the_selected_call(window, qtbot):
    session = window.run_session
    assert session.tune_action in session.menu.actions()
    scenario = window.document.scenario
    caller = next(n for n, node in scenario.nodes.items() if node.kind != "client" and node.calls)
    window.selection.set([("call", caller, 0)])
    session.tune_action.trigger()
    dialog = session.tune_dialog
    qtbot.addWidget(dialog)
    assert dialog.isVisible() and dialog.scenario.name == scenario.name
    assert dialog.call_box.currentData().startswith(f"{caller}->")


def test_the_inspector_of_a_call_opens_the_dialog_on_it(window, qtbot):
    scenario = window.document.scenario
    caller = next(n for n, node in scenario.nodes.items() if node.kind != "client" and node.calls)
    window.selection.set([("call", caller, 0)])
    qtbot.waitUntil(lambda: not window.inspector.rebuild_pending, timeout=5_000)
    button = window.inspector.widget().findChild(QPushButton, "tune-call")
    assert button is not None
    button.click()
    dialog = window.run_session.tune_dialog
    qtbot.addWidget(dialog)
    assert dialog.isVisible() and dialog.call_box.currentData().startswith(f"{caller}->")
    window.selection.set([("node", caller)])
    qtbot.waitUntil(lambda: not window.inspector.rebuild_pending, timeout=5_000)
    assert window.inspector.widget().findChild(QPushButton, "tune-call") is None
