"""The game day: four faults on one architecture, and what each one showed.

``scenarios/game-day.yaml`` runs a payment provider's latency spike, a catalog
database crash, a bad canary of the orders service and a traffic surge, one after
another. Each test reads one fault's story from the run's JSON (detection by the
alert rules, the blast radius against the paired run without it, recovery, the
rollback) and from the failure-mode report that a team would read after the day.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from engine_helpers import example

from simulator.analysis import summarize
from simulator.blast_radius import blast_radius
from simulator.engine import Simulation
from simulator.report import fmea_rows, procedure_rows, recoveries_observed, report_markdown
from simulator.scenario import Scenario

SPIKE, CRASH, BAD_DEPLOY, SURGE = range(4)


@cache
def game_day(seed: int | None = None) -> tuple[Scenario, Simulation, dict[str, Any]]:
    sc = example("game-day.yaml")
    sim = Simulation(sc, seed=seed).run_to_end()
    return sc, sim, summarize(sim, blast_radius(sc, sim.seed, sim))


SEEDS = [None, 11]


def test_the_timeline_is_the_four_faults_in_order() -> None:
    sc, _sim, summary = game_day()
    assert [f.kind for f in sc.faults] == ["latency", "crash", "bad_deploy", "surge"]
    assert summary["invariants"] == []
    starts = [f["start_s"] for f in summary["faults"]]
    assert starts == sorted(starts)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_payment_spike_opens_the_breaker_and_only_buyers_feel_it(seed: int | None) -> None:
    _sc, _sim, summary = game_day(seed)
    fault = summary["faults"][SPIKE]
    # The breaker's own alert is the first to see it, within a few buckets.
    assert fault["detected_by"]["rule"] == "breaker-open"
    assert fault["detected_by"]["target"] == "call orders->payments"
    assert fault["time_to_detect_s"] <= 5
    assert summary["edges"]["orders->payments"]["breaker"]["opens"] >= 1
    entry = summary["blast_radius"][SPIKE]
    assert "buyers" in entry["routes"] and "shoppers" not in entry["routes"]
    # Buyers fail fast while the breaker is open, then come back within half a minute.
    assert entry["detail"]["routes"]["buyers"]["extra_failed"] > 500
    assert entry["recovery_s"] is not None and entry["recovery_s"] <= 30


@pytest.mark.parametrize("seed", SEEDS)
def test_the_database_crash_hurts_shoppers_through_cache_misses(seed: int | None) -> None:
    _sc, _sim, summary = game_day(seed)
    fault = summary["faults"][CRASH]
    assert fault["detected_by"] == {**fault["detected_by"], "rule": "error-rate",
                                    "target": "route shoppers"}  # fmt: skip
    assert fault["time_to_detect_s"] <= 30
    entry = summary["blast_radius"][CRASH]
    assert entry["routes"] == ["shoppers"]  # buyers never touch the catalog
    lost = entry["detail"]["routes"]["shoppers"]["extra_failed"]
    # Hits keep answering: the loss is about the miss share of 30 s of traffic, not all of it.
    assert 0 < lost < 0.5 * 40 * 60  # down 30 s, then 10 s of boot
    assert entry["recovery_s"] is not None and entry["recovery_s"] <= 30


@pytest.mark.parametrize("seed", SEEDS)
def test_the_bad_canary_is_rolled_back_before_its_big_step(seed: int | None) -> None:
    sc, _sim, summary = game_day(seed)
    (deploy,) = summary["deploys"]
    assert deploy["target"] == "orders" and deploy["strategy"] == "canary"
    assert deploy["rolled_back"] and deploy["completed_s"] is None
    assert deploy["rollback_alert"]["target"] == "route buyers"
    first_step = sc.deploys[0].steps[0].hold
    # Rolled back while only 10% of the traffic saw the bad version: before the 50% step.
    assert deploy["time_to_rollback_s"] < first_step
    # 10% x 30% of 40/s is about 1.2 failures a second until the rollback.
    assert 0 < deploy["requests_failed"] < 1.2 * 3 * deploy["time_to_rollback_s"]
    fault = summary["faults"][BAD_DEPLOY]
    assert fault["detected_by"]["fired_s"] == deploy["rollback_alert"]["fired_s"]
    # The bad version stops acting when the rollback completes: recovery counts from there.
    entry = summary["blast_radius"][BAD_DEPLOY]
    assert entry["end_s"] == deploy["rollback_completed_s"] == fault["end_s"]
    assert entry["recovery_s"] is not None and entry["recovery_s"] <= 30


@pytest.mark.parametrize("seed", SEEDS)
def test_the_surge_runs_the_catalog_hot_but_serves_everyone(seed: int | None) -> None:
    _sc, _sim, summary = game_day(seed)
    fault = summary["faults"][SURGE]
    # The catalog's workers run hot, and its queue (or the gateway's, which holds a worker
    # through every catalog call) grows: a capacity alert, not an error-rate one.
    assert fault["detected_by"]["rule"] in ("utilization", "queue-growing")
    assert fault["detected_by"]["target"] in ("node catalog", "node gateway")
    entry = summary["blast_radius"][SURGE]
    assert "catalog" in entry["nodes"] and "shoppers" in entry["routes"]
    shoppers = entry["detail"]["routes"]["shoppers"]
    assert shoppers["extra_failure_share"] < 0.001  # slower, not failing
    assert shoppers["p99_ratio"] > 1.5
    assert entry["recovery_s"] is not None and entry["recovery_s"] <= 10


def test_the_report_tells_each_faults_story() -> None:
    sc, sim, summary = game_day()
    rows = {row["component"]: row for row in fmea_rows(sc, summary)}
    assert set(rows) == {"payments (third_party)", "catalog_db (database)", "orders (service)",
                         "shoppers (client)"}  # fmt: skip
    rules = ("breaker-open", "error-rate", "utilization", "queue-growing")
    assert all(row["detection"].split(" on ")[0] in rules for row in rows.values())
    assert all(row["RPN"] for row in rows.values())  # every fault has a frequency in the file
    assert "requests lost" in rows["orders (service)"]["effect"]
    assert "did not recover" not in " ".join(row["recovery"] for row in rows.values())
    procedures = {row["procedure"] for row in procedure_rows(summary, recoveries_observed(sim))}
    assert {"breaker fallback", "restart after a crash", "rollback (canary)"} <= procedures
    text = report_markdown(sc, summary, sim)
    assert text.count("| payments (third_party) |") == 1
