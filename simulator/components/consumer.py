"""A consumer group: a ``Server`` whose jobs are messages its broker delivers.

Its workers process a message (the processing time, then the consumer's own
calls and publishes, in order) and only then acknowledge it, so a crash or a
failure mid-processing means the broker delivers it again: at least once. The
consumer holds at most ``prefetch`` messages (in processing and buffered).

What a redelivery costs depends on idempotency. Without a dedupe store every
delivery that is processed is applied, so a duplicate is applied twice. With
one, an id applied within the window (and still among the ``capacity`` most
recent) is acknowledged without being applied again; two copies of an id
processed at the same time both pass the check, as they would in a store that
is not updated in the same transaction as the effect.

A poison message fails every time, on every delivery, until the broker
dead-letters it. Whether a message is poison is a deterministic function of
the consumer, the stream and the id, so a redelivery is as poisonous as the
first delivery and no memory is spent remembering it.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from simulator._simpy import Wake
from simulator.components.base import SUCCESS, Job
from simulator.components.kind import NodeKind, World
from simulator.components.service import Server, server_options
from simulator.randomness import stream_key
from simulator.sampling import make_sampler
from simulator.scenario import Consumer as ConsumerSpec
from simulator.scenario import Dedupe

if TYPE_CHECKING:
    from simulator.components.broker import Copy, Subscription
    from simulator.fault_kinds import Conditions

__all__ = ["KIND", "Consumer", "DedupeStore"]

_M64 = 0xFFFFFFFFFFFFFFFF


def _splitmix64(x: int) -> int:
    """SplitMix64's finaliser: consecutive ids become independent-looking 64-bit draws."""
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


class DedupeStore:
    """Ids applied recently: at most ``capacity`` of them, each for at most ``window`` seconds."""

    def __init__(self, spec: Dedupe):
        self.capacity, self.window = spec.capacity, spec.window
        self._seen: OrderedDict[int, float] = OrderedDict()  # key -> when applied, oldest first
        self.hits = self.evicted = 0

    def _forget_old(self, now: float) -> None:
        seen = self._seen
        while seen and next(iter(seen.values())) < now - self.window:
            seen.popitem(last=False)

    def seen(self, key: int, now: float) -> bool:
        self._forget_old(now)
        if key in self._seen:
            self.hits += 1
            return True
        return False

    def remember(self, key: int, now: float) -> None:
        self._seen[key] = now
        self._seen.move_to_end(key)
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
            self.evicted += 1

    def __len__(self) -> int:
        return len(self._seen)


class Consumer(Server):
    """Processes delivered messages and acknowledges each after processing."""

    def __init__(self, *args: Any, spec: ConsumerSpec, seed: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.spec, self.prefetch = spec, spec.prefetch
        self.poison_rate = spec.poison_rate
        self._poison_salt = stream_key(f"{seed}:{self.name}")
        self.dedupe = DedupeStore(spec.dedupe) if spec.dedupe is not None else None
        self.subscription: Subscription | None = None
        self.processed = self.poisoned = self.deduplicated = 0
        self._skip_apply = False
        # No poison, no dedupe, no errors of its own, no calls or publishes: a processed
        # message is simply applied (sites are added after construction: see _connect).
        self._plain = False

    def has_room(self) -> bool:
        """Whether the broker may deliver another message now."""
        # Its buffer is unbounded (queue_limit inf): only prefetch limits what it holds.
        return (
            not self.down and not self.partitioned and self.busy + len(self.queue) < self.prefetch
        )

    def is_poison(self, copy: Copy) -> bool:
        if self.poison_rate <= 0.0:
            return False
        key = (copy.message.stream.index << 40) ^ copy.message.id ^ (self._poison_salt << 20)
        return _splitmix64(key) / 2.0**64 < self.poison_rate

    @staticmethod
    def _key(copy: Copy) -> int:
        return (copy.message.stream.index << 40) | copy.message.id

    # -- processing --------------------------------------------------------------------------

    def _after_service(self, wake: Wake) -> None:
        job: Job = wake.value
        if job.epoch != self.epoch:
            return  # lost in a crash; the broker was told at the time
        copy: Copy = job.state[0]
        if self._plain and self.fault_error_rate == 0.0:
            return self._finish(job, "ok", None)  # nothing can fail and nothing to call
        if self.is_poison(copy):
            self.poisoned += 1
            return self._finish(job, "error", "poison")
        if self.dedupe is not None and self.dedupe.seen(self._key(copy), self.env.clock):
            self.deduplicated += 1
            self._skip_apply = True  # acknowledged without acting on it again
            try:
                return self._finish(job, "ok", None)
            finally:
                self._skip_apply = False
        super()._after_service(wake)

    def _finish(self, job: Job, outcome: str, error_kind: str | None) -> None:
        if outcome in SUCCESS and not self._skip_apply:
            copy: Copy = job.state[0]
            self.processed += 1
            copy.flow.applying(copy.message.id)
            if self.dedupe is not None:
                self.dedupe.remember(self._key(copy), self.env.clock)
        super()._finish(job, outcome, error_kind)
        if self.subscription is not None:
            self.subscription.dispatch()  # a worker is free: take the next message

    # -- faults ------------------------------------------------------------------------------

    def restart(self) -> None:
        super().restart()
        if self.subscription is not None:
            self.subscription.dispatch()

    def apply_conditions(self, conditions: Conditions) -> None:
        super().apply_conditions(conditions)
        if self.subscription is not None:
            self.subscription.dispatch()


def _build(world: World, name: str, spec: ConsumerSpec) -> Consumer:
    return Consumer(
        world.env, name, workers=spec.workers, queue_limit=math.inf,
        service_time=make_sampler(spec.processing_time, world.stream(name, "service")),
        error_rate=spec.error_rate, boot_time=spec.boot_time, spec=spec, seed=world.seed,
        **server_options(world, name),
    )  # fmt: skip


def _connect(world: World, name: str, consumer: Consumer) -> None:
    consumer._plain = (
        consumer.poison_rate <= 0.0
        and consumer.dedupe is None
        and consumer.error_rate <= 0.0
        and not consumer.sites
    )
    consumer.subscription = world.node(consumer.spec.broker).subscribe(
        consumer.spec.queue, consumer
    )


def _summary(consumer: Consumer, now: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "processed": consumer.processed,
        "poisoned": consumer.poisoned,
        "deduplicated": consumer.deduplicated,
    }
    if consumer.dedupe is not None:
        out["dedupe"] = {"held": len(consumer.dedupe), "evicted": consumer.dedupe.evicted}
    return out


def _snapshot(consumer: Consumer) -> dict[str, Any]:
    return {"held": consumer.busy + len(consumer.queue)}


KIND = NodeKind("consumer", _build, connect=_connect, summary=_summary, snapshot=_snapshot)
