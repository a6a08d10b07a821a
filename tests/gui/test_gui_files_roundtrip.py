"""Saving from the app keeps the file a user wrote: every example, with comments added,
is opened, edited the way a user would (drag a node, type in the inspector, delete a
fault, add a node, rename one) and saved; what the user wrote and did not touch is still
there, byte for byte, and the file loads to what the app showed."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from conftest import ROOT, settle
from PySide6.QtCore import QPointF, Qt

from simulator.scenario import load_scenario, parse_scenario

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

_BLOCK = re.compile(r"^(\s*)[\w.-]+:\s*[|>][-+]?\s*$")
_KEYS = "seed|duration|bucket|warmup|workers|queue|rate|timeout|at|for"
_EOL = re.compile(rf"^\s*({_KEYS}):\s*[^\s|>#]")
_COMMENT = re.compile(r"#\s*(c\d+\b.*)$")


def commented(text: str) -> str:
    """``text`` with the comments a person adds: a header, end-of-line comments on several
    keys, one between the first nodes, one above every list item but the first, one above
    ``faults`` and ``layout``. Each is numbered (``# c7 ...``) so it can be looked for."""
    out = ["# c0 header: written by hand, kept by the app\n", "#    (a second header line)\n"]
    count = 0

    def note(what: str) -> str:
        nonlocal count
        count += 1
        return f"# c{count} {what}"

    block: int | None = None
    section, nodes_seen = "", 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        depth = len(body) - len(body.lstrip())
        if block is not None and (not body.strip() or depth > block):
            out.append(line)
            continue
        block = None
        if _BLOCK.match(body):
            block = depth
        if depth == 0 and body.strip():
            section = body.split(":")[0]
            if section in ("faults", "layout"):
                out.append(f"{note('above ' + section)}\n")
        elif section == "nodes" and depth == 2 and not body.lstrip().startswith("#"):
            nodes_seen += 1
            if nodes_seen == 2:
                out.append(f"  {note('between nodes')}\n")
        stripped = body.lstrip()
        if stripped.startswith("- ") and _sibling_before(out, depth):
            out.append(" " * depth + note("inside a list") + "\n")
        if "#" not in body and (_EOL.match(body) or stripped.startswith("- {")):
            line = f"{body}  {note('end of line')}\n"
        out.append(line)
    return "".join(out)


def _sibling_before(lines: list[str], depth: int) -> bool:
    """Whether the item about to be written follows an item of the same list."""
    for line in reversed(lines):
        body = line.rstrip("\n")
        if not body.strip() or body.lstrip().startswith("#"):
            continue
        d = len(body) - len(body.lstrip())
        if d < depth:
            return False
        if d == depth:
            return body.lstrip().startswith("- ")
    return False


def comments(text: str) -> list[str]:
    return [m.group(1) for line in text.splitlines() if (m := _COMMENT.search(line))]


def _span(lines: list[str], start: int) -> range:
    """Line ``start`` and the lines that belong to it (deeper, or blank inside it)."""
    depth = len(lines[start]) - len(lines[start].lstrip())
    if lines[start].lstrip().startswith("- "):
        depth += 1  # the item's own keys are as deep as the text after its dash
    end = start + 1
    while end < len(lines):
        body = lines[end]
        if body.strip() and len(body) - len(body.lstrip()) <= depth:
            break
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return range(start, end)


def _first_fault_lines(lines: list[str]) -> range:
    top = lines.index("faults:")
    first = next(i for i in range(top + 1, len(lines)) if lines[i].lstrip().startswith("- "))
    return _span(lines, first)


def _named(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])")


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_an_edited_example_keeps_what_its_author_wrote(
    make_window, qtbot, drag, tmp_path, path: Path
):
    original = commented(path.read_text(encoding="utf-8"))
    assert parse_scenario(original) == load_scenario(path)
    assert len(comments(original)) >= 6
    target = tmp_path / path.name
    target.write_text(original, encoding="utf-8")
    window = make_window(target)
    messages: list[str] = []
    window.files.message.connect(messages.append)
    doc = window.document
    lines = original.splitlines()

    # drag a node on the canvas
    moved = next(iter(doc.scenario.layout))
    item = window.scene.nodes[moved]
    window.canvas_view.fit()
    before = doc.scenario.layout[moved]
    drag(window.canvas_view, item.center(), item.center() + QPointF(40, 30))
    assert doc.scenario.layout[moved] != before

    # type a new worker count into the inspector
    edited = next(n for n, v in doc.scenario.nodes.items() if getattr(v, "workers", None))
    workers = doc.scenario.nodes[edited].workers + 3
    window.selection.set([("node", edited)])
    settle(qtbot, window)
    editor = window.inspector.editor("workers")
    editor.selectAll()
    qtbot.keyClicks(editor, str(workers))
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert doc.scenario.nodes[edited].workers == workers

    # delete the first fault
    lost: set[int] = set()
    if doc.scenario.faults:
        window.document.remove(set(), set(), {0})
        lost |= set(_first_fault_lines(lines))
        if not doc.scenario.faults:  # the section goes, with the comment above it
            top = lines.index("faults:")
            lost |= {top, top - 1} | set(_span(lines, top))

    # add a node, rename the edited one
    added = doc.add_node("service", (900.0, 700.0))
    renamed = f"{edited}_v2"
    doc.rename_node(edited, renamed)

    assert window.files.save()
    saved = target.read_text(encoding="utf-8")
    assert not [m for m in messages if "without" in m], messages
    assert load_scenario(target) == doc.scenario

    kept = [c for i, line in enumerate(lines) if i not in lost for c in comments(line)]
    assert [c for c in comments(saved) if c in kept] == kept, "a comment was lost or moved"

    touched = _named(edited), _named(moved)
    changed = difflib.SequenceMatcher(None, lines, saved.splitlines(), autojunk=False)
    for tag, i1, i2, j1, j2 in changed.get_opcodes():
        if tag in ("delete", "replace"):
            for i in range(i1, i2):
                line = lines[i]
                assert (
                    i in lost
                    or any(p.search(line) for p in touched)
                    or "workers:" in line
                    or (not line.strip() and tag == "replace")
                ), f"an untouched line changed: {line!r}"
        if tag in ("insert", "replace"):
            for new in saved.splitlines()[j1:j2]:
                names = (_named(added), _named(renamed), _named(moved))
                assert any(p.search(new) for p in names) or (
                    new.startswith("    ") or "workers:" in new or "faults:" in new
                ), f"an unexpected line appeared: {new!r}"
    window.document.undo_stack.setClean()


def test_open_example_keeps_its_comments_in_the_copy(make_window, tmp_path, dialogs):
    example = tmp_path / "example.yaml"
    example.write_text(commented((ROOT / "scenarios" / "mm1.yaml").read_text()), "utf-8")
    window = make_window(None)
    assert window.files.open_example(example)
    window.document.move_nodes({next(iter(window.document.scenario.layout)): (33.0, 44.0)})
    dialogs.save_as_answer = tmp_path / "mine.yaml"
    assert window.files.save()
    saved = (tmp_path / "mine.yaml").read_text()
    assert comments(saved) == comments(example.read_text())
    assert "[33, 44]" in saved


def test_a_new_document_saves_as_before(window, tmp_path, dialogs):
    from simulator.scenario import dump_scenario

    assert window.files.new()
    window.document.add_node("service", (260.0, 0.0))
    dialogs.save_as_answer = tmp_path / "new.yaml"
    assert window.files.save()
    assert (tmp_path / "new.yaml").read_text() == dump_scenario(window.document.scenario)


def test_the_second_save_edits_what_the_first_wrote(make_window, tmp_path):
    target = tmp_path / "mm1.yaml"
    target.write_text(commented((ROOT / "scenarios" / "mm1.yaml").read_text()), "utf-8")
    window = make_window(target)
    name = next(iter(window.document.scenario.layout))
    window.document.move_nodes({name: (10.0, 10.0)})
    assert window.files.save()
    first = target.read_text()
    window.document.move_nodes({name: (20.0, 20.0)})
    assert window.files.save()
    second = target.read_text()
    assert comments(second) == comments(first)
    assert first.replace("[10, 10]", "[20, 20]") == second


def test_autosave_and_recovery_keep_the_comments(make_window, tmp_path, dialogs):
    target = tmp_path / "mm1.yaml"
    text = commented((ROOT / "scenarios" / "mm1.yaml").read_text())
    target.write_text(text, "utf-8")
    first = make_window(target)
    first.document.move_nodes({next(iter(first.document.scenario.layout)): (5.0, 5.0)})
    recovery = first.files.autosave()
    assert recovery is not None and comments(recovery.read_text()) == comments(text)
    first.files.autosave_timer.stop()
    first.document.undo_stack.setClean()
    first.files.close = lambda: True

    second = make_window(None)
    assert second.files.offer_recovery()
    assert second.files.save()
    assert comments(target.read_text()) == comments(text)
    assert load_scenario(target) == second.document.scenario


def test_autosave_of_a_large_file_is_the_plain_dump_and_save_still_keeps_it(
    make_window, tmp_path, monkeypatch
):
    import gui.files

    target = tmp_path / "mm1.yaml"
    text = commented((ROOT / "scenarios" / "mm1.yaml").read_text())
    target.write_text(text, "utf-8")
    monkeypatch.setattr(gui.files, "AUTOSAVE_ROUND_TRIP_LIMIT", len(text) - 1)
    window = make_window(target)
    window.files.autosave_timer.stop()
    window.document.move_nodes({next(iter(window.document.scenario.layout)): (5.0, 5.0)})
    recovery = window.files.autosave()
    assert recovery is not None
    body = recovery.read_text().split("\n", 1)[1]
    assert comments(body) == [] and load_scenario(recovery) == window.document.scenario
    assert window.files.save()
    assert comments(target.read_text()) == comments(text)


def test_a_file_that_cannot_be_kept_is_saved_plainly_and_the_status_bar_says_why(
    make_window, tmp_path
):
    from simulator.scenario import dump_scenario

    target = tmp_path / "anchored.yaml"
    text = (ROOT / "scenarios" / "mmc.yaml").read_text()
    text = text.replace("service_time: {", "service_time: &work {", 1)
    target.write_text(text, "utf-8")
    window = make_window(target)
    messages: list[str] = []
    window.files.message.connect(messages.append)
    window.document.move_nodes({next(iter(window.document.scenario.layout)): (7.0, 7.0)})
    assert window.files.save()
    assert target.read_text() == dump_scenario(window.document.scenario)
    assert "without its comments: the file uses anchors and aliases" in messages[-1]


def test_an_edit_undone_saves_the_file_as_it_was(make_window, tmp_path):
    target = tmp_path / "mm1.yaml"
    text = commented((ROOT / "scenarios" / "mm1.yaml").read_text()).replace(": 1  #", ":   1  #")
    target.write_text(text, "utf-8")
    window = make_window(target)
    window.document.move_nodes({next(iter(window.document.scenario.layout)): (7.0, 7.0)})
    window.document.undo_stack.undo()
    window.document.add_node("service", (0.0, 300.0))
    window.document.undo_stack.undo()
    assert window.files.save()
    assert target.read_text() == text


def test_a_comment_the_save_could_not_keep_is_said_and_crlf_stays(make_window, tmp_path):
    """A comment inside a flow mapping that the edit rewrote (ruamel writes it on one line)
    is lost: the status bar says which; the file's CRLF line endings stay on every line."""
    text = (
        "murphy: 1\nname: x\nduration: 10s\n"
        "nodes:\n"
        "  users:  # the clients\n"
        "    kind: client\n"
        "    rate: 10/s\n"
        "    calls:\n"
        "      - {to: api,  # the api\n"
        "         timeout: 1s}\n"
        "  api:\n"
        "    kind: service\n"
        "    service_time: {dist: exponential, mean: 5ms}\n"
        "layout:\n  users: [0, 0]\n  api: [200, 0]\n"
    )
    target = tmp_path / "crlf.yaml"
    target.write_bytes(text.replace("\n", "\r\n").encode())
    window = make_window(target)
    messages: list[str] = []
    window.files.message.connect(messages.append)
    window.document.rename_node("api", "web")
    assert window.files.save()
    saved = target.read_bytes().decode()
    assert saved.count("\r\n") == saved.count("\n") and "# the clients" in saved
    assert "without some of its comments: 1 comment could not be kept: '# the api'" in messages[-1]
    assert load_scenario(target) == window.document.scenario
