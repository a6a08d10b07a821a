"""The rest of the catalogue's Murphy's-law table: a third party down, a 429, a full disk.

Each lesson of ``scenarios/murphys-law.yaml`` asserted on three seeds, and the
mechanisms beneath them (a write fails at arrival, a 429 is its own outcome a
retry may retry, a route sees a 429 as a refusal) on small scenarios of their own.
"""

from __future__ import annotations

import pytest
from engine_helpers import example, run, scenario

from simulator.timeseries import time_series
from simulator.topology import problems

SEEDS = (1, 2, 3)


def _success(out: dict, route: str) -> float:
    return out["routes"][route]["success_rate"]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_fallback_keeps_the_route_up_while_the_third_party_is_down(seed: int) -> None:
    _sim, out = run(example("murphys-law.yaml"), seed)
    assert out["invariants"] == []
    # fx_api is down for 30 s of the 110 s measured: the route without a fallback loses that.
    assert 0.2 < 1 - _success(out, "quote_users") < 0.35
    assert out["nodes"]["fx_api"]["errors"]["refused"] > 1000
    catalog = out["routes"]["catalog_users"]
    assert catalog["success_rate"] == 1.0  # the same outage, answered from the cache
    assert 0.2 < catalog["outcomes"]["fallback"] / catalog["requests"] < 0.35


@pytest.mark.parametrize("seed", SEEDS)
def test_backoff_with_jitter_gets_through_a_429_that_immediate_retries_only_hammer(
    seed: int,
) -> None:
    _sim, out = run(example("murphys-law.yaml"), seed)
    eager, polite = out["edges"]["eager_app->maps_eager"], out["edges"]["polite_app->maps_polite"]
    eager_429 = out["nodes"]["maps_eager"]["errors"]["rate_limited"]
    polite_429 = out["nodes"]["maps_polite"]["errors"].get("rate_limited", 0)
    failed = eager["outcomes"]["rate_limited"]
    # Immediate retries land in the same instant as the 429, when the quota has no token:
    # a request refused once is refused five times, and fails.
    assert eager_429 == 5 * failed
    assert out["routes"]["eager_users"]["outcomes"]["error"] == failed
    assert out["nodes"]["eager_app"]["errors"] == {"dependency_rate_limited": failed}
    assert _success(out, "eager_users") < 0.85
    # Backoff with jitter spreads the retries until the quota has refilled: all get through…
    assert _success(out, "polite_users") >= 0.99
    assert "rate_limited" not in polite["outcomes"]
    # …with far fewer tries and far fewer 429s.
    assert polite["retries"] < 0.7 * eager["retries"]
    assert polite_429 < 0.6 * eager_429


@pytest.mark.parametrize("seed", SEEDS)
def test_a_full_disk_fails_writes_fast_while_reads_keep_working(seed: int) -> None:
    sc = example("murphys-law.yaml")
    healthy = sc.model_copy(update={"faults": [f for f in sc.faults if f.kind != "disk_full"]})
    sim, out = run(sc, seed)
    _, base = run(healthy, seed)
    # Reads: all served, and no slower than with room on the disk.
    for summary in (out, base):
        assert _success(summary, "browse_users") == 1.0
    read_p99 = out["routes"]["browse_users"]["latency_ms"]["p99"]
    assert read_p99 <= 1.1 * base["routes"]["browse_users"]["latency_ms"]["p99"]
    # Writes: every one in the window fails at arrival with disk_full, and none outside it.
    db = out["nodes"]["orders_db"]
    failed = db["errors"]["disk_full"]
    assert 150 < failed < 250  # 10 writes/s for 20 s
    assert db["arrivals"] - db["accepted"] == failed  # turned away: no worker, no queue
    assert out["routes"]["checkout_users"]["outcomes"]["error"] == failed
    assert out["edges"]["orders->orders_db#1"]["outcomes"]["error"] == failed
    assert base["routes"]["checkout_users"]["success_rate"] == 1.0
    columns = time_series(sim)
    t, good, bad = (columns[k] for k in ("time_s", "route.checkout_users.goodput",
                                         "route.checkout_users.failed"))  # fmt: skip
    during = (t >= 20.0) & (t < 40.0)
    # Writes queued before the disk filled finish, in the window's first second; no others.
    assert good[during][1:].sum() == 0 and bad[during].sum() == failed
    assert bad[~during].sum() == 0 and good[t >= 40.0].sum() > 700  # they recover at once


DISK = """
name: disk
duration: 20s
nodes:
  readers: {kind: client, rate: 30/s, calls: [{to: api, timeout: 5s}]}
  writers: {kind: client, rate: 5/s, calls: [{to: api, timeout: 5s}]}
  api:
    kind: service
    workers: 1000
    service_time: {dist: constant, value: 1ms}
    calls:
      - {to: db, timeout: 2s, only_for: [readers]}
      - {to: db, timeout: 2s, only_for: [writers], writes: true}
  db:
    kind: database
    workers: 1
    queue: 1000
    service_time: {dist: constant, value: 100ms}
faults:
  - {kind: disk_full, target: db}
"""


def test_a_write_fails_at_arrival_even_behind_a_queue_of_reads() -> None:
    """The db serves 10 reads a second and is offered 30: reads queue, writes fail at once."""
    _sim, out = run(scenario(DISK), 4)
    assert out["invariants"] == []
    read, write = out["edges"]["api->db"], out["edges"]["api->db#1"]
    assert out["nodes"]["db"]["errors"] == {"disk_full": write["requests"]}
    assert write["outcomes"] == {"error": write["requests"]} and write["requests"] > 50
    # No worker, no queue: a write answers in no time, though the reads wait for seconds.
    assert out["nodes"]["db"]["max_queue"] > 20
    assert read["latency_ms"]["p50"] > 1000 and write["latency_ms"]["p99"] < 0.01
    assert out["nodes"]["api"]["errors"]["dependency_error"] == write["requests"]


def test_a_crashed_or_unreachable_database_answers_as_such_before_its_disk() -> None:
    sc = scenario(
        DISK.replace(
            "faults:\n",
            "faults:\n  - {kind: crash, target: db, at: 6s, for: 1s}\n"
            "  - {kind: partition, target: db, at: 8s, for: 1s}\n",
        )
    )
    _sim, out = run(sc, 4)
    assert out["invariants"] == []
    errors = out["nodes"]["db"]["errors"]
    assert errors["refused"] > 0 and errors["disk_full"] > 0
    assert out["edges"]["api->db#1"]["outcomes"]["timeout"] > 0  # partitioned: a black hole


QUOTA = """
name: quota
duration: 30s
nodes:
  users:
    kind: client
    rate: 50/s
    calls: [{to: api, timeout: 5s, retry: {strategy: fixed, base: 200ms, attempts: 3}}]
  api: {kind: third_party, latency: {dist: constant, value: 10ms}, rate_limit: 20/s, rate_burst: 5}
"""


def test_a_429_is_its_own_outcome_a_retry_may_retry_and_a_route_sees_as_a_refusal() -> None:
    _sim, out = run(scenario(QUOTA), 5)
    assert out["invariants"] == []
    edge = out["edges"]["users->api"]
    api = out["nodes"]["api"]
    assert edge["outcomes"]["rate_limited"] == out["routes"]["users"]["outcomes"]["rejected"]
    assert edge["retries"] > 0  # retried by default: a 429 says "not now"
    # The quota lets through 20/s (plus the first burst), whatever the demand.
    answered_per_simulated_second = edge["outcomes"]["ok"] / out["duration_s"]
    assert abs(answered_per_simulated_second - 20) < 1.0
    assert api["arrivals"] == edge["attempts"] and api["errors"]["rate_limited"] > 0
    not_retried = QUOTA.replace("attempts: 3", "attempts: 3, retry_on: [error]")
    _sim, once = run(scenario(not_retried), 5)
    assert once["edges"]["users->api"]["retries"] == 0


def test_the_rate_quota_must_be_positive() -> None:
    with pytest.raises(Exception, match="rate_limit must be positive"):
        scenario(QUOTA.replace("rate_limit: 20/s", "rate_limit: 0/s"))


BROKER_DISK = """
name: broker disk
bucket: 1s
duration: 30s
nodes:
  users:
    kind: client
    rate: 50/s
    calls: [{to: api, timeout: 5s}]
  api:
    kind: service
    workers: 50
    service_time: {dist: constant, value: 1ms}
    publishes: [{to: bus, queue: q, timeout: 1s}]
  bus: {kind: broker, queues: {q: {}}}
  worker:
    kind: consumer
    broker: bus
    queue: q
    workers: 1
    processing_time: {dist: constant, value: 40ms}
faults:
  - {kind: disk_full, target: bus, at: 5s, for: 5s}
"""


def test_a_broker_with_a_full_disk_refuses_publishes_and_keeps_delivering() -> None:
    """Every publish is a write; the messages already held are read and delivered as usual."""
    sim, out = run(scenario(BROKER_DISK), 6)
    assert out["invariants"] == []
    refused = out["nodes"]["bus"]["errors"]["disk_full"]
    assert 200 < refused < 300  # 50 publishes/s for 5 s
    (flow,) = out["messages"].values()
    assert flow["lost_by"] == {"publish_failed": refused}
    # The consumer (25 messages/s) has a backlog when the disk fills: it keeps draining it.
    delivered = time_series(sim)["queue.bus.q.delivered"]
    assert delivered[5:10].sum() > 100


def test_validate_warns_of_a_full_disk_nothing_writes_to() -> None:
    quiet = scenario(DISK.replace(", writes: true", ""))
    assert [p.message for p in problems(quiet) if p.severity == "warning"] == [
        "disk_full on db changes nothing: no call to it writes (writes: true)"
    ]
    assert problems(scenario(DISK)) == []
