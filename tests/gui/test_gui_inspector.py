"""The inspector refuses what the schema refuses, and says why next to the field."""

from __future__ import annotations

from conftest import settle
from PySide6.QtCore import Qt

from gui.inspector.fields import model_specs
from simulator.scenario import Call, Scenario


def show(window, qtbot, key):
    window.selection.set([key] if key else [])
    settle(qtbot, window)


def test_bad_value_is_refused_with_the_schemas_message(window, qtbot):
    doc = window.document
    before = doc.scenario
    show(window, qtbot, ("call", "guarded_api", 0))
    editor = window.inspector.editor("timeout")
    editor.selectAll()
    qtbot.keyClicks(editor, "fast")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert doc.scenario == before
    assert not doc.undo_stack.canUndo()
    assert 'expected a duration like "250ms"' in window.inspector.error_text("timeout")
    assert editor.text() == "fast"

    editor.setText("250ms")
    editor.editingFinished.emit()
    assert doc.scenario.nodes["guarded_api"].calls[0].timeout == 0.25
    settle(qtbot, window)
    assert window.inspector.error_text("timeout") == ""


def test_model_level_rule_is_refused(window, qtbot):
    show(window, qtbot, ("node", "users"))
    editor = window.inspector.editor("rate")
    editor.setText("")
    editor.editingFinished.emit()
    assert window.document.scenario.nodes["users"].rate == 200.0
    assert "exactly one of rate, profile or users" in window.inspector.error_text("rate")


def test_units_as_typed(window, qtbot):
    show(window, qtbot, ("node", "users"))
    editor = window.inspector.editor("rate")
    editor.setText("1200/min")
    editor.editingFinished.emit()
    assert window.document.scenario.nodes["users"].rate == 20.0
    show(window, qtbot, ("node", "naked_api"))
    editor = window.inspector.editor("error_rate")
    editor.setText("5%")
    editor.editingFinished.emit()
    assert window.document.scenario.nodes["naked_api"].error_rate == 0.05
    settle(qtbot, window)
    assert window.inspector.editor("error_rate").text() == "5%"


def test_bad_name_is_refused(window, qtbot):
    show(window, qtbot, ("node", "users"))
    editor = window.inspector.editor("name")
    editor.setText("naked_api")
    editor.editingFinished.emit()
    assert "already a node" in window.inspector.error_text("name")
    assert "users" in window.document.scenario.nodes


def test_fault_is_edited_in_the_inspector(window, qtbot):
    show(window, qtbot, ("fault", 0))
    editor = window.inspector.editor("add")
    editor.setText("500ms")
    editor.editingFinished.emit()
    assert window.document.scenario.faults[0].add == 0.5
    settle(qtbot, window)
    assert window.inspector.editor("for_").text() == "30s"


def test_every_schema_field_gets_an_editor():
    names = {s.name for s in model_specs(Call)}
    assert names == set(Call.model_fields)
    assert {s.name for s in model_specs(Scenario)} == {
        "name",
        "description",
        "seed",
        "duration",
        "warmup",
        "bucket",
        "alerts",  # the alert rule set: edited with the scenario's settings
    }


def test_headers_and_tooltips_show_no_source_markup(window, qtbot):
    """Issue 12 bug 6: the latency fault's description read ``add`` with its backquotes."""
    from PySide6.QtWidgets import QLabel, QWidget

    index = window.timeline.add_fault("latency")
    for key in (("fault", index), ("node", "users"), ("call", "guarded_api", 0), None):
        show(window, qtbot, key)
        content = window.inspector.widget()
        texts = [label.text() for label in content.findChildren(QLabel)]
        texts += [widget.toolTip() for widget in content.findChildren(QWidget)]
        assert not [t for t in texts if "``" in t], key
    show(window, qtbot, ("fault", index))
    header = window.inspector.widget().findChildren(QLabel)[0].text()
    assert "takes add longer and multiply times as long" in header


def test_a_pools_new_knobs_are_edited_in_the_inspector(window, qtbot):
    """A pool switched on gets SQLAlchemy's defaults; min_size past max_size is refused."""
    from PySide6.QtWidgets import QGroupBox

    doc = window.document
    show(window, qtbot, ("call", "guarded_api", 0))
    window.inspector.widget().findChild(QGroupBox, "group:pool").setChecked(True)
    settle(qtbot, window)
    pool = doc.scenario.nodes["guarded_api"].calls[0].pool
    assert (pool.min_size, pool.max_size, pool.overflow, pool.recycle) == (0, 5, 10, None)
    for name, text in (("pool.max_size", "8"), ("pool.recycle", "1h")):
        editor = window.inspector.editor(name)
        editor.setText(text)
        editor.editingFinished.emit()
        settle(qtbot, window)
    pool = doc.scenario.nodes["guarded_api"].calls[0].pool
    assert (pool.max_size, pool.recycle) == (8, 3600.0)
    editor = window.inspector.editor("pool.min_size")
    editor.setText("9")
    editor.editingFinished.emit()
    assert doc.scenario.nodes["guarded_api"].calls[0].pool.min_size == 0
    assert "raise max_size or lower min_size" in window.inspector.error_text("pool.min_size")
