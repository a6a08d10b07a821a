"""The window around the editor: Help, what is remembered between launches, the Run toolbar,
and how the space is shared at a laptop's size."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QToolButton

from gui.help import version
from gui.run import controller as states


def test_help_menu_has_getting_started_and_about_with_the_version_and_docs(window, qtbot):
    """Issue 12 bug 9: there was no Help and no About."""
    menus = [action.text() for action in window.menuBar().actions()]
    assert menus[-1] == "&Help"
    window.help.about.trigger()
    about = window.help.shown["About Murphy"]
    assert about.isVisible() and not about.isModal()
    text = about.findChild(QLabel, "help:text").text()
    assert f"Murphy {version()}" in text and version() != "unknown"
    assert "docs/architecture.md" in text and "README.md" in text and "file://" in text
    window.help.getting_started.trigger()
    steps = window.help.shown["Getting started"].findChild(QLabel, "help:text").text()
    for word in ("Palette", "Inspector", "Add fault", "Run", "Compare strategies"):
        assert word in steps


def test_window_docks_and_speed_are_remembered_across_launches(make_window, qtbot):
    """Issue 12 bug 9; the settings live in the test's temporary folder (make_window)."""
    first = make_window()
    first.show()
    qtbot.waitExposed(first)
    first.resize(780, 560)  # within the offscreen platform's 800×800 screen
    first.problems_dock.hide()
    first.run_session.toolbar.speed_box.setCurrentIndex(4)
    qtbot.waitUntil(lambda: (first.width(), first.height()) == (780, 560))
    assert first.close()

    second = make_window()
    second.show()
    qtbot.waitExposed(second)
    assert (second.width(), second.height()) == (780, 560)
    assert not second.problems_dock.isVisible() and second.inspector_dock.isVisible()
    assert second.run_session.toolbar.speed_box.currentText() == "100×"


def test_run_pause_stop_are_labelled_and_a_paused_run_shows_one_play_button(window):
    """Issue 12 bug 9: unlabelled icons, and two ▶ while paused."""
    toolbar = window.run_session.toolbar
    assert toolbar.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon
    buttons = {toolbar.widgetForAction(a).text() for a in toolbar.actions() if a.text()}
    assert {"Run", "Pause", "Stop"} <= buttons
    toolbar.set_state(states.PAUSED, has_results=True)
    pause = toolbar.widgetForAction(toolbar.pause_action)
    assert isinstance(pause, QToolButton) and pause.text() == "Resume" and pause.isChecked()
    play = toolbar.run_action.icon().pixmap(16).toImage()
    assert toolbar.pause_action.icon().pixmap(16).toImage() != play
    toolbar.set_state(states.RUNNING, has_results=False)
    assert pause.text() == "Pause" and not pause.isChecked()


def _all_in_view(window) -> bool:
    canvas = window.canvas_view
    seen = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    return all(seen.contains(n.sceneBoundingRect()) for n in window.scene.nodes.values())


def test_at_1366_by_768_the_canvas_gets_most_of_the_window(make_window, qtbot):
    """Issue 12 bug 11: the canvas was about 140 px tall with no node in view."""
    window = make_window()
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    canvas = window.canvas_view
    qtbot.waitUntil(lambda: canvas.height() >= 300)  # it was 153 in this test before the fix
    assert canvas.height() > window.run_session.plots_dock.height()
    assert canvas.width() >= 0.6 * window.width()
    assert window.inspector_dock.height() >= 400  # not squeezed by the panels below it
    hint = window.minimumSizeHint()
    assert hint.height() < 600 and hint.width() < 1024
    qtbot.waitUntil(lambda: _all_in_view(window))
