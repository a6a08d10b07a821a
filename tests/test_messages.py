"""Asynchronous messages: the books balance, and each delivery guarantee shows in the numbers.

Every flow (one producer's stream as one consumer group sees it) must satisfy
produced = delivered + lost + dead_lettered + in_flight, with every loss given a
cause. The lessons after that: at-least-once delivery makes duplicates and only
an idempotent consumer stops them being applied twice; poison messages are
dead-lettered after max_deliveries; an outbox row commits with its transaction;
dual write loses the events it commits but never publishes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from engine_helpers import run, scenario

from simulator.analysis import summarize
from simulator.engine import Simulation
from simulator.messages import LOSS_REASONS
from simulator.scenario import ScenarioError, parse_scenario
from simulator.timeseries import time_series
from simulator.topology import problems

PIPELINE = """
murphy: 1
name: pipe
seed: 3
duration: 20s
nodes:
  users: {kind: client, rate: 100/s, calls: [{to: orders, timeout: 2s}]}
  orders:
    kind: service
    workers: 8
    service_time: {dist: exponential, mean: 5ms}
    calls: [{to: orders_db, timeout: 1s}]
    publishes: [{to: bus, queue: orders, timeout: 500ms, after_commit_to: orders_db}]
  orders_db: {kind: database, workers: 8, service_time: {dist: exponential, mean: 3ms}}
  users2: {kind: client, rate: 100/s, calls: [{to: orders2, timeout: 2s}]}
  orders2:
    kind: service
    workers: 8
    service_time: {dist: exponential, mean: 5ms}
    calls: [{to: orders2_db, timeout: 1s, outbox: relay}]
  orders2_db: {kind: database, workers: 8, service_time: {dist: exponential, mean: 3ms}}
  relay:
    kind: relay
    database: orders2_db
    interval: 200ms
    publish: {to: bus, queue: orders2, timeout: 500ms}
  bus: {kind: broker, queues: {orders: {}, orders2: {}}}
  shipping:
    kind: consumer
    broker: bus
    queue: orders
    workers: 4
    processing_time: {dist: exponential, mean: 10ms}
  shipping2:
    kind: consumer
    broker: bus
    queue: orders2
    workers: 4
    processing_time: {dist: exponential, mean: 10ms}
    dedupe: {}
faults:
  - {kind: message_drop, target: bus, at: 3s, for: 3s, rate: 5%, when: before_ack}
  - {kind: crash, target: relay, at: 8s, for: 1s}
  - {kind: crash, target: orders, at: 11s, for: 1s}
  - {kind: crash, target: shipping2, at: 14s, for: 1s}
"""

# /tmp/msg/stress.yaml, trimmed to 30 s: every loss reason, every kind of fault on messages.
STRESS = (Path(__file__).parent / "data" / "message-stress.yaml").read_text()


def assert_balanced(out: dict[str, Any]) -> None:
    """Conservation, per flow, from the JSON alone."""
    assert out["invariants"] == []
    for key, f in out["messages"].items():
        settled = f["delivered"] + f["lost"] + f["dead_lettered"]
        assert f["produced"] == settled + f["in_flight"], key
        assert f["lost"] == sum(f["lost_by"].values()), key
        assert set(f["lost_by"]) <= set(LOSS_REASONS), key
        assert f["published"] <= f["produced"] and f["duplicates"] <= f["deliveries"], key


def the_flow(out: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    flows = out["messages"]
    if key is None:
        (flow,) = flows.values()
        return flow
    return flows[key]


# -- the books ---------------------------------------------------------------------------------


def test_the_books_balance_for_a_small_pipeline() -> None:
    _sim, out = run(scenario(PIPELINE))
    assert_balanced(out)
    dual = the_flow(out, "orders->bus.orders->shipping")
    outbox = the_flow(out, "relay->bus.orders2->shipping2")
    assert dual["produced"] > 1500 and outbox["produced"] > 1500
    # dual write without retries lost the publishes the broker dropped before acking…
    assert dual["lost_by"]["publish_failed"] > 5  # measured: 18
    # …the outbox lost none: the relay published those rows again at its next poll
    assert outbox["lost"] == 0 and out["nodes"]["relay"]["republished"] > 5


def test_the_books_balance_at_every_instant_under_every_fault() -> None:
    sim = Simulation(scenario(STRESS))
    while not sim.finished:
        sim.run(sim.now + 1.0)
        assert sim.check_invariants() == [], sim.now
    out = summarize(sim)
    assert_balanced(out)
    causes = {cause for f in out["messages"].values() for cause in f["lost_by"]}
    assert causes == set(LOSS_REASONS)  # every way to lose a message happened, and was counted
    assert sum(f["dead_lettered"] for f in out["messages"].values()) > 0
    assert sum(f["duplicates"] for f in out["messages"].values()) > 0


def test_the_same_seed_gives_the_same_books_and_another_seed_other_numbers() -> None:
    sc = scenario(PIPELINE)
    first, again, other = summarize(Simulation(sc).run_to_end()), run(sc)[1], run(sc, seed=4)[1]
    assert first["messages"] == again["messages"]
    assert first["nodes"] == again["nodes"]
    assert other["messages"].keys() == first["messages"].keys()
    for key in first["messages"]:
        assert other["messages"][key]["produced"] != first["messages"][key]["produced"]
        assert other["messages"][key]["lag_s"] != first["messages"][key]["lag_s"]


def test_each_consumer_group_gets_its_own_copy_of_every_message() -> None:
    text = """
murphy: 1
name: fanout
seed: 2
duration: 10s
nodes:
  users: {kind: client, rate: 50/s, publishes: [{to: bus, queue: q}]}
  bus: {kind: broker, queues: {q: {}}}
  billing: {kind: consumer, broker: bus, queue: q}
  shipping: {kind: consumer, broker: bus, queue: q, workers: 2}
"""
    _sim, out = run(scenario(text))
    assert_balanced(out)
    billing = the_flow(out, "users->bus.q->billing")
    shipping = the_flow(out, "users->bus.q->shipping")
    assert billing["produced"] == shipping["produced"] == billing["published"] > 400
    for flow in (billing, shipping):
        assert flow["delivered"] + flow["in_flight"] == flow["produced"]
        assert flow["in_flight"] <= 3  # both keep up
    queue = out["nodes"]["bus"]["queues"]["q"]
    assert queue["published"] == billing["produced"]  # one publish, held once per group
    assert queue["delivered"] == billing["deliveries"] + shipping["deliveries"]


# -- at-least-once delivery ----------------------------------------------------------------------


def _slow_consumer(dedupe: str) -> str:
    """One message every 10 s; processing takes 2 s; the broker waits 1 s for the ack."""
    return f"""
murphy: 1
name: slower-than-visibility
duration: 58s
nodes:
  users:
    kind: client
    users: 1
    think_time: {{dist: constant, value: 10s}}
    publishes: [{{to: bus, queue: q}}]
  bus: {{kind: broker, queues: {{q: {{visibility_timeout: 1s, max_deliveries: 3}}}}}}
  worker:
    kind: consumer
    broker: bus
    queue: q
    prefetch: 1
    processing_time: {{dist: constant, value: 2s}}
    {dedupe}
"""


def test_a_consumer_slower_than_the_visibility_timeout_applies_every_message_three_times() -> None:
    _sim, out = run(scenario(_slow_consumer("")))
    assert_balanced(out)
    flow = the_flow(out)
    # 5 messages (at 10, 20, … 50 s), each delivered at t, t+2, t+4: every ack comes too late
    assert flow["produced"] == 5
    assert (flow["deliveries"], flow["duplicates"]) == (15, 10)
    assert flow["delivered"] == 0 and flow["dead_lettered"] == 5
    assert (flow["applied"], flow["applied_twice"]) == (15, 10)
    assert out["nodes"]["bus"]["queues"]["q"]["stale_acks"] == 15
    assert out["nodes"]["worker"]["deduplicated"] == 0


def test_an_idempotent_consumer_applies_each_redelivered_message_once() -> None:
    _sim, out = run(scenario(_slow_consumer("dedupe: {}")))
    assert_balanced(out)
    flow = the_flow(out)
    assert (flow["deliveries"], flow["duplicates"]) == (15, 10)  # still redelivered…
    assert (flow["applied"], flow["applied_twice"]) == (5, 0)  # …but applied once each
    worker = out["nodes"]["worker"]
    assert worker["deduplicated"] == 10
    assert worker["dedupe"] == {"held": 5, "evicted": 0}


# -- poison messages -------------------------------------------------------------------------------

POISON = """
murphy: 1
name: poison
seed: {seed}
duration: {duration}
nodes:
  users: {{kind: client, rate: 100/s, publishes: [{{to: bus, queue: q}}]}}
  bus: {{kind: broker, queues: {{q: {{max_deliveries: {max_deliveries}}}}}}}
  worker:
    kind: consumer
    broker: bus
    queue: q
    workers: 4
    processing_time: {{dist: constant, value: 5ms}}
    poison_rate: 5%
"""


def test_poison_messages_are_dead_lettered_after_max_deliveries() -> None:
    _sim, out = run(scenario(POISON.format(seed=1, duration="20s", max_deliveries=3)))
    assert_balanced(out)
    flow = the_flow(out)
    settled = flow["produced"] - flow["in_flight"]
    expected, sd = 0.05 * settled, math.sqrt(settled * 0.05 * 0.95)
    assert abs(flow["dead_lettered"] - expected) < 4 * sd  # measured: 99 of 2003
    # a healthy message is delivered once; a poison one three times, then dead-lettered
    extra = flow["deliveries"] - flow["delivered"] - 3 * flow["dead_lettered"]
    assert 0 <= extra <= 3 * flow["in_flight"]  # the few still in flight at the end
    assert 0 <= flow["duplicates"] - 2 * flow["dead_lettered"] <= 2 * flow["in_flight"]
    worker = out["nodes"]["worker"]
    assert worker["errors"] == {"poison": worker["poisoned"]}
    assert 3 * flow["dead_lettered"] <= worker["poisoned"] <= 3 * (flow["dead_lettered"] + 1)
    assert flow["applied"] == flow["delivered"] and flow["applied_twice"] == 0
    assert out["nodes"]["bus"]["queues"]["q"]["dead_letters"] == flow["dead_lettered"]
    # and the consumer keeps up: nothing piles up behind the poison
    assert flow["lost"] == 0 and flow["in_flight"] <= 5
    assert flow["lag_s"]["p99"] < 0.05


def test_poison_messages_arrive_as_independent_draws() -> None:
    # One dead letter per poison message (max_deliveries 1), 100 messages a second: per
    # one-second bucket the dead letters are Poisson(5) when each message is poison by an
    # independent draw, so their variance / mean is about 1 (below 0.5: p < 0.001 over 60).
    sim, _out = run(scenario(POISON.format(seed=1, duration="60s", max_deliveries=1)))
    per_second = time_series(sim)["queue.bus.q.dead_lettered"]
    assert per_second.sum() > 250  # measured: 300
    assert per_second.var() / per_second.mean() > 0.5  # measured: 0.21


# -- the transactional outbox ---------------------------------------------------------------------


def test_an_outbox_row_commits_with_its_transaction_even_when_the_caller_timed_out() -> None:
    text = """
murphy: 1
name: outbox-commit
seed: 5
duration: 10s
nodes:
  users: {kind: client, rate: 20/s, calls: [{to: api}]}
  api:
    kind: service
    workers: 50
    service_time: {dist: constant, value: 1ms}
    calls: [{to: db, timeout: 50ms, outbox: relay}]
  db: {kind: database, workers: 50, service_time: {dist: constant, value: 100ms}}
  relay: {kind: relay, database: db, interval: 100ms, publish: {to: bus, queue: q}}
  bus: {kind: broker, queues: {q: {}}}
  worker: {kind: consumer, broker: bus, queue: q}
"""
    _sim, out = run(scenario(text))
    assert_balanced(out)
    assert out["overall"]["success_rate"] == 0.0  # every caller gave up after 50 ms…
    flow, calls = the_flow(out), out["edges"]["api->db"]
    assert set(calls["outcomes"]) == {"timeout"}
    # …yet every transaction committed at the database, and each commit is an event (those
    # started in the last 100 ms are still running)
    assert calls["requests"] - 5 <= flow["produced"] <= calls["requests"]
    assert flow["produced"] > 150
    assert flow["lost"] == 0 and flow["duplicates"] == 0
    assert flow["in_flight"] < 20  # under a second's rows: the relay keeps up (cycles of 300 ms)


def test_log_tailing_delivers_no_sooner_than_its_lag_and_makes_no_queries() -> None:
    lag, interval = 0.3, 0.05
    text = f"""
murphy: 1
name: cdc
seed: 4
duration: 20s
nodes:
  users: {{kind: client, rate: 10/s, calls: [{{to: api}}]}}
  api:
    kind: service
    workers: 8
    service_time: {{dist: constant, value: 1ms}}
    calls: [{{to: db, outbox: cdc}}]
  db: {{kind: database, workers: 8, service_time: {{dist: constant, value: 2ms}}}}
  cdc:
    kind: relay
    database: db
    mode: log_tailing
    lag: {lag}s
    interval: {interval}s
    publish: {{to: bus, queue: q}}
  bus: {{kind: broker, queues: {{q: {{}}}}}}
  sink:
    kind: consumer
    broker: bus
    queue: q
    workers: 2
    processing_time: {{dist: constant, value: 1ms}}
"""
    _sim, out = run(scenario(text))
    assert_balanced(out)
    flow = the_flow(out)
    assert flow["delivered"] > 150 and flow["lost"] == 0
    # from the commit: the lag, then up to one interval, the publish and the processing
    assert flow["lag_s"]["p50"] >= lag * 0.99  # percentiles are reported within 1%
    assert flow["max_lag_s"] <= lag + interval + 0.002 + 0.001 + 1e-6
    assert "cdc->db" not in out["edges"]  # tailing the log queries nothing
    assert out["edges"]["cdc->bus.q"]["requests"] == flow["published"]


# -- dual write ------------------------------------------------------------------------------------


def _dual_write(calls: str, faults: str = "", db_time: str = "5ms") -> str:
    return f"""
murphy: 1
name: dual-write
seed: 7
duration: 10s
nodes:
  users: {{kind: client, rate: 50/s, calls: [{{to: api}}]}}
  api:
    kind: service
    workers: 100
    service_time: {{dist: constant, value: 1ms}}
    calls: {calls}
    publishes: [{{to: bus, queue: q, after_commit_to: db}}]
  db: {{kind: database, workers: 100, service_time: {{dist: constant, value: {db_time}}}}}
  flaky: {{kind: service, error_rate: 100%, service_time: {{dist: constant, value: 1ms}}}}
  bus: {{kind: broker, queues: {{q: {{}}}}}}
  worker: {{kind: consumer, broker: bus, queue: q}}
faults: [{faults}]
"""


def test_dual_write_without_trouble_publishes_every_commit() -> None:
    _sim, out = run(scenario(_dual_write("[{to: db}]")))
    assert_balanced(out)
    flow = the_flow(out)
    assert flow["lost"] == 0 and flow["duplicates"] == 0
    assert flow["produced"] == out["nodes"]["db"]["completions"] > 400


def test_a_publisher_crash_while_its_database_is_slow_loses_the_committed_events() -> None:
    faults = (
        "{kind: latency, target: db, at: 4s, for: 2s, add: 500ms}, "
        "{kind: crash, target: api, at: 5s, for: 1s}"
    )
    _sim, out = run(scenario(_dual_write("[{to: db}]", faults)))
    assert_balanced(out)
    flow = the_flow(out)
    # the transactions in flight at 5 s commit after the api died: ~25 events nobody sends
    assert set(flow["lost_by"]) == {"publisher_crash"}
    assert 10 < flow["lost_by"]["publisher_crash"] <= out["nodes"]["api"]["errors"]["crash"]
    assert flow["produced"] == out["nodes"]["db"]["completions"]


def test_a_request_that_fails_after_its_commit_never_publishes_the_event() -> None:
    _sim, out = run(scenario(_dual_write("[{to: db}, {to: flaky}]")))  # calls run before publishes
    assert_balanced(out)
    flow = the_flow(out)
    assert flow["produced"] == out["nodes"]["db"]["completions"] > 400
    assert flow["lost_by"] == {"not_published": flow["produced"] - flow["in_flight"]}
    assert flow["published"] == 0 and out["edges"]["api->bus.q"]["requests"] == 0


def test_a_caller_that_times_out_on_its_commit_never_publishes_the_event() -> None:
    _sim, out = run(scenario(_dual_write("[{to: db, timeout: 50ms}]", db_time="100ms")))
    assert_balanced(out)
    flow = the_flow(out)
    assert set(out["edges"]["api->db"]["outcomes"]) == {"timeout"}  # every caller gave up
    assert flow["produced"] == out["nodes"]["db"]["completions"] > 400  # committed all the same
    assert flow["lost_by"] == {"not_published": flow["produced"] - flow["in_flight"]}


def test_two_calls_to_the_announced_database_announce_one_event() -> None:
    _sim, out = run(scenario(_dual_write("[{to: db}, {to: db}]")))
    flow = the_flow(out)
    assert out["overall"]["success_rate"] == 1.0
    assert flow["lost"] == 0  # measured: 503 of 1006 'not_published'
    # One event per request: every commit reached its publish, or is still on its way to it.
    publishes = out["edges"]["api->bus.q"]["requests"]
    assert flow["produced"] - flow["in_flight"] <= publishes <= flow["produced"]


# -- retention and capacity ---------------------------------------------------------------------


def test_a_queue_nobody_consumes_warns_and_expires_after_its_retention() -> None:
    text = """
murphy: 1
name: orphan
seed: 1
duration: 10s
nodes:
  users: {kind: client, rate: 50/s, publishes: [{to: bus, queue: q}]}
  bus: {kind: broker, queues: {q: {retention: 2s}}}
"""
    sc = scenario(text)
    warnings = [(p.severity, p.message, p.node) for p in problems(sc)]
    assert warnings == [("warning", "queue bus.q has no consumer: it only fills", "bus")]
    sim, out = run(sc)
    assert_balanced(out)
    flow = the_flow(out, "users->bus.q->(none)")
    assert flow["consumer"] is None and flow["delivered"] == 0
    assert flow["lost_by"] == {"expired": flow["produced"] - flow["in_flight"]}
    # expired at each 1 s bucket once older than 2 s: what is left was published in the last 3 s
    published = time_series(sim)["queue.bus.q.published"]
    assert flow["in_flight"] == published[-3:].sum() > 100
    assert out["nodes"]["bus"]["queues"]["q"]["expired"] == flow["lost"]


def test_a_full_queue_refuses_publishes_and_a_publisher_without_retry_loses_them() -> None:
    text = """
murphy: 1
name: full
seed: 1
duration: 10s
nodes:
  users: {kind: client, rate: 50/s, publishes: [{to: bus, queue: q}]}
  bus: {kind: broker, queues: {q: {capacity: 20}}}
  slow: {kind: consumer, broker: bus, queue: q, processing_time: {dist: constant, value: 100ms}}
"""
    _sim, out = run(scenario(text))
    assert_balanced(out)
    bus, flow = out["nodes"]["bus"], the_flow(out)
    refused = bus["refused_full"]
    assert refused > 300  # 50/s offered, 10/s drained
    assert flow["lost_by"] == {"publish_failed": refused}
    assert out["edges"]["users->bus.q"]["outcomes"]["rejected"] == refused
    assert bus["queues"]["q"]["max_depth"] == 20 and flow["in_flight"] == 20  # held, not processed


# -- time series ---------------------------------------------------------------------------------


def test_queue_and_outbox_columns_add_up_to_the_summary() -> None:
    sim, out = run(scenario(STRESS))
    ts = time_series(sim)
    assert len(ts["time_s"]) == 30
    bus = out["nodes"]["bus"]["queues"]
    for queue in ("direct", "relayed", "orphan"):
        prefix = f"queue.bus.{queue}"
        for column in ("depth", "published", "delivered", "dead_lettered", "lag_s"):
            assert ts[f"{prefix}.{column}"].shape == ts["time_s"].shape
        assert ts[f"{prefix}.published"].sum() == bus[queue]["published"]
        assert ts[f"{prefix}.delivered"].sum() == bus[queue]["delivered"]
        assert ts[f"{prefix}.dead_lettered"].sum() == bus[queue]["dead_letters"]
        assert ts[f"{prefix}.depth"].max() <= bus[queue]["max_depth"] + 1e-9  # time averages
        assert np.all(ts[f"{prefix}.lag_s"] >= 0)
    assert bus["direct"]["dead_letters"] > 0
    pending = ts["outbox.relay.pending"]
    assert pending.shape == ts["time_s"].shape
    assert 0 < pending.max() <= out["nodes"]["relay"]["max_outbox"]


# -- validation ----------------------------------------------------------------------------------

WIRING = """murphy: 1
name: wiring
duration: 10s
nodes:
  users: {{kind: client, rate: 1/s, calls: [{{to: api}}]}}
  api:
    kind: service
    service_time: {{dist: constant, value: 1ms}}
    calls:
      - {{to: {call_to}{outbox}}}
    publishes:
      - {{to: {to}, queue: {queue}{after}}}
  db: {{kind: database, service_time: {{dist: constant, value: 1ms}}}}
  db2: {{kind: database, service_time: {{dist: constant, value: 1ms}}}}
  bus: {{kind: broker, queues: {{orders: {{}}, audit: {{}}}}}}
  relay: {{kind: relay, database: {relay_db}, publish: {{to: bus, queue: orders}}}}
"""


def _wiring(**changes: str) -> str:
    fields = {"call_to": "db", "outbox": "", "to": "bus", "queue": "orders", "after": ""}
    return WIRING.format(**(fields | {"relay_db": "db"} | changes))


def test_the_wiring_example_is_valid() -> None:
    assert parse_scenario(_wiring(outbox=", outbox: relay", after=", after_commit_to: db"))


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"to": "db"}, "12: nodes.api.publishes[0].to: 'db' is a database, not a broker"),
        ({"to": "ghost"}, "12: nodes.api.publishes[0].to: unknown node 'ghost'"),
        (
            {"queue": "ordrs"},
            "12: nodes.api.publishes[0].queue: broker 'bus' has no queue 'ordrs' "
            "(it has: audit, orders)",
        ),
        ({"call_to": "bus"}, "10: nodes.api.calls[0].to: 'bus' is a broker: publish to it"),
        ({"call_to": "relay"}, "10: nodes.api.calls[0].to: 'relay' is a relay: it takes no calls"),
        (
            {"outbox": ", outbox: api"},
            "10: nodes.api.calls[0].outbox: 'api': a service, not a relay",
        ),
        ({"outbox": ", outbox: ghost"}, "10: nodes.api.calls[0].outbox: 'ghost': unknown node"),
        (
            {"outbox": ", outbox: relay", "relay_db": "db2"},
            "10: nodes.api.calls[0].outbox: relay 'relay' drains the outbox on 'db2', "
            "but this call goes to 'db'",
        ),
        (
            {"after": ", after_commit_to: db2"},
            "12: nodes.api.publishes[0].after_commit_to: api makes no call to 'db2'",
        ),
        ({"relay_db": "api"}, "16: nodes.relay.database: 'api': a service, not a database"),
        ({"relay_db": "ghost"}, "16: nodes.relay.database: 'ghost': unknown node"),
    ],
)
def test_miswired_messages_are_refused_with_the_field_and_line(
    changes: dict[str, str], error: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(_wiring(**changes), "wiring.yaml")
    assert [str(p) for p in caught.value.problems] == [f"wiring.yaml:{error}"]


def test_a_publish_has_no_fallback_and_a_broker_no_calls() -> None:
    text = """murphy: 1
name: v
duration: 10s
nodes:
  users: {kind: client, rate: 1/s, publishes: [{to: bus, queue: q, fallback: {}}]}
  bus: {kind: broker, queues: {q: {}}, calls: [{to: users}]}
"""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "v.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "v.yaml:5: nodes.users.publishes[0]: a publish has no fallback: a message not "
        "acknowledged is lost",
        "v.yaml:6: nodes.bus: a broker makes no calls and publishes nothing: it only holds queues",
    ]
