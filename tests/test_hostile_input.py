"""A scenario file is untrusted: each class of hostile input ends in one clear error line.

Each test states a class (bad tags, deep nesting, backtracking units, cycle
explosions, devices, memory, merge keys) with a few members of it, and checks the
public interface (``parse_scenario``/``load_scenario``, ``Simulation``). Big
inputs are generated here. No test times anything: a regression to exponential
work shows as a suite that does not finish, which the alarm below turns into a
failure instead of a hang.
"""

from __future__ import annotations

import os
import re
import signal
import tracemalloc
from collections.abc import Iterator

import pytest

from simulator.scenario import ScenarioError, load_scenario, parse_scenario
from simulator.units import parse_duration, parse_percent, parse_rate

GUARD_SECONDS = 120  # generous: the whole module runs in a few seconds


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    def stop(_signum: int, _frame: object) -> None:
        raise TimeoutError("hostile input is taking far too long: superlinear parsing?")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(GUARD_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


BASE = """\
name: hostile
duration: 10s
nodes:
  users:
    kind: client
    rate: 10/s
    calls: [{to: api}]
  api:
    kind: service
    service_time: {dist: constant, value: 1ms}
"""
LINE = re.compile(r"^x\.yaml:(\d+): (\S.*)$")


def problems_of(text: str) -> list[str]:
    """Every problem line of a refused text; each must be ``x.yaml:LINE: ...`` on one line."""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml")
    lines = [str(p) for p in caught.value.problems]
    for line in lines:
        assert "\n" not in line and LINE.match(line), line
    return lines


def only_problem(text: str) -> str:
    lines = problems_of(text)
    assert len(lines) == 1, lines
    return lines[0]


# 1. tags ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("!!bool maybe", "x.yaml:1: name: cannot read 'maybe' as a boolean"),
        ("!!int abc", "x.yaml:1: name: cannot read 'abc' as an integer"),
        ("!!float abc", "x.yaml:1: name: cannot read 'abc' as a number"),
        ("!!int 0x_", "x.yaml:1: name: cannot read '0x_' as an integer"),
        ("!!null 3", None),  # a valid null: the schema then wants a string
        ("!!timestamp x", "x.yaml:1: name: the tag !!timestamp is not allowed"),
        ("!!timestamp 2024-01-01", "x.yaml:1: name: the tag !!timestamp is not allowed"),
        ("!!binary aGk=", "x.yaml:1: name: the tag !!binary is not allowed"),
        ("!!set {a: null}", "x.yaml:1: name: the tag !!set is not allowed"),
        ("!!python/object/apply:os.system ['true']", "x.yaml:1: name: the tag !!python/"),
        ("!custom 3", "x.yaml:1: name: the tag !custom is not allowed"),
        ("!!str [1]", "x.yaml:1: name: not valid YAML: expected a scalar node"),
        ("!!map 3", "x.yaml:1: name: not valid YAML: expected a mapping node"),
    ],
)
def test_tags_with_bad_values_or_exotic_types_give_a_located_error(value, expected) -> None:
    text = f"name: {value}\n" + BASE.split("\n", 1)[1]
    error = problems_of(text)[0]
    if expected is not None:
        assert error.startswith(expected), error


def test_a_construction_failure_deep_in_the_file_names_its_field_and_line() -> None:
    text = BASE.replace("rate: 10/s", "rate: !!float ten")
    assert only_problem(text).startswith("x.yaml:6: nodes.users.rate: cannot read 'ten'")


def test_an_integer_too_long_to_convert_is_an_error_not_a_traceback() -> None:
    text = BASE.replace("duration: 10s", "duration: " + "9" * 5_000)
    assert "x.yaml:2: duration: cannot read '9999" in only_problem(text)


def test_long_values_are_cut_short_in_messages() -> None:
    text = BASE.replace("rate: 10/s", "rate: '" + "x" * 100_000 + "'")
    error = only_problem(text)
    assert "(100000 characters)" in error and len(error) < 400


def test_multi_line_values_stay_on_one_line_in_messages() -> None:
    text = BASE.replace("rate: 10/s", 'rate: "ten\\nper\\rsecond\\u2028"')
    assert r"ten\nper\rsecond" in only_problem(text)


def test_non_printable_characters_are_refused_with_a_line() -> None:
    assert only_problem(BASE.replace("api:\n", "api:\x00\n", 1)).startswith("x.yaml:8: not valid")


# 2. nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nested",
    [
        "[" * 490 + "]" * 490,
        "{a: " * 490 + "1" + "}" * 490,
        "[" * 200_000,  # unbalanced, and 200 KB
        "\n" + "".join("  " * i + "- \n" for i in range(1, 300)),
    ],
    ids=["flow-lists", "flow-maps", "unclosed", "block"],
)
def test_deep_nesting_is_refused_before_it_recurses(nested: str) -> None:
    text = BASE.replace("name: hostile", f"name: {nested}")
    assert "nested more than 64 levels deep" in only_problem(text)


def test_nesting_through_aliases_counts_as_nesting() -> None:
    deep = "[" * 40 + "1" + "]" * 40
    text = BASE + f"a: &a {deep}\nb: &b {'[' * 40}*a{']' * 40}\n"
    assert "nested more than 64 levels deep (through aliases)" in only_problem(text)


def test_a_recursive_anchor_is_refused() -> None:
    assert "nested more than 64" in only_problem(BASE + "loop: &a [*a]\n")


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]")
    assert "alias bomb" in only_problem("\n".join(lines) + "\n")


def test_nesting_a_scenario_needs_is_accepted() -> None:
    ok = BASE.replace("calls: [{to: api}]", "calls: [{to: api, retry: {attempts: 3}}]")
    assert parse_scenario(ok).nodes["users"].calls[0].retry is not None


# 3. units -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "1" * 20_000 + "x",
        "1" * 20_000 + "%x",
        "." + "1" * 20_000 + "e",
        " " * 20_000 + "1" * 20_000 + "m s",
        "1" * 900_000 + "s",
    ],
    ids=["digits", "percent", "point", "spaces", "megabyte"],
)
def test_unit_parsers_refuse_long_near_misses_at_once(value: str) -> None:
    for parse in (parse_duration, parse_rate, parse_percent):
        with pytest.raises(ValueError, match="expected") as caught:
            parse(value)
        assert len(str(caught.value)) < 200


def test_a_long_unit_value_in_a_file_is_one_short_error() -> None:
    text = BASE.replace("duration: 10s", "duration: " + "1" * 900_000 + "q")
    error = only_problem(text)
    assert error.startswith("x.yaml:2: duration: expected a duration")
    assert len(error) < 300  # the 900,000 digits are not echoed


@pytest.mark.parametrize(
    ("parse", "good", "value"),
    [
        (parse_duration, ".5s", 0.5),
        (parse_duration, "1.5min", 90.0),
        (parse_rate, "1e3/s", 1000.0),
        (parse_percent, "50%", 0.5),
        (parse_percent, "0.25", 0.25),
    ],
)
def test_unit_parsers_still_read_what_people_write(parse, good: str, value: float) -> None:
    assert parse(good) == value


@pytest.mark.parametrize("bad", ["5.s", "1..5s", "1e5", 10**400, -(10**400)])
def test_unit_parsers_stay_strict(bad) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_duration(bad)


# 4. call cycles -----------------------------------------------------------------------------


def _mesh(n: int) -> str:
    lines = [
        "name: mesh",
        "duration: 10s",
        "nodes:",
        "  u: {kind: client, rate: 1/s, calls: [{to: s0}]}",
    ]
    for i in range(n):
        calls = ", ".join(f"{{to: s{j}}}" for j in range(n) if j != i)
        lines.append(f"  s{i}: {{kind: service, service_time: {{dist: constant, value: 1ms}}, "
                     f"calls: [{calls}]}}")  # fmt: skip
    return "\n".join(lines) + "\n"


def test_a_dense_call_mesh_reports_one_cycle_without_enumerating_them() -> None:
    from simulator.engine import EngineError, Simulation
    from simulator.topology import find_call_cycle, problems, to_graph

    scenario = parse_scenario(_mesh(40))  # 1,560 edges: billions of simple cycles
    cycles = [p for p in problems(scenario) if "cycle" in p.message]
    assert len(cycles) == 1 and cycles[0].message.startswith("synchronous call cycle: s")
    cycle = find_call_cycle(to_graph(scenario))
    assert cycle is not None and len(set(cycle)) == len(cycle)  # one simple cycle
    with pytest.raises(EngineError, match="synchronous call cycle"):
        Simulation(scenario)


def test_retry_amplification_bound_is_computed_without_enumerating_paths() -> None:
    from simulator.topology import amplification_bound

    layers, width = 30, 4  # 4^30 paths from the client to the last node
    lines = ["name: layers", "duration: 10s", "nodes:"]
    first = ", ".join(f"{{to: l0n{j}, retry: {{attempts: 2}}}}" for j in range(width))
    lines.append(f"  u: {{kind: client, rate: 1/s, calls: [{first}]}}")
    for i in range(layers):
        nxt = [f"l{i + 1}n{j}" for j in range(width)] if i + 1 < layers else []
        calls = ", ".join(f"{{to: {t}, retry: {{attempts: 2}}}}" for t in nxt)
        for j in range(width):
            lines.append(f"  l{i}n{j}: {{kind: service, service_time: {{dist: constant, "
                         f"value: 1ms}}, calls: [{calls}]}}")  # fmt: skip
    scenario = parse_scenario("\n".join(lines) + "\n")
    assert amplification_bound(scenario, f"l{layers - 1}n0") == 2**layers


# 5. files that are not files ----------------------------------------------------------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_without_reading_them(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(device)


def test_a_fifo_is_refused_without_blocking(tmp_path) -> None:
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(fifo)


def test_a_directory_a_missing_file_and_bad_encoding_are_clean_errors(tmp_path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(BASE.replace("hostile", "h\xe9").encode("latin-1"))
    for path, message in ((tmp_path, "not a regular file"), (tmp_path / "no.yaml", "cannot read"),
                          (latin, "not UTF-8")):  # fmt: skip
        with pytest.raises(ScenarioError, match=message) as caught:
            load_scenario(path)
        assert str(caught.value).startswith(f"{path}:1: ")


def test_a_file_over_the_limit_is_refused_whatever_its_claimed_size(tmp_path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(BASE + "#" * 1_000_001 + "\n")
    with pytest.raises(ScenarioError, match="larger than 1000000 bytes"):
        load_scenario(big)


# 6. memory ----------------------------------------------------------------------------------

TINY_BIG = """\
name: small file, big run
duration: 1000000s
bucket: 1s
nodes:
  a: {kind: client, rate: 0.5/s, calls: [{to: s}]}
  b: {kind: client, rate: 0.5/s, calls: [{to: s}]}
  s: {kind: service, service_time: {dist: constant, value: 1ms}}
"""


def test_a_small_file_asking_for_gigabytes_of_time_series_is_refused() -> None:
    assert len(TINY_BIG) < 300
    error = only_problem(TINY_BIG)
    assert "x.yaml:3: bucket: this run would need about" in error
    assert "GiB" in error and "the budget is 1.00 GiB" in error
    assert "coarser bucket or a shorter duration" in error
    parse_scenario(TINY_BIG.replace("bucket: 1s", "bucket: 100s"))  # the way out works


def test_a_duration_whose_bucket_count_overflows_a_float_is_a_clean_error() -> None:
    """Found by `make fuzz`: 1e308 s over 500 ms is infinity, which math.ceil refuses."""
    text = TINY_BIG.replace("duration: 1000000s", "duration: 1.0e+308").replace("1s", "500ms")
    assert any("x.yaml:3: bucket:" in line and "time buckets" in line for line in problems_of(text))


def test_the_simulation_refuses_an_over_budget_scenario_built_in_memory() -> None:
    from simulator.engine import EngineError, Simulation

    small = parse_scenario(TINY_BIG.replace("bucket: 1s", "bucket: 100s"))
    with pytest.raises(EngineError, match="budget"):
        Simulation(small.model_copy(update={"bucket": 1.0}))


def test_the_memory_model_counts_the_engine_series() -> None:
    from simulator.calls import EDGE_SERIES, POOL_SERIES
    from simulator.components.base import NODE_SERIES
    from simulator.scenario_limits import EDGE_SERIES_COUNT, NODE_SERIES_COUNT, POOL_SERIES_COUNT

    assert (len(NODE_SERIES), len(EDGE_SERIES)) == (NODE_SERIES_COUNT, EDGE_SERIES_COUNT)
    assert len(POOL_SERIES) == POOL_SERIES_COUNT


@pytest.mark.parametrize(("clients", "services", "buckets"), [(1, 1, 4000), (2, 5, 2000)])
def test_the_memory_estimate_is_close_to_what_a_run_allocates(clients, services, buckets) -> None:
    from simulator.analysis import summarize
    from simulator.engine import Simulation
    from simulator.scenario_limits import estimate_memory
    from simulator.timeseries import time_series

    nodes = [f"  c{i}: {{kind: client, rate: 0.01/s, calls: [{{to: s0}}]}}" for i in range(clients)]
    nodes += [f"  s{i}: {{kind: service, service_time: {{dist: constant, value: 1ms}}}}"
              for i in range(services)]  # fmt: skip
    text = f"name: m\nduration: {buckets}s\nnodes:\n" + "\n".join(nodes) + "\n"
    scenario = parse_scenario(text)
    tracemalloc.start()
    try:
        sim = Simulation(scenario).run_to_end()
        summarize(sim)
        time_series(sim)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0.7 * peak <= estimate_memory(scenario) <= 1.6 * peak


# 7. durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("duration: 10s", "duration: 0s"), "x.yaml:2: duration: Input should be greater than 0"),
        (("duration: 10s", "duration: 10s\nwarmup: 10s"), "x.yaml:3: warmup: the warm-up must be"),
        (("duration: 10s", "duration: 10s\nwarmup: 1h"), "x.yaml:3: warmup: the warm-up must be"),
        (("name: hostile", "name: hostile\nseed: 1180591620717411303424"), "x.yaml:2: seed:"),
        (("name: hostile", "name: hostile\nseed: -1"), "x.yaml:2: seed:"),
    ],
)
def test_runs_that_would_measure_nothing_are_refused(edit, expected) -> None:
    assert only_problem(BASE.replace(*edit)).startswith(expected)


# 9. merge keys ------------------------------------------------------------------------------

MERGED = """\
name: merged
duration: 10s
nodes:
  users: {kind: client, rate: 1/s, calls: [{to: api}, {to: db}]}
  api: &svc {kind: service, workers: 2, service_time: {dist: constant, value: 1ms}}
  db:
    <<: *svc
    workers: 8
    queue: 3
  cache: {<<: *svc, workers: 4}
"""


def test_a_merge_key_with_overrides_is_not_a_duplicate() -> None:
    scenario = parse_scenario(MERGED)
    assert [scenario.nodes[n].workers for n in ("api", "db", "cache")] == [2, 8, 4]
    assert scenario.nodes["db"].queue == 3
    assert scenario.nodes["cache"].service_time == scenario.nodes["api"].service_time


def test_a_merged_field_is_located_at_its_explicit_line() -> None:
    assert problems_of(MERGED.replace("workers: 8", "workers: 0")) == [
        "x.yaml:8: nodes.db.workers: Input should be greater than or equal to 1"
    ]
    inherited = problems_of(MERGED.replace("value: 1ms", "value: soon"))
    assert inherited[0].startswith("x.yaml:5: nodes.api.service_time.value: expected a duration")


def test_a_duplicate_among_explicit_keys_beside_a_merge_is_still_an_error() -> None:
    text = MERGED.replace("queue: 3", "queue: 3\n    workers: 9")
    assert only_problem(text) == "x.yaml:10: nodes.db.workers: duplicate key 'workers'"


def test_merging_something_that_is_not_a_mapping_is_a_located_error() -> None:
    text = BASE.replace("kind: service", "<<: 3\n    kind: service")
    assert "x.yaml:9: nodes.api: not valid YAML: expected a mapping" in only_problem(text)


# problems are listed, but not without end -----------------------------------------------------


def test_a_file_wrong_everywhere_lists_a_bounded_number_of_problems() -> None:
    text = BASE + "".join(f"junk{i}: 1\n" for i in range(500))
    lines = problems_of(text)
    assert len(lines) == 21 and lines[-1].endswith("more problems not shown")


def test_a_file_of_very_many_entries_is_refused_by_count_not_validated_entry_by_entry() -> None:
    many = BASE + "faults: [" + "1, " * 60_000 + "]\n"
    assert "file has more than 50000 YAML nodes" in only_problem(many)
    faults = BASE + "faults: [" + "{}, " * 1_001 + "]\n"
    assert only_problem(faults) == "x.yaml:11: faults: 1001 faults; the limit is 1000"
