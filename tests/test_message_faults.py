"""What each fault does to messages: who loses them, who duplicates them, who recovers them.

A crashed consumer's unacknowledged messages come back (duplicates, never losses);
a partitioned one applies them and its acks go nowhere (applied twice unless
idempotent). A non-durable broker loses what it held when it crashes; a durable
one redelivers it. A partitioned broker black-holes publishes until the
publisher's retries get through. ``message_drop`` after the ack loses messages no
retry can save; before the ack, a retry saves them. A relay's crash republishes,
never loses; its outbox absorbs a broker outage and drains after it.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from engine_helpers import run, scenario

from simulator.scenario import ScenarioError
from simulator.timeseries import time_series

RETRY = ", retry: {attempts: 5, strategy: exponential, base: 100ms}"  # 0.1+0.2+0.4+0.8 s of backoff


def assert_balanced(out: dict[str, Any]) -> None:
    assert out["invariants"] == []
    for key, f in out["messages"].items():
        settled = f["delivered"] + f["lost"] + f["dead_lettered"]
        assert f["produced"] == settled + f["in_flight"], key
        assert f["lost"] == sum(f["lost_by"].values()), key


def the_flow(out: dict[str, Any]) -> dict[str, Any]:
    (flow,) = out["messages"].values()
    return flow


def pipeline(
    fault: str,
    *,
    retry: str = "",
    durable: bool = True,
    rate: str = "30/s",
    consumer: str = "workers: 4, processing_time: {dist: constant, value: 200ms}",
    duration: str = "12s",
    seed: int = 3,
) -> str:
    """users publish to bus.q, drained by worker; one fault."""
    return f"""
murphy: 1
name: faults
seed: {seed}
duration: {duration}
nodes:
  users: {{kind: client, rate: {rate}, publishes: [{{to: bus, queue: q, timeout: 100ms{retry}}}]}}
  bus:
    kind: broker
    durable: {str(durable).lower()}
    queues: {{q: {{visibility_timeout: 2s}}}}
  worker: {{kind: consumer, broker: bus, queue: q, {consumer}}}
faults: [{fault}]
"""


# -- the consumer ----------------------------------------------------------------------------------
# 30 messages/s against 20/s of processing: the worker always holds its prefetch of 10.


def test_a_crashed_consumer_gets_its_unacknowledged_messages_again() -> None:
    _sim, out = run(scenario(pipeline("{kind: crash, target: worker, at: 5s, for: 1s}")))
    assert_balanced(out)
    flow = the_flow(out)
    assert out["nodes"]["worker"]["errors"] == {"crash": 10}  # the prefetch it held
    assert flow["lost"] == 0
    assert flow["duplicates"] == 10  # each delivered again after the restart
    assert flow["deliveries"] == out["nodes"]["bus"]["queues"]["q"]["delivered"]
    # nothing it held had been applied yet: a crash before the ack is a duplicate, not harm
    assert flow["applied_twice"] == 0


@pytest.mark.parametrize(("dedupe", "applied_twice"), [("", 10), (", dedupe: {}", 0)])
def test_a_partitioned_consumer_applies_what_it_holds_and_its_acks_are_lost(
    dedupe: str, applied_twice: int
) -> None:
    consumer = "workers: 4, processing_time: {dist: constant, value: 200ms}" + dedupe
    fault = "{kind: partition, target: worker, at: 5s, for: 1s}"
    _sim, out = run(scenario(pipeline(fault, consumer=consumer)))
    assert_balanced(out)
    flow = the_flow(out)
    assert flow["lost"] == 0
    assert flow["duplicates"] == 10  # redelivered after the visibility timeout
    assert flow["applied_twice"] == applied_twice
    assert out["nodes"]["worker"]["deduplicated"] == 10 - applied_twice


# -- the broker ------------------------------------------------------------------------------------

SLOW_WORKER = "workers: 1, processing_time: {dist: constant, value: 50ms}"  # a backlog grows


def test_a_non_durable_broker_crash_loses_what_it_held() -> None:
    fault = "{kind: crash, target: bus, at: 5s, for: 1s}"
    _sim, out = run(scenario(pipeline(fault, retry=RETRY, durable=False, consumer=SLOW_WORKER)))
    assert_balanced(out)
    flow = the_flow(out)
    assert set(flow["lost_by"]) == {"broker_crash"}  # the publishes refused meanwhile retried
    assert flow["lost_by"]["broker_crash"] > 30  # a backlog of 10 messages a second, at 5 s
    assert flow["published"] == flow["produced"]
    # the worker's acks for what it held when the broker died are never heard
    assert out["nodes"]["bus"]["queues"]["q"]["stale_acks"] == 10


def test_a_durable_broker_crash_loses_nothing_and_redelivers_what_was_out() -> None:
    fault = "{kind: crash, target: bus, at: 5s, for: 1s}"
    _sim, out = run(scenario(pipeline(fault, retry=RETRY, durable=True, consumer=SLOW_WORKER)))
    assert_balanced(out)
    flow = the_flow(out)
    assert flow["lost"] == 0 and flow["published"] == flow["produced"]
    # the 10 the worker held are delivered again after the restart, and applied again
    assert flow["duplicates"] == flow["applied_twice"] == 10


@pytest.mark.parametrize(("retry", "recovered"), [(RETRY, True), ("", False)])
def test_a_partitioned_broker_black_holes_publishes_until_a_retry_gets_through(
    retry: str, recovered: bool
) -> None:
    fault = "{kind: partition, target: bus, at: 5s, for: 1s}"
    _sim, out = run(scenario(pipeline(fault, retry=retry, rate="100/s")))
    assert_balanced(out)
    flow, edge = the_flow(out), out["edges"]["users->bus.q"]
    if recovered:
        assert flow["lost"] == 0 and edge["retries"] > 50
    else:  # about a second of publishes, each timing out after 100 ms
        timeouts = edge["outcomes"]["timeout"]
        assert 70 < timeouts < 130
        assert flow["lost_by"] == {"publish_failed": timeouts}


# -- message_drop ----------------------------------------------------------------------------------

DROP_AT, DROP_FOR, DROP_RATE = 5, 10, 0.10


def _dropping(when: str, retry: str = "") -> tuple[Any, dict[str, Any]]:
    fault = (
        f"{{kind: message_drop, target: bus, at: {DROP_AT}s, for: {DROP_FOR}s, "
        f"rate: {DROP_RATE:.0%}, when: {when}}}"
    )
    consumer = "workers: 4, processing_time: {dist: constant, value: 5ms}"
    return run(
        scenario(pipeline(fault, retry=retry, rate="100/s", consumer=consumer, duration="20s"))
    )


def _within_binomial(count: int, n: float, p: float) -> bool:
    return abs(count - p * n) <= 4 * math.sqrt(n * p * (1 - p)) + 2  # + the window's edges


def test_a_drop_after_the_ack_loses_its_share_and_no_retry_can_save_it() -> None:
    sim, out = _dropping("after_ack", retry=RETRY)
    assert_balanced(out)
    flow = the_flow(out)
    dropped = out["nodes"]["bus"]["dropped_after_ack"]
    attempts = time_series(sim)["edge.users->bus.q.attempts"][DROP_AT : DROP_AT + DROP_FOR].sum()
    assert _within_binomial(dropped, attempts, DROP_RATE)  # measured: 110 of 970
    assert flow["lost_by"] == {"dropped": dropped}
    assert out["edges"]["users->bus.q"]["retries"] == 0  # the publisher was told all was well
    assert flow["published"] == flow["produced"]  # acknowledged, so counted as published


def test_a_drop_before_the_ack_is_recovered_by_a_retry() -> None:
    _sim, out = _dropping("before_ack", retry=RETRY)
    assert_balanced(out)
    flow = the_flow(out)
    dropped = out["nodes"]["bus"]["dropped_before_ack"]
    assert dropped > 50
    assert flow["lost"] == 0 and flow["duplicates"] == 0
    assert out["edges"]["users->bus.q"]["retries"] == dropped


def test_a_drop_before_the_ack_without_a_retry_is_a_failed_publish() -> None:
    sim, out = _dropping("before_ack")
    assert_balanced(out)
    flow = the_flow(out)
    dropped = out["nodes"]["bus"]["dropped_before_ack"]
    attempts = time_series(sim)["edge.users->bus.q.attempts"][DROP_AT : DROP_AT + DROP_FOR].sum()
    assert _within_binomial(dropped, attempts, DROP_RATE)
    assert flow["lost_by"] == {"publish_failed": dropped}
    assert out["edges"]["users->bus.q"]["outcomes"]["error"] == dropped
    assert flow["published"] == flow["produced"] - dropped


# -- the outbox relay ------------------------------------------------------------------------------


def outbox(faults: str, *, db_time: str = "5ms", interval: str = "500ms", seed: int = 2) -> str:
    return f"""
murphy: 1
name: outbox
seed: {seed}
duration: 20s
nodes:
  users: {{kind: client, rate: 20/s, calls: [{{to: api}}]}}
  api:
    kind: service
    workers: 8
    service_time: {{dist: constant, value: 1ms}}
    calls: [{{to: db, outbox: relay}}]
  db: {{kind: database, workers: 8, service_time: {{dist: constant, value: {db_time}}}}}
  relay:
    kind: relay
    database: db
    interval: {interval}
    publish: {{to: bus, queue: q, timeout: 100ms}}
  bus: {{kind: broker, queues: {{q: {{}}}}}}
  sink: {{kind: consumer, broker: bus, queue: q, workers: 2}}
faults: [{faults}]
"""


def test_a_relay_crash_republishes_rows_it_had_not_marked_sent() -> None:
    # queries of 50 ms: a third of the time the relay is between an ack and its mark
    crashes = ", ".join(
        f"{{kind: crash, target: relay, at: {at}s, for: 1s}}" for at in (5, 10.03, 15.07)
    )
    _sim, out = run(scenario(outbox(crashes, db_time="50ms", interval="100ms")))
    assert_balanced(out)
    flow, relay = the_flow(out), out["nodes"]["relay"]
    assert flow["lost"] == 0
    assert flow["duplicates"] == relay["republished"] > 0  # measured: 3
    assert flow["applied_twice"] == flow["duplicates"]  # sink is not idempotent


def test_the_outbox_absorbs_a_broker_outage_and_drains_after_it() -> None:
    sim, out = run(scenario(outbox("{kind: crash, target: bus, at: 5s, for: 2s}")))
    assert_balanced(out)
    flow, relay = the_flow(out), out["nodes"]["relay"]
    assert flow["lost"] == 0 and flow["duplicates"] == 0
    assert out["overall"]["success_rate"] == 1.0  # the callers never noticed
    assert 30 <= relay["max_outbox"] <= 60  # two seconds of 20 commits a second
    assert relay["outbox_at_end"] <= 20  # drained: what is left is the last poll's
    pending = time_series(sim)["outbox.relay.pending"]
    assert pending[5:7].mean() > 3 * pending[10:].mean()
    assert flow["max_lag_s"] >= 2.0  # the first row of the outage waited it out


def test_a_relay_that_cannot_publish_waits_its_interval() -> None:
    _sim, out = run(scenario(outbox("{kind: crash, target: bus, at: 5s, for: 2s}")))
    relay = out["nodes"]["relay"]
    # 2 s of outage at one poll per 500 ms: about 4 failed polls of at most 40 rows each
    assert relay["republished"] < 200  # measured: 8676
    assert relay["cycles"] < 2 * 20 / 0.5  # measured: 419
    assert out["nodes"]["bus"]["errors"]["refused"] < 200  # measured: 8676


def test_a_relay_cannot_be_partitioned() -> None:
    """Nothing calls a relay, so a partition would only cut its own calls: refused, clearly."""
    with pytest.raises(ScenarioError, match="a partition fault needs a node that serves"):
        scenario(outbox("{kind: partition, target: relay, at: 5s, for: 2s}"))


def test_a_message_lost_in_the_queue_is_not_blamed_on_an_earlier_failed_attempt() -> None:
    text = """
murphy: 1
name: blame
seed: 1
duration: 10s
nodes:
  users: {kind: client, rate: 50/s, calls: [{to: db, outbox: relay}]}
  db: {kind: database, workers: 8, service_time: {dist: constant, value: 2ms}}
  relay: {kind: relay, database: db, interval: 100ms, publish: {to: bus, queue: q}}
  bus: {kind: broker, queues: {q: {retention: 1s}}}
faults:
  - {kind: message_drop, target: bus, at: 2s, for: 5s, rate: 30%, when: before_ack}
"""
    _sim, out = run(scenario(text))
    assert_balanced(out)
    flow = the_flow(out)
    assert flow["published"] == flow["produced"]  # every row reached the queue in the end…
    assert out["nodes"]["relay"]["republished"] > 50  # …after the relay tried the drops again
    assert flow["lost_by"] == {"expired": flow["lost"]}  # measured: 65 'publish_failed'


# -- the publisher ---------------------------------------------------------------------------------


def test_a_publisher_crash_during_a_retry_backoff_leaks_no_bulkhead_slot() -> None:
    text = """
murphy: 1
name: leak
seed: 2
duration: 15s
nodes:
  users: {kind: client, rate: 20/s, calls: [{to: api}]}
  api:
    kind: service
    workers: 50
    service_time: {dist: constant, value: 1ms}
    publishes:
      - {to: bus, queue: q, timeout: 100ms, bulkhead: {max_concurrent: 5},
         retry: {attempts: 3, strategy: fixed, base: 500ms}}
  bus: {kind: broker, queues: {q: {}}}
  sink: {kind: consumer, broker: bus, queue: q, workers: 2}
faults:
  - {kind: crash, target: bus, at: 5s, for: 3s}
  - {kind: crash, target: api, at: 6s, for: 1s}
"""
    sim, out = run(scenario(text))
    assert_balanced(out)
    bulkhead = sim.sites["api->bus.q"].bulkhead
    assert bulkhead is not None
    assert bulkhead.in_use == 0  # measured: 5, held for good
    published = time_series(sim)["queue.bus.q.published"]
    assert published[10:].sum() > 80  # measured: 0: every publish after the outage rejected
