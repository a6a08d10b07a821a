"""The contention knobs in the inspector: a database's conflict window and keys, a crowd's quota."""

from __future__ import annotations

from conftest import ROOT, settle
from PySide6.QtWidgets import QGroupBox

CONTENTION = ROOT / "scenarios" / "contention.yaml"


def show(window, qtbot, key):
    window.selection.set([key])
    settle(qtbot, window)


def _type(window, qtbot, name: str, text: str) -> None:
    editor = window.inspector.editor(name)
    editor.setText(text)
    editor.editingFinished.emit()
    settle(qtbot, window)


def test_contention_is_edited_in_the_inspector(make_window, qtbot):
    window = make_window(CONTENTION)
    doc = window.document
    show(window, qtbot, ("node", "store"))
    group = window.inspector.widget().findChild(QGroupBox, "group:contention")
    assert group is not None and group.isChecked()
    _type(window, qtbot, "contention.keys", "8")
    _type(window, qtbot, "contention.conflict_window", "50ms")
    spec = doc.scenario.nodes["store"].contention
    assert (spec.keys, spec.conflict_window) == (8, 0.05)
    _type(window, qtbot, "contention.conflict_window", "0s")
    assert doc.scenario.nodes["store"].contention.conflict_window == 0.05
    assert "conflict_window must be positive" in window.inspector.error_text(
        "contention.conflict_window"
    )
    window.inspector.widget().findChild(QGroupBox, "group:contention").setChecked(False)
    settle(qtbot, window)
    assert doc.scenario.nodes["store"].contention is None
    doc.undo_stack.undo()
    assert doc.scenario.nodes["store"].contention.keys == 8


def test_a_crowds_quota_is_edited_in_the_inspector(make_window, qtbot):
    window = make_window(CONTENTION)
    doc = window.document
    show(window, qtbot, ("node", "writers"))
    _type(window, qtbot, "requests_per_user", "3")
    assert doc.scenario.nodes["writers"].requests_per_user == 3
    _type(window, qtbot, "requests_per_user", "")
    assert doc.scenario.nodes["writers"].requests_per_user is None
