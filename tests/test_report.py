"""The failure-mode report: every cell it prints comes from the run it describes."""

from __future__ import annotations

import copy
import subprocess
import sys
from functools import cache
from typing import Any

import pytest
from engine_helpers import ROOT, SCENARIOS, example, run, scenario

from simulator.analysis import summarize
from simulator.blast_radius import blast_radius
from simulator.engine import Simulation
from simulator.report import (
    dependency_rows,
    detection_rating,
    fmea_rows,
    occurrence_rating,
    procedure_rows,
    recoveries_observed,
    report_html,
    report_markdown,
)
from simulator.scenario import Scenario, ScenarioError


@cache
def measured(
    name: str, seed: int | None = None, **overrides: Any
) -> tuple[Scenario, Simulation, dict[str, Any]]:
    sc = example(name, **overrides)
    sim = Simulation(sc, seed=seed).run_to_end()
    return sc, sim, summarize(sim, blast_radius(sc, sim.seed, sim))


def by(rows: list[dict[str, str]], column: str) -> dict[str, dict[str, str]]:
    return {row[column]: row for row in rows}


# -- the three sections, read against the JSON ------------------------------------------------


@pytest.mark.parametrize("seed", [None, 3, 4])
def test_circuit_breaker_report_numbers_are_the_runs(seed: int | None) -> None:
    sc, sim, summary = measured("circuit-breaker.yaml", seed)
    edge = summary["edges"]["api->db"]
    deps = by(dependency_rows(sc, summary), "dependency")
    db = deps["api → db"]
    b = edge["breaker"]
    assert db["calls"] == f"{edge['requests']:,}"
    assert db["breaker"] == (
        f"opened {b['opens']}×, open {b['time_open_s']:.1f} s, {b['rejected']:,} calls refused"
    )
    assert db["fallback"] == f"yes: served {edge['fallbacks']:,}" and edge["fallbacks"] > 1000
    assert db["target kind"] == "database" and deps["users → api"]["fallback"] == "none"
    # the breaker's fallback as a recovery procedure: from its first opening (after the
    # fault started) until it closed again after the fault's end
    episodes = [r for r in recoveries_observed(sim) if r["procedure"] == "breaker fallback"]
    first = next(t for t, _was, to in sim.sites["api->db"].breaker.transitions if to == "open")
    assert episodes[0]["started_s"] == first and 40 <= first <= 80
    assert 80 < episodes[0]["started_s"] + episodes[0]["took_s"] < 120
    assert sum(1 + int(e["detail"].split(", ")[1].split()[0]) for e in episodes) == b["opens"]
    (row,) = fmea_rows(sc, summary)
    assert row["component"] == "db (database)" and row["failure mode"] == "latency +2s (40–80 s)"
    assert "served by fallback" in row["effect"] and row["S"] == "10"  # 59% answered by fallback
    assert "api→db: timeout, breaker, fallback" in row["mitigation in place"]


def test_latency_spike_ranks_the_naked_chain_above_the_protected_one() -> None:
    sc, _sim, summary = measured("latency-spike.yaml", duration=120.0)
    rows = fmea_rows(sc, summary)
    assert [r["component"].split()[0] for r in rows] == ["naked_db", "guarded_db", "protected_db"]
    naked, _guarded, protected = rows
    lost = summary["blast_radius"][0]["detail"]["routes"]["users"]["extra_failed"]
    assert f"users: {lost:,} requests lost" in naked["effect"] and lost > 1000
    assert "fallback served" in protected["mitigation in place"]
    assert "served by fallback" in protected["effect"]
    assert int(naked["S"]) >= int(protected["S"])


def test_murphys_law_restart_surge_and_frequency() -> None:
    sc, sim, summary = measured("murphys-law.yaml")
    restarts = [r for r in procedure_rows(summary, recoveries_observed(sim))
                if r["procedure"] == "restart after a crash"]  # fmt: skip
    assert restarts == [{"procedure": "restart after a crash", "where": "fx_api", "at (s)": "20.0",
                         "took": "30.0 s", "detail": "down 30.0 s, boot time 0 s"}]  # fmt: skip
    rows = by(fmea_rows(sc, summary), "component")
    surge = rows["eager_users (client)"]  # a surge's guards are those its requests meet
    assert "eager_app→maps_eager: timeout, retry" in surge["mitigation in place"]
    assert surge["probability"] == "1/week" and surge["O"] == "9"
    assert rows["fx_api (third_party)"]["O"] == "7" and rows["orders_db (database)"]["O"] == "6"
    deps = by(dependency_rows(sc, summary), "dependency")
    edge = summary["edges"]["eager_app->maps_eager"]
    assert deps["eager_app → maps_eager"]["retries (amplification)"] == (
        f"{edge['retries']:,} (×{edge['amplification']:.2f})"
    )
    assert (
        f"rate_limited {edge['outcomes']['rate_limited']:,}"
        in (deps["eager_app → maps_eager"]["failed (by outcome)"])
    )


def test_oom_kills_are_restarts_that_take_the_boot_time() -> None:
    sc = example("memory-leak.yaml")
    sim, _summary = run(sc)
    kills = [r for r in recoveries_observed(sim) if r["procedure"] == "restart after an OOM kill"]
    assert len(kills) >= 3 and {r["where"] for r in kills} >= {"leaky_api"}
    assert all(r["took_s"] == pytest.approx(10.0) for r in kills)  # boot_time: 10s
    assert sim.check_invariants() == []


def test_a_cold_cache_warms_up_after_its_restart() -> None:
    sim, _summary = run(example("cold-cache.yaml"))
    found = {r["procedure"]: r for r in recoveries_observed(sim) if r["where"] == "cache"}
    restart, warm = found["restart after a crash"], found["cache warm-up"]
    assert warm["started_s"] == restart["started_s"] + restart["took_s"]
    assert warm["took_s"] == sim.servers["cache"].warm_up


# -- ratings, detection and recovery from the contract's keys ---------------------------------


def test_rating_scales() -> None:
    assert [occurrence_rating(f) for f in (None, "1/day", "2/week", "1/month", "4/year")] == [
        None, 10, 9, 8, 7,
    ]  # fmt: skip
    assert [occurrence_rating(f) for f in ("1/year", "0.5/year", "0.01/year", "0.001/year")] == [
        6, 5, 2, 1,
    ]  # fmt: skip
    assert detection_rating({}) is None  # the alerts have not said
    assert detection_rating({"detected_by": None, "time_to_detect_s": None}) == 10
    assert [detection_rating({"time_to_detect_s": t}) for t in (0.0, 30.0, 31.0, 4000.0)] == [
        2, 2, 3, 8,
    ]  # fmt: skip


def test_detection_recovery_and_rpn_come_from_the_json_keys() -> None:
    sc, _sim, summary = measured("murphys-law.yaml")
    rows = by(fmea_rows(sc, summary), "component")
    # The run's own alerts rate detection: D and the RPN follow from faults[i] of the JSON.
    crash_index = next(i for i, f in enumerate(sc.faults) if f.target == "fx_api")
    measured_d = detection_rating(summary["faults"][crash_index])
    row = rows["fx_api (third_party)"]
    assert measured_d is not None and row["D"] == str(measured_d)
    assert row["RPN"] == str(int(row["S"]) * int(row["O"]) * measured_d)
    given = copy.deepcopy(summary)
    for i, fault in enumerate(given["faults"]):
        fault["detected_by"] = {"rule": "error-rate", "target": "route quote_users",
                                "fired_s": fault["start_s"] + 45} if i == 0 else None  # fmt: skip
        fault["time_to_detect_s"] = 45.0 if i == 0 else None
    for i, entry in enumerate(given["blast_radius"]):
        entry["recovery_s"] = [2.0, 0.0, None, 1.0][i]
    rows = fmea_rows(sc, given)
    crash = by(rows, "component")["fx_api (third_party)"]
    assert crash["detection"] == "error-rate on route quote_users after 45 s (fired at 65 s)"
    assert (crash["S"], crash["O"], crash["D"], crash["RPN"]) == ("10", "7", "3", "210")
    assert crash["recovery"] == "2 s after the fault ended"
    eager, polite = by(rows, "component")["eager_users (client)"], rows[1]
    assert eager["detection"] == "no alert fired" and eager["RPN"] == "900"
    assert eager["recovery"] == "back by the fault's end"
    assert polite["recovery"] == "did not recover before the end"
    assert [r["RPN"] for r in rows] == sorted((r["RPN"] for r in rows), key=int, reverse=True)


def test_rollbacks_and_redeliveries_are_read_from_the_json() -> None:
    summary = {
        "deploys": [
            {"target": "api", "strategy": "canary", "started_s": 30.0, "rolled_back": True,
             "time_to_rollback_s": 12.5, "requests_failed": 40,
             "rollback_alert": {"rule": "error-rate", "target": "route users", "fired_s": 42.5}},
            {"target": "web", "strategy": "rolling", "started_s": 30.0, "rolled_back": False},
        ],
        "messages": {"a->bus.q->c": {"duplicates": 7, "applied_twice": 2, "dead_lettered": 1,
                                     "max_lag_s": 3.5}},
    }  # fmt: skip
    rows = procedure_rows(summary, None)
    assert rows[0] == {
        "procedure": "rollback (canary)", "where": "api", "at (s)": "42.5", "took": "—",
        "detail": "error-rate on route users fired 12.5 s into the deploy; "
        "40 requests failed during it",
    }  # fmt: skip
    assert (
        rows[1]["where"] == "a → bus.q → c"
        and "7 deliveries of an id already" in (rows[1]["detail"])
    )
    assert len(rows) == 2


# -- the documents ------------------------------------------------------------------------------


HOSTILE = """
name: "<script>alert(1)</script> & co"
description: "<img src=x onerror=alert(2)>"
duration: 20s
nodes:
  users: {kind: client, rate: 50/s, calls: [{to: api, timeout: 1s}]}
  api: {kind: service, workers: 4, service_time: {dist: exponential, mean: 10ms}}
faults:
  - {kind: crash, target: api, at: 5s, for: 5s, frequency: 2/year}
"""


def test_html_escapes_names_and_embeds_the_plots() -> None:
    sc = scenario(HOSTILE)
    sim = Simulation(sc).run_to_end()
    summary = summarize(sim, blast_radius(sc, sim.seed, sim))
    page = report_html(sc, summary, sim)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert page.count("<svg") == 1 and page.rstrip().endswith("</html>")
    assert "restart after a crash" in page and "2/year" in page
    assert report_html(sc, summary, sim) == page  # same run, same bytes (no date in the SVG)
    text = report_markdown(sc, summary, sim)
    assert "| api (service) | crash (5–10 s) |" in text
    assert "## Recovery procedures observed" in text and "| restart after a crash | api |" in text


def test_a_frequency_that_is_not_count_per_period_says_how_to_write_it() -> None:
    with pytest.raises(ScenarioError, match=r"'2/year', '1/month'"):
        scenario(HOSTILE.replace("frequency: 2/year", "frequency: often"))
    with pytest.raises(ScenarioError, match="above 0"):
        scenario(HOSTILE.replace("frequency: 2/year", "frequency: 0/year"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_example_renders_a_report(path) -> None:
    full = example(path.name)
    sc = full.model_copy(update={"duration": min(full.duration, 40.0),
                                 "warmup": min(full.warmup, 5.0)})  # fmt: skip
    sim = Simulation(sc).run_to_end()
    summary = summarize(sim)  # no paired baselines: the failure modes say so
    text = report_markdown(sc, summary, sim)
    for section in ("## Failure modes", "## Dependencies", "## Recovery procedures observed"):
        assert section in text
    assert len(dependency_rows(sc, summary)) == len(summary["edges"])
    assert report_html(sc, summary).startswith("<!doctype html>")


def test_report_html_writes_the_markdown_beside_it(tmp_path) -> None:
    out = tmp_path / "report.html"
    cmd = [sys.executable, "-m", "simulator.cli", "report", "scenarios/circuit-breaker.yaml",
           "--html", "-o", str(out)]  # fmt: skip
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    page, text = out.read_text(), (tmp_path / "report.md").read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert text.startswith("# Failure-mode analysis: ") and "| api → db | database |" in text


def test_a_fault_after_the_end_of_the_run_is_named_not_rated() -> None:
    """A shorter --duration leaves a later fault out of the run: it gets no FMEA row (no
    severity 1, no 'no alert fired' detection rating), only a line saying it never started."""
    sc = example("game-day.yaml", duration=300.0)  # the surge at 420 s never comes
    sim = Simulation(sc).run_to_end()
    summary = summarize(sim, blast_radius(sc, sim.seed, sim))
    rated = fmea_rows(sc, summary)
    late = [f for f in sc.faults if f.at >= 300.0]
    assert late and len(rated) == len(sc.faults) - len(late)
    text = report_markdown(sc, summary, sim)
    assert "Not rated, never started:" in text and "after the run's end" in text


def test_a_bad_versions_mitigation_names_its_deploys_rollback() -> None:
    sc, _sim, summary = measured("blue-green.yaml")
    mitigations = [row["mitigation in place"] for row in fmea_rows(sc, summary)]
    assert any("blue-green api: automatic rollback on critical alerts" in m for m in mitigations)
    assert any("blue-green kept_api: no automatic rollback" in m for m in mitigations)
