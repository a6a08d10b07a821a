"""Keystrokes go where the user's focus is: the inspector never takes it back from the canvas."""

from __future__ import annotations

from conftest import ROOT, settle
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

RETRY_STORM = ROOT / "scenarios" / "retry-storm.yaml"


def click_node(window, qtbot, name: str) -> None:
    view = window.canvas_view
    point = view.mapFromScene(window.scene.nodes[name].center())
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     point)  # fmt: skip
    settle(qtbot, window)


def shown(make_window, qtbot):
    window = make_window(RETRY_STORM)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.canvas_view.fit()
    return window


def test_a_key_typed_after_clicking_a_node_does_not_land_in_its_inspector(make_window, qtbot):
    """Issue 12 bug 1: edit api's queue, press Enter, click inventory, type 9."""
    window = shown(make_window, qtbot)
    doc = window.document
    click_node(window, qtbot, "api")
    editor = window.inspector.editor("queue")
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, "500")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert doc.scenario.nodes["api"].queue == 500
    settle(qtbot, window)
    assert QApplication.focusWidget().objectName() == "field:queue"  # kept across the rebuild
    steps = doc.undo_stack.count()

    click_node(window, qtbot, "inventory")
    assert window.selection.keys == (("node", "inventory"),)
    focused = QApplication.focusWidget()
    assert not window.inspector.isAncestorOf(focused), focused.objectName()
    qtbot.keyClick(focused, Qt.Key.Key_9)
    qtbot.keyClick(focused, Qt.Key.Key_Q)
    qtbot.keyClick(focused, Qt.Key.Key_Return)
    settle(qtbot, window)
    assert doc.scenario.nodes["inventory"].queue == 1000
    assert "inventory" in doc.scenario.nodes
    assert doc.undo_stack.count() == steps


def test_edit_shortcuts_act_on_the_text_field_that_has_focus(make_window, qtbot):
    window = shown(make_window, qtbot)
    doc = window.document
    click_node(window, qtbot, "api")
    doc.move_nodes({"api": (10.0, 10.0)})  # an undo step the canvas would undo
    settle(qtbot, window)
    steps, nodes = doc.undo_stack.index(), set(doc.scenario.nodes)
    QApplication.clipboard().setText("")
    editor = window.inspector.editor("name")
    editor.setFocus()
    qtbot.waitUntil(editor.hasFocus)
    editor.selectAll()
    qtbot.keyClick(editor, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "api"
    qtbot.keyClick(editor, Qt.Key.Key_End)
    qtbot.keyClick(editor, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert editor.text() == "apiapi"
    assert set(doc.scenario.nodes) == nodes  # no node pasted
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.text() == "api"
    assert doc.undo_stack.index() == steps  # the canvas's move was not undone
    qtbot.keyClick(editor, Qt.Key.Key_Backspace)
    assert editor.text() == "ap"
    assert "api" in doc.scenario.nodes  # Backspace did not delete the selected node
