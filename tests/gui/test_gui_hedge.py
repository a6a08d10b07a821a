"""A hedge is switched on, edited and shown in the app: the inspector's group, its one-of
delay or percentile, and the edge's badge."""

from __future__ import annotations

from conftest import settle
from PySide6.QtWidgets import QGroupBox

from gui.canvas.edge_item import badges
from simulator.scenario import Call

KEY = ("call", "guarded_api", 0)


def _hedge(window):
    return window.document.scenario.nodes["guarded_api"].calls[0].hedge


def _type(window, qtbot, name: str, text: str) -> None:
    editor = window.inspector.editor(name)
    editor.setText(text)
    editor.editingFinished.emit()
    settle(qtbot, window)


def test_a_hedge_is_switched_on_and_edited_in_the_inspector(window, qtbot):
    window.selection.set([KEY])
    settle(qtbot, window)
    group = window.inspector.widget().findChild(QGroupBox, "group:hedge")
    assert group is not None and group.isCheckable() and not group.isChecked()
    group.setChecked(True)
    settle(qtbot, window)
    hedge = _hedge(window)
    assert (hedge.percentile, hedge.delay, hedge.max_hedges, hedge.budget) == (0.95, None, 1, 0.1)
    # delay and percentile are one or the other: giving one clears the other
    _type(window, qtbot, "hedge.delay", "40ms")
    assert (_hedge(window).delay, _hedge(window).percentile) == (0.04, None)
    _type(window, qtbot, "hedge.percentile", "99%")
    assert (_hedge(window).delay, _hedge(window).percentile) == (None, 0.99)
    # the schema's refusal is shown next to the field, and changes nothing
    _type(window, qtbot, "hedge.budget", "0%")
    assert _hedge(window).budget == 0.1
    assert "remove the hedge" in window.inspector.error_text("hedge.budget")
    _type(window, qtbot, "hedge.budget", "25%")
    assert _hedge(window).budget == 0.25
    assert window.document.undo_stack.canUndo()


def test_the_edge_badge_shows_the_hedge(window, qtbot):
    window.selection.set([KEY])
    settle(qtbot, window)
    window.inspector.widget().findChild(QGroupBox, "group:hedge").setChecked(True)
    settle(qtbot, window)
    edge = window.scene.edges[KEY]
    assert ("hedge", "hedge p95 ≤10%") in edge.badges
    plain = Call(to="db", timeout=0.3)
    assert not [b for b in badges(plain) if b[0] == "hedge"]
    fixed = Call(to="db", hedge={"delay": "50ms", "max_hedges": 2, "budget": "5%"})
    assert ("hedge", "hedge 2× 50ms ≤5%") in badges(fixed)
