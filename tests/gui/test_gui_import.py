"""File → Import Resilience Settings…: the report before applying, one undoable edit."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT
from PySide6.QtCore import Qt

from simulator.scenario import load_scenario

DATA = ROOT / "tests" / "data" / "import"
SHOP = DATA / "shop.yaml"


def _dialog(window, qtbot):  # type: ignore[no-untyped-def]
    window.import_action.trigger()
    dialog = window.import_dialog
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    return dialog


def _choose(combo, text: str) -> None:  # type: ignore[no-untyped-def]
    """Pick an item as the user does (``activated`` follows, as after a click)."""
    index = combo.findText(text)
    assert index >= 0, f"{text!r} not offered"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_resilience4j_report_then_apply_and_undo(make_window, qtbot, dialogs):
    window = make_window(SHOP)
    before = window.document.scenario
    dialog = _dialog(window, qtbot)
    dialog.path.setText(str(DATA / "application.yml"))
    qtbot.waitUntil(lambda: dialog.name.count() == 2, timeout=5_000)
    _choose(dialog.name, "payments")
    _choose(dialog.call, "orders->payments")
    qtbot.waitUntil(lambda: dialog.apply_button.isEnabled(), timeout=5_000)
    report = dialog.report.toPlainText()
    assert "unknown fields (1):" in report and "maxWaitDurtion (line 63)" in report
    assert "not modelled" in report and "defaults used" in report
    assert window.document.scenario == before  # nothing changes before Apply
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)
    call = window.document.scenario.nodes["orders"].calls[0]
    assert call.breaker is not None and call.breaker.window == 10.0
    assert call.timeout == 2.0
    assert window.document.undo_stack.undoText().startswith("Import resilience4j settings")
    window.document.undo_stack.undo()
    assert window.document.scenario == before


def test_envoy_onto_a_call_through_a_balancer_and_errors_shown(
    make_window, qtbot, dialogs, tmp_path: Path
):  # type: ignore[no-untyped-def]
    window = make_window(SHOP)
    dialog = _dialog(window, qtbot)
    _choose(dialog.source, dialog.source.itemText(1))
    assert dialog.name_label.text() == "Cluster"
    dialog.path.setText(str(DATA / "envoy-bootstrap.yaml"))
    qtbot.waitUntil(lambda: dialog.name.count() == 2, timeout=5_000)
    _choose(dialog.call, "orders->payments")
    _choose(dialog.name, "catalog")
    qtbot.waitUntil(lambda: dialog.apply_button.isEnabled(), timeout=5_000)
    _choose(dialog.call, "orders->lb")
    _choose(dialog.name, "payments")
    qtbot.waitUntil(lambda: "retry_budget" in dialog.report.toPlainText(), timeout=5_000)
    qtbot.waitUntil(lambda: dialog.apply_button.isEnabled(), timeout=5_000)
    dialog.apply_button.click()
    lb = window.document.scenario.nodes["lb"]
    assert [c.connect_timeout for c in lb.calls] == [0.25, 0.25]
    assert window.document.scenario.nodes["orders"].calls[1].retry.attempts == 4
    # a broken file: the reason is shown and nothing can be applied
    broken = tmp_path / "broken.yaml"
    broken.write_text("clusters: [\n")
    again = _dialog(window, qtbot)
    _choose(again.source, again.source.itemText(1))
    again.path.setText(str(broken))
    qtbot.waitUntil(lambda: "Cannot import" in again.report.toPlainText(), timeout=5_000)
    assert not again.apply_button.isEnabled()
    assert load_scenario(SHOP) != window.document.scenario  # the first import stayed


def test_an_instance_named_like_a_node_picks_the_call_to_it(make_window, qtbot, dialogs):
    window = make_window(SHOP)
    dialog = _dialog(window, qtbot)
    assert dialog.call.currentText() == "web->orders"  # the first call, until a file says more
    dialog.path.setText(str(DATA / "application.yml"))
    qtbot.waitUntil(lambda: dialog.name.count() == 2, timeout=5_000)
    dialog.name.setCurrentIndex(dialog.name.findText("payments"))
    assert dialog.call.currentText() == "orders->payments"
    _choose(dialog.call, "orders->lb")  # the user's choice stays
    dialog.name.setCurrentIndex(dialog.name.findText("inventory"))
    dialog.name.setCurrentIndex(dialog.name.findText("payments"))
    assert dialog.call.currentText() == "orders->lb"


def test_an_unexpected_error_is_shown_not_a_blank_report(make_window, qtbot, dialogs, monkeypatch):  # type: ignore[no-untyped-def]
    import gui.import_dialog as module

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OverflowError("Numerical result out of range")

    monkeypatch.setattr(module, "import_settings", broken)
    window = make_window(SHOP)
    dialog = _dialog(window, qtbot)
    dialog.path.setText(str(DATA / "application.yml"))
    qtbot.waitUntil(lambda: "internal error" in dialog.report.toPlainText(), timeout=5_000)
    assert "OverflowError" in dialog.report.toPlainText()
    assert not dialog.apply_button.isEnabled()
