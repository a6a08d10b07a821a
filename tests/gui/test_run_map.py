"""The metastability map dialog: presets from the scenario, a tiny grid, the heat map, exports."""

from __future__ import annotations

import json

from conftest import ROOT
from PySide6.QtGui import QColor, QPalette

from gui.plots.map_dialog import MapDialog
from simulator.scenario import load_scenario
from simulator.sweep import SerialExecutor

METASTABLE = ROOT / "scenarios" / "metastable.yaml"


def _short(duration: float = 70.0):
    return load_scenario(METASTABLE).model_copy(update={"duration": duration})


def test_the_dialog_offers_presets_and_draws_the_map_with_its_boundary(qtbot, tmp_path):
    dialog = MapDialog(_short(), executor="serial")
    qtbot.addWidget(dialog)
    labels = [dialog.preset_box.itemText(i) for i in range(dialog.preset_box.count())]
    assert labels[0] == "users rate × fault 0 duration" and labels[-1].startswith("Custom")
    assert dialog.x_field.text() == "nodes.users.rate" and dialog.y_field.text() == "faults[0].for"
    assert "160/s" in dialog.x_values.text()
    assert not dialog.export_button.isEnabled() and not dialog.figure_button.isEnabled()
    dialog.x_values.setText("100/s, 160/s")
    dialog.y_values.setText("10s")
    dialog.replications.setValue(1)
    with qtbot.waitSignal(dialog.done, timeout=60_000):
        dialog.run_button.click()
    assert dialog.error is None, dialog.error
    assert dialog.map is not None and dialog.figure_canvas is not None
    assert [dialog.map.median(i, 0) is None for i in range(2)] == [False, True]
    assert "160/s: never from for=10s" in dialog.status.text()
    assert "100/s: always recovers" in dialog.status.text()
    assert "fluid preview (dashed) agrees" in dialog.status.text()
    # exports: the figure as SVG or PNG, and everything into a folder
    answers = iter([tmp_path / "map.svg", tmp_path / "map"])
    dialog.save_path = lambda *args: next(answers)
    dialog.choose_directory = lambda *args: tmp_path / "out"
    dialog.figure_button.click()
    assert (tmp_path / "map.svg").read_text().lstrip().startswith("<?xml")
    assert dialog.save_figure().read_bytes().startswith(b"\x89PNG")
    dialog.export_button.click()
    data = json.loads((tmp_path / "out" / "map.json").read_text())
    assert [c["recovery_s"] is None for c in data["cells"]] == [False, True]
    assert (tmp_path / "out" / "map.csv").read_text().count("\n") == 3
    assert "Saved" in dialog.status.text()


def test_a_bad_field_is_reported_and_cancel_stops_the_map(qtbot):
    executor = _CountingSerialExecutor()
    dialog = MapDialog(_short(), executor=executor)
    qtbot.addWidget(dialog)
    dialog.preset_box.setCurrentIndex(dialog.preset_box.count() - 1)  # custom: fields kept
    dialog.y_field.setText("nodes.nope.workers")
    with qtbot.waitSignal(dialog.done, timeout=30_000):
        dialog.start()
    assert dialog.error and "no node named 'nope'" in dialog.error
    assert dialog.run_button.isEnabled() and dialog.map is None
    dialog.preset_box.setCurrentIndex(0)
    dialog.replications.setValue(20)
    dialog.run_button.click()
    qtbot.waitUntil(lambda: executor.count >= 1, timeout=30_000)
    with qtbot.waitSignal(dialog.done, timeout=30_000):
        dialog.cancel_button.click()
        begun = executor.count
    assert executor.count <= begun + 1  # the pair under way at most, not all 400
    assert dialog.cancelled and dialog.map is None and "Cancelled" in dialog.status.text()


def test_a_scenario_without_faults_says_what_the_map_needs(qtbot):
    dialog = MapDialog(_short().model_copy(update={"faults": []}), executor="serial")
    qtbot.addWidget(dialog)
    assert not dialog.run_button.isEnabled() and "no fault" in dialog.status.text()


def test_the_run_menu_opens_the_map_on_the_open_scenario(make_window, qtbot):
    window = make_window(METASTABLE)
    session = window.run_session
    session.map_action.trigger()
    dialog = session.map_dialog
    qtbot.addWidget(dialog)
    assert dialog.isVisible() and dialog.scenario.name == window.document.scenario.name
    dialog.close()


def test_the_map_follows_a_dark_palette(qtbot):
    dialog = MapDialog(_short(), executor="serial")
    qtbot.addWidget(dialog)
    palette = dialog.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor("#202020"))
    dialog.setPalette(palette)
    dialog.x_values.setText("160/s")
    dialog.y_values.setText("2s")
    dialog.replications.setValue(1)
    with qtbot.waitSignal(dialog.done, timeout=60_000):
        dialog.run_button.click()
    assert dialog.figure_canvas is not None
    face = dialog.figure_canvas.figure.get_facecolor()
    assert sum(face[:3]) < 1.0  # a dark figure on a dark dialog


class _CountingSerialExecutor(SerialExecutor):
    def __init__(self):
        self.count = 0

    def submit(self, fn, /, *args, **kwargs):
        self.count += 1
        return super().submit(fn, *args, **kwargs)
