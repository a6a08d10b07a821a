"""The asynchronous nodes as the scenario file spells them: broker, outbox relay, consumer.

A message goes producer → broker queue → consumer group. A producer is any node
with ``publishes`` (dual write when it committed to a database first), or a
``relay`` draining a transactional outbox that a database call filled
(``outbox:`` on the call). The running parts live in ``components/broker.py``,
``relay.py``, ``consumer.py`` and ``simulator/messages.py``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from simulator.scenario_nodes import NodeBase, Publish
from simulator.scenario_types import Constant, Distribution, Duration, Percent, Strict

__all__ = ["Broker", "BrokerQueue", "Consumer", "Dedupe", "Relay"]


class BrokerQueue(Strict):
    """One queue (a topic with consumer groups): every consumer naming it gets every message."""

    capacity: int = Field(
        100_000, ge=1, le=100_000_000,
        description="messages held at most, per consumer group (waiting + delivered, not yet "
        "acknowledged); a publish past it is refused and the publisher may retry",
    )  # fmt: skip
    visibility_timeout: Duration = Field(
        30.0, gt=0,
        description="a delivered message not acknowledged within this long is delivered again",
    )  # fmt: skip
    max_deliveries: int = Field(
        5, ge=1, le=1_000,
        description="after this many deliveries without an acknowledgement the message goes "
        "to the dead-letter queue",
    )  # fmt: skip
    retention: Duration | None = Field(
        None, description="a message waiting longer than this expires: lost (none: kept)"
    )


class Broker(NodeBase):
    """A message broker: named queues, publish acknowledgements, at-least-once delivery.

    A publish costs ``publish_latency``; the broker then holds the message for each
    consumer group and acknowledges. A crashed broker refuses publishes; unless it
    is ``durable`` it also loses every message it held.
    """

    kind: Literal["broker"]
    queues: dict[str, BrokerQueue] = Field(
        min_length=1, description="the broker's queues by name; publishes and consumers name one"
    )
    publish_latency: Distribution = Field(
        Constant(dist="constant", value=0.002),
        description="time from a publish arriving to its acknowledgement",
    )
    durable: bool = Field(
        True, description="messages survive a broker crash (false: a crash loses them)"
    )
    boot_time: Duration = Field(0.0, description="time to come back after a crash ends")

    @model_validator(mode="after")
    def _takes_no_calls(self) -> Broker:
        if self.calls or self.publishes:
            raise ValueError("a broker makes no calls and publishes nothing: it only holds queues")
        return self


class Relay(NodeBase):
    """A transactional-outbox relay: reads committed outbox rows and publishes them.

    ``polling`` queries the outbox table on ``database`` every ``interval`` for up to
    ``batch`` rows, publishes them, and marks the acknowledged ones sent with a
    second query; ``log_tailing`` (change data capture) reads the database's log
    instead: no queries, rows become visible ``lag`` after their commit, and the
    position is saved after the acknowledgements. Either way a crash before rows
    are marked sent republishes them: duplicates, never losses.
    """

    kind: Literal["relay"]
    database: str = Field(description="the database whose outbox table the relay drains")
    publish: Publish = Field(description="where and how the relay publishes the rows")
    mode: Literal["polling", "log_tailing"] = Field(
        "polling", description="query the outbox table, or tail the database log (CDC)"
    )
    interval: Duration = Field(1.0, gt=0, description="pause between polls of an empty outbox")
    batch: int = Field(100, ge=1, le=100_000, description="rows read and published per poll")
    lag: Duration = Field(
        0.0, description="log tailing: a commit becomes visible to the relay this long after it"
    )
    query_timeout: Duration | None = Field(
        5.0, description="polling: give up on an outbox query after this long"
    )
    boot_time: Duration = Field(0.0, description="time to come back after a crash ends")

    @model_validator(mode="after")
    def _only_its_publish(self) -> Relay:
        if self.calls or self.publishes:
            raise ValueError(
                "a relay's only edges are its database and its publish: calls and publishes "
                "do not apply"
            )
        return self


class Dedupe(Strict):
    """An idempotency store: ids applied recently, so a redelivered id is not applied twice."""

    capacity: int = Field(
        100_000, ge=1, le=10_000_000, description="ids remembered at most (oldest forgotten first)"
    )
    window: Duration = Field(3600.0, gt=0, description="an id is forgotten after this long")


class Consumer(NodeBase):
    """A consumer group: workers take messages from one queue, process, then acknowledge.

    The acknowledgement comes after processing (and after the consumer's own calls
    and publishes), so a crash mid-processing means redelivery. Without ``dedupe``
    a redelivered message is applied again; with it, an id seen within the window
    is acknowledged without being applied.
    """

    kind: Literal["consumer"]
    broker: str = Field(description="the broker to consume from")
    queue: str = Field(description="the queue on that broker")
    workers: int = Field(1, ge=1, le=100_000)
    prefetch: int = Field(
        10, ge=1, le=1_000_000,
        description="messages held unacknowledged at most (in processing and buffered)",
    )  # fmt: skip
    processing_time: Distribution = Field(
        Constant(dist="constant", value=0.01), description="time to process one message"
    )
    error_rate: Percent = Field(
        0.0, description="share of processings that fail by chance (the message is redelivered)"
    )
    poison_rate: Percent = Field(
        0.0,
        description="share of messages that always fail: redelivered until max_deliveries, "
        "then dead-lettered",
    )
    dedupe: Dedupe | None = Field(
        None, description="idempotency store (none: a redelivered message is applied again)"
    )
    boot_time: Duration = Field(0.0, description="time to come back after a crash ends")
