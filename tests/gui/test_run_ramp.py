"""The Breaking point dialog: a tiny ramp in the background, its verdict, plot and exports."""

from __future__ import annotations

import json

from run_scenarios import tiny

from gui.plots.ramp_dialog import RampDialog

CHEAP = {"tolerance": 0.2, "curve": 1, "max_probes": 6}


def test_a_tiny_ramp_shows_the_verdict_the_probes_and_exports(qtbot, tmp_path):
    dialog = RampDialog(tiny("6s"), executor="serial", options=CHEAP)
    qtbot.addWidget(dialog)
    assert not dialog.export_button.isEnabled() and not dialog.figure_button.isEnabled()
    assert [dialog.route_box.itemText(i) for i in range(dialog.route_box.count())] == [
        "All routes",
        "route users",
    ]
    dialog.route_box.setCurrentIndex(1)
    dialog.slo_edit.setText("p99<100ms,success>99%")
    dialog.replications.setValue(2)
    with qtbot.waitSignal(dialog.done, timeout=120_000):
        dialog.run_button.click()
    assert dialog.error is None, dialog.error
    assert dialog.ramp is not None and dialog.ramp.route == "users"
    assert dialog.table.rowCount() == len(dialog.ramp.probes) >= 2
    assert "p99<100ms,success>99%" in dialog.verdict.text()
    assert dialog.results.isTabEnabled(dialog.figure_tab) and dialog.figure_canvas is not None
    labels = [ax.get_xlabel() for ax in dialog.figure_canvas.figure.axes]
    assert any("load multiplier" in label for label in labels)
    answers = iter([tmp_path / "ramp.svg", tmp_path / "ramp.png"])
    dialog.save_path = lambda *args: next(answers)
    dialog.choose_directory = lambda *args: tmp_path / "out"
    dialog.figure_button.click()
    assert (tmp_path / "ramp.svg").read_text().lstrip().startswith("<?xml")
    assert dialog.save_figure().read_bytes().startswith(b"\x89PNG")
    dialog.export_button.click()
    data = json.loads((tmp_path / "out" / "ramp.json").read_text())
    assert data["route"] == "users" and len(data["probes"]) == dialog.table.rowCount()
    assert (tmp_path / "out" / "ramp.csv").read_text().startswith("multiplier,purpose,")
    assert "Saved" in dialog.status.text()


def test_a_bad_slo_is_reported_and_nothing_runs(qtbot):
    dialog = RampDialog(tiny("6s"), executor="serial", options=CHEAP)
    qtbot.addWidget(dialog)
    dialog.slo_edit.setText("p99 below 2s")
    dialog.start()
    assert dialog.job is None and "cannot be read" in dialog.status.text()
    assert dialog.run_button.isEnabled()


def test_cancel_stops_the_search(qtbot):
    dialog = RampDialog(tiny("30s"), options={"tolerance": 0.01})  # a process pool of its own
    qtbot.addWidget(dialog)
    dialog.start()
    assert dialog.running and dialog.cancel_button.isEnabled()
    with qtbot.waitSignal(dialog.done, timeout=60_000):
        dialog.cancel()
    assert dialog.cancelled and dialog.ramp is None
    assert "Cancelled" in dialog.status.text() and dialog.run_button.isEnabled()


def test_the_run_menu_opens_the_dialog(window, qtbot):
    session = window.run_session
    assert session.ramp_action in session.menu.actions()
    session.ramp_action.trigger()
    dialog = session.ramp_dialog
    qtbot.addWidget(dialog)
    assert dialog.isVisible() and dialog.scenario.name == window.document.scenario.name
    assert dialog.route_box.count() >= 2  # all routes, then each client
