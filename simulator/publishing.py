"""The two edges that turn requests into messages: a publish, and a transaction with an outbox row.

A ``PublishSite`` is a call edge to a broker: the same timeout, retries, breaker
and bulkhead, but what it sends is a message that keeps its id across retries,
and the answer it waits for is the broker's acknowledgement. A publisher that
makes its own messages (a service, a consumer, a client: dual write when a
database call came first) holds the message until the broker acknowledges it;
if every try fails, or the publisher crashes first, the message is lost there.
A relay's publish carries a row that stays in the outbox until marked sent, so
its publisher holds nothing: a failed publish is simply tried again next poll.

An ``OutboxCallSite`` is a call to a database whose transaction also writes an
outbox row: the row exists exactly when the database committed, whether or not
the caller was still waiting for the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.calls import CallSite, _CallState
from simulator.components.base import SUCCESS, Job, pending_of
from simulator.messages import Message, Stream

if TYPE_CHECKING:
    from simulator.components.relay import Relay

__all__ = ["CommitCallSite", "OutboxCallSite", "PublishSite"]


class PublishSite(CallSite):
    """``owner`` publishes to ``queue`` on the broker; ``relayed``: it carries outbox rows."""

    def __init__(
        self, *args: Any, owner: Any, queue: str, stream: Stream, relayed: bool, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.owner, self.queue, self.stream, self.relayed = owner, queue, stream, relayed
        self.holding = 0  # messages this publisher holds, not yet acknowledged or lost
        self.announces = False  # a call of its owner commits what it publishes (dual write)
        self.writes = True  # a broker stores what is published: a full disk refuses it

    def call(self, parent: Job, on_done: Any, message: Any = None) -> None:
        if message is None:
            pending = pending_of(parent) if self.announces else None
            if pending is not None and pending[0] is self:  # dual write: committed earlier
                message = pending[1]
                parent.pending = None
            else:  # a new event: this publisher holds its first copy
                message = self.stream.produce(self.env.clock)
                self.holding += 1
        super().call(parent, on_done, message)

    def committed(self, parent: Job, alive: bool) -> None:
        """Dual write: ``parent``'s transaction committed; the event exists from now.

        The publisher holds it until its publish; if ``parent`` has already finished or
        died, nobody will publish it: lost at once.
        """
        now = self.env.clock
        message = self.stream.produce(now)
        self.holding += 1
        if not alive:
            fate = "not_published" if parent.epoch == -1 else "publisher_crash"
            return self.abandon(message, fate, now)
        if pending_of(parent) is not None:  # a retried transaction committed twice: two events
            self.abandon(parent.pending[1], "not_published", now)
        parent.pending = (self, message)

    def abandon(self, message: Message, fate: str, now: float) -> None:
        """A committed event its publisher will never send (dual write's loss)."""
        self.holding -= 1
        self.stream.copy_ended(message, fate, now)

    @staticmethod
    def message_of(job: Job) -> Message:
        """The message an attempt carries (the broker asks its publisher)."""
        return job.state.message

    def _crashed(self, state: _CallState) -> bool:
        return state.parent.epoch != getattr(self.owner, "epoch", 0)

    def _send(self, state: _CallState) -> None:
        if self._crashed(state):  # the publisher died while backing off: nothing is sent
            if state.held:
                self._release(state)  # its bulkhead slot and connection go back
            return self._finish(state, "error")
        # The attempt is a copy on its way: if the publisher gives up before the broker
        # answers, the broker may still take it. The broker ends this copy when it decides.
        self.stream.copy_created(state.message)
        super()._send(state)

    def _finish(self, state: _CallState, outcome: str) -> None:
        if not self.relayed:
            self.holding -= 1
            fate = None  # acknowledged: the broker's copies carry on
            if outcome not in SUCCESS:
                fate = "publisher_crash" if self._crashed(state) else "publish_failed"
            self.stream.copy_ended(state.message, fate, self.env.clock)
        super()._finish(state, outcome)


class CommitCallSite(CallSite):
    """Dual write: a call whose transaction, once committed, is announced by ``publisher``."""

    publisher: PublishSite  # set once the node's publishes are built

    def __init__(self, *args: Any, owner: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.owner = owner

    def on_reply(self, job: Job, outcome: str) -> None:
        if outcome in SUCCESS:  # committed, even if the caller has given up on the answer
            parent = job.state.parent
            alive = parent.epoch == getattr(self.owner, "epoch", 0)
            self.publisher.committed(parent, alive)
        super().on_reply(job, outcome)


class OutboxCallSite(CallSite):
    """A call whose successful transaction at the database also commits an outbox row."""

    def __init__(self, *args: Any, relay: Relay, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.relay = relay

    def on_reply(self, job: Job, outcome: str) -> None:
        if outcome in SUCCESS:  # committed, even if the caller has given up on the answer
            self.relay.commit(self.env.clock)
        super().on_reply(job, outcome)
