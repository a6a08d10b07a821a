"""Corrupt writes, the layers that catch them, and the reconciliation sweep that finds the rest."""

from __future__ import annotations

import json
import math

import pytest
from engine_helpers import example, run, scenario

from simulator.corruption import BadData, Layer, Sweep, check
from simulator.scenario import ScenarioError
from simulator.scenario_data import ValidationLayer
from simulator.timeseries import time_series

# -- the lesson ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def defense() -> dict:
    return run(example("defense-in-depth.yaml"))[1]


def test_each_layer_cuts_what_is_stored_corrupt(defense: dict) -> None:
    dbs = defense["corruption"]["databases"]
    assert defense["invariants"] == []
    stored = [dbs[f"db_{i}"]["stored_corrupt"] for i in (1, 2, 3)]
    written = [dbs[f"db_{i}"]["written_corrupt"] for i in (1, 2, 3)]
    assert all(w > 500 for w in written)  # the same bug, the same share of bad writes
    assert max(written) < 1.25 * min(written)
    # one layer stores ~40% of the bad writes, each further layer halves it
    assert 0.3 * written[0] < stored[0] < 0.5 * written[0]
    assert stored[1] < 0.7 * stored[0] and stored[2] < 0.7 * stored[1]
    assert list(dbs["db_3"]["caught_by_layer"]) == ["input_schema", "domain_rules", "db_constraint"]
    assert all(n > 0 for n in dbs["db_3"]["caught_by_layer"].values())
    # a caught write is refused: the order fails with an error the shop sees
    caught = dbs["db_1"]["caught"]
    assert defense["routes"]["shop_1"]["outcomes"]["error"] == pytest.approx(caught, rel=0.05)


def test_reconciliation_bounds_the_time_to_detect_at_a_load_cost(defense: dict) -> None:
    dbs = defense["corruption"]["databases"]
    slow, fast = dbs["db_3"], dbs["db_4"]
    for db in (slow, fast):
        spec = db["reconciliation"]
        bound = spec["detect_bound_s"]
        assert bound == spec["interval_s"] / spec["scan_share"]
        # one interval of margin: the first pass after the write, and the pass's own time
        assert db["time_to_detect_s"]["p99"] <= bound + spec["interval_s"]
        assert db["found_by_reconciliation"] > 0.8 * db["stored_corrupt"]
    assert fast["time_to_detect_s"]["p99"] < 0.4 * slow["time_to_detect_s"]["p99"]
    assert fast["time_to_detect_s"]["mean"] < 0.4 * slow["time_to_detect_s"]["mean"]
    # the cost: five times the passes hold the database's workers five times as long
    assert fast["reconciliation"]["load_share"] > 3 * slow["reconciliation"]["load_share"]
    util = {n: defense["nodes"][n]["utilization"] for n in ("db_3", "db_4")}
    assert util["db_4"] > util["db_3"] + 0.05
    p99 = {n: defense["routes"][n]["latency_ms"]["p99"] for n in ("shop_3", "shop_4")}
    assert p99["shop_4"] > 1.1 * p99["shop_3"]


# -- the parts -------------------------------------------------------------------------------


def test_the_sweep_finds_a_record_within_one_over_share_passes() -> None:
    sweep = Sweep(0.25)
    for i in range(100):
        sweep.store(float(i), corrupt=i in (3, 50, 99))
    found: list[float] = []
    passes = 0
    while sweep.at_rest:
        passes += 1
        start, count, records = sweep.plan()
        assert count == 25 and records == 100
        found += sweep.scan(start, count, records)
    assert passes == 4 and sorted(found) == [3.0, 50.0, 99.0]
    assert sweep.cursor == 0  # a whole sweep brings the cursor back


def test_the_sweep_wraps_and_reaches_records_written_behind_the_cursor() -> None:
    sweep = Sweep(0.5)
    for _ in range(10):
        sweep.store(0.0, corrupt=False)
    assert sweep.scan(*sweep.plan()) == []  # records 0-4, cursor at 5
    sweep.store(7.0, corrupt=True)  # position 10, written behind the range planned next
    start, count, records = sweep.plan()
    assert (start, count, records) == (5, 6, 11)
    assert sweep.scan(start, count, records) == [7.0]  # 5..10: the new tail is reached
    sweep.store(8.0, corrupt=True)  # position 11
    assert sweep.scan(*sweep.plan()) == []  # 0..5 (wrapped): not yet
    assert sweep.scan(*sweep.plan()) == [8.0]
    assert sweep.at_rest == 0


def test_an_empty_sweep_plans_nothing() -> None:
    assert Sweep(0.1).plan() == (0, 0, 0)


def _layer(name: str, catches: float, latency: float = 0.0, place: str = "a->db") -> Layer:
    return Layer(ValidationLayer(layer=name, catches=catches, latency=latency), place)  # type: ignore[arg-type]


def test_a_layer_catches_its_share_and_the_same_write_every_time() -> None:
    layer = _layer("input_schema", 0.3)
    bad = [BadData(k * 7919) for k in range(20_000)]
    caught = [layer.catches_write(b) for b in bad]
    assert sum(caught) / len(bad) == pytest.approx(0.3, abs=0.015)
    assert caught == [layer.catches_write(b) for b in bad]  # a retry is caught again
    other = _layer("domain_rules", 0.3)
    both = sum(c and other.catches_write(b) for c, b in zip(caught, bad, strict=True))
    assert both / len(bad) == pytest.approx(0.09, abs=0.01)  # layers are independent


def test_layers_cost_time_on_every_write_and_stop_at_the_one_that_catches() -> None:
    layers = [_layer("input_schema", 0.0, 0.001), _layer("domain_rules", 1.0, 0.002)]
    assert check(layers, None) == (pytest.approx(0.003), None)  # a good write pays them all
    spent, caught = check(layers, BadData(1))
    assert spent == pytest.approx(0.003) and caught is layers[1]
    first = [_layer("input_schema", 1.0, 0.001), _layer("domain_rules", 1.0, 0.002)]
    assert check(first, BadData(1)) == (pytest.approx(0.001), first[0])


# -- through the engine ------------------------------------------------------------------------

BASE = """
murphy: 1
name: corrupt
seed: 5
duration: {duration}
nodes:
  users: {{kind: client, rate: 100/s, calls: [{{to: api, timeout: 2s}}]}}
  api:
    kind: service
    workers: 8
    service_time: {{dist: constant, value: 1ms}}
    calls:
      - {{to: db, writes: true, {call}}}
      - {{to: db}}
  db:
    kind: database
    workers: 8
    service_time: {{dist: constant, value: 2ms}}
    {db}
faults: [{faults}]
"""


def _run(call: str = "", db: str = "", faults: str = "", duration: str = "30s", seed: int = 5):
    text = BASE.format(call=call, db=db, faults=faults, duration=duration)
    return run(scenario(text), seed)


def test_every_bad_write_without_a_layer_is_stored_and_stays_at_rest() -> None:
    _sim, out = _run(faults="{kind: corruption, target: api, rate: 100%}")
    db = out["corruption"]["databases"]["db"]
    assert out["invariants"] == []
    assert db["written_corrupt"] == db["stored_corrupt"] + db["in_flight"]
    assert db["stored_corrupt"] == db["at_rest"] == db["records"]  # only bad writes are records
    assert db["records"] > 2500 and db["caught_by_layer"] == {}
    assert db["time_to_detect_s"] == {"mean": None, "p99": None, "max": None}
    assert out["routes"]["users"]["success_rate"] == 1.0  # nothing notices: the data is bad


def test_a_call_layer_refuses_before_sending_and_costs_every_write_its_time() -> None:
    layer = "validation: [{layer: input_schema, catches: 100%, latency: 10ms}]"
    _sim, clean = _run(call=layer)
    assert clean["routes"]["users"]["latency_ms"]["mean"] == pytest.approx(1 + 10 + 2 + 2, rel=0.01)
    assert clean["corruption"]["databases"]["db"]["written_corrupt"] == 0
    _sim, out = _run(call=layer, faults="{kind: corruption, target: api, at: 10s, rate: 10%}")
    db, edge = out["corruption"]["databases"]["db"], out["edges"]["api->db"]
    assert out["invariants"] == []
    assert db["caught_by_layer"] == {"input_schema": db["written_corrupt"]} and db["caught"] > 100
    assert db["stored_corrupt"] == 0 and out["nodes"]["db"]["errors"] == {}
    assert edge["outcomes"]["error"] == db["caught"]
    # an attempt refused locally, never sent (a few writes were still being checked at the end)
    assert 0 <= edge["requests"] - edge["attempts"] <= 5
    assert out["nodes"]["db"]["arrivals"] < 2 * edge["requests"] - db["caught"] + 5
    assert out["routes"]["users"]["outcomes"]["error"] == db["caught"]


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_the_database_constraint_refuses_with_a_validation_error_and_a_retry_is_refused_again(
    seed: int,
) -> None:
    retry = "retry: {attempts: 3, base: 1ms, retry_on: [error]}"
    db = "validation: [{layer: db_constraint, catches: 50%}]"
    faults = "{kind: corruption, target: api, rate: 20%}"
    _sim, out = _run(call=retry, db=db, faults=faults, seed=seed)
    books = out["corruption"]["databases"]["db"]
    caught = books["caught_by_layer"]["db_constraint"]
    assert out["invariants"] == []
    assert out["nodes"]["db"]["errors"] == {"validation": caught}
    failed = out["routes"]["users"]["outcomes"]["error"]
    assert caught == 3 * failed  # each caught write is tried three times, caught each time
    assert books["written_corrupt"] == caught + books["stored_corrupt"]
    assert 0.35 < failed / (failed + books["stored_corrupt"]) < 0.65


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_a_crash_or_a_partition_loses_bad_writes_and_the_books_still_balance(seed: int) -> None:
    faults = ("{kind: corruption, target: api, rate: 50%}, {kind: crash, target: db, at: 5s, "
              "for: 2s}, {kind: partition, target: db, at: 15s, for: 1s}, "
              "{kind: latency, target: db, at: 20s, for: 3s, add: 5s}")  # fmt: skip
    db = "reconciliation: {interval: 500ms, scan_share: 50%, scan_rate: 100000/s}"
    _sim, out = _run(faults=faults, db=db, seed=seed)
    books = out["corruption"]["databases"]["db"]
    assert out["invariants"] == []
    assert books["lost"] > 0 and books["found_by_reconciliation"] > 0
    rec = books["reconciliation"]
    assert rec["aborted"] > 0 and rec["passes"] > 10  # passes caught in the crash are aborted
    total = books["caught"] + books["lost"] + books["in_flight"] + books["found_by_reconciliation"]
    assert books["written_corrupt"] == total + books["at_rest"]


def test_same_seed_same_json_and_a_series_per_tracked_database() -> None:
    db = "reconciliation: {interval: 1s, scan_share: 30%}"
    faults = "{kind: corruption, target: api, rate: 5%}"
    sim, first = _run(db=db, faults=faults, duration="20s")
    _sim, second = _run(db=db, faults=faults, duration="20s")
    first.pop("wall_seconds"), second.pop("wall_seconds")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    columns = time_series(sim)
    found = columns["corruption.db.found"]
    assert found.sum() == first["corruption"]["databases"]["db"]["found_by_reconciliation"]
    assert (
        columns["corruption.db.written"].sum() == first["corruption"]["totals"]["written_corrupt"]
    )
    assert not math.isnan(columns["corruption.db.at_rest"][-1])
    live = sim.snapshot()["nodes"]["db"]
    assert live["corrupt_at_rest"] == first["corruption"]["databases"]["db"]["at_rest"]


def test_scenarios_without_the_feature_have_no_corruption_section() -> None:
    _sim, out = _run()
    assert "corruption" not in out
    _sim, out = run(example("three-tier.yaml", duration=10.0))
    assert "corruption" not in out


@pytest.mark.parametrize(
    ("faults", "call", "message"),
    [
        ("{kind: corruption, target: db}", "", "needs a node that writes"),
        ("{kind: corruption, target: users}", "", "makes no write to a database"),
        ("", "validation: [{layer: db_constraint}]", "cannot sit on a call"),
    ],
)
def test_misplaced_corruption_and_layers_are_refused_with_what_to_do(faults, call, message):
    with pytest.raises(ScenarioError, match=message):
        _run(faults=faults, call=call)


def test_validation_on_a_call_to_a_service_is_refused() -> None:
    text = (
        BASE.format(call="", db="", faults="", duration="5s").replace(
            "- {to: db}", "- {to: db2, writes: true, validation: [{layer: input_schema}]}"
        )
        + "  db2: {kind: service, service_time: {dist: constant, value: 1ms}}\n"
    )
    text = text.replace("faults: []\n", "") + "faults: []\n"
    with pytest.raises(ScenarioError, match="validation guards writes to a database"):
        scenario(text)


def test_the_blast_radius_names_the_corrupt_data_no_route_shows() -> None:
    from simulator.blast_radius import blast_radius

    sc = scenario(BASE.format(call="", db="", faults="{kind: corruption, target: api, rate: 5%}",
                              duration="10s"))  # fmt: skip
    sim, _out = run(sc)
    (entry,) = blast_radius(sc, sc.seed, sim)
    assert entry["routes"] == [] and entry["databases"] == ["db"]  # every write was answered ok
    stored = sim.data_stores()["db"].books.stored
    assert entry["detail"]["databases"]["db"]["extra_stored_corrupt"] == stored > 0
    assert f"db: {stored} stored corrupt ({stored} still at rest)" in entry["summary"]


def test_the_run_table_lists_where_bad_writes_ended(capsys) -> None:
    from simulator.cli_tables import print_summary

    _sim, out = _run(db="validation: [{layer: db_constraint}]", duration="5s",
                     faults="{kind: corruption, target: api, rate: 10%}")  # fmt: skip
    print_summary(out)
    text = capsys.readouterr().out
    assert "Bad writes (whole run)" in text and "db_constraint" in text
