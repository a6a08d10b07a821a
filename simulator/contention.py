"""Writes that contend for the same key: the books, the key a write carries, the JSON section.

A database with ``contention:`` (``components.contended``) runs optimistic
concurrency: a write commits when the database has served it, and fails with a
conflict if another write to the same key committed within ``conflict_window``
before it (its transaction read the key that long before its commit). This is
the model of the AWS Architecture Blog's "Exponential Backoff And Jitter" (Marc
Brooker, 2015): N clients each update one row once, retrying on conflict; what
the backoff strategy changes is how much work that takes (``calls``: write
attempts at the resource) and how long (``completion_s``: when the last client
was done).

With more than one key, each write request draws its key once, on the writing
edge's own stream (``<edge>``, ``key``), and carries it across its retries
(``keyed``): a retry rewrites the same row. With one key nothing is drawn.

The books of one database (``ContentionBooks``) count write attempts; each ends once:

    writes = committed + conflicts + failed + in_flight

``failed``: refused at the door, black-holed by a partition, lost in a crash,
expired in the queue, or failed by something else (an injected error, a failed
downstream call); ``in_flight``: queued or in service at the end, counted from
the jobs present.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from simulator.calls import CallSite
from simulator.corruption import BadData
from simulator.metrics import Rollup, Series
from simulator.randomness import RandomStream

if TYPE_CHECKING:
    from simulator.components.base import Job
    from simulator.scenario_data import Contention

__all__ = [
    "CONTENTION_SERIES",
    "ContentionBooks",
    "contention_summary",
    "key_of",
    "keyed",
]

CONTENTION_SERIES = ("writes", "committed", "conflicts")
"""Per contended database, per bucket: write attempts that arrived, committed, conflicted."""


class ContentionBooks:
    """One contended database's write attempts, and the last commit of every key written.

    ``commit(key, now)`` is the conflict rule: False (a conflict) if the key's last
    commit is less than the window old, else the write commits and becomes the last.
    """

    def __init__(self, spec: Contention, series: Series):
        self.keys, self.window = spec.keys, spec.conflict_window
        self.last: dict[int, float] = {}  # key -> its last commit; only keys ever written
        self.writes = self.committed = self.conflicts = self.failed = 0
        self.last_commit_at: float | None = None
        self.series = series
        self.rollup = Rollup(
            series,
            {
                "writes": lambda _now: self.writes,
                "committed": lambda _now: self.committed,
                "conflicts": lambda _now: self.conflicts,
            },
        )

    def commit(self, key: int, now: float) -> bool:
        """Try to commit a write to ``key`` at ``now``: True if it commits, False on a conflict."""
        last = self.last.get(key)
        if last is not None and last > now - self.window:
            self.conflicts += 1
            return False
        self.last[key] = now
        self.committed += 1
        self.last_commit_at = now
        return True

    def problems(self, in_flight: int, present: int) -> list[str]:
        """The books balance, and the writes held are the writes present."""
        found = []
        if in_flight != present:
            found.append(f"{in_flight} contended writes held, {present} present")
        ended = self.committed + self.conflicts + self.failed + in_flight
        if self.writes != ended:
            found.append(
                f"{self.writes} contended writes != {self.committed} committed + "
                f"{self.conflicts} conflicts + {self.failed} failed + {in_flight} in flight"
            )
        return found


def key_of(job: Job, keys: int) -> int:
    """The key a write attempt writes: carried by its request (``keyed``), 0 with one key.

    A write whose data a corruption fault spoiled carries its ``BadData`` instead of
    the key; its key is then drawn from the bad data's own hash (as uniform).
    """
    if keys == 1:
        return 0
    carried = getattr(job.state, "message", None)
    if isinstance(carried, BadData):
        return carried.key % keys
    return carried if isinstance(carried, int) else 0


class _Keyed(CallSite):
    """A write to a contended database with several keys: each request draws its key once."""

    keys: int
    key_rng: RandomStream

    def call(self, parent: Job, on_done: Callable[[Job, str], None], message: Any = None) -> None:
        if message is None:
            message = min(int(self.key_rng.random() * self.keys), self.keys - 1)
        super().call(parent, on_done, message)


_KEYED: dict[type[CallSite], type[CallSite]] = {}


def keyed(cls: type[CallSite], keys: int, key_rng: RandomStream) -> Callable[..., CallSite]:
    """A maker of ``cls`` sites that draw a key per request (``cls`` may be any call site
    that writes to a database: plain, a tracked write, a dual-write or outbox transaction)."""
    if cls not in _KEYED:
        _KEYED[cls] = type(f"Keyed{cls.__name__}", (_Keyed, cls), {})
    made = _KEYED[cls]

    def make(*args: Any, **kwargs: Any) -> CallSite:
        site = made(*args, **kwargs)
        site.keys, site.key_rng = keys, key_rng  # type: ignore[attr-defined]
        return site

    return make


# -- the JSON section -----------------------------------------------------------------------------


def _seconds(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 6)


def store_summary(books: ContentionBooks, in_flight: int) -> dict[str, Any]:
    """One database's ``nodes.<db>.contention`` (whole run, warm-up included)."""
    return {
        "keys": books.keys,
        "conflict_window_s": books.window,
        "writes": books.writes,
        "committed": books.committed,
        "conflicts": books.conflicts,
        "failed": books.failed,
        "in_flight": in_flight,
        "last_commit_s": _seconds(books.last_commit_at),
    }


def contention_summary(
    stores: Mapping[str, dict[str, Any]], crowds: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    """The ``contention`` section: the study's two numbers over every contended database.

    ``stores``: each contended database's ``nodes.<db>.contention``; ``crowds``: the own
    fields of each client with ``requests_per_user`` (``FiniteClient.own_summary``).
    ``calls``: write attempts that reached a contended database (every client's, retries
    included); ``completion_s``: when the last request of every such client ended (the
    last success, or the last give-up if some ran out of attempts: ``all_succeeded`` says
    which), null if some were still in flight at the end of the run.
    """
    finished = [crowd["finished_s"] for crowd in crowds.values()]
    complete = bool(finished) and all(t is not None for t in finished)
    return {
        "calls": sum(s["writes"] for s in stores.values()),
        "committed": sum(s["committed"] for s in stores.values()),
        "conflicts": sum(s["conflicts"] for s in stores.values()),
        "completion_s": max(finished) if complete else None,
        "all_succeeded": complete
        and all(crowd["succeeded"] == crowd["requests"] for crowd in crowds.values()),
    }
