"""Every scenario in scenarios/ is an example and a test: it validates, runs and keeps its books."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from engine_helpers import ROOT, SCENARIOS, run

from simulator.scenario import load_scenario
from simulator.topology import problems

CONTRACT_ROUTE = {"requests", "outcomes", "success_rate", "latency_ms"}
CONTRACT_NODE = {"arrivals", "completions", "utilization", "mean_queue_wait_ms",
                 "mean_sojourn_ms", "max_queue", "errors"}  # fmt: skip
CONTRACT_EDGE = {"requests", "attempts", "retries", "amplification"}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_scenario_validates_and_runs_briefly(path) -> None:
    scenario = load_scenario(path)
    assert scenario.description, "every example explains its lesson"
    assert [p for p in problems(scenario) if p.severity == "error"] == []
    assert set(scenario.layout) == set(scenario.nodes), "every node has a place on the canvas"
    brief = scenario.model_copy(
        update={"duration": min(scenario.duration, 40.0), "warmup": min(scenario.warmup, 5.0)}
    )
    _sim, out = run(brief)
    assert out["invariants"] == []
    assert out["overall"]["requests"] > 0
    for route in out["routes"].values():
        assert set(route) >= CONTRACT_ROUTE
    for node in out["nodes"].values():
        assert set(node) >= CONTRACT_NODE
    for edge in out["edges"].values():
        assert set(edge) >= CONTRACT_EDGE


def test_run_json_carries_the_contract_and_blast_radius(tmp_path) -> None:
    cmd = [sys.executable, "-m", "simulator.cli", "run", "scenarios/latency-spike.yaml",
           "--json", "--duration", "120s", "--out", str(tmp_path)]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    out = json.loads(result.stdout)
    assert {"scenario", "seed", "duration_s", "wall_seconds", "events", "overall", "routes",
            "nodes", "edges", "alerts", "blast_radius"} <= set(out)  # fmt: skip
    assert out["events"] > 10_000
    naked, guarded, protected = out["blast_radius"]
    assert "naked_api" in naked["nodes"] and naked["routes"] == ["users"]  # others unaffected
    assert guarded["routes"] == ["guarded_users"]
    assert protected["routes"] == ["protected_users"]  # served, but from the fallback
    assert protected["detail"]["routes"]["protected_users"]["extra_failure_share"] <= 0
    fired = {(a["rule"], a["target"]): a["fired_s"] for a in out["alerts"]}
    # The breaker opens within a second of the 60 s spike; the naked queues rise over their
    # 10 s window for 5 s; the error rates need their 10 s hold.
    assert 60 < fired["breaker-open", "call protected_api->protected_db"] <= 62
    assert 64 <= fired["queue-growing", "node naked_api"] <= 67
    assert 70 <= fired["error-rate", "route guarded_users"] <= 73
    assert 70 <= fired["error-rate", "route users"] <= 73
    assert not any(target == "route protected_users" for _rule, target in fired)
    naked_fault, _guarded_fault, protected_fault = out["faults"]
    assert naked_fault["detected_by"]["target"] == "node naked_api"
    assert protected_fault["detected_by"]["rule"] == "breaker-open"
    assert 0 < protected_fault["time_to_detect_s"] <= 2
    for name in ("timeseries.csv", "summary.json", "run.png", "run.svg"):
        assert (tmp_path / name).stat().st_size > 1000
    header = (tmp_path / "timeseries.csv").read_text().splitlines()[0].split(",")
    assert "route.users.p99_ms" in header and "node.naked_api.utilization" in header


def test_flagship_shows_the_cascade_the_guard_and_the_protection() -> None:
    """No timeout: the pool drains, users are rejected. A timeout fails fast. A breaker and a
    fallback keep users answered."""
    _sim, out = run(load_scenario(ROOT / "scenarios/latency-spike.yaml"))
    naked, guarded = out["routes"]["users"], out["routes"]["guarded_users"]
    assert out["nodes"]["naked_api"]["max_queue"] == 200  # queue full: the cascade
    assert naked["outcomes"]["rejected"] > 1000
    assert guarded["outcomes"]["rejected"] == 0 and guarded["outcomes"]["error"] > 1000
    assert guarded["latency_ms"]["p99"] < 400 < naked["latency_ms"]["p99"]
    protected = out["routes"]["protected_users"]
    assert protected["success_rate"] == 1.0 and protected["outcomes"]["fallback"] > 1000
    assert out["edges"]["protected_api->protected_db"]["breaker"]["opens"] >= 1
    # the breaker spares the database: it serves fewer calls than the guarded one
    assert out["nodes"]["protected_db"]["arrivals"] < 0.9 * out["nodes"]["guarded_db"]["arrivals"]


def test_report_fills_the_fmea_from_measurements(tmp_path) -> None:
    out = tmp_path / "report.html"
    cmd = [sys.executable, "-m", "simulator.cli", "report", "scenarios/latency-spike.yaml",
           "--duration", "120s"]  # fmt: skip
    text = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    rows = [line for line in text.splitlines() if "| latency +" in line]
    assert len(rows) == 3
    naked, _guarded, protected = rows
    assert "users: " in naked and "more failures" in naked
    assert "queue-growing on node naked_api" in naked
    assert "timeout, breaker, fallback" in protected and "served by fallback" in protected
    # Fallbacks hide the fault from the users' error rate; the breaker's alert still sees it.
    assert "breaker-open on call protected_api->protected_db after 1 s" in protected
    html = [sys.executable, "-m", "simulator.cli", "report", "scenarios/three-tier.yaml",
            "--duration", "100s", "--html", "-o", str(out)]  # fmt: skip
    subprocess.run(html, cwd=ROOT, check=True)
    assert out.read_text().startswith("<!doctype html>")


def test_gui_command_without_a_display_says_how_to_get_one() -> None:
    import os

    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}  # fmt: skip
    cmd = [sys.executable, "-m", "simulator.cli", "gui"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "no display" in result.stderr and "xvfb-run" in result.stderr
    assert "murphy run FILE" in result.stderr and "Traceback" not in result.stderr


def test_graph_bound_on_retry_amplification_is_what_an_outage_reaches() -> None:
    from simulator.topology import amplification_bound

    scenario = load_scenario(ROOT / "scenarios/amplification.yaml")
    assert amplification_bound(scenario, "db") == 27  # three layers of 3 attempts each
