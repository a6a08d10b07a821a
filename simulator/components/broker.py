"""A message broker: a ``Server`` whose work is accepting publishes, plus queues it delivers from.

Publishing reuses everything a server has: the publish latency is its service
time, a crash refuses publishes and loses those in progress, a partition
black-holes them, an error or latency fault applies to them. After the latency
the message is held once per consumer group (a ``Subscription``) and the
publisher gets its acknowledgement; ``message_drop`` loses a share of them,
after the acknowledgement or before it.

Delivery is at least once. A subscription hands messages to its consumer while
the consumer holds fewer than its prefetch; a message delivered and not
acknowledged within the visibility timeout is delivered again, and after
``max_deliveries`` deliveries it goes to the dead-letter queue. A consumer's
negative acknowledgement (its processing failed, or it crashed holding the
message) puts the message back at once. A durable broker that crashes keeps its
messages and redelivers the unacknowledged ones after its restart; a non-durable
one loses them all.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any

from simulator._simpy import Wake, wake_after
from simulator.components.base import SUCCESS, Job
from simulator.components.kind import NodeKind, World
from simulator.components.service import Server, server_options
from simulator.messages import Flow, Message, Stream
from simulator.metrics import Rollup, Series, TimeAverage
from simulator.randomness import RandomStream
from simulator.sampling import make_sampler
from simulator.scenario import Broker as BrokerSpec
from simulator.scenario import BrokerQueue

if TYPE_CHECKING:
    from simulator.components.consumer import Consumer
    from simulator.fault_kinds import Conditions

__all__ = ["KIND", "QUEUE_SERIES", "Broker", "Subscription", "queue_states"]

QUEUE_SERIES = ("depth", "published", "delivered", "dead_lettered", "lag_s")


class Copy:
    """A message as one consumer group's queue holds it: its deliveries and the current receipt."""

    __slots__ = ("deliveries", "due", "enqueued", "flow", "message", "receipt")

    def __init__(self, message: Message, flow: Flow, now: float):
        self.message, self.flow, self.enqueued = message, flow, now
        self.deliveries = 0
        self.receipt = 0  # which delivery an acknowledgement must name to count
        self.due = 0.0  # when the current delivery's visibility timeout runs out


class QueueStats:
    """One queue over all its consumer groups: messages held, and what went through."""

    def __init__(self, series: Series):
        self.depth = TimeAverage()
        self.published = self.delivered = self.dead_lettered = 0
        self.peak_at = 0.0
        self.subscriptions: list[Subscription] = []
        self.series = series
        self.rollup = Rollup(
            series,
            {
                "depth": self.depth.area_until,
                "published": lambda _now: self.published,
                "delivered": lambda _now: self.delivered,
                "dead_lettered": lambda _now: self.dead_lettered,
                "lag_s": self.oldest_age,
            },
            levels=("depth",),
            samples=("lag_s",),
        )

    def change(self, now: float, delta: int) -> None:
        depth = self.depth  # TimeAverage.change, inlined (twice per message), and the peak's time
        depth.area += depth.level * (now - depth.last)
        depth.last = now
        depth.level += delta
        if depth.level > depth.peak:
            depth.peak = depth.level
            self.peak_at = now

    def oldest_age(self, now: float) -> float:
        """Age of the oldest message held and not yet acknowledged (0: none)."""
        oldest = math.inf
        for sub in self.subscriptions:
            if sub.ready:
                oldest = min(oldest, sub.ready[0].message.produced)
            for copy in sub.unacked:  # in delivery order: the first is the oldest delivered
                oldest = min(oldest, copy.message.produced)
                break
        return now - oldest if oldest < math.inf else 0.0


class Subscription:
    """One queue as one consumer group reads it; also the target its consumer replies to."""

    def __init__(self, broker: Broker, name: str, spec: BrokerQueue, stats: QueueStats, index: int):
        self.broker, self.name, self.spec, self.stats, self.index = broker, name, spec, stats, index
        self.consumer: Consumer | None = None
        self.ready: deque[Copy] = deque()
        self.unacked: dict[Copy, None] = {}  # in delivery order
        self.dead_letters = 0
        self.expired = 0
        self.stale_acks = 0  # acknowledgements that came after the message was redelivered
        self._timer = False  # a visibility timer is pending (see _on_visibility)

    def __len__(self) -> int:
        return len(self.ready) + len(self.unacked)

    def hold(self, message: Message, flow: Flow, now: float) -> None:
        """Keep the copy the publish attempt brought (the books already count it)."""
        self.ready.append(Copy(message, flow, now))
        self.stats.change(now, 1)

    def _drop(self, copy: Copy, fate: str, now: float) -> None:
        """The copy leaves the queue for good (acknowledged, dead-lettered or lost)."""
        self.stats.change(now, -1)
        copy.flow.copy_ended(copy.message, fate, now)

    # -- delivery ----------------------------------------------------------------------------

    def dispatch(self) -> None:
        """Hand waiting messages to the consumer while it has room and both ends are up."""
        ready = self.ready
        if not ready:
            return  # the usual case after an acknowledgement: nothing waiting
        consumer, broker = self.consumer, self.broker
        if consumer is None or broker.down or broker.partitioned:
            return
        env = broker.env
        retention = self.spec.retention
        while ready and consumer.has_room():
            copy = ready.popleft()
            now = env.clock
            if retention is not None and now - copy.enqueued > retention:
                self.expired += 1
                self._drop(copy, "expired", now)
                continue
            copy.deliveries += 1
            copy.receipt += 1
            copy.due = now + self.spec.visibility_timeout
            self.unacked[copy] = None
            self.stats.delivered += 1
            copy.flow.delivering(copy.message.id)
            if not self._timer:
                self._timer = True
                wake_after(env, self.spec.visibility_timeout, self._on_visibility)
            consumer.submit(Job(self, math.inf, (copy, copy.receipt)))

    def expire(self, now: float) -> None:
        """Drop waiting messages older than the retention from the head (the oldest end)."""
        retention = self.spec.retention
        ready = self.ready
        while retention is not None and ready and now - ready[0].enqueued > retention:
            self.expired += 1
            self._drop(ready.popleft(), "expired", now)

    def _on_visibility(self, _wake: Wake) -> None:
        """Redeliver every message whose visibility timeout has run out.

        One timer per subscription, not one per delivery: the timeout is the same
        for every delivery, so deadlines grow in delivery order, which is the order
        of ``unacked``. The timer serves the oldest and is set again for the next.
        """
        unacked = self.unacked
        now = self.broker.env.clock
        expired = False
        while unacked:
            copy = next(iter(unacked))
            if copy.due > now:
                wake_after(self.broker.env, copy.due - now, self._on_visibility)
                break
            del unacked[copy]
            self._back(copy, now)
            expired = True
        else:
            self._timer = False
        if expired:
            self.dispatch()

    def _back(self, copy: Copy, now: float) -> None:
        """Not acknowledged: deliver again, or dead-letter after the last delivery allowed."""
        if copy.deliveries >= self.spec.max_deliveries:
            self.dead_letters += 1
            self.stats.dead_lettered += 1
            self._drop(copy, "dead_lettered", now)
        else:
            self.ready.append(copy)

    def on_reply(self, job: Job, outcome: str) -> None:
        """The consumer's acknowledgement (a success) or negative acknowledgement."""
        copy, receipt = job.state
        broker = self.broker
        if broker.down or broker.partitioned or copy.receipt != receipt or copy not in self.unacked:
            self.stale_acks += 1  # the broker cannot hear it, or has redelivered the message
            return
        del self.unacked[copy]
        now = broker.env.clock
        if outcome in SUCCESS:
            self._drop(copy, "acked", now)
        else:
            self._back(copy, now)
        # The consumer dispatches again once its worker is free (Consumer._finish).

    # -- broker crash ------------------------------------------------------------------------

    def broker_crashed(self, durable: bool, now: float) -> None:
        unacked = list(self.unacked)
        self.unacked.clear()
        if durable:  # kept on disk: what was out is delivered again after the restart
            self.ready.extendleft(reversed(unacked))
            return
        for copy in [*unacked, *self.ready]:
            self._drop(copy, "broker_crash", now)
        self.ready.clear()


class Broker(Server):
    """Accepts publishes into its queues and delivers them to consumer groups."""

    def __init__(self, *args: Any, spec: BrokerSpec, world: World, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.spec, self.durable = spec, spec.durable
        self.drop_rate, self.drop_after_ack = 0.0, True
        # One stream of drop decisions per producer and queue: a fault that changes how
        # much one producer publishes must not move which messages of another are dropped.
        self._world = world
        self._drop_rngs: dict[int, RandomStream] = {}
        self.queue_stats = {
            q: QueueStats(world.series(QUEUE_SERIES)) for q in spec.queues
        }  # in the file's order
        self.refused_full = 0
        self.dropped_after_ack = self.dropped_before_ack = 0

    def _drop_rng(self, stream: Stream) -> RandomStream:
        rng = self._drop_rngs.get(stream.index)
        if rng is None:
            purpose = f"drops:{stream.producer}.{stream.queue}"
            rng = self._drop_rngs[stream.index] = self._world.stream(self.name, purpose)
        return rng

    def subscribe(self, queue: str, consumer: Consumer | None) -> Subscription:
        stats = self.queue_stats[queue]
        sub = Subscription(self, queue, self.spec.queues[queue], stats, len(stats.subscriptions))
        sub.consumer = consumer
        stats.subscriptions.append(sub)
        return sub

    def subscriptions(self, queue: str) -> list[Subscription]:
        """The queue's consumer groups; a queue nobody consumes gets one without a consumer."""
        stats = self.queue_stats[queue]
        if not stats.subscriptions:
            self.subscribe(queue, None)
        return stats.subscriptions

    # -- publishing --------------------------------------------------------------------------

    # Every publish attempt arrives as a copy of its message (``PublishSite._send``); the
    # broker ends that copy exactly once: handed on to its queues, dropped, or refused.

    @staticmethod
    def _end_attempt(job: Job, fate: str | None, now: float) -> None:
        if job.step == 0:
            job.step = 1
            message: Message = job.reply_to.message_of(job)  # type: ignore[attr-defined]
            message.stream.copy_ended(message, fate, now)

    def submit(self, job: Job) -> None:
        if self.partitioned:  # black-holed: the attempt never arrives
            self._end_attempt(job, "publish_failed", self.env.clock)
        super().submit(job)

    def _refuse(self, job: Job, outcome: str, kind: str | None) -> None:
        self._end_attempt(job, "publish_failed", self.env.clock)
        super()._refuse(job, outcome, kind)

    def _finish(self, job: Job, outcome: str, error_kind: str | None) -> None:
        self._end_attempt(job, "publish_failed", self.env.clock)  # failed in service (a fault)
        super()._finish(job, outcome, error_kind)

    def _next_call(self, job: Job) -> None:
        """After the publish latency: hold the message for each consumer group, then ack."""
        site = job.reply_to  # a PublishSite: it knows the queue and the message
        message: Message = site.message_of(job)  # type: ignore[attr-defined]
        stats = self.queue_stats[site.queue]  # type: ignore[attr-defined]
        subs = stats.subscriptions
        now = self.env.clock
        if self.drop_rate > 0.0 and self._drop_rng(message.stream).random() < self.drop_rate:
            if not self.drop_after_ack:
                self.dropped_before_ack += 1
                return self._finish(job, "error", "dropped")
            self.dropped_after_ack += 1  # acknowledged, and gone
            message.stream.accepted(message)
            self._end_attempt(job, "dropped", now)
            return self._finish(job, "ok", None)
        for sub in subs:
            if len(sub.ready) + len(sub.unacked) >= sub.spec.capacity:
                self.refused_full += 1
                return self._finish(job, "rejected", None)
        message.stream.accepted(message)
        stats.published += 1
        # The attempt's copy (one per flow) becomes the copy each consumer group holds.
        job.step = 1
        for sub, flow in zip(subs, message.stream.flows, strict=True):
            sub.hold(message, flow, now)
        self._finish(job, "ok", None)
        for sub in subs:
            sub.dispatch()

    # -- faults ------------------------------------------------------------------------------

    def apply_conditions(self, conditions: Conditions) -> None:
        healed = self.partitioned and not conditions.partitioned
        super().apply_conditions(conditions)
        self.drop_rate, self.drop_after_ack = conditions.drop_rate, conditions.drop_after_ack
        if healed:
            self.dispatch_all()

    def crash(self) -> None:
        now = self.env.clock
        for job in list(self.in_service):  # publishes in progress die with the broker
            self._end_attempt(job, "broker_crash", now)
        super().crash()
        for stats in self.queue_stats.values():
            for sub in stats.subscriptions:
                sub.broker_crashed(self.durable, now)

    def restart(self) -> None:
        super().restart()
        self.dispatch_all()

    def dispatch_all(self) -> None:
        for stats in self.queue_stats.values():
            for sub in stats.subscriptions:
                sub.dispatch()

    # -- reading -----------------------------------------------------------------------------

    def extra_rollups(self) -> list[Rollup]:
        return [stats.rollup for stats in self.queue_stats.values()]

    def own_series(self) -> dict[str, Series]:
        return {f"queue.{self.name}.{q}": stats.series for q, stats in self.queue_stats.items()}

    @property
    def has_bucket_hook(self) -> bool:  # type: ignore[override]
        return any(q.retention is not None for q in self.spec.queues.values())

    def on_bucket(self, now: float) -> None:
        """Retention is enforced at delivery and, for queues nobody drains, here."""
        for stats in self.queue_stats.values():
            for sub in stats.subscriptions:
                sub.expire(now)


def _build(world: World, name: str, spec: BrokerSpec) -> Broker:
    return Broker(
        world.env, name, workers=math.inf, queue_limit=0,
        service_time=make_sampler(spec.publish_latency, world.stream(name, "service")),
        error_rate=0.0, boot_time=spec.boot_time, spec=spec, world=world,
        **server_options(world, name),
    )  # fmt: skip


def _summary(broker: Broker, now: float) -> dict[str, Any]:
    queues = {}
    for q, stats in broker.queue_stats.items():
        subs = stats.subscriptions
        queues[q] = {
            "published": stats.published,
            "delivered": stats.delivered,
            "depth_at_end": sum(len(s) for s in subs),
            "max_depth": stats.depth.peak,
            "max_depth_s": round(stats.peak_at, 6),
            "drained_s": _drained_at(stats, now),
            "dead_letters": sum(s.dead_letters for s in subs),
            "expired": sum(s.expired for s in subs),
            "stale_acks": sum(s.stale_acks for s in subs),
        }
    return {
        "queues": queues,
        "refused_full": broker.refused_full,
        "dropped_after_ack": broker.dropped_after_ack,
        "dropped_before_ack": broker.dropped_before_ack,
    }


def _drained_at(stats: QueueStats, now: float) -> float | None:
    """When the backlog had drained: the first bucket after the peak back to a tenth of it.

    None when the peak was small (under 10 messages: no backlog to speak of) or the
    queue had not drained by the end of the run.
    """
    peak = stats.depth.peak
    if peak < 10:
        return None
    depth = stats.series.data["depth"]
    width = stats.series.bucket
    first = int(stats.peak_at / width)
    last = min(len(depth), math.ceil(now / width - 1e-9))
    for i in range(first, last):
        if depth[i] <= peak / 10:
            return round((i + 1) * width, 6)
    return None


def queue_states(broker: Broker) -> dict[str, dict[str, Any]]:
    """Each queue now, over its consumer groups: held, unacknowledged, dead, oldest age."""
    now = broker.env.clock
    out = {}
    for q, stats in broker.queue_stats.items():
        subs = stats.subscriptions
        out[q] = {
            "depth": sum(len(s) for s in subs),
            "unacked": sum(len(s.unacked) for s in subs),
            "dead_letters": sum(s.dead_letters for s in subs),
            "oldest_age_s": round(stats.oldest_age(now), 6),
        }
    return out


def _snapshot(broker: Broker) -> dict[str, Any]:
    return {"queues": queue_states(broker)}


KIND = NodeKind("broker", _build, summary=_summary, snapshot=_snapshot)
