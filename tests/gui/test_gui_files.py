"""Files: save and load are lossless, a broken file changes nothing, recovery after a crash."""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path

import pytest
from conftest import FLAGSHIP, ROOT
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QPlainTextEdit

from simulator import atomic_write as atomic
from simulator.scenario import dump_scenario, load_scenario

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_save_then_load_gives_an_equal_model(window, tmp_path, dialogs):
    window.canvas_view.add_node_at("database")
    window.document.add_call("naked_api", "database")
    target = tmp_path / "edited.yaml"
    dialogs.save_as_answer = target
    assert window.files.save_as()
    assert not window.document.is_modified()
    assert load_scenario(target) == window.document.scenario
    assert window.files.recent_files()[0] == target.resolve()
    assert window.files.open(target)
    assert window.document.scenario == load_scenario(target)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_example_round_trips(make_window, tmp_path, path):
    window = make_window(path)
    assert window.document.scenario == load_scenario(path)
    assert set(window.scene.nodes) == set(window.document.scenario.nodes)
    out = tmp_path / path.name
    window.document.set_path(out)
    assert window.files.save()
    assert load_scenario(out) == load_scenario(path)


def test_a_broken_file_fails_with_its_error_and_changes_nothing(window, tmp_path, dialogs):
    broken = tmp_path / "broken.yaml"
    broken.write_text(FLAGSHIP.read_text().replace("workers: 40", "workers: lots", 1))
    before, path = window.document.scenario, window.document.path
    window.document.add_node("service", (0.0, 500.0))
    edited = window.document.scenario
    dialogs.save_answer = "cancel"
    assert not window.files.open(broken)
    assert window.document.scenario == edited
    dialogs.save_answer = "discard"
    assert not window.files.open(broken)
    title, text = dialogs.errors[-1]
    assert "broken.yaml" in title
    line = broken.read_text().splitlines().index("    workers: lots") + 1
    assert f"line {line}: nodes.naked_api.workers:" in text
    assert window.document.scenario == edited and window.document.path == path
    assert before != edited


def test_unsaved_changes_prompt_on_close(window, dialogs):
    window.document.add_node("service", (0.0, 500.0))
    dialogs.save_answer = "cancel"
    assert not window.close()
    assert dialogs.asked == ["save latency-spike.yaml"]
    dialogs.save_answer = "discard"
    assert window.close()


def test_autosave_is_offered_back_after_a_crash(make_window, tmp_path, dialogs):
    first = make_window()
    first.document.add_node("third_party", (0.0, 400.0))
    recovery = first.files.autosave()
    assert recovery is not None and recovery.exists()
    assert recovery.parent == tmp_path / "recovery"
    first.files.autosave_timer.stop()
    first.document.undo_stack.setClean()  # the "crash": no prompt, the file stays
    first.files.close = lambda: True

    second = make_window(None)
    assert second.files.offer_recovery()
    assert dialogs.asked[-1] == f"recover {FLAGSHIP.resolve()}"
    assert "third_party" in second.document.scenario.nodes
    assert second.document.path == FLAGSHIP.resolve()
    assert second.document.is_modified()

    out = tmp_path / "kept.yaml"
    dialogs.save_as_answer = out
    assert second.files.save_as()
    assert not list((tmp_path / "recovery").glob("*"))


def test_autosave_writes_nothing_when_clean(window):
    assert window.files.autosave() is None


def test_declined_recovery_is_removed(make_window, tmp_path, dialogs):
    first = make_window()
    first.document.add_node("service", (0.0, 400.0))
    recovery = first.files.autosave()
    first.document.undo_stack.setClean()
    dialogs.recover_answer = False
    second = make_window(None)
    assert not second.files.offer_recovery()
    assert not recovery.exists()


def test_new_starts_blank(window):
    assert window.files.new()
    assert window.document.path is None
    assert list(window.document.scenario.nodes) == ["users"]


def test_no_display_message(monkeypatch, capsys):
    from gui import launch

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(launch.sys, "platform", "linux")
    assert launch.main([str(FLAGSHIP)]) == 2
    err = capsys.readouterr().err
    assert "no display" in err and "xvfb-run -a make run" in err and "murphy run FILE" in err
    assert os.environ.get("QT_QPA_PLATFORM") is None


def test_paths_are_files():
    assert all(isinstance(p, Path) and p.is_file() for p in SCENARIOS)
    assert dump_scenario(load_scenario(FLAGSHIP))


def _edited(window):
    window.document.add_node("service", (0.0, 500.0))
    assert window.document.is_modified()


def test_save_keeps_the_files_mode(make_window, tmp_path):
    path = tmp_path / "shared.yaml"
    path.write_text(FLAGSHIP.read_text())
    path.chmod(0o644)
    window = make_window(path)
    _edited(window)
    assert window.files.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert load_scenario(path) == window.document.scenario
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_save_writes_through_a_symlink(make_window, tmp_path):
    real = tmp_path / "real" / "scenario.yaml"
    real.parent.mkdir()
    real.write_text(FLAGSHIP.read_text())
    link = tmp_path / "current.yaml"
    link.symlink_to(real)
    window = make_window(link)
    window.document.set_path(link)  # as if the document's path were the link itself
    _edited(window)
    assert window.files.save()
    assert link.is_symlink() and link.resolve() == real
    assert load_scenario(real) == window.document.scenario


def test_a_failed_save_says_so_and_leaves_the_file_and_no_temporaries(
    make_window, tmp_path, dialogs, monkeypatch
):
    path = tmp_path / "kept.yaml"
    path.write_text(FLAGSHIP.read_text())
    window = make_window(path)
    _edited(window)

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", disk_full)
    assert not window.files.save()
    title, text = dialogs.errors[-1]
    assert "kept.yaml" in title and "No space" in text
    assert path.read_text() == FLAGSHIP.read_text()
    assert window.document.is_modified()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_opening_a_file_removes_temporaries_that_killed_saves_left(make_window, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(FLAGSHIP.read_text())
    stale = tmp_path / ".s.yaml.murphy-save-d34d_abc.tmp"
    stale.write_text("nodes: {half")
    long_ago = time.time() - 3600
    os.utime(stale, (long_ago, long_ago))
    make_window(path)
    assert not stale.exists()


def test_autosave_is_atomic_and_a_failed_one_keeps_the_last(window, monkeypatch):
    window.document.add_node("third_party", (0.0, 400.0))
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    recovery = window.files.autosave()
    assert recovery is not None and len(synced) == 2  # the file, then its folder
    first = recovery.read_text()
    assert "third_party" in first
    messages = []
    window.files.message.connect(messages.append)
    window.document.add_node("service", (0.0, 600.0))

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", disk_full)
    assert window.files.autosave() is None
    assert messages and "Autosave failed" in messages[-1]
    assert recovery.read_text() == first
    assert [p.name for p in recovery.parent.iterdir()] == [recovery.name]


def test_open_example_opens_an_untitled_copy_that_save_never_writes_over(window, tmp_path, dialogs):
    """Issue 12 bug 7: File → Open Example, edit, Ctrl+S must ask where, not overwrite it."""
    example = ROOT / "scenarios" / "retry-storm.yaml"
    original = example.read_bytes()
    action = next(a for a in window.examples_menu.actions() if a.text() == "retry-storm")
    action.trigger()
    assert window.document.scenario == load_scenario(example)
    assert window.document.path is None
    assert "Untitled" in window.windowTitle()
    window.document.move_nodes({"api": (300.0, 40.0)})
    suggested: list[Path] = []
    dialogs.save_path = lambda path: suggested.append(path) or dialogs.save_as_answer
    dialogs.save_as_answer = tmp_path / "mine.yaml"
    window.files.save()
    assert example.read_bytes() == original
    assert suggested[0].name == "retry-storm.yaml"
    assert suggested[0].parent != example.parent
    assert load_scenario(tmp_path / "mine.yaml").layout["api"] == (300.0, 40.0)
    assert window.document.path == (tmp_path / "mine.yaml").resolve()


def test_an_error_dialog_names_the_file_once_and_is_wide_enough(window, tmp_path, dialogs):
    """Issue 12 bug 8: the dialog was a narrow column repeating the full path on every line."""
    from gui.dialogs import error_box

    broken = tmp_path / "broken.yaml"
    text = FLAGSHIP.read_text().replace("workers: 40", "workers: lots", 1)
    broken.write_text(text.replace("timeout:", "timeuot:", 1))
    assert not window.files.open(broken)
    title, message = dialogs.errors[-1]
    assert message.count(str(broken)) == 1
    problems = message.splitlines()[2:]
    assert len(problems) >= 2 and all(line.startswith("line ") for line in problems)
    box = error_box(title, message, window)
    assert box.width() >= 640
    assert box.findChild(QPlainTextEdit, "error:text").toPlainText() == message
    box.deleteLater()


def test_positions_are_saved_in_whole_pixels(window, tmp_path, dialogs):
    """Issue 12 bug 8: a dropped node's position was saved as 245.20000000000005."""
    name = window.canvas_view.add_node_at("database", QPointF(331.20000000000005, 40.7))
    assert window.document.scenario.layout[name] == (245.0, 12.0)
    window.selection.set([("node", name)])
    window.scene.nodes[name].setPos(QPointF(245.20000000000005, 12.3))
    window.edit_actions.copy()
    pasted = window.edit_actions.paste()
    dialogs.save_as_answer = tmp_path / "saved.yaml"
    assert window.files.save_as()
    saved = (tmp_path / "saved.yaml").read_text()
    assert not re.search(r"\d\.\d{3,}", saved.split("layout:")[1])
    assert window.document.scenario.layout[pasted[0]] == (285.0, 52.0)


def test_schema_and_cross_reference_problems_are_reported_together(window, tmp_path, dialogs):
    broken = tmp_path / "both.yaml"
    text = FLAGSHIP.read_text().replace("workers: 40", "workers: lots", 1)
    broken.write_text(text.replace("to: naked_db", "to: nowhere", 1))
    assert not window.files.open(broken)
    message = dialogs.errors[-1][1]
    assert "workers" in message and "nowhere" in message
