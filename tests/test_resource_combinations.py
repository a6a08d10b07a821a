"""One database with every resource feature at once: a connection limit its callers' pools
count against, a memory model that leaks, validation and reconciliation of its writes.

Each feature is its own ``Server`` subclass, paid for only where configured; a node
with several is one class combining them, and its books must still balance.
"""

from __future__ import annotations

from engine_helpers import run, scenario

from simulator.timeseries import time_series

EVERYTHING = """
murphy: 1
name: every resource feature on one database
duration: 120s
nodes:
  users: {kind: client, rate: 60/s, calls: [{to: api, timeout: 2s}]}
  walkins: {kind: client, rate: 10/s, calls: [{to: db, timeout: 1s}]}
  api:
    kind: service
    workers: 12
    service_time: {dist: exponential, mean: 5ms}
    calls:
      - to: db
        writes: true
        timeout: 1s
        validation: [{layer: input_schema, catches: 50%}]
        pool: {min_size: 2, max_size: 6, overflow: 2, acquire_timeout: 200ms, pre_ping: true}
  db:
    kind: database
    workers: 8
    boot_time: 2s
    max_connections: 10
    service_time: {dist: exponential, mean: 8ms}
    memory: {limit_mb: 500, base_mb: 200, per_request_mb: 2}
    validation: [{layer: db_constraint, catches: 50%}]
    reconciliation: {interval: 5s, scan_share: 50%}
faults:
  - {kind: corruption, target: api, at: 0s, rate: 20%}
  - {kind: memory_leak, target: db, at: 10s, mb_per_s: 15}
  - {kind: disk_full, target: db, at: 100s, for: 5s}
"""


def test_a_database_with_every_resource_feature_keeps_every_book() -> None:
    for seed in (1, 2, 3):
        sim, out = run(scenario(EVERYTHING), seed=seed)
        assert out["invariants"] == []
        db = out["nodes"]["db"]
        assert db["oom_kills"] >= 3 and db["restarts"]["oom"] == db["oom_kills"]
        pool = out["edges"]["api->db"]["pool"]
        assert pool["opened"] > 8  # more than it holds at once: each kill's dead ones replaced
        assert pool["stale_failures"] == 0  # pre-ping finds each connection the kills left dead
        books = out["corruption"]["databases"]["db"]
        assert set(books["caught_by_layer"]) == {"input_schema", "db_constraint"}
        assert books["found_by_reconciliation"] > 0
        assert db["errors"].get("disk_full", 0) > 0
        columns = time_series(sim)
        for column in ("node.db.memory_mb", "pool.api->db.in_use", "corruption.db.at_rest"):
            assert column in columns


SCAN_DUE = """
murphy: 1
name: a reconciliation pass falls due while the last one runs
duration: 30s
nodes:
  users: {kind: client, rate: 0.5/s, calls: [{to: db, timeout: 2s, writes: true}]}
  db:
    kind: database
    workers: 3
    queue: 0
    boot_time: 100ms
    service_time: {dist: constant, value: 1ms}
    reconciliation: {interval: 100ms, scan_share: 100%, load: 67%, scan_rate: 10/s}
"""


def test_the_next_pass_starts_on_the_workers_the_last_one_gave_back() -> None:
    """A pass due while the last one ran used to start before the last scan job freed its
    worker: holding every worker with no queue, it was refused by its own predecessor."""
    every_worker = SCAN_DUE.replace("workers: 3", "workers: 2").replace("load: 67%", "load: 100%")
    for seed in (1, 2):
        _sim, out = run(scenario(every_worker), seed=seed)
        assert out["invariants"] == []
        passes = out["corruption"]["databases"]["db"]["reconciliation"]
        assert passes["aborted"] == 0 and passes["passes"] > 20


def test_a_pass_that_oom_kills_its_database_ends_each_scan_job_once() -> None:
    """Starting the next pass can push a watched database past its memory limit: the kill
    must not find the last pass's job still in service (it was answered twice, and one
    worker stayed busy below zero)."""
    watched = SCAN_DUE.replace("queue: 0", "memory: {limit_mb: 100, base_mb: 10, "
                               "per_request_mb: 40}")  # fmt: skip
    assert "memory" in watched
    for seed in (1, 2, 3):
        sim, out = run(scenario(watched), seed=seed)
        assert out["invariants"] == []
        db = sim.servers["db"]
        assert out["nodes"]["db"]["oom_kills"] > 0 and db.busy == len(db.in_service) >= 0
