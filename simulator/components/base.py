"""What every node shares: the unit of work (a Job), the reply protocol, and node statistics.

The engine is callback-driven rather than one SimPy process per request: a job
moves from stage to stage through callbacks on SimPy timeouts. That keeps the
per-request cost at a few attribute writes and one heap entry per stage, which
is what lets it keep pace with a minimal hand-written SimPy model. The timer
that moves a job, ``wake_after``, lives in ``simulator._simpy`` with the other
uses of SimPy internals.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from simulator.metrics import Rollup, Series, TimeAverage

__all__ = [
    "LOST_ERRORS", "REFUSED_AT_ARRIVAL", "SUCCESS", "Job", "NodeStats", "ReplyTarget",
    "avoid_of", "no_time", "pending_of", "was_cancelled",
]  # fmt: skip

SUCCESS = frozenset({"ok", "fallback"})
"""Outcomes that count as an answer; ``fallback`` is a degraded one."""

LOST_ERRORS = ("crash", "expired", "oom", "liveness")
"""Error kinds of accepted work a node lost (crashed, killed, or expired in its queue)."""

REFUSED_AT_ARRIVAL = ("refused", "disk_full", "rate_limited", "crash_loop")
"""Error kinds a node counts for jobs it turns away at arrival (crashed, disk full, a 429, a
new version in a crash loop)."""

NODE_SERIES = ("arrivals", "completions", "errors", "rejected", "busy", "queue", "in_system")


class ReplyTarget(Protocol):
    def on_reply(self, job: Job, outcome: str) -> None: ...


class Job:
    """One attempt's work at a node: who to answer, by when, and how far it has got."""

    pending: Any  # see below: declared for the type checker, unset until needed
    avoid: set[int]  # a hedged request's backends tried (simulator.hedging): unset otherwise
    cancelled: bool  # True once its caller cancelled it (a hedge's loser): unset otherwise

    # ``pending`` (dual write: the publish site and the message committed, not yet sent) is
    # set only on jobs of nodes that announce a commit, and read through ``pending_of``;
    # leaving it unset keeps Job() at its old cost on every other path.
    __slots__ = (
        "avoid", "cancelled", "closed", "deadline", "degraded", "epoch", "origin", "pending",
        "reply_to", "state", "step", "t_arrive",
    )  # fmt: skip

    def __init__(
        self, reply_to: ReplyTarget, deadline: float, state: Any = None, origin: str | None = None
    ):
        self.reply_to = reply_to
        self.deadline = deadline  # math.inf unless the caller propagates its deadline
        self.state = state  # the caller's bookkeeping, opaque to the callee (hence Any)
        self.closed = False  # the caller has its answer (or gave up); later replies are dropped
        self.degraded = False  # some downstream call was answered by a fallback
        self.epoch = 0
        self.step = 0
        self.t_arrive = 0.0
        self.origin = origin  # the client the request entered at (for only_for)


def avoid_of(job: Job) -> set[int] | None:
    """The backends a balancer should not pick for ``job`` (a hedged request's tried ones).

    Set only on the attempts of a hedged call to a balancer (``simulator.hedging``); the
    balancer skips them while another candidate remains, and adds its own pick.
    """
    return getattr(job, "avoid", None)


def was_cancelled(job: Job) -> bool:
    """Whether ``job``'s caller cancelled it (``Server.cancel``: a hedge's loser).

    Set only where a cancel happens, so every other job keeps ``Job()`` at its old cost;
    read only by the nodes that must tell a cancel from a missed deadline.
    """
    return getattr(job, "cancelled", False)


def pending_of(job: Job) -> Any:
    """The dual-write event ``job`` has committed and not yet published, if any."""
    return getattr(job, "pending", None)


class NodeStats:
    """Counters and time integrals for one node, with a baseline taken at the end of warm-up."""

    COUNTERS = ("arrivals", "accepted", "completions", "rejected", "shed", "dropped")

    def __init__(self, series: Series):
        self.series = series
        self.arrivals = self.accepted = self.completions = 0
        self.rejected = self.shed = self.dropped = 0
        self.errors: dict[str, int] = {}
        self.error_total = 0
        self.busy = TimeAverage()
        self.queue = TimeAverage()
        self.wait_sum = 0.0
        self.started = 0
        self.waited = 0  # started after waiting in the queue: Erlang C's P(wait), measured
        self.sojourn_sum = 0.0
        self.answered = 0
        self.baseline: dict[str, float] = {}
        self.max_queue_steady = 0

        self.rollup = Rollup(
            series,
            {
                "arrivals": lambda _now: self.arrivals,
                "completions": lambda _now: self.completions,
                "errors": lambda _now: self.error_total,
                "rejected": lambda _now: self.rejected,
                "busy": self.busy.area_until,
                "queue": self.queue.area_until,
                "in_system": self.in_system_area,
            },
            levels=("busy", "queue", "in_system"),
        )

    def in_system_area(self, now: float) -> float:
        """Requests at the node (in service or queued) integrated over time."""
        return self.busy.area_until(now) + self.queue.area_until(now)

    def error(self, kind: str, now: float) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.error_total += 1

    def mark_warmup(self, now: float) -> None:
        self.baseline = {name: getattr(self, name) for name in self.COUNTERS}
        self.baseline.update(
            wait_sum=self.wait_sum,
            started=self.started,
            waited=self.waited,
            sojourn_sum=self.sojourn_sum,
            answered=self.answered,
            busy_area=self.busy.area_until(now),
            in_system_area=self.in_system_area(now),
            queue_area=self.queue.area_until(now),
        )
        self.baseline.update({f"error:{k}": v for k, v in self.errors.items()})
        self.max_queue_steady = self.queue.level

    def since_warmup(self, name: str) -> float:
        return getattr(self, name) - self.baseline.get(name, 0)


def no_time() -> float:
    """The service time of a node that takes none (a balancer, a relay's own cycle)."""
    return 0.0


def capacity_of(workers: float, factor: float) -> float:
    """Workers left under a throttle: a cut to 50% of 5 workers leaves 2 (never rounds up)."""
    if math.isinf(workers):
        return workers
    return math.floor(workers * factor + 1e-9)
