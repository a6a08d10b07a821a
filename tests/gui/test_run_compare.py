"""The compare view: variants of one call's retry strategy, replicated, one line per variant."""

from __future__ import annotations

from run_scenarios import tiny

from gui.plots.compare_dialog import CompareDialog


def test_compare_draws_one_line_per_variant_and_a_row_with_cis(qtbot):
    dialog = CompareDialog(tiny("12s"), executor="serial")
    qtbot.addWidget(dialog)
    index = dialog.target_box.findText("call api → db")
    dialog.target_box.setCurrentIndex(index)
    dialog.field_box.setCurrentText("retry.strategy")
    dialog.values_edit.setText("none, exponential, immediate")
    dialog.replications.setValue(2)
    with qtbot.waitSignal(dialog.done, timeout=60_000):
        dialog.run_button.click()
    assert dialog.error is None, dialog.error
    assert dialog.varies() == [("nodes.api.calls[0].retry.strategy",
                                ["none", "exponential", "immediate"])]  # fmt: skip
    assert dialog.lines_per_plot() == 3
    assert dialog.table.rowCount() == 3
    assert "±" in dialog.table.item(0, 1).text()


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
