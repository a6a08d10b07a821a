"""Run > Failure-mode report…: the open scenario's report, written in the background."""

from __future__ import annotations

from run_scenarios import tiny

from simulator.scenario import dump_scenario


def _window(make_window, tmp_path, scenario):
    path = tmp_path / "tiny.yaml"
    path.write_text(dump_scenario(scenario), encoding="utf-8")
    return make_window(path)


def test_the_report_of_the_open_scenario_is_saved_as_markdown_and_html(
    qtbot, make_window, tmp_path
):
    window = _window(make_window, tmp_path, tiny("10s"))
    session = window.run_session
    command = session.report
    assert command.action in session.menu.actions()
    asked = []
    session.save_path = lambda *args: asked.append(args) or tmp_path / "fmea.md"
    with qtbot.waitSignal(command.job.finished, timeout=60_000) as done:
        command.action.trigger()
        assert not command.action.isEnabled()  # one report at a time; the app stays usable
    markdown, page = done.args[0]
    assert (markdown, page) == (tmp_path / "fmea.md", tmp_path / "fmea.html")
    name = window.document.scenario.name
    assert markdown.read_text().startswith(f"# Failure-mode analysis: {name}")
    assert "## Dependencies" in markdown.read_text() and "<svg" in page.read_text()
    assert command.action.isEnabled() and "Saved the failure-mode report" in (
        window.statusBar().currentMessage()
    )
    assert asked and asked[0][1] == "report.md"


def test_a_report_that_fails_says_why_in_a_dialog(qtbot, make_window, tmp_path, dialogs):
    window = _window(make_window, tmp_path, tiny("10s"))
    session = window.run_session
    session.save_path = lambda *args: tmp_path / "missing" / "fmea.md"  # no such directory
    with qtbot.waitSignal(session.report.job.failed, timeout=60_000):
        session.report.action.trigger()
    ((title, text),) = dialogs.errors
    assert "failure-mode report failed" in title and "does not exist" in text
    assert session.report.action.isEnabled()


def test_cancelling_the_save_question_starts_nothing(make_window, tmp_path):
    window = _window(make_window, tmp_path, tiny("10s"))
    window.run_session.save_path = lambda *args: None
    assert window.run_session.report.request() is None
    assert not window.run_session.report.job.running
