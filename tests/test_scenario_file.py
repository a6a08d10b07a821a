"""The scenario file as untrusted input: clear errors with lines, lossless round trips, limits."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from engine_helpers import ROOT, SCENARIOS
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.scenario import (
    ScenarioError,
    dump_scenario,
    load_scenario,
    parse_scenario,
    save_scenario,
)
from simulator.units import (
    format_duration,
    format_percent,
    format_rate,
    parse_duration,
    parse_percent,
    parse_rate,
)

GOOD = """\
murphy: 1
name: good
duration: 10s
nodes:
  users:
    kind: client
    rate: 10/s
    calls:
      - to: api
        timeout: 250ms
  api:
    kind: service
    workers: 2
    service_time: {dist: exponential, mean: 5ms}
"""


def error_of(text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (GOOD.replace("timeout: 250ms", "timeout: fast"),
         'x.yaml:10: nodes.users.calls[0].timeout: expected a duration like "250ms", got \'fast\''),
        (GOOD.replace("workers: 2", "wrokers: 2"), "x.yaml:13: nodes.api.wrokers: unknown field"),
        (GOOD.replace("to: api", "to: apj"), "x.yaml:9: nodes.users.calls[0].to: unknown node"),
        (GOOD.replace("rate: 10/s", "rate: ten"), 'x.yaml:7: nodes.users.rate: expected a rate'),
        (GOOD.replace("workers: 2", "workers: 0"), "x.yaml:13: nodes.api.workers: Input should be"),
        (GOOD.replace("kind: service", "kind: broker"), "x.yaml:12: nodes.api.queues: Field req"),
        (GOOD.replace("kind: service", "kind: servise"), "x.yaml:12: nodes.api: Input tag"),
        (GOOD.replace("dist: exponential", "dist: normal"), "x.yaml:14: nodes.api.service_time"),
        (GOOD.replace("murphy: 1", "murphy: 2"), "x.yaml:1: murphy: Input should be 1"),
        (GOOD.replace("duration: 10s\n", ""), "duration: Field required"),
        (GOOD + "faults: [{kind: crash, target: nowhere, at: 1s}]\n",
         "x.yaml:15: faults[0].target: unknown node 'nowhere'"),
        (GOOD + "faults: [{kind: latency, target: api, add: 2 seconds}]\n",
         "x.yaml:15: faults[0].add: expected a duration"),
        (GOOD.replace("  api:\n", "  api:\n    workers: 3\n"),
         "x.yaml:14: nodes.api.workers: duplicate key"),
        (GOOD.replace("calls:\n", "calls: [\n"), "not valid YAML"),
        ("- just\n- a list\n", "x.yaml:1: expected a mapping of scenario fields"),
        (GOOD.replace("rate: 10/s", "rate: 10/s\n    users: 5"), "exactly one of rate"),
        (GOOD + "layout: {ghost: [0, 0]}\n", "x.yaml:15: layout.ghost: position for unknown node"),
        (GOOD.replace("duration: 10s", "duration: 100000h"), "duration: rate x duration is about"),
        ("!!python/object/apply:os.system ['echo hacked']\n", "x.yaml:1: the tag !!python/object"),
    ],
)  # fmt: skip
def test_each_mistake_names_its_field_and_line(broken: str, expected: str) -> None:
    assert expected in error_of(broken)


def test_every_problem_is_reported_at_once() -> None:
    broken = GOOD.replace("timeout: 250ms", "timeout: fast").replace("workers: 2", "wrokers: 2")
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(broken, "x.yaml")
    assert [p.line for p in caught.value.problems] == [10, 13]


def test_a_misspelt_node_is_reported_with_the_schema_errors() -> None:
    broken = GOOD.replace("timeout: 250ms", "timeout: fast").replace("to: api", "to: apj")
    broken += "faults: [{kind: crash, target: nowhere, at: 1s}]\n"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(broken, "x.yaml")
    found = [(p.line, p.message) for p in caught.value.problems]
    assert (9, "unknown node 'apj'") in found and (15, "unknown node 'nowhere'") in found
    assert any(line == 10 and "expected a duration" in msg for line, msg in found)


def test_an_alias_bomb_is_stopped_before_it_expands() -> None:
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]")
    assert "alias bomb" in error_of("\n".join(lines) + "\n")


def test_a_huge_file_is_refused_before_parsing(tmp_path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(GOOD + "#" * 2_000_000 + "\n")
    with pytest.raises(ScenarioError, match="larger than"):
        load_scenario(path)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_load_save_load_is_lossless(path, tmp_path) -> None:
    first = load_scenario(path)
    save_scenario(first, tmp_path / "copy.yaml")
    assert load_scenario(tmp_path / "copy.yaml") == first
    assert parse_scenario(dump_scenario(first)) == first


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path) -> None:
    target = tmp_path / "s.yaml"
    target.write_text("old")
    save_scenario(parse_scenario(GOOD), target)
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]
    assert load_scenario(target).name == "good"


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=1e7, allow_nan=False))
def test_durations_and_rates_round_trip_exactly(value: float) -> None:
    assert parse_duration(format_duration(value)) == value
    assert parse_rate(format_rate(value)) == value


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=1))
def test_percentages_round_trip_exactly(value: float) -> None:
    assert parse_percent(format_percent(value)) == value


@pytest.mark.parametrize("bad", ["fast", "-1s", "1 parsec", "", "nan", True, None, "1e999s"])
def test_bad_durations_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def murphy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip


def test_validate_command_reports_lines_and_exit_codes(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("timeout: 250ms", "timeout: fast"))
    good = murphy("validate", *map(str, SCENARIOS))
    assert good.returncode == 0, good.stderr
    broken = murphy("validate", str(bad))
    assert broken.returncode == 1
    assert f"{bad}:10: nodes.users.calls[0].timeout" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_run_on_a_broken_file_gives_the_error_not_a_traceback(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("to: api", "to: nowhere"))
    result = murphy("run", str(bad))
    assert result.returncode == 1
    assert "unknown node 'nowhere'" in result.stderr and "Traceback" not in result.stderr


def test_schema_command_prints_a_json_schema_that_names_the_fields() -> None:
    result = murphy("schema")
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    top_level = {"murphy", "name", "duration", "nodes", "faults", "layout"}
    assert top_level.issubset(schema["properties"])
