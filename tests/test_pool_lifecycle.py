"""Connection pools through the engine: scenario in, numbers out.

The lessons of ``scenarios/pool-exhaustion.yaml``, then one small chain per
stage of a connection's life: opened ahead, recycled, found stale, refused by
the database's limit, leaked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from engine_helpers import example, run, scenario

from simulator.engine import Simulation
from simulator.timeseries import time_series


def chain(pool: str, db_extra: str = "", faults: str = "", direct: str = "",
          rate: str = "100/s", duration: str = "60s") -> str:  # fmt: skip
    """users -> api -(pool)-> db; ``direct`` adds a client calling the database itself."""
    direct_client = (
        f"""
  direct:
    kind: client
    rate: {direct}
    calls: [{{to: db, timeout: 5s}}]"""
        if direct
        else ""
    )
    return f"""
murphy: 1
name: pooled chain
seed: 5
duration: {duration}
nodes:
  users:
    kind: client
    rate: {rate}
    calls: [{{to: api, timeout: 10s}}]{direct_client}
  api:
    kind: service
    workers: 50
    queue: 100
    service_time: {{dist: exponential, mean: 1ms}}
    calls: [{{to: db, timeout: 5s, pool: {pool}}}]
  db:
    kind: database
    workers: 20
    queue: 1000
    service_time: {{dist: exponential, mean: 10ms}}
    {db_extra}
faults: [{faults}]
"""


def pool_of(out: dict[str, Any]) -> dict[str, Any]:
    return out["edges"]["api->db"]["pool"]


# -- the example's lessons -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def lesson() -> tuple[Simulation, dict[str, Any]]:
    return run(example("pool-exhaustion.yaml"))


def test_a_short_acquire_timeout_fails_fast_instead_of_holding_workers(lesson) -> None:
    """(a) The slow query exhausts both pools; the impatient one frees its callers in 100 ms."""
    _sim, out = lesson
    patient, impatient = out["routes"]["patient_users"], out["routes"]["impatient_users"]
    p_pool = out["edges"]["patient_api->patient_db"]["pool"]
    i_pool = out["edges"]["impatient_api->impatient_db"]["pool"]
    for pool in (p_pool, i_pool):
        assert pool["peak_in_use"] == 30  # max_size 20 + overflow 10, all taken
        assert 60.0 <= pool["exhausted_at_s"] < 61.0  # within a second of the slowdown
    # Patient: callers wait for connections, the API's queue fills, users time out.
    assert out["nodes"]["patient_api"]["max_queue"] == 200
    assert patient["outcomes"]["rejected"] + patient["outcomes"]["timeout"] > 2000
    assert patient["latency_ms"]["p99"] >= 9000
    assert p_pool["acquire_wait_p99_ms"] > 1000 and p_pool["acquire_timeouts"] == 0
    # Impatient: quick errors instead, no queue, and no worse a success rate.
    assert out["nodes"]["impatient_api"]["max_queue"] < 20
    assert impatient["outcomes"]["timeout"] == impatient["outcomes"]["rejected"] == 0
    assert i_pool["acquire_timeouts"] == impatient["outcomes"]["error"] > 2000
    assert impatient["latency_ms"]["p99"] < 2000
    assert i_pool["acquire_wait_p99_ms"] <= 101
    assert impatient["success_rate"] >= patient["success_rate"] - 0.005
    busy = {n: out["nodes"][n]["utilization"] for n in ("patient_api", "impatient_api")}
    assert busy["impatient_api"] < 0.7 * busy["patient_api"]  # workers not held waiting


def test_a_database_restart_fails_stale_connections_unless_pre_pinged(lesson) -> None:
    """(b) Without pre-ping every pooled connection fails once; with it, none does."""
    _sim, out = lesson
    unpinged = out["edges"]["unpinged_api->unpinged_db"]["pool"]
    pinged = out["edges"]["pinged_api->pinged_db"]["pool"]
    assert unpinged["stale_failures"] >= 5
    assert pinged["stale_failures"] == 0
    errors = {r: out["routes"][r]["outcomes"]["error"] for r in ("unpinged_users", "pinged_users")}
    # Both lose the queries in flight at the crash; only the unpinged also fails on stale sockets.
    assert errors["unpinged_users"] >= errors["pinged_users"] + unpinged["stale_failures"] // 2
    assert pinged["opened"] > out["edges"]["pinged_api->pinged_db"]["pool"]["closed"] > 0


def test_a_leak_drains_the_pool_and_every_later_call_waits(lesson) -> None:
    """(c) One checkout in 100 never returns: about 30 s-90 s until all 30 are gone."""
    sim, out = lesson
    leaky = out["edges"]["leaky_api->leaky_db"]["pool"]
    assert leaky["leaked"] == 30 and leaky["peak_in_use"] == 30
    assert 30.0 < leaky["exhausted_at_s"] < 120.0
    assert out["routes"]["leaky_users"]["success_rate"] < 0.9
    # No other pool is drained.
    assert out["edges"]["pinged_api->pinged_db"]["pool"]["exhausted_at_s"] is None
    columns = time_series(sim)
    in_use = columns["pool.leaky_api->leaky_db.in_use"]
    idle = columns["pool.leaky_api->leaky_db.idle"]
    assert in_use[-1] == pytest.approx(30.0) and idle[-1] == 0.0
    assert in_use[5] < 15  # early on, most of the pool is still there


def test_pool_series_are_levels_and_a_wait_percentile(lesson) -> None:
    sim, _out = lesson
    columns = time_series(sim)
    prefix = "pool.patient_api->patient_db."
    for key in ("in_use", "idle", "waiters", "acquire_wait_p99_ms"):
        assert len(columns[prefix + key]) == len(columns["time_s"])
    t = columns["time_s"]
    spike = (t >= 65) & (t < 85)
    assert np.all(columns[prefix + "in_use"][spike] == pytest.approx(30.0))
    assert np.all(columns[prefix + "waiters"][spike] > 10)
    assert np.all(columns[prefix + "acquire_wait_p99_ms"][spike] > 500)
    calm = (t >= 20) & (t < 55)
    assert np.all(columns[prefix + "waiters"][calm] == 0)
    assert np.all(columns[prefix + "in_use"][calm] < 5)
    assert "pool.users->patient_api.in_use" not in columns  # only pooled calls have the columns


# -- one stage of a connection's life at a time ----------------------------------------------------


def test_min_size_connections_are_open_before_the_first_request() -> None:
    sim = Simulation(scenario(chain("{min_size: 4, max_size: 5, connect_time: 50ms}")))
    pool = sim.sites["api->db"].pool
    assert pool is not None and (pool.opened, pool.idle) == (4, 4)
    sim.run_to_end()
    assert sim.check_invariants() == []


def test_recycle_replaces_connections_older_than_their_lifetime() -> None:
    _sim, never = run(scenario(chain("{max_size: 5, connect_time: 20ms}")))
    _sim, out = run(scenario(chain("{max_size: 5, connect_time: 20ms, recycle: 10s}")))
    assert pool_of(never)["recycled"] == 0
    # Each kept connection is replaced about every 10 s: some 5 x 60 / 10, paid in connect time.
    assert 15 <= pool_of(out)["recycled"] <= 40
    assert out["invariants"] == []
    latency = [o["edges"]["api->db"]["latency_ms"]["mean"] for o in (never, out)]
    assert latency[1] > latency[0]  # the reconnects are paid by the calls


CRASH = "{kind: crash, target: db, at: 30s, for: 10ms}"


def test_a_restarted_database_fails_each_stale_connection_once() -> None:
    _sim, out = run(scenario(chain("{min_size: 5, max_size: 5, overflow: 0}", faults=CRASH)))
    pool = pool_of(out)
    assert pool["stale_failures"] >= 3  # the idle ones of the five
    assert out["edges"]["api->db"]["outcomes"]["error"] >= pool["stale_failures"]
    assert out["invariants"] == []
    _sim, pinged = run(scenario(chain("{min_size: 5, max_size: 5, overflow: 0, pre_ping: true}",
                                      faults=CRASH)))  # fmt: skip
    assert pool_of(pinged)["stale_failures"] == 0
    assert (
        pinged["edges"]["api->db"]["outcomes"].get("error", 0)
        < out["edges"]["api->db"]["outcomes"]["error"]
    )


def test_overflow_connections_close_on_return() -> None:
    sim, out = run(scenario(chain("{max_size: 2, overflow: 20}", rate="600/s")))
    pool = pool_of(out)
    assert pool["peak_in_use"] > 2 and pool["closed"] > 0
    assert sim.sites["api->db"].pool.idle <= 2  # type: ignore[union-attr]
    assert out["invariants"] == []


def test_a_leak_drains_the_pool_until_exhaustion() -> None:
    _sim, out = run(scenario(chain("{max_size: 5, overflow: 5, leak: 5%, acquire_timeout: 1s}")))
    pool = pool_of(out)
    assert pool["leaked"] == 10 and pool["exhausted_at_s"] is not None
    assert pool["exhausted_at_s"] < 10  # 10 leaks at 5% of 100 checkouts a second
    assert pool["acquire_timeouts"] > 1000
    assert out["invariants"] == []


def test_a_pool_past_the_databases_limit_is_refused() -> None:
    """max_connections 5 against a pool of 20: the sixth connection is refused."""
    text = chain("{max_size: 20, overflow: 0}", db_extra="max_connections: 5", rate="800/s")
    _sim, out = run(scenario(text))
    pool = pool_of(out)
    assert pool["opened"] - pool["closed"] <= 5
    assert pool["refused_by_database"] > 0
    assert out["edges"]["api->db"]["outcomes"]["error"] == pool["refused_by_database"]
    assert out["invariants"] == []


def test_pooled_connections_count_against_the_limit_direct_callers_share() -> None:
    """Five idle pooled connections hold five of the database's eight."""
    text = chain("{min_size: 5, max_size: 5, overflow: 0}", db_extra="max_connections: 8",
                 direct="400/s", rate="10/s")  # fmt: skip
    sim, out = run(scenario(text))
    ledger = sim.servers["db"].ledger
    assert ledger is not None and ledger.pooled == 5
    assert out["nodes"]["db"]["rejected"] > 0  # direct calls past the 3 left to them
    assert pool_of(out)["refused_by_database"] == 0  # the pool's five were opened first
    assert out["routes"]["users"]["success_rate"] == 1.0
    plain_text = text.replace(", pool: {min_size: 5, max_size: 5, overflow: 0}", "")
    _sim, plain = run(scenario(plain_text))
    assert "pool" not in plain["edges"]["api->db"]
    assert plain["nodes"]["db"]["rejected"] < out["nodes"]["db"]["rejected"]


def test_validate_warns_of_pools_larger_than_the_databases_limit() -> None:
    from simulator.topology import problems

    text = chain("{max_size: 20, overflow: 0}", db_extra="max_connections: 5")
    warnings = [p.message for p in problems(scenario(text)) if p.severity == "warning"]
    assert any("may open 20 connections" in w and "accepts 5" in w for w in warnings)
    fits = chain("{max_size: 3, overflow: 2}", db_extra="max_connections: 5")
    assert not [p for p in problems(scenario(fits)) if "connections" in p.message]


def test_connections_in_use_when_the_database_crashed_are_closed_not_reused() -> None:
    slow = "service_time: {dist: constant, value: 500ms}"
    text = chain("{max_size: 10, overflow: 0}", faults=CRASH, rate="20/s")
    text = text.replace("service_time: {dist: exponential, mean: 10ms}", slow)
    sim = Simulation(scenario(text))
    pool = sim.sites["api->db"].pool
    assert pool is not None
    sim.run(29.999)
    out_at_crash, idle_at_crash, closed_before = pool.out, pool.idle, pool.closed
    assert out_at_crash >= 5  # some ten queries of 500 ms at 20 a second
    sim.run(30.6)  # the calls in flight were answered with the crash, and gave theirs back
    assert pool.closed - closed_before >= out_at_crash
    sim.run_to_end()
    assert pool.stale_failures <= idle_at_crash  # only idle ones were left to fail on use
    assert sim.check_invariants() == []
