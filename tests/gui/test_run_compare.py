"""The compare view: variants of one call's retry strategy, replicated, one line per variant."""

from __future__ import annotations

import time

from run_scenarios import tiny

from gui.plots.compare_dialog import CompareDialog


def _choose_retry_strategies(dialog: CompareDialog, values: str, replications: int) -> None:
    dialog.target_box.setCurrentIndex(dialog.target_box.findText("call api → db"))
    dialog.field_box.setCurrentText("retry.strategy")
    dialog.values_edit.setText(values)
    dialog.replications.setValue(replications)


def test_compare_draws_one_line_per_variant_and_a_row_with_cis(qtbot, tmp_path):
    dialog = CompareDialog(tiny("12s"), executor="serial")
    qtbot.addWidget(dialog)
    _choose_retry_strategies(dialog, "none, exponential, immediate", 2)
    assert not dialog.export_button.isEnabled() and not dialog.figure_button.isEnabled()
    with qtbot.waitSignal(dialog.done, timeout=60_000):
        dialog.run_button.click()
    assert dialog.error is None, dialog.error
    assert dialog.varies() == [("nodes.api.calls[0].retry.strategy",
                                ["none", "exponential", "immediate"])]  # fmt: skip
    assert dialog.lines_per_plot() == 3
    assert dialog.table.rowCount() == 3
    assert "±" in dialog.table.item(0, 1).text()
    # exports: the figure as SVG or PNG, and everything (CSV, JSON too) into a folder
    answers = iter([tmp_path / "fig.svg", tmp_path / "fig.png"])
    dialog.save_path = lambda *args: next(answers)
    dialog.choose_directory = lambda *args: tmp_path / "out"
    assert dialog.export_button.isEnabled() and dialog.figure_button.isEnabled()
    dialog.figure_button.click()
    assert (tmp_path / "fig.svg").read_text().lstrip().startswith("<?xml")
    assert dialog.save_figure().read_bytes().startswith(b"\x89PNG")
    dialog.export_button.click()
    csv = (tmp_path / "out" / "compare.csv").read_text().splitlines()
    assert csv[0].startswith("variant,replications,") and len(csv) == 4
    assert '"variants"' in (tmp_path / "out" / "compare.json").read_text()
    assert "Saved" in dialog.status.text()


def test_a_bad_value_is_reported_in_the_dialog(qtbot):
    dialog = CompareDialog(tiny("5s"), executor="serial")
    qtbot.addWidget(dialog)
    dialog.field_box.setCurrentText("workers")
    dialog.target_box.setCurrentIndex(dialog.target_box.findText("node api"))
    dialog.values_edit.setText("lots")
    with qtbot.waitSignal(dialog.done, timeout=30_000):
        dialog.start()
    assert dialog.error and "workers" in dialog.error
    assert dialog.run_button.isEnabled()


def test_cancel_stops_a_comparison_and_the_dialog_runs_another(qtbot):
    dialog = CompareDialog(tiny("60s"), executor="serial")
    qtbot.addWidget(dialog)
    _choose_retry_strategies(dialog, "none, exponential, immediate", 20)
    dialog.run_button.click()
    assert dialog.cancel_button.isEnabled() and not dialog.run_button.isEnabled()
    qtbot.wait(100)
    started = time.perf_counter()
    with qtbot.waitSignal(dialog.done, timeout=10_000):
        dialog.cancel_button.click()
    assert time.perf_counter() - started < 3  # one replication at most, not 60
    assert dialog.cancelled and dialog.comparison is None and dialog.error is None
    assert "Cancelled" in dialog.status.text() and not dialog.export_button.isEnabled()
    assert dialog.run_button.isEnabled() and not dialog.cancel_button.isEnabled()
    _choose_retry_strategies(dialog, "none, immediate", 1)
    dialog.scenario = tiny("5s")
    with qtbot.waitSignal(dialog.done, timeout=30_000):
        dialog.run_button.click()
    assert not dialog.cancelled and dialog.table.rowCount() == 2


def test_cancel_terminates_the_runs_in_a_process_pool(qtbot):
    dialog = CompareDialog(tiny("3600s"))  # the default executor: a local process pool
    qtbot.addWidget(dialog)
    _choose_retry_strategies(dialog, "none, immediate", 4)
    dialog.run_button.click()
    job = dialog.job
    qtbot.waitUntil(lambda: job._wrapped is not None, timeout=10_000)
    qtbot.wait(300)
    with qtbot.waitSignal(dialog.done, timeout=10_000):
        dialog.cancel()
    assert dialog.cancelled and not job.running and dialog.run_button.isEnabled()
