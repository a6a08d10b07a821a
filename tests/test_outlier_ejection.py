"""Outlier ejection on a balancer: the lessons of outlier-ejection.yaml, measured from runs.

A bad replica (app3 fails everything from 60 s to 150 s) is ejected within a
fraction of a second and the users' success recovers; a shared database down from
200 s to 210 s gets every replica ejected, and the panic threshold keeps the
balancer routing to all of them instead of to none.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from engine_helpers import example, run, scenario

from simulator.analysis import summarize
from simulator.engine import Simulation
from simulator.scenario import Scenario
from simulator.timeseries import time_series
from simulator.topology import problems as topology_problems
from simulator.variants import apply_override

BAD_HOST = slice(61, 150)  # app3 fails every request from 60 s to 150 s
AFTER_DB = slice(212, 240)  # the database is back at 210 s
SEEDS = (7, 8, 9)


def _variant(**overrides: str) -> Scenario:
    sc = example("outlier-ejection.yaml")
    for key, value in overrides.items():
        sc = apply_override(sc, f"nodes.lb.{key}", value)
    return sc


def _success(ts: dict[str, np.ndarray], window: slice) -> float:
    return float(
        1 - ts["route.users.failed"][window].sum() / ts["route.users.requests"][window].sum()
    )


@pytest.fixture(scope="module", params=SEEDS)
def runs(request: pytest.FixtureRequest) -> dict[str, tuple[dict[str, np.ndarray], dict]]:
    out = {}
    for label, overrides in (
        ("ejecting", {}),
        ("no_ejection", {"outlier_detection": "null"}),
        ("no_panic", {"healthy_panic_threshold": "0%"}),
    ):
        sim, summary = run(_variant(**overrides), seed=request.param)
        assert summary["invariants"] == []
        out[label] = (time_series(sim), summary)
    return out


def test_the_bad_replica_is_ejected_at_once_and_success_recovers(runs) -> None:
    ejecting, _ = runs["ejecting"]
    without, _ = runs["no_ejection"]
    # Five failures in a row at 40 requests/s: out within the fault's first second.
    assert ejecting["node.lb.ejected"][60] > 0.8
    assert ejecting["node.lb.ejected"][:60].sum() == 0
    assert _success(ejecting, BAD_HOST) > 0.995  # a few failures each time it returns
    assert 0.78 < _success(without, BAD_HOST) < 0.82  # a fifth of the requests fail


def test_ejections_of_the_bad_replica_grow_longer(runs) -> None:
    ts, summary = runs["ejecting"]
    outlier = summary["nodes"]["lb"]["outlier"]
    assert outlier["ejections_per_host"]["app3"] == 3  # 30 s, 60 s, then once with the rest
    out = ts["node.lb.ejected"][BAD_HOST] > 0.5
    assert 80 <= out.sum() <= 89  # out 30 + 60 s of the 90, but for the sweep it returns at


def test_the_panic_threshold_keeps_routing_when_every_replica_is_ejected(runs) -> None:
    panic_ts, panic = runs["ejecting"]
    none_ts, no_panic = runs["no_panic"]
    # The database failure ejects all five replicas; in panic they keep getting requests
    # and answer as soon as the database is back, without it nothing is left to route to.
    assert _success(panic_ts, AFTER_DB) > 0.99
    assert _success(none_ts, AFTER_DB) < 0.55
    assert no_panic["routes"]["users"]["outcomes"]["error"] > 5_000
    assert no_panic["nodes"]["lb"]["errors"]["no_backend"] > 5_000
    assert "no_backend" not in panic["nodes"]["lb"]["errors"]
    lb = panic["nodes"]["lb"]["outlier"]
    assert 35 < lb["time_in_panic_s"] < 45  # from the third ejection to the returns
    assert lb["panics"] >= 1 and lb["panic_requests"] > 5_000
    assert no_panic["nodes"]["lb"]["outlier"]["time_in_panic_s"] == 0
    assert panic_ts["node.lb.panic"][205] == 1.0 and panic_ts["node.lb.panic"][:199].sum() == 0


def test_same_seed_same_json_and_others_unchanged() -> None:
    sc = example("outlier-ejection.yaml", duration=80.0)
    first = summarize(Simulation(sc, seed=3).run_to_end())
    second = summarize(Simulation(sc, seed=3).run_to_end())
    for out in (first, second):
        out.pop("wall_seconds")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    plain = summarize(Simulation(example("load-balancer.yaml", duration=20.0)).run_to_end())
    assert "outlier" not in plain["nodes"]["lb"]


def test_max_ejection_percent_defaults_leave_one_replica_out_at_most() -> None:
    sc = apply_override(
        example("outlier-ejection.yaml"), "nodes.lb.outlier_detection.max_ejection_percent", "10%"
    )
    sc = apply_override(sc, "nodes.lb.outlier_detection.always_eject_one_host", "true")
    sim, summary = run(sc.model_copy(update={"duration": 230.0}))
    assert summary["invariants"] == []
    ejected = time_series(sim)["node.lb.ejected"]
    assert ejected.max() <= 1.0 + 1e-9  # 10% of five rounds to none; one goes anyway
    assert summary["nodes"]["lb"]["outlier"]["overflow"] > 0  # the database's failure


def test_envoys_default_ejects_nothing_when_the_share_allows_no_backend() -> None:
    sc = apply_override(
        example("outlier-ejection.yaml"), "nodes.lb.outlier_detection.max_ejection_percent", "10%"
    )
    sim, summary = run(sc.model_copy(update={"duration": 120.0}))
    assert summary["invariants"] == []
    assert time_series(sim)["node.lb.ejected"].max() == 0.0
    assert summary["nodes"]["lb"]["outlier"]["overflow"] > 0
    warnings = [p.message for p in topology_problems(sc) if p.severity == "warning"]
    assert any("can eject no backend" in w and "always_eject_one_host" in w for w in warnings)


def test_a_crashed_backend_is_ejected_by_gateway_failures_when_enforced() -> None:
    text = """
name: gateway
duration: 55s
nodes:
  users: {kind: client, rate: 100/s, calls: [{to: lb}]}
  lb:
    kind: balancer
    outlier_detection:
      consecutive_5xx: 1000
      enforcing_consecutive_gateway_failure: 100%
      max_ejection_percent: 50%
    calls: [{to: a}, {to: b}]
  a: {kind: service, workers: 10, service_time: {dist: constant, value: 10ms}}
  b: {kind: service, workers: 10, service_time: {dist: constant, value: 10ms}}
faults:
  - {kind: crash, target: b, at: 10s, for: 5s}
"""
    sim, summary = run(scenario(text))
    assert summary["invariants"] == []
    outlier = summary["nodes"]["lb"]["outlier"]
    assert outlier["ejections_by_detection"]["consecutive_gateway_failure"] == 1
    assert outlier["ejections_per_host"] == {"a": 0, "b": 1}
    assert summary["nodes"]["b"]["errors"]["refused"] == 5  # refused 5 times, then ejected
    assert (
        sim.snapshot()["nodes"]["lb"]["ejected"] == []
    )  # back at the first sweep after 30 s: 50 s


_LB_CRASH = """
murphy: 1
name: lb crash
seed: 1
duration: 60s
nodes:
  users: {kind: client, rate: 100/s, calls: [{to: lb, timeout: 1s}]}
  lb:
    kind: balancer
    outlier_detection: {base_ejection_time: 30s, max_ejection_percent: 50%}
    calls: [{to: b1}, {to: b2}]
  b1: {kind: service, workers: 10, service_time: {dist: exponential, mean: 10ms}}
  b2: {kind: service, workers: 10, service_time: {dist: exponential, mean: 10ms}}
faults:
  - {kind: error, target: b1, at: 5s, for: 3s, rate: 100%}
"""


@pytest.mark.parametrize("seed", SEEDS)
def test_a_restarted_balancer_starts_with_no_host_ejected(seed: int) -> None:
    """Envoy's detector lives in the proxy: a restarted one has no host ejected and no
    multiplier. b1 fails 5-8 s and is ejected for 30 s; the balancer crashes 10-12 s."""
    crash = "  - {kind: crash, target: lb, at: 10s, for: 2s}\n"
    kept_sim, kept = run(scenario(_LB_CRASH), seed)
    sim, out = run(scenario(_LB_CRASH + crash), seed)
    for summary in (kept, out):
        assert summary["invariants"] == []
    assert time_series(kept_sim)["node.lb.ejected"][13:35].min() > 0.999  # out until 35 s
    ejected = time_series(sim)["node.lb.ejected"]
    assert ejected[9] > 0.999 and ejected[10:].sum() == 0  # out until the crash, then back
    outlier = out["nodes"]["lb"]["outlier"]
    assert outlier["ejections"] == 1 and outlier["ejected_at_end"] == []
    # b1 (healthy since 8 s) takes its half again from 12 s, not 40 s: 28 s x 50/s more
    assert out["nodes"]["b1"]["arrivals"] > kept["nodes"]["b1"]["arrivals"] + 1_250


def test_a_restarted_balancer_leaves_panic() -> None:
    """Every backend ejected puts the balancer in panic; its crash ends the episode."""
    text = _LB_CRASH.replace("max_ejection_percent: 50%", "max_ejection_percent: 100%").replace(
        "  - {kind: error, target: b1, at: 5s, for: 3s, rate: 100%}",
        "  - {kind: error, target: b1, at: 5s, for: 3s, rate: 100%}\n"
        "  - {kind: error, target: b2, at: 5s, for: 3s, rate: 100%}\n"
        "  - {kind: crash, target: lb, at: 10s, for: 2s}",
    )
    sim, out = run(scenario(text))
    assert out["invariants"] == []
    outlier = out["nodes"]["lb"]["outlier"]
    assert outlier["ejections"] == 2 and outlier["panics"] == 1
    assert 4.5 < outlier["time_in_panic_s"] < 5.5  # from ~5 s to the crash at 10 s
    assert time_series(sim)["node.lb.panic"][10:].sum() == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_panic_is_judged_per_route_set_without_flapping(seed: int) -> None:
    """Two clients routed (only_for) to disjoint pairs: a1 and a2 fail 10-15 s and are both
    ejected, so ua's set is in panic while ub's is not. One episode for as long as a's pair
    is out, not a flag flipped by every request of the other client."""
    text = """
murphy: 1
name: flap
duration: 60s
nodes:
  ua: {kind: client, rate: 100/s, calls: [{to: lb, timeout: 1s}]}
  ub: {kind: client, rate: 100/s, calls: [{to: lb, timeout: 1s}]}
  lb:
    kind: balancer
    outlier_detection: {max_ejection_percent: 100%}
    calls:
      - {to: a1, only_for: [ua]}
      - {to: a2, only_for: [ua]}
      - {to: b1, only_for: [ub]}
      - {to: b2, only_for: [ub]}
  a1: {kind: service, workers: 10, service_time: {dist: exponential, mean: 10ms}}
  a2: {kind: service, workers: 10, service_time: {dist: exponential, mean: 10ms}}
  b1: {kind: service, workers: 10, service_time: {dist: exponential, mean: 10ms}}
  b2: {kind: service, workers: 10, service_time: {dist: exponential, mean: 10ms}}
faults:
  - {kind: error, target: a1, at: 10s, for: 5s, rate: 100%}
  - {kind: error, target: a2, at: 10s, for: 5s, rate: 100%}
"""
    sim, out = run(scenario(text), seed)
    assert out["invariants"] == []
    outlier = out["nodes"]["lb"]["outlier"]
    assert outlier["ejections_per_host"] == {"a1": 1, "a2": 1, "b1": 0, "b2": 0}
    assert outlier["panics"] == 1  # was ~2,000: one per flip
    # from the second ejection (~10 s) to the returns at the sweep at 50 s (at 40 s, 30 s had
    # not quite passed)
    assert 39 < outlier["time_in_panic_s"] < 40.5
    assert outlier["panic_requests"] == pytest.approx(100 * 40, rel=0.05)  # only ua's
    panic = time_series(sim)["node.lb.panic"]
    assert panic[11:49].min() > 0.999 and panic[51:].sum() == 0


def test_a_token_buckets_shed_is_a_429_not_a_failure() -> None:
    """Envoy's local rate limit answers 429, which outlier detection does not count; a
    max_in_flight limiter's shed (a 503) is a gateway failure."""
    text = """
murphy: 1
name: shed
duration: 30s
nodes:
  users: {kind: client, rate: 200/s, calls: [{to: lb}]}
  lb:
    kind: balancer
    outlier_detection: {enforcing_consecutive_gateway_failure: 100%, max_ejection_percent: 50%}
    calls: [{to: a}, {to: b}]
  a:
    kind: service
    workers: 10
    service_time: {dist: constant, value: 5ms}
    limiter: LIMITER
  b: {kind: service, workers: 10, service_time: {dist: constant, value: 5ms}}
"""
    bucket = "{kind: token_bucket, rate: 20/s, burst: 1}"
    _sim, out = run(scenario(text.replace("LIMITER", bucket)))
    assert out["invariants"] == []
    assert out["nodes"]["a"]["shed"] > 1_000  # a sheds most of its 100/s
    assert out["nodes"]["lb"]["outlier"]["ejections"] == 0
    in_flight = "{kind: max_in_flight, max_in_flight: 1}"
    _sim, out = run(scenario(text.replace("LIMITER", in_flight).replace("5ms", "50ms", 1)))
    assert out["invariants"] == []
    assert out["nodes"]["lb"]["outlier"]["ejections_per_host"]["a"] >= 1
