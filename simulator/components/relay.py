"""A transactional-outbox relay: a ``Server`` that runs one poll cycle at a time, on itself.

The outbox table lives on the relay's database; rows are added by calls marked
``outbox:`` when their transaction commits (``publishing.OutboxCallSite``). One
cycle: read up to ``batch`` rows (a query to the database, when polling; none
when tailing its log, where a commit shows up ``lag`` after it), publish them
all, then mark the acknowledged ones sent (a second query when polling; saving
the log position when tailing). Rows leave the outbox only when marked, so a
relay that crashes, or a mark that fails, publishes the same rows again after:
duplicates, never losses. A publish that fails leaves its row for the next poll.

A cycle is a job the relay submits to itself, so crashes, restarts and boot time
work as for any server: a crash loses the cycle in progress, and the relay
starts polling again when it is back.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

from simulator._simpy import Wake, wake_after
from simulator.components.base import SUCCESS, Job, no_time
from simulator.components.kind import NodeKind, World
from simulator.components.service import Server, server_options
from simulator.messages import Message, Stream
from simulator.metrics import Rollup, Series
from simulator.scenario import Call
from simulator.scenario import Relay as RelaySpec

if TYPE_CHECKING:
    from simulator.calls import CallSite
    from simulator.publishing import PublishSite

__all__ = ["KIND", "Relay"]


class _Batch:
    __slots__ = ("acked", "outstanding")

    def __init__(self, outstanding: int):
        self.outstanding = outstanding
        self.acked: list[Message] = []


class Relay(Server):
    """Drains its database's outbox into the broker, one cycle at a time."""

    def __init__(self, *args: Any, spec: RelaySpec, world: World, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.spec = spec
        self.interval, self.batch, self.lag = spec.interval, spec.batch, spec.lag
        self.outbox: dict[Message, None] = {}  # pending rows in commit order
        self.query: CallSite | None = None  # polling: the relay's queries to its database
        self.publisher: PublishSite | None = None
        self.stream: Stream | None = None
        self.cycles = self.published_rows = self.republished = 0
        self.max_outbox = 0
        self._sent_once: set[int] = set()  # ids published at least once (to count republishes)
        self._waiting = False  # a next cycle is scheduled
        self.series = world.series(("pending",))
        self.rollup = Rollup(self.series, {"pending": self._pending}, samples=("pending",))

    def _pending(self, _now: float) -> float:
        return len(self.outbox)

    # -- the outbox --------------------------------------------------------------------------

    def commit(self, now: float) -> None:
        """A transaction with an outbox row committed: a new event, held as a row."""
        assert self.stream is not None  # connected before the run starts
        self.outbox[self.stream.produce(now)] = None
        if len(self.outbox) > self.max_outbox:
            self.max_outbox = len(self.outbox)

    def _visible(self, now: float) -> list[Message]:
        rows = itertools.islice(self.outbox, self.batch)
        if self.lag <= 0:
            return list(rows)
        return list(itertools.takewhile(lambda m: m.produced + self.lag <= now, rows))

    # -- one cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._schedule(0.0)

    def _schedule(self, delay: float) -> None:
        if not self._waiting and not self.down:
            self._waiting = True
            wake_after(self.env, delay, self._begin_cycle)

    def _begin_cycle(self, _wake: Wake) -> None:
        self._waiting = False
        if not self.down:
            self.cycles += 1
            self.submit(Job(self, math.inf))

    def _next_call(self, job: Job) -> None:
        job.step = 1
        if self.query is not None:
            self.query.call(job, self._after_query)
        else:
            self._publish_rows(job)

    def _after_query(self, job: Job, outcome: str) -> None:
        if job.epoch != self.epoch:
            return  # the relay crashed meanwhile
        if outcome not in SUCCESS:
            return self._finish(job, "error", "outbox_query")
        if job.step == 1:
            self._publish_rows(job)
        else:
            self._mark_sent(job)

    def _publish_rows(self, job: Job) -> None:
        rows = self._visible(self.env.clock)
        if not rows:
            return self._finish(job, "ok", None)
        job.state = _Batch(len(rows))
        assert self.publisher is not None
        for message in rows:
            if message.id in self._sent_once:
                self.republished += 1
            else:
                self._sent_once.add(message.id)
            row = Job(self, math.inf, (job, message))
            row.epoch = job.epoch
            self.publisher.call(row, self._after_publish, message)

    def _after_publish(self, row: Job, outcome: str) -> None:
        job, message = row.state
        if job.epoch != self.epoch:
            return
        batch: _Batch = job.state
        batch.outstanding -= 1
        if outcome in SUCCESS:
            batch.acked.append(message)
        if batch.outstanding:
            return
        job.step = 2
        if batch.acked and self.query is not None:
            self.query.call(job, self._after_query)  # UPDATE outbox SET sent = true …
        else:
            self._mark_sent(job)

    def _mark_sent(self, job: Job) -> None:
        now = self.env.clock
        batch: _Batch = job.state
        assert self.stream is not None
        for message in batch.acked:
            if self.outbox.pop(message, 0) is None:  # the row is sent: the broker has the message
                self.published_rows += 1
                self._sent_once.discard(message.id)
                self.stream.copy_ended(message, None, now)
        self._finish(job, "ok", None)

    def on_reply(self, job: Job, outcome: str) -> None:
        """A cycle ended (or was lost in a crash): poll again, at once if rows are waiting."""
        if self.down:
            return  # restart() resumes polling
        # Straight on only if this cycle got rows through: one that could not publish
        # (the broker is down) waits its interval instead of hammering the broker.
        progressed = isinstance(job.state, _Batch) and bool(job.state.acked)
        more = outcome in SUCCESS and progressed and bool(self._visible(self.env.clock))
        self._schedule(0.0 if more else self.interval)

    def restart(self) -> None:
        super().restart()
        self._schedule(0.0)

    # -- reading -----------------------------------------------------------------------------

    def extra_rollups(self) -> list[Rollup]:
        return [self.rollup]

    def own_series(self) -> dict[str, Series]:
        return {f"outbox.{self.name}": self.series}


def _build(world: World, name: str, spec: RelaySpec) -> Relay:
    return Relay(
        world.env, name, workers=1, queue_limit=0, service_time=no_time, error_rate=0.0,
        boot_time=spec.boot_time, spec=spec, world=world, **server_options(world, name),
    )  # fmt: skip


def _connect(world: World, name: str, relay: Relay) -> None:
    """Its two edges: queries to the database (when polling) and its publish; then it starts."""
    spec = relay.spec
    if spec.mode == "polling":
        query = Call.model_validate({"to": spec.database, "timeout": spec.query_timeout})
        relay.query = world.add_call(f"{name}->{spec.database}", query)
    publish = spec.publish
    relay.publisher = world.add_publish(
        f"{name}->{publish.to}.{publish.queue}", publish, relay, relayed=True
    )
    relay.stream = relay.publisher.stream
    relay.start()


def _summary(relay: Relay, now: float) -> dict[str, Any]:
    return {
        "cycles": relay.cycles,
        "outbox_at_end": len(relay.outbox),
        "max_outbox": relay.max_outbox,
        "rows_sent": relay.published_rows,
        "republished": relay.republished,
    }


def _snapshot(relay: Relay) -> dict[str, Any]:
    return {"outbox": len(relay.outbox)}


KIND = NodeKind("relay", _build, connect=_connect, summary=_summary, snapshot=_snapshot)
