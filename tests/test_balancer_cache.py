"""Load balancers and caches: the lessons of their example scenarios, measured from runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from engine_helpers import example, run, scenario

from simulator.components.cache import Cache
from simulator.engine import Simulation
from simulator.scenario import Scenario, ScenarioError
from simulator.timeseries import time_series
from simulator.variants import apply_override

SLOW = slice(62, 120)  # app3 is 20x slower from 60 s to 120 s (2 s to settle)
CRASH = slice(182, 240)  # app2 is down from 180 s to 240 s


def _balanced(strategy: str, health_check: bool = False) -> dict[str, np.ndarray]:
    sc = apply_override(example("load-balancer.yaml"), "nodes.lb.strategy", strategy)
    sc = apply_override(sc, "nodes.lb.health_check", str(health_check).lower())
    sim, out = run(sc)
    assert out["invariants"] == []
    return time_series(sim)


def _success(ts: dict[str, np.ndarray], window: slice) -> float:
    return 1 - ts["route.users.failed"][window].sum() / ts["route.users.requests"][window].sum()


def _share(ts: dict[str, np.ndarray], node: str, window: slice) -> float:
    return float(
        ts[f"node.{node}.arrivals"][window].sum() / ts["route.users.requests"][window].sum()
    )


@pytest.fixture(scope="module")
def lb_runs() -> dict[str, dict[str, np.ndarray]]:
    return {
        "round_robin": _balanced("round_robin"),
        "least_outstanding": _balanced("least_outstanding"),
        "least_outstanding+hc": _balanced("least_outstanding", health_check=True),
        "round_robin+hc": _balanced("round_robin", health_check=True),
    }


def test_least_outstanding_starves_the_slow_instance(lb_runs: dict[str, Any]) -> None:
    rr, lo = lb_runs["round_robin"], lb_runs["least_outstanding"]
    assert _share(rr, "app3", SLOW) == pytest.approx(1 / 3, abs=0.01)  # its third, regardless
    assert _share(lo, "app3", SLOW) < 0.1  # measured: 4%
    assert _success(rr, SLOW) < 0.75 < 0.99 < _success(lo, SLOW)  # measured: 67% vs 99.96%
    rr_p99, lo_p99 = rr["route.users.p99_ms"][SLOW].max(), lo["route.users.p99_ms"][SLOW].max()
    assert lo_p99 < 0.7 * rr_p99  # measured: 554 ms vs 1010 ms (the timeout)


def test_a_crashed_backend_is_a_black_hole_for_least_outstanding(lb_runs: dict[str, Any]) -> None:
    """Refusing at once keeps its in-flight count at 0: it wins every comparison."""
    rr, lo = lb_runs["round_robin"], lb_runs["least_outstanding"]
    assert _success(rr, CRASH) == pytest.approx(2 / 3, abs=0.01)
    assert _share(lo, "app2", CRASH) > 0.5  # measured: 73%
    assert _success(lo, CRASH) < 0.5 < _success(rr, CRASH)  # measured: 27% vs 67%


def test_a_health_check_routes_around_the_crash(lb_runs: dict[str, Any]) -> None:
    for name in ("round_robin+hc", "least_outstanding+hc"):
        ts = lb_runs[name]
        assert _share(ts, "app2", CRASH) == 0
        assert _success(ts, CRASH) > 0.999
    # a health check sees only down and partitioned: the slow instance still gets its third
    assert _share(lb_runs["round_robin+hc"], "app3", SLOW) == pytest.approx(1 / 3, abs=0.01)


def test_random_spreads_evenly_and_round_robin_exactly() -> None:
    calm = example("load-balancer.yaml", faults=[], duration=60.0, warmup=0.0)
    _sim, out = run(apply_override(calm, "nodes.lb.strategy", "random"))
    shares = [out["edges"][f"lb->app{i}"]["requests"] for i in (1, 2, 3)]
    assert max(shares) / min(shares) < 1.05
    _sim, rr_out = run(calm)
    counts = [rr_out["edges"][f"lb->app{i}"]["requests"] for i in (1, 2, 3)]
    assert max(counts) - min(counts) <= 1


def test_a_balancer_without_backends_answers_error() -> None:
    sc = scenario(
        """
murphy: 1
name: empty
duration: 5s
nodes:
  c: {kind: client, rate: 10/s, calls: [{to: lb}]}
  lb: {kind: balancer}
"""
    )
    _sim, out = run(sc)
    assert out["routes"]["c"]["outcomes"]["error"] == out["routes"]["c"]["requests"] > 0
    assert out["nodes"]["lb"]["errors"]["no_backend"] > 0


def test_a_balancer_refuses_call_probabilities() -> None:
    with pytest.raises(ScenarioError, match="probability does not apply"):
        scenario(
            """
murphy: 1
name: weighted
duration: 5s
nodes:
  c: {kind: client, rate: 10/s, calls: [{to: lb}]}
  lb: {kind: balancer, calls: [{to: s, probability: 50%}]}
  s: {kind: service, service_time: {dist: constant, value: 1ms}}
"""
        )


# -- the cold cache ---------------------------------------------------------------------------

BEFORE, HERD, AFTER = slice(30, 60), slice(65, 100), slice(140, 240)


def _cold(warm_up: str) -> tuple[Simulation, dict[str, np.ndarray]]:
    sc: Scenario = apply_override(example("cold-cache.yaml"), "nodes.cache.warm_up", warm_up)
    sim, out = run(sc)
    assert out["invariants"] == []
    return sim, time_series(sim)


@pytest.fixture(scope="module")
def cache_runs() -> dict[str, tuple[Simulation, dict[str, np.ndarray]]]:
    return {"cold": _cold("60s"), "warm": _cold("0s")}


def test_a_cold_cache_sends_a_thundering_herd_to_the_database(cache_runs: dict) -> None:
    _sim, ts = cache_runs["cold"]
    arrivals, util = ts["node.db.arrivals"], ts["node.db.utilization"]
    usual = arrivals[BEFORE].mean()
    assert usual == pytest.approx(100, rel=0.05)  # the 10% misses of 1000/s
    assert util[BEFORE].mean() == pytest.approx(0.5, abs=0.03)  # sized for them
    assert arrivals[HERD].max() > 8 * usual  # measured: 1020/s, ~10x
    assert util[HERD].min() > 0.99  # saturated
    assert ts["node.db.rejected"][HERD].sum() > 10_000  # its queue full: turned away
    assert _success(ts, HERD) < 0.5  # a 5 s crash, a half-minute outage (measured: 36%)


def test_the_database_recovers_as_the_cache_warms(cache_runs: dict) -> None:
    sim, ts = cache_runs["cold"]
    arrivals = ts["node.db.arrivals"]
    assert arrivals[AFTER].mean() == pytest.approx(arrivals[BEFORE].mean(), rel=0.05)
    assert ts["node.db.utilization"][AFTER].mean() == pytest.approx(0.5, abs=0.03)
    assert _success(ts, AFTER) > 0.999
    # the herd shrinks as the hit ratio climbs: each 10 s of warming, fewer misses
    tens = [arrivals[t : t + 10].mean() for t in (65, 75, 85, 95, 105)]
    assert tens == sorted(tens, reverse=True)
    cache = sim.servers["cache"]
    assert isinstance(cache, Cache) and cache.current_hit_ratio(sim.now) == 0.9


def test_a_cache_that_comes_back_warm_spares_the_database(cache_runs: dict) -> None:
    _sim, ts = cache_runs["warm"]
    arrivals = ts["node.db.arrivals"]
    assert arrivals[HERD].max() < 1.5 * arrivals[BEFORE].mean()
    assert _success(ts, HERD) > 0.999


def test_hits_and_misses_are_common_random_numbers() -> None:
    """The cache's draws do not depend on what happens downstream."""
    base = example("cold-cache.yaml", faults=[], duration=20.0, warmup=0.0)
    slow = apply_override(base, "nodes.db.service_time.mean", "30ms")
    a, b = Simulation(base).run_to_end(), Simulation(slow).run_to_end()
    cache_a, cache_b = a.servers["cache"], b.servers["cache"]
    assert isinstance(cache_a, Cache) and isinstance(cache_b, Cache)
    assert cache_a.hits == cache_b.hits
    assert cache_a.hits / cache_a.stats.arrivals == pytest.approx(0.9, abs=0.01)
