"""Saving into the text a scenario was read from: what the user wrote stays, what changed
is written, and the result always loads to the edited scenario."""

from __future__ import annotations

import copy
import os
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from semantic_mutations import EXTRA_BASES, ROOT, make_case

from simulator import scenario_roundtrip
from simulator.scenario import Scenario, dump_scenario, parse_scenario, scenario_to_data
from simulator.scenario import validate_data as validated
from simulator.scenario_roundtrip import saved_text

TEXT = """\
# A storefront, by hand.
murphy: 1
name: "Shop"   # quoted on purpose
duration: 60s
nodes:
  users:  # the clients
    kind: client
    rate: 100/s   # peak traffic
    calls:
      - {to: api, timeout: 10s}  # the only entry
  # the API, the busy one
  api:
    kind: service
    workers: 8
    queue: 100  # bounded
    service_time: {dist: exponential, mean: 5ms}
    calls:
      - to: db
        timeout: 1s  # short
      # the cache, later
      - {to: cache, timeout: 100ms}
  # the database
  db:
    kind: database
    workers: 4
    service_time: {dist: exponential, mean: 20ms}
  cache:
    kind: database
    workers: 2
    service_time: {dist: exponential, mean: 1ms}

# what goes wrong
faults:
  - {kind: crash, target: db, at: 20s, for: 5s}  # the outage
  # and later
  - {kind: latency, target: cache, at: 40s, for: 5s, add: 50ms}

# where they stand
layout:
  users: [0, 0]
  api: [240, 0]   # centre
  db: [480, 0]
  cache: [480, 160]
"""


def edit(scenario: Scenario, change: Any) -> Scenario:
    """``scenario`` with ``change`` applied to its data (the file's spelling)."""
    data = copy.deepcopy(scenario_to_data(scenario))
    change(data)
    return validated(data)


def rename(data: dict[str, Any], old: str, new: str) -> None:
    data["nodes"] = {new if k == old else k: v for k, v in data["nodes"].items()}
    data["layout"] = {new if k == old else k: v for k, v in data["layout"].items()}
    for node in data["nodes"].values():
        for call in node.get("calls", []):
            call["to"] = new if call["to"] == old else call["to"]
    for fault in data.get("faults", []):
        fault["target"] = new if fault["target"] == old else fault["target"]


def remove_node(data: dict[str, Any], name: str) -> None:
    del data["nodes"][name], data["layout"][name]
    for node in data["nodes"].values():
        if "calls" in node:
            node["calls"] = [c for c in node["calls"] if c["to"] != name]
            if not node["calls"]:
                del node["calls"]
    data["faults"] = [f for f in data.get("faults", []) if f["target"] != name]
    if not data["faults"]:
        del data["faults"]


def save(edited: Scenario, original: str = TEXT) -> str:
    result = saved_text(edited, original)
    assert result.kept, result.reason
    assert parse_scenario(result.text) == edited
    return result.text


def lines_changed(before: str, after: str) -> tuple[list[str], list[str]]:
    old, new = before.splitlines(), after.splitlines()
    return [x for x in old if x not in new], [x for x in new if x not in old]


ORIGINAL = parse_scenario(TEXT)


def test_an_unchanged_scenario_saves_the_original_byte_for_byte():
    odd = TEXT.replace("rate: 100/s", "rate:   100 /s").replace("duration: 60s", "duration: 60.0s")
    assert saved_text(parse_scenario(odd), odd).text == odd


def test_a_changed_value_keeps_its_comment_and_quoting_and_nothing_else_moves():
    edited = edit(ORIGINAL, lambda d: d["nodes"]["api"].update(queue=200, workers=9))
    edited = edit(edited, lambda d: d.update(name="Shop 2"))
    text = save(edited)
    assert lines_changed(TEXT, text) == (
        ['name: "Shop"   # quoted on purpose', "    workers: 8", "    queue: 100  # bounded"],
        ['name: "Shop 2"   # quoted on purpose', "    workers: 9", "    queue: 200  # bounded"],
    )


def test_a_value_the_user_spelt_otherwise_keeps_its_spelling():
    odd = TEXT.replace("rate: 100/s", "rate: 100 /s")
    edited = edit(parse_scenario(odd), lambda d: d["nodes"]["api"].update(workers=9))
    text = save(edited, odd)
    assert "rate: 100 /s   # peak traffic" in text


def test_a_renamed_node_keeps_its_place_and_comments_everywhere():
    text = save(edit(ORIGINAL, lambda d: rename(d, "db", "store")))
    assert text == re.sub(r"\bdb\b", "store", TEXT)


def test_a_node_renamed_to_a_word_yaml_reads_as_a_boolean_is_quoted():
    text = save(edit(ORIGINAL, lambda d: rename(d, "cache", "on")))
    assert "\n  'on':\n" in text and "{to: 'on', timeout: 100ms}" in text


def test_a_deleted_node_takes_its_own_comments_and_leaves_its_neighbours():
    text = save(edit(ORIGINAL, lambda d: remove_node(d, "db")))
    assert "# the database" not in text and "# the outage" not in text
    assert "# short" not in text  # the call into it went
    for kept in ("# the cache, later", "# what goes wrong", "# and later", "# centre"):
        assert kept in text
    assert text.index("# the cache, later") < text.index("{to: cache, timeout: 100ms}")


def test_deleting_the_last_node_of_a_section_keeps_the_comment_above_the_next():
    text = save(edit(ORIGINAL, lambda d: remove_node(d, "cache")))
    assert "\n\n# what goes wrong\nfaults:\n  - {kind: crash" in text
    assert "# and later" not in text


def test_deleting_every_fault_keeps_what_stands_above_layout():
    text = save(edit(ORIGINAL, lambda d: d.pop("faults")))
    assert "faults:" not in text and "# what goes wrong" not in text
    assert "\n\n# where they stand\nlayout:\n" in text


def test_deleting_the_first_item_keeps_the_comment_above_the_second():
    text = save(edit(ORIGINAL, lambda d: d["faults"].pop(0)))
    assert "faults:\n  # and later\n  - {kind: latency" in text
    assert "# the outage" not in text


def test_new_things_are_written_like_their_neighbours():
    def grow(data: dict[str, Any]) -> None:
        data["nodes"]["search"] = {
            "kind": "database",
            "workers": 3,
            "service_time": {"dist": "exponential", "mean": "2ms"},
        }
        data["layout"]["search"] = [720, 0]
        data["nodes"]["api"]["calls"].append({"to": "search", "timeout": "200ms"})
        data["faults"].append({"kind": "crash", "target": "search", "at": "50s"})
        data["description"] = "Two lines\nof description.\n"

    text = save(edit(ORIGINAL, grow))
    assert "  cache:\n    kind: database\n    workers: 2\n" in text  # untouched
    assert "  search:\n    kind: database\n    workers: 3\n" in text
    assert "    service_time: {dist: exponential, mean: 2ms}\n" in text
    assert "      - {to: search, timeout: 200ms}\n" in text
    assert "  - {kind: crash, target: search, at: 50s}\n" in text
    assert "  search: [720, 0]\n" in text
    assert 'name: "Shop"   # quoted on purpose\ndescription: |\n  Two lines\n' in text
    new_node = text.index("  search:\n")
    assert text.index("cache: [480, 160]") > text.index("# where they stand") > new_node


def test_a_moved_node_is_written_in_whole_pixels():
    edited = edit(ORIGINAL, lambda d: d["layout"].update(api=[245.0, 12.0]))
    assert lines_changed(TEXT, save(edited)) == (
        ["  api: [240, 0]   # centre"],
        ["  api: [245, 12]   # centre"],
    )


WIDE = """\
murphy: 1
name: Wide
duration: 10s
nodes:
    users:
        kind: client
        rate: 10/s
        calls:
        -   to: api
            timeout: 1s  # four, and the dash at the key
    api:
        kind: service
        workers: 2
        service_time: {dist: exponential, mean: 5ms}
"""


def test_the_files_own_indentation_is_kept():
    edited = edit(parse_scenario(WIDE), lambda d: d["nodes"]["api"].update(workers=3))
    assert save(edited, WIDE) == WIDE.replace("workers: 2", "workers: 3")
    edited = edit(edited, lambda d: d["nodes"]["users"]["calls"].append({"to": "api"}))
    assert "# four, and the dash at the key\n        -   to: api\n    api:\n" in save(edited, WIDE)


def test_without_an_original_it_is_the_plain_dump():
    result = saved_text(ORIGINAL, None)
    assert result == scenario_roundtrip.SavedText(dump_scenario(ORIGINAL), kept=False)


@pytest.mark.parametrize(
    "original, reason",
    [
        (TEXT.replace("{dist: exponential, mean: 5ms}", "&fast {dist: exponential, mean: 5ms}")
         .replace("{dist: exponential, mean: 1ms}", "*fast"), "anchors"),
        (TEXT.replace("workers: 8", "workers: !!int 8"), "explicit tags"),
        ("murphy: 1\nname: [", "no longer loads"),
    ],
)  # fmt: skip
def test_what_cannot_be_kept_is_written_plainly_and_says_why(original, reason):
    edited = edit(ORIGINAL, lambda d: d["nodes"]["api"].update(workers=9))
    result = saved_text(edited, original)
    assert not result.kept and reason in result.reason
    assert result.text == dump_scenario(edited)


def test_a_text_that_would_load_differently_is_never_written(monkeypatch):
    monkeypatch.setattr(scenario_roundtrip, "_patch", lambda original, edited: (TEXT, []))
    edited = edit(ORIGINAL, lambda d: d["nodes"]["api"].update(workers=9))
    result = saved_text(edited, TEXT)
    assert not result.kept and "changed what it says" in result.reason
    assert parse_scenario(result.text) == edited


# -- regressions: comments above list items, namespaces, swaps, line endings -----------------

FAULTS = """\
murphy: 1
name: x
duration: 60s
nodes:
  users:
    kind: client
    rate: 10/s
    calls:
      - {to: api}
  api:
    kind: service
    workers: 2
    service_time: {dist: exponential, mean: 10ms}
faults:
  - {kind: crash, target: api, at: 20s, for: 5s}
  # the second
  - {kind: latency, target: api, at: 40s, for: 5s, add: 50ms}  # keep me
layout:
  users: [0, 0]
  api: [240, 0]
"""


def test_an_edited_item_keeps_the_line_above_it_and_its_end_of_line_comment():
    """ruamel (0.19) dropped the lines above a flow item that has an end-of-line comment
    when the item before it has none."""
    text = save(edit(parse_scenario(FAULTS), lambda d: d["faults"][1].update(at="41s")), FAULTS)
    assert lines_changed(FAULTS, text) == (
        ["  - {kind: latency, target: api, at: 40s, for: 5s, add: 50ms}  # keep me"],
        ["  - {kind: latency, target: api, at: 41s, for: 5s, add: 50ms}  # keep me"],
    )


def _broker_outage() -> str:
    text = (ROOT / "scenarios" / "broker-outage.yaml").read_text(encoding="utf-8")
    first = "  - {kind: crash, target: bus, at: 60s, for: 60s}\n"
    assert first in text
    return text.replace(
        first,
        first + "  # the orders service too\n"
        "  - {kind: latency, target: orders, at: 10s, for: 5s, add: 50ms}  # keep me\n",
    )


def test_a_node_renamed_keeps_the_comments_of_a_fault_on_it():
    from gui.edits import rename_node

    original = _broker_outage()
    text = save(rename_node(parse_scenario(original), "orders", "billing"), original)
    assert "  # the orders service too\n  - {kind: latency, target: billing," in text
    assert "add: 50ms}  # keep me\n" in text


def test_a_queue_renamed_is_not_a_node_renamed():
    """A broker's queue ``orders`` renamed ``shop``: the fault on the node ``orders`` is the
    same fault (renames are kept per namespace), with the line above it."""
    from gui.edits import rename_entry

    original = _broker_outage()
    edited = rename_entry(parse_scenario(original), ("nodes", "bus"), "queues", "orders", "shop")
    removed, added = lines_changed(original, save(edited, original))
    assert all("orders" in line for line in removed) and len(removed) == len(added) == 3
    assert not [line for line in removed if "#" in line or "target" in line]


def test_swapping_two_calls_targets_edits_both_where_they_stand():
    def swap(data: dict[str, Any]) -> None:
        calls = data["nodes"]["api"]["calls"]
        calls[0]["to"], calls[1]["to"] = calls[1]["to"], calls[0]["to"]

    assert lines_changed(TEXT, save(edit(ORIGINAL, swap))) == (
        ["      - to: db", "      - {to: cache, timeout: 100ms}"],
        ["      - to: cache", "      - {to: db, timeout: 100ms}"],
    )


def test_an_item_deleted_beside_one_edited_leaves_that_ones_comments():
    def change(data: dict[str, Any]) -> None:
        data["faults"].pop(0)
        data["faults"][0]["at"] = "45s"

    text = save(edit(ORIGINAL, change))
    assert "faults:\n  # and later\n  - {kind: latency, target: cache, at: 45s," in text
    assert "# the outage" not in text


def test_an_item_replaced_by_another_keeps_the_lines_above_it_but_not_its_own():
    def change(data: dict[str, Any]) -> None:
        data["faults"][0] = {"kind": "error", "target": "api", "at": "1s", "rate": 0.5}

    text = save(edit(ORIGINAL, change))
    assert "faults:\n  - {kind: error, target: api, at: 1s, rate: 50%}\n  # and later\n" in text
    assert "# the outage" not in text


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_the_files_line_ending_is_kept_on_every_line(ending):
    original = TEXT.replace("\n", ending)
    edited = edit(ORIGINAL, lambda d: d["nodes"]["api"]["calls"].append({"to": "cache"}))
    text = save(edited, original)
    assert text.replace(ending, "") == text.replace(ending, "").replace("\n", "")
    assert text.count(ending) == TEXT.count("\n") + 1


def test_a_byte_order_mark_is_kept():
    edited = edit(ORIGINAL, lambda d: d["nodes"]["api"].update(workers=9))
    assert save(edited, "\ufeff" + TEXT) == "\ufeff" + TEXT.replace("workers: 8", "workers: 9")


def test_a_comment_lost_is_never_kept_silently(monkeypatch):
    """The last safety net: a comment line that did not belong to a deleted entry and is
    missing is said in the reason (the status bar), and ``kept`` is False."""
    restore = scenario_roundtrip._restore_untouched

    def losing(original: str, written: str, data: Any) -> str:
        return restore(original, written, data).replace("      # the cache, later\n", "")

    monkeypatch.setattr(scenario_roundtrip, "_restore_untouched", losing)
    edited = edit(ORIGINAL, lambda d: d["nodes"]["api"].update(workers=9))
    result = saved_text(edited, TEXT)
    assert not result.kept and result.lost == ("# the cache, later",)
    assert "could not be kept: '# the cache, later'" in result.reason
    assert parse_scenario(result.text) == edited and "# the outage" in result.text
    deleted = edit(ORIGINAL, lambda d: remove_node(d, "cache"))  # its comments go with it
    assert saved_text(deleted, TEXT).kept


def test_a_hash_in_a_block_scalar_or_a_string_is_no_comment():
    original = TEXT.replace(
        'name: "Shop"   # quoted on purpose\n',
        'name: "Shop # 1"   # quoted on purpose\ndescription: |\n  line # not a comment\n',
    )
    edited = edit(parse_scenario(original), lambda d: d.update(description="other\n"))
    result = saved_text(edited, original)
    assert result.kept, result.reason
    assert "  other\n" in result.text and "not a comment" not in result.text


# -- any sequence of edits -----------------------------------------------------------------

NAMES = ("users", "api", "db", "cache")

EDITED = TEXT.replace(
    "  - {kind: latency, target: cache, at: 40s, for: 5s, add: 50ms}\n",
    "  - {kind: latency, target: cache, at: 40s, for: 5s, add: 50ms}\n"
    "  - {kind: crash, target: api, at: 50s, for: 2s}\n"
    "  # the api again\n"
    "  - {kind: latency, target: api, at: 55s, for: 5s, add: 10ms}  # a blip\n",
)
"""TEXT with the shapes ruamel got wrong: a flow item with an end-of-line comment and a
comment line above it, after an item with none."""


@st.composite
def edits(draw: st.DrawFn) -> list[tuple[str, Any, Any]]:
    steps = st.one_of(
        st.tuples(st.just("move"), st.sampled_from(NAMES), st.integers(-500, 500)),
        st.tuples(st.just("workers"), st.sampled_from(NAMES[1:]), st.integers(10, 50)),
        st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(["x1", "y_2"])),
        st.tuples(st.just("remove"), st.sampled_from(NAMES[1:]), st.just(0)),
        st.tuples(st.just("fault"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("at"), st.integers(0, 3), st.integers(1, 59)),
        st.tuples(st.just("timeout"), st.integers(0, 1), st.integers(1, 900)),
        st.tuples(st.just("swap"), st.just("api"), st.just(0)),
        st.tuples(st.just("add"), st.sampled_from(["new1", "new2"]), st.integers(0, 3)),
    )
    return draw(st.lists(steps, min_size=1, max_size=6))


class Edits:
    """Edits of EDITED's data, remembering what became of its nodes, of api's calls and of
    the faults (each by what it was in the file, whatever it is called or aims at now)."""

    def __init__(self) -> None:
        self.data = copy.deepcopy(scenario_to_data(parse_scenario(EDITED)))
        self.names: dict[str, str | None] = {n: n for n in NAMES}  # first name -> now
        self.faults = [0, 1, 2, 3]  # which of the file's faults are left, in order
        self.calls = [0, 1]  # which of api's calls are left, in order
        self.swapped = self.timed = False  # api's calls' targets swapped, timeouts changed

    def alive(self, *names: str) -> bool:
        return all(self.names[n] is not None for n in names)

    def api_calls(self) -> list[dict[str, Any]]:
        api = self.names["api"]
        return self.data["nodes"][api].get("calls", []) if api else []

    def apply(self, step: tuple[str, Any, Any]) -> None:
        what, name, value = step
        data, nodes = self.data, self.data["nodes"]
        faults = data.get("faults", [])
        first = next((k for k, v in self.names.items() if v == name), None)
        if what == "move" and name in nodes:
            data["layout"][name] = [value, value // 2]
        elif what == "workers" and name in nodes:
            nodes[name]["workers"] = value
        elif what == "rename" and name in nodes and value not in nodes:
            rename(data, name, value)
            if first is not None:
                self.names[first] = value
        elif what == "remove" and name in nodes and len(nodes) > 1:
            called = [c["to"] for c in self.api_calls()]
            if self.swapped and name in called:
                return  # a call to it removed after the swap: each of the two is half the
                # one and half the other (target and timeout), the file cannot tell which
            targets = [f["target"] for f in faults]
            self.faults = [i for i, t in zip(self.faults, targets, strict=True) if t != name]
            self.calls = [i for i, t in zip(self.calls, called, strict=True) if t != name]
            if first == "api":
                self.calls = []
            remove_node(data, name)
            if first is not None:
                self.names[first] = None
        elif what == "fault" and name < len(faults):
            faults.pop(name)
            self.faults.pop(name)
            if not faults:
                del data["faults"]
        elif what == "at" and name < len(faults):
            faults[name]["at"] = f"{value}s"
        elif (self.swapped and what == "timeout") or (self.timed and what == "swap"):
            return  # a call with its target and its timeout changed in one save has
            # nothing left of what it was: the file reads it as another (``_alike``)
        elif what == "timeout" and name < len(self.api_calls()):
            self.api_calls()[name]["timeout"] = f"{value}ms"
            self.timed = True
        elif what == "swap" and len(self.api_calls()) == 2:  # the two calls' targets
            one, two = self.api_calls()
            one["to"], two["to"] = two["to"], one["to"]
            self.swapped = True
        elif what == "add" and name not in nodes:  # unlike any node of TEXT (``_likeness``)
            nodes[name] = {"kind": "database", "workers": 60 + value,
                           "service_time": {"dist": "constant", "value": "1ms"}}  # fmt: skip
            data["layout"][name] = [value * 100, 300]
            if value % 2:
                nodes["users" if "users" in nodes else next(iter(nodes))].setdefault(
                    "calls", []
                ).append({"to": name})

    def expected_comments(self) -> list[str]:
        """EDITED's comments, in order, that belong to something still there: every one
        of a node, call or fault that survives, by what it was or renamed."""
        owners = {
            "# the clients": self.alive("users"),
            "# peak traffic": self.alive("users"),
            "# the only entry": self.alive("users", "api"),
            "# the API, the busy one": self.alive("api"),
            "# bounded": self.alive("api"),
            "# short": self.alive("api") and 0 in self.calls,
            "# the cache, later": self.alive("api") and 1 in self.calls,
            "# the database": self.alive("db"),
            "# what goes wrong": bool(self.faults),
            "# the outage": 0 in self.faults,
            "# and later": 1 in self.faults,
            "# the api again": 3 in self.faults,
            "# a blip": 3 in self.faults,
            "# centre": self.alive("api"),
        }
        assert set(owners) <= set(comments(EDITED))
        return [c for c in comments(EDITED) if owners.get(c, True)]


def comments(text: str) -> list[str]:
    return [m.group() for m in re.finditer(r"# [^\n]*[^\s]", text)]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits())
def test_any_edits_load_back_and_keep_the_comments_of_what_is_left(steps):
    """Every comment of what survives the edits (a node, a call, a fault, as it was or
    renamed, edited or not) is in the saved text, in its order; ``save`` checks that the
    save says it kept them (no loss reported) and that the text loads to the edits."""
    edits = Edits()
    for step in steps:
        edits.apply(step)
    text = save(validated(edits.data), EDITED)
    assert comments(text) == edits.expected_comments()


# -- the semantic fuzz's mutations, saved into the examples' own text ------------------------

ROUNDTRIP_CASES = int(os.environ.get("MURPHY_ROUNDTRIP_FUZZ", "12"))


@pytest.mark.parametrize("index", range(ROUNDTRIP_CASES))
def test_a_mutated_example_saves_into_its_own_text(index):
    """Knobs moved, policies switched, faults, brokers and consumers added (the semantic
    fuzz's cases): written into the example's text, kept, and loads to the same."""
    case = make_case(index, seed=12)
    original = EXTRA_BASES.get(case.example) or (ROOT / "scenarios" / f"{case.example}.yaml")
    text = original if isinstance(original, str) else original.read_text(encoding="utf-8")
    result = saved_text(case.scenario, text)
    assert result.kept, result.reason
    assert parse_scenario(result.text) == case.scenario
