"""The engine's semantics, each shown with numbers from a run (ARCHITECTURE.md, 1-7)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from engine_helpers import ROOT, example, run, scenario

from simulator.engine import EngineError, Simulation
from simulator.timeseries import time_series


def chain(db_fault: str = "", call_policy: str = "", db_extra: str = "") -> str:
    """client -> api (10 workers) -> db (5 workers); a fault on db from 20 s to 40 s."""
    return f"""
murphy: 1
name: chain
seed: 11
duration: 60s
nodes:
  users:
    kind: client
    rate: 200/s
    calls: [{{to: api, timeout: 30s}}]
  api:
    kind: service
    workers: 10
    queue: 20
    service_time: {{dist: exponential, mean: 1ms}}
    calls: [{{to: db {call_policy}}}]
  db:
    kind: database
    workers: 5
    queue: 1000
    service_time: {{dist: exponential, mean: 5ms}}
    {db_extra}
faults: [{db_fault}]
"""


def window_mean(columns: dict, name: str, start: float, end: float) -> float:
    t = columns["time_s"]
    mask = (t >= start) & (t < end)
    return float(columns[name][mask].mean())


def test_a_slow_database_exhausts_its_callers_workers() -> None:
    sim, out = run(scenario(chain("{kind: latency, target: db, at: 20s, for: 20s, add: 1s}")))
    cols = time_series(sim)
    before = window_mean(cols, "node.api.utilization", 5, 20)
    during = window_mean(cols, "node.api.utilization", 25, 40)
    assert before < 0.5
    assert during > 0.99  # every api worker is held waiting on the database
    assert out["nodes"]["api"]["max_queue"] == 20
    assert out["nodes"]["api"]["rejected"] > 1000  # then its queue fills and users are turned away
    assert out["invariants"] == []


def test_a_timeout_does_not_cancel_the_callees_work() -> None:
    fault = "{kind: latency, target: db, at: 20s, for: 20s, add: 1s}"
    sim, out = run(scenario(chain(fault, ", timeout: 100ms")))
    cols = time_series(sim)
    # The api gives up after 100 ms and its workers stay mostly free…
    assert window_mean(cols, "node.api.utilization", 25, 40) < 0.6
    # …but the database keeps serving every abandoned query: busy all through the spike
    assert window_mean(cols, "node.db.utilization", 25, 40) > 0.99
    edge = out["edges"]["api->db"]
    assert edge["outcomes"]["timeout"] > 100
    db = out["nodes"]["db"]
    assert db["completions"] > edge["outcomes"].get("ok", 0)  # work nobody waited for


def test_deadline_propagation_lets_the_callee_drop_abandoned_work() -> None:
    fault = "{kind: latency, target: db, at: 20s, for: 20s, add: 1s}"
    _, plain = run(scenario(chain(fault, ", timeout: 100ms")))
    _, dropped = run(scenario(chain(fault, ", timeout: 100ms, deadline_propagation: true")))
    assert dropped["nodes"]["db"]["errors"].get("expired", 0) > 100
    assert dropped["nodes"]["db"]["completions"] < plain["nodes"]["db"]["completions"]
    assert dropped["overall"]["success_rate"] > plain["overall"]["success_rate"]


def test_crash_refuses_at_once_and_partition_is_a_black_hole() -> None:
    policy = ", connect_timeout: 250ms, timeout: 2s"
    _, crashed = run(scenario(chain("{kind: crash, target: db, at: 20s, for: 10s}", policy)))
    _, parted = run(scenario(chain("{kind: partition, target: db, at: 20s, for: 10s}", policy)))
    crash_edge, part_edge = crashed["edges"]["api->db"], parted["edges"]["api->db"]
    assert crash_edge["outcomes"]["error"] > 1000 and "timeout" not in crash_edge["outcomes"]
    assert part_edge["outcomes"]["timeout"] > 100 and "error" not in part_edge["outcomes"]
    # fast failure vs slow failure: the black hole holds each call for the connect timeout
    assert crash_edge["latency_ms"]["p99"] < 50
    assert part_edge["latency_ms"]["p99"] == pytest.approx(250, rel=0.02)


def test_a_crash_loses_queued_work_and_restarts_cold_after_boot() -> None:
    text = chain("{kind: crash, target: db, at: 20s, for: 10s}", ", timeout: 2s", "boot_time: 5s")
    sim, out = run(scenario(text))
    assert out["nodes"]["db"]["errors"]["crash"] > 0
    cols = time_series(sim)
    assert window_mean(cols, "node.db.completions", 21, 35) == 0  # down, then booting
    assert window_mean(cols, "node.db.completions", 36, 60) > 150  # back to serving
    assert out["invariants"] == []


def test_retries_multiply_across_layers() -> None:
    retry = "retry: {strategy: immediate, attempts: 3, retry_on: [error]}"
    text = f"""
murphy: 1
name: layers
duration: 30s
nodes:
  c: {{kind: client, rate: 20/s, calls: [{{to: a, {retry}}}]}}
  a: {{kind: service, workers: 100, service_time: {{dist: constant, value: 1ms}},
      calls: [{{to: b, {retry}}}]}}
  b: {{kind: service, workers: 100, service_time: {{dist: constant, value: 1ms}},
      calls: [{{to: d, {retry}}}]}}
  d: {{kind: service, workers: 100, service_time: {{dist: constant, value: 1ms}}}}
faults: [{{kind: error, target: d, rate: 100%}}]
"""
    _, out = run(scenario(text))
    edges = out["edges"]
    assert edges["c->a"]["amplification"] == pytest.approx(3)
    assert edges["b->d"]["attempts"] == pytest.approx(27 * edges["c->a"]["requests"], rel=0.01)


def test_closed_loop_users_slow_down_with_the_system() -> None:
    text = """
murphy: 1
name: closed
duration: 60s
nodes:
  people: {kind: client, users: 20, think_time: {dist: exponential, mean: 1s},
           calls: [{to: api}]}
  api: {kind: service, workers: 2, service_time: {dist: exponential, mean: 10ms}}
faults: [{kind: latency, target: api, at: 20s, for: 20s, add: 500ms}]
"""
    sim, out = run(scenario(text))
    cols = time_series(sim)
    normal = window_mean(cols, "route.people.requests", 5, 20)
    slow = window_mean(cols, "route.people.requests", 25, 40)
    assert normal == pytest.approx(20 / 1.01, rel=0.15)  # N / (Z + R)
    assert slow < normal / 2  # users wait for answers, so they ask less
    assert out["overall"]["outcomes"]["rejected"] == 0


def test_open_loop_profile_ramps_the_arrival_rate() -> None:
    text = """
murphy: 1
name: ramp
duration: 100s
nodes:
  load:
    kind: client
    profile: [{at: 0s, rate: 100/s}, {at: 50s, rate: 100/s}, {at: 100s, rate: 500/s, ramp: true}]
    calls: [{to: api}]
  api: {kind: service, workers: 50, service_time: {dist: exponential, mean: 1ms}}
faults: [{kind: surge, target: load, at: 10s, for: 10s, multiply: 3}]
"""
    sim, _ = run(scenario(text))
    cols = time_series(sim)
    assert window_mean(cols, "route.load.requests", 0, 10) == pytest.approx(100, rel=0.1)
    assert window_mean(cols, "route.load.requests", 10, 20) == pytest.approx(300, rel=0.1)
    assert window_mean(cols, "route.load.requests", 70, 80) == pytest.approx(300, rel=0.1)


def test_every_request_ends_in_exactly_one_outcome() -> None:
    for name in ("latency-spike.yaml", "three-tier.yaml"):
        sim, out = run(example(name, duration=90.0))
        assert out["invariants"] == []
        for client in sim.clients.values():
            stats = client.stats
            assert stats.started_total == sum(stats.outcomes_total.values()) + client.in_flight


def test_same_seed_gives_byte_identical_json_across_processes() -> None:
    def once() -> dict:
        cmd = [sys.executable, "-m", "simulator.cli", "run", "scenarios/three-tier.yaml",
               "--json", "--duration", "90s"]  # fmt: skip
        text = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
        data = json.loads(text)
        data.pop("wall_seconds")
        return data

    first, second = once(), once()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["overall"]["requests"] > 0


def test_changing_a_timeout_does_not_change_the_arrivals_drawn() -> None:
    fault = "{kind: latency, target: db, at: 20s, for: 20s, add: 1s}"
    _, slow = run(scenario(chain(fault, ", timeout: 5s")))
    _, fast = run(scenario(chain(fault, ", timeout: 100ms")))
    assert slow["routes"]["users"]["started"] == fast["routes"]["users"]["started"]
    assert slow["overall"]["outcomes"] != fast["overall"]["outcomes"]


def test_a_cycle_of_synchronous_calls_is_refused() -> None:
    text = """
murphy: 1
name: loop
duration: 10s
nodes:
  c: {kind: client, rate: 1/s, calls: [{to: a}]}
  a: {kind: service, service_time: {dist: constant, value: 1ms}, calls: [{to: b}]}
  b: {kind: service, service_time: {dist: constant, value: 1ms}, calls: [{to: a}]}
"""
    with pytest.raises(EngineError, match=r"(a -> b -> a)|(b -> a -> b)"):
        Simulation(scenario(text))


def test_memory_is_bounded_by_time_buckets_not_requests() -> None:
    import tracemalloc

    def peak(duration: float) -> int:
        # Same number of time buckets, so only per-request memory could differ.
        sc = example("mmc.yaml", duration=duration, bucket=duration / 20, warmup=0.0)
        tracemalloc.start()
        Simulation(sc).run_to_end()
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return size

    peak(5.0)  # first use imports and caches; not what is measured
    short, long = peak(20.0), peak(160.0)  # 8x the requests
    assert long < short * 1.25


def test_a_connection_pool_caps_calls_and_charges_for_new_connections() -> None:
    def edge(connect_time: str) -> dict:
        policy = f", pool: {{size: 2, overflow: 1, connect_time: {connect_time}}}"
        return run(scenario(chain(call_policy=policy)))[1]["edges"]["api->db"]

    slow, free = edge("5ms"), edge("0ms")
    assert slow["pool"]["max_in_use"] == 3  # size + overflow
    assert slow["outcomes"] == {"ok": slow["requests"]}
    assert slow["latency_ms"]["mean"] > free["latency_ms"]["mean"]


def test_a_crash_replays_identically_whatever_the_memory_layout() -> None:
    """Lost jobs are answered in start order, not in an order that depends on addresses."""
    sc = example("retry-waves.yaml", duration=30.0)
    _, first = run(sc)
    ballast = [object() for _ in range(12_345)]  # shifts every later allocation
    _, second = run(sc)
    del ballast
    for out in (first, second):
        out.pop("wall_seconds")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_a_crashed_node_comes_back_with_a_cold_connection_pool() -> None:
    policy = ", pool: {size: 3, overflow: 0, connect_time: 5ms}"
    sim = Simulation(scenario(chain("{kind: crash, target: api, at: 20s, for: 2s}", policy)))
    pool = sim.sites["api->db"].pool
    sim.run(19.9)
    assert pool.idle > 0
    opened_before = pool.opened
    sim.run(20.5)  # crashed: its connections died with it
    assert pool.idle == 0
    sim.run(30.0)  # back, and paying to connect again
    assert pool.opened >= opened_before + 1
    assert sim.check_invariants() == []
