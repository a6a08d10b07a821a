"""adaptive-concurrency.yaml: an adaptive limit keeps goodput up where a static one set too
high collapses; the limit's JSON and series appear only when it is configured."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from engine_helpers import example, run

from simulator.analysis import summarize
from simulator.engine import Simulation
from simulator.scenario_policies import Limiter
from simulator.timeseries import time_series

SEEDS = (1, 2, 3)
CAPACITY = 190.0  # 10 workers of ~52.5 ms (lognormal, median 50 ms, p99 100 ms)


def surge_goodput(limiter: dict[str, Any] | None, seed: int) -> tuple[float, dict[str, Any]]:
    """Requests/s answered in time while the surge lasts (from 25 s, once the queue has
    built up, to its end at 70 s)."""
    sc = example("adaptive-concurrency.yaml")
    api = sc.nodes["api"].model_copy(
        update={"limiter": None if limiter is None else Limiter.model_validate(limiter)}
    )
    sc = sc.model_copy(update={"nodes": {**sc.nodes, "api": api}})
    sim, out = run(sc, seed)
    assert out["invariants"] == []
    cols = time_series(sim)
    t = cols["time_s"]
    window = (t >= 25.0) & (t < 70.0)
    return float(np.mean(cols["route.users.goodput"][window]) / sc.bucket), out


@pytest.mark.parametrize("seed", SEEDS)
def test_static_limit_too_high_collapses_and_gradient2_holds(seed: int) -> None:
    unlimited, _ = surge_goodput(None, seed)
    too_high, _ = surge_goodput({"kind": "max_in_flight", "max_in_flight": 1000}, seed)
    right, _ = surge_goodput({"kind": "max_in_flight", "max_in_flight": 60}, seed)
    adaptive, out = surge_goodput({"kind": "gradient2", "long_window": 3000}, seed)
    assert unlimited < 0.1 * CAPACITY
    assert too_high < 0.1 * CAPACITY
    assert right > 0.95 * CAPACITY
    assert adaptive > 0.95 * CAPACITY
    limit = out["nodes"]["api"]["limit"]
    assert limit["algorithm"] == "gradient2" and limit["initial"] == 20
    assert 40 <= limit["max"] <= 120  # found well below max_concurrency (200)


@pytest.mark.parametrize("seed", SEEDS)
def test_aimd_needs_a_timeout_under_its_callers(seed: int) -> None:
    default, out = surge_goodput({"kind": "aimd"}, seed)
    tuned, _ = surge_goodput({"kind": "aimd", "timeout": "500ms"}, seed)
    assert out["nodes"]["api"]["limit"]["max"] == 200  # 5 s: never a drop, up to max_limit
    assert default < 0.2 * CAPACITY
    assert tuned > 0.95 * CAPACITY


@pytest.mark.parametrize("seed", SEEDS)
def test_vegas_is_safe_but_too_cautious_with_spread_latency(seed: int) -> None:
    goodput, out = surge_goodput({"kind": "vegas"}, seed)
    assert 0.6 * CAPACITY < goodput < 0.9 * CAPACITY
    assert out["nodes"]["api"]["limit"]["final"] <= 12  # about the 10 workers, or below


def test_limit_series_and_json_only_when_configured() -> None:
    sim = Simulation(example("adaptive-concurrency.yaml"), seed=1).run_to_end()
    cols = time_series(sim)
    limit = cols["node.api.limit"]
    t = cols["time_s"]
    assert 20.0 <= limit[0] <= 30.0  # starts at initial_limit (20), then moves
    assert limit[(t >= 25) & (t < 70)].mean() > 30
    assert sim.snapshot()["nodes"]["api"]["limit"] >= 20
    _, out = surge_goodput({"kind": "max_in_flight", "max_in_flight": 60}, 1)
    assert "limit" not in out["nodes"]["api"]
    sc = example("mm1.yaml")
    assert not any(k.endswith(".limit") for k in time_series(Simulation(sc, seed=1).run_to_end()))


def _json(sc: Any, seed: int) -> str:
    out = summarize(Simulation(sc, seed=seed).run_to_end())
    out.pop("wall_seconds")
    return json.dumps(out, sort_keys=True)


def test_same_seed_same_json() -> None:
    sc = example("adaptive-concurrency.yaml")
    assert _json(sc, 7) == _json(sc, 7)
    vegas = example("adaptive-concurrency.yaml")  # Vegas draws its probe jitter
    api = vegas.nodes["api"].model_copy(update={"limiter": Limiter(kind="vegas")})
    vegas = vegas.model_copy(update={"nodes": {**vegas.nodes, "api": api}})
    assert _json(vegas, 7) == _json(vegas, 7)


def test_crash_restarts_the_limit_and_books_balance() -> None:
    sc = example("adaptive-concurrency.yaml")
    text = sc.model_dump(mode="json", by_alias=True)
    text["faults"].append({"kind": "crash", "target": "api", "at": "40s", "for": "2s"})
    text["nodes"]["api"]["memory"] = {"limit_mb": 400, "base_mb": 100, "per_request_mb": 2}
    from simulator.scenario import validate_data

    sim = Simulation(validate_data(text, None, "<test>"), seed=2)
    limiter = sim.servers["api"].limiter
    seen: list[tuple[float, float, float]] = []  # (when, limit before, limit after) a restart
    restart = limiter.restart

    def spy(now: float) -> None:
        before = limiter.limit
        restart(now)
        seen.append((now, before, limiter.limit))

    limiter.restart = spy
    sim.run_to_end()
    out = summarize(sim)
    assert out["invariants"] == []
    cols = time_series(sim)
    assert "node.api.memory_mb" in cols and "node.api.limit" in cols  # one prefix, both series
    limit = out["nodes"]["api"]["limit"]
    assert limit["samples"] > 0
    # The restarted process starts again from initial_limit, from a limit the surge had moved.
    [(when, before, after)] = seen
    assert when == pytest.approx(42.0) and after == limit["initial"] and before != after


def test_a_hedges_cancelled_loser_is_no_drop() -> None:
    """A hedge's loser cancelled with deadline propagation reaches the limited node as a passed
    deadline; Netflix's interceptor ignores a client's cancel (onIgnore), so the limit takes
    no sample of it. Counted as drops, they shrank AIMD to its floor on an idle server."""
    from engine_helpers import scenario

    text = """
murphy: 1
name: hedge-aimd
seed: 3
duration: 60s
nodes:
  users:
    kind: client
    rate: 100/s
    calls:
      - to: api
        timeout: 1s
        deadline_propagation: true
        hedge: {delay: 20ms, max_hedges: 1, budget: 100%, cancel_loser: true}
  api:
    kind: service
    workers: 50
    service_time: {dist: exponential, mean: 15ms}
    limiter: {kind: aimd, initial_limit: 40, min_limit: 5, max_limit: 200}
"""
    for seed in SEEDS:
        _sim, out = run(scenario(text), seed)
        assert out["invariants"] == []
        assert out["edges"]["users->api"]["hedges"] > 1000  # ~a quarter of requests hedged
        limit = out["nodes"]["api"]["limit"]
        assert limit["drops"] == 0  # was ~1,500 (each cancelled loser a drop)
        assert limit["min"] == limit["initial"] == 40  # was 5: the floor
        assert out["nodes"]["api"]["shed"] == 0
        # one sample per admitted request its caller still wanted
        assert limit["samples"] == out["routes"]["users"]["outcomes"]["ok"]


def test_validate_warns_of_knobs_the_kind_does_not_read() -> None:
    from engine_helpers import scenario

    from simulator.topology import problems

    sc = scenario("""
murphy: 1
name: knobs
duration: 10s
nodes:
  users: {kind: client, rate: 10/s, calls: [{to: api}]}
  api:
    kind: service
    service_time: {dist: constant, value: 10ms}
    limiter: {kind: vegas, min_limit: 5, long_window: 30, smoothing: 0.5}
""")
    (warning,) = [p for p in problems(sc) if "limiter" in p.message]
    assert "vegas limiter does not read long_window, min_limit" in warning.message
    assert problems(example("adaptive-concurrency.yaml")) == []
