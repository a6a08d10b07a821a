"""The books of asynchronous messages: every id's fate, per flow, counted where it happens.

A **stream** is what one producer sends to one broker queue; a **flow** is a
stream as one consumer group receives it (a queue with two consumer groups
fans each stream out into two flows). A message is one event with one id; what
travels are its **copies**: a publisher holding it while it publishes (dual
write), a row in an outbox, a message held by the broker for a consumer group.
A retry after a lost acknowledgement, or a relay republishing after a crash,
makes a second copy of the same id at the broker: a duplicate, not a new event.

Each flow keeps one byte per id (its state and two flags) and a count of live
copies for the ids that have any, so memory grows by a byte per message, not an
object. An id settles when a copy of it is acknowledged by the consumer
(``delivered``), or when its last copy ends without that: ``dead_lettered`` if a
copy went to the dead-letter queue, else ``lost`` with the reason recorded where
the loss happened. Conservation, checked at the end of every run:

    produced = delivered + lost + dead_lettered + in flight

where in flight is counted from the live copies, not derived from the others.
"""

from __future__ import annotations

from simulator.metrics import LogHistogram

__all__ = ["Flow", "Message", "MessageBooks", "Stream"]

_STATE = 0b011  # the low two bits: where the id has ended up
IN_FLIGHT, DELIVERED, LOST, DEAD = 0, 1, 2, 3
_SEEN = 0b100  # delivered to the consumer group at least once
_APPLIED = 0b1000  # its effect applied by the consumer at least once

LOSS_REASONS = (
    "not_published", "publish_failed", "publisher_crash", "dropped", "expired", "broker_crash",
)  # fmt: skip
"""Where a message can be lost: committed but its publisher gave up before publishing
(dual write); its publish failed after the last try; the publisher died holding it;
the broker dropped it after acknowledging; it waited past the queue's retention;
the broker crashed holding it without durability."""


class Message:
    """One event: an id within its stream, and when it was produced."""

    __slots__ = ("id", "produced", "stream")

    def __init__(self, stream: Stream, id_: int, produced: float):
        self.stream, self.id, self.produced = stream, id_, produced


class Stream:
    """One producer's messages to one queue; ``flows`` are its consumer groups' views."""

    def __init__(self, index: int, producer: str, broker: str, queue: str):
        self.index = index  # distinguishes streams in a consumer's dedupe keys
        self.producer, self.broker, self.queue = producer, broker, queue
        self.flows: list[Flow] = []
        self.produced = 0
        self.published = 0  # ids the broker accepted at least once
        self._accepted = bytearray()

    def produce(self, now: float) -> Message:
        """A new event; the caller holds its first copy (``copy_created`` on every flow)."""
        message = Message(self, self.produced, now)
        self.produced += 1
        self._accepted.append(0)
        for flow in self.flows:
            flow.add(message.id)
        return message

    def accepted(self, message: Message) -> None:
        """The broker took a copy of ``message``: count it published the first time."""
        if not self._accepted[message.id]:
            self._accepted[message.id] = 1
            self.published += 1

    def copy_created(self, message: Message) -> None:
        for flow in self.flows:
            flow.copy_created(message.id)

    def copy_ended(self, message: Message, fate: str | None, now: float) -> None:
        for flow in self.flows:
            flow.copy_ended(message, fate, now)


class Flow:
    """One stream as one consumer group sees it: each id's fate, and the counts of fates."""

    def __init__(self, stream: Stream, consumer: str | None):
        self.stream, self.consumer = stream, consumer
        self.key = f"{stream.producer}->{stream.broker}.{stream.queue}->{consumer or '(none)'}"
        self._ids = bytearray()
        self.live: dict[int, int] = {}  # id -> live copies, for ids that have any
        self._fate: dict[int, str] = {}  # how a copy of a live id ended badly
        self.delivered = self.lost = self.dead_lettered = 0
        self.lost_by: dict[str, int] = {}
        self.deliveries = self.duplicates = 0
        self.applied = self.applied_twice = 0
        self.lag = LogHistogram()  # produced to acknowledged, per delivered id

    # -- the life of an id -------------------------------------------------------------------

    def add(self, id_: int) -> None:
        self._ids.append(0)
        self.live[id_] = 1

    def copy_created(self, id_: int) -> None:
        self.live[id_] = self.live.get(id_, 0) + 1

    def copy_ended(self, message: Message, fate: str | None, now: float) -> None:
        """A copy is gone: ``acked``, ``dead_lettered``, a loss reason, or None (handed on)."""
        id_ = message.id
        live = self.live
        left = live[id_] - 1
        if left:
            live[id_] = left
            if fate is None:
                return  # handed on, and other copies carry the id: the common case
        else:
            del live[id_]
        state = self._ids[id_] & _STATE
        if fate == "acked":
            if state == IN_FLIGHT:
                self._ids[id_] |= DELIVERED
                self.delivered += 1
                self.lag.record(now - message.produced)
        elif fate is not None and state == IN_FLIGHT and self._fate.get(id_) != "dead_lettered":
            self._fate[id_] = fate  # the latest loss is the cause; a dead letter outranks it
        if not left:
            last = self._fate.pop(id_, None)
            if self._ids[id_] & _STATE == IN_FLIGHT:
                self._settle(id_, last or "untracked")

    def _settle(self, id_: int, fate: str) -> None:
        if fate == "dead_lettered":
            self._ids[id_] |= DEAD
            self.dead_lettered += 1
        else:
            self._ids[id_] |= LOST
            self.lost += 1
            self.lost_by[fate] = self.lost_by.get(fate, 0) + 1

    def delivering(self, id_: int) -> None:
        """A copy is handed to the consumer group; a second delivery of an id is a duplicate."""
        self.deliveries += 1
        if self._ids[id_] & _SEEN:
            self.duplicates += 1
        else:
            self._ids[id_] |= _SEEN

    def applying(self, id_: int) -> None:
        """The consumer acted on the message; acting on an id twice is the harm duplicates do."""
        self.applied += 1
        if self._ids[id_] & _APPLIED:
            self.applied_twice += 1
        else:
            self._ids[id_] |= _APPLIED

    # -- reading -----------------------------------------------------------------------------

    @property
    def produced(self) -> int:
        return self.stream.produced

    def in_flight(self) -> int:
        """Ids not yet settled, counted from the live copies (each unsettled id has one)."""
        return sum(1 for id_ in self.live if self._ids[id_] & _STATE == IN_FLIGHT)

    def live_copies(self) -> int:
        return sum(self.live.values())

    def is_in_flight(self, id_: int) -> bool:
        """Not yet delivered, lost or dead-lettered."""
        return self._ids[id_] & _STATE == IN_FLIGHT

    def problems(self) -> list[str]:
        """Conservation: every produced id is delivered, lost, dead-lettered or in flight."""
        in_flight = self.in_flight()
        settled = self.delivered + self.lost + self.dead_lettered
        out = []
        if self.produced != settled + in_flight:
            out.append(
                f"{self.key}: {self.produced} produced != {self.delivered} delivered + "
                f"{self.lost} lost + {self.dead_lettered} dead-lettered + {in_flight} in flight"
            )
        if self.lost_by.get("untracked"):
            out.append(f"{self.key}: {self.lost_by['untracked']} ids lost without a recorded cause")
        return out


class MessageBooks:
    """Every stream and flow of a run, found by producer and queue."""

    def __init__(self) -> None:
        self.streams: dict[tuple[str, str, str], Stream] = {}

    def stream(self, producer: str, broker: str, queue: str) -> Stream:
        key = (producer, broker, queue)
        if key not in self.streams:
            self.streams[key] = Stream(len(self.streams), producer, broker, queue)
        return self.streams[key]

    @property
    def flows(self) -> list[Flow]:
        return [flow for stream in self.streams.values() for flow in stream.flows]
