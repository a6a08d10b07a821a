"""Each policy scenario teaches one lesson; these tests measure it from the run itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.compare import comparison_table, run_comparison
from simulator.recovery import recovery_time, success_series
from simulator.scenario import Scenario, load_scenario
from simulator.sweep import run_one
from simulator.variants import apply_override

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _load(name: str) -> Scenario:
    return load_scenario(SCENARIOS / f"{name}.yaml")


def _run(scenario: Scenario) -> dict:
    result = run_one(scenario.model_dump(mode="json", by_alias=True), scenario.seed)
    assert result["invariants"] == []
    return result


def _window(result: dict, key: str, start: float, end: float) -> np.ndarray:
    times = np.asarray(result["series"]["time_s"])
    values = np.asarray(result["series"][key], dtype=float)
    return values[(times >= start) & (times < end)]


# -- retry storm -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def retry_storm() -> dict[str, dict]:
    scenario = _load("retry-storm")
    strategies = ["none", "immediate", "exponential", "full_jitter", "decorrelated_jitter"]
    path = "nodes.api.calls[0].retry.strategy"
    plain = run_comparison(scenario, [(path, strategies)], 1, executor="local")
    budgeted = run_comparison(
        apply_override(scenario, "nodes.api.calls[0].retry.budget.percent", "10%"),
        [(path, ["immediate"])], 1, executor="serial",
    )  # fmt: skip
    rows = {r["variant"].split("=")[1]: r for r in comparison_table(plain)}
    rows["budget"] = comparison_table(budgeted)[0]
    runs = dict(zip(strategies, (r[0] for r in plain.runs), strict=True))
    runs["budget"] = budgeted.runs[0][0]
    return {k: {"row": rows[k], "run": runs[k]} for k in rows}


def _metric(storm: dict, variant: str, name: str) -> float:
    return storm[variant]["row"]["metrics"][name]["mean"]


def test_retry_storm_peak_load_ordering(retry_storm):
    peak = {k: _metric(retry_storm, k, "peak_load_per_s") for k in retry_storm}
    assert retry_storm["immediate"]["row"]["hot_node"] == "inventory"
    # Immediate retries hit the inventory hardest; full jitter retries sooner than plain
    # exponential (half the mean sleep); a budget keeps the peak near the plain load.
    assert peak["immediate"] > peak["full_jitter"] > peak["exponential"] > peak["none"]
    assert peak["immediate"] > 3 * peak["none"]
    assert peak["budget"] < 0.35 * peak["immediate"]
    assert peak["budget"] < peak["full_jitter"]
    assert peak["none"] == min(peak.values())


def test_retry_storm_total_attempts_ordering(retry_storm):
    attempts = {k: _metric(retry_storm, k, "total_attempts") for k in retry_storm}
    assert (
        attempts["immediate"]
        > attempts["full_jitter"]
        > attempts["exponential"]
        > attempts["budget"]
        > attempts["none"]
    )
    assert attempts["decorrelated_jitter"] < attempts["exponential"]
    amplification = {
        k: _metric(retry_storm, k, "amplification:api->inventory") for k in retry_storm
    }
    assert amplification["immediate"] > 3.0
    assert amplification["budget"] < 1.15
    assert amplification["none"] == 1.0


def test_retry_storm_immediate_retries_keep_it_down(retry_storm):
    fault = {"fault_start": 30.0, "fault_end": 45.0, "warmup": 10.0}
    assert recovery_time(retry_storm["immediate"]["run"]["series"], **fault) is None
    assert recovery_time(retry_storm["none"]["run"]["series"], **fault) <= 10.0
    assert recovery_time(retry_storm["budget"]["run"]["series"], **fault) <= 10.0


# -- circuit breaker -------------------------------------------------------------------------


def test_circuit_breaker_keeps_workers_free_and_serves_fallbacks():
    scenario = apply_override(_load("circuit-breaker"), "duration", "80s")
    with_breaker = _run(scenario)
    without = _run(apply_override(scenario, "nodes.api.calls[0].breaker", "null"))
    spike = (43.0, 80.0)  # the latency spike starts at 40 s; the breaker needs 5 timeouts of 2 s

    def spike_figures(result: dict) -> tuple[float, float, float]:
        util = float(_window(result, "node.api.utilization", *spike).mean())
        good = _window(result, "route.users.goodput", *spike).sum()
        ended = good + _window(result, "route.users.failed", *spike).sum()
        fallback = _window(result, "route.users.fallback", *spike).sum()
        return util, good / ended, fallback / ended

    util_b, success_b, fallback_b = spike_figures(with_breaker)
    util_n, success_n, fallback_n = spike_figures(without)
    assert with_breaker["edges"]["api->db"]["breaker_opens"] >= 1
    assert util_b < 0.10, "with the breaker the API's workers stay free"
    assert success_b > 0.99 and fallback_b > 0.95, "and callers get cached answers"
    assert util_n > 0.95, "without it every worker waits out the 2 s timeout"
    assert success_n < 0.10 and fallback_n < 0.05, "and callers are turned away"


# -- bulkheads -------------------------------------------------------------------------------


def test_bulkheads_isolate_the_slow_search():
    scenario = apply_override(_load("bulkheads"), "duration", "45s")
    isolated = _run(scenario)
    shared = scenario
    for i in range(3):
        shared = apply_override(shared, f"nodes.gateway.calls[{i}].bulkhead", "null")
    pooled = _run(shared)
    ok = {name: r["success_rate"] for name, r in isolated["routes"].items()}
    assert ok["users_clients"] >= 0.99 and ok["orders_clients"] >= 0.99
    assert ok["search_clients"] < 0.8, "Search alone pays for its slowness"
    during = (22.0, 45.0)
    for route in ("users_clients", "orders_clients", "search_clients"):
        rate = success_series(pooled["series"], route)
        times = np.asarray(pooled["series"]["time_s"])
        share = np.nanmean(rate[(times >= during[0]) & (times < during[1])])
        assert share < 0.8, f"{route} degrades when every route shares one pool"
    assert (
        pooled["nodes"]["gateway"]["utilization"] > 2 * isolated["nodes"]["gateway"]["utilization"]
    )


def test_only_for_routes_each_client_to_its_backend():
    scenario = apply_override(_load("bulkheads"), "warmup", "0s")
    result = _run(apply_override(scenario, "duration", "15s"))
    edges = result["edges"]
    for route in ("users", "orders", "search"):
        sent = edges[f"{route}_clients->gateway"]["requests"]
        # Each route's requests reach its own backend only (a few are still in the gateway).
        assert sent - 5 <= edges[f"gateway->{route}"]["requests"] <= sent


# -- metastable ------------------------------------------------------------------------------


def test_metastable_failure_outlives_its_trigger():
    scenario = apply_override(_load("metastable"), "duration", "90s")
    fault = {"fault_start": 30.0, "fault_end": 40.0, "warmup": 10.0}
    retrying = _run(scenario)
    no_retry = _run(apply_override(scenario, "nodes.users.calls[0].retry", "null"))
    budget = _run(apply_override(scenario, "nodes.users.calls[0].retry.budget.percent", "10%"))
    assert recovery_time(retrying["series"], **fault) is None
    assert float(_window(retrying, "route.users.goodput", 60.0, 90.0).sum()) < 0.05 * 160 * 30
    assert retrying["edges"]["users->service"]["amplification"] > 2.0
    recovered = recovery_time(no_retry["series"], **fault)
    assert recovered is not None and recovered < 25.0
    budgeted = recovery_time(budget["series"], **fault)
    assert budgeted is not None and budgeted < 45.0


# -- amplification ---------------------------------------------------------------------------


def test_retries_multiply_across_layers():
    result = _run(_load("amplification"))
    outage = (21.0, 49.0)  # the database fails every request from 20 s to 50 s
    entry = _window(result, "edge.users->web.requests", *outage).sum()
    for depth, edge in enumerate(("users->web", "web->api", "api->db"), start=1):
        attempts = _window(result, f"edge.{edge}.attempts", *outage).sum()
        requests = _window(result, f"edge.{edge}.requests", *outage).sum()
        assert attempts / requests == pytest.approx(3.0, rel=0.02)
        assert attempts / entry == pytest.approx(3.0**depth, rel=0.02)
    assert _window(result, "node.db.arrivals", *outage).sum() / entry == pytest.approx(27, rel=0.02)
    calm = (6.0, 19.0)
    db_calm = _window(result, "node.db.arrivals", *calm).sum()
    assert db_calm / _window(result, "edge.users->web.requests", *calm).sum() == pytest.approx(1.0)
