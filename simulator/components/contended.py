"""A database whose writes contend for keys: optimistic concurrency with a conflict window.

Built only for a database with ``contention:`` (``contended(cls)`` mixes it into
whatever class the database already is: plain, tracked, limited, watched), so
every other database keeps its old path. A write (a job from a call with
``writes: true``) that the database would answer with success commits then, at
the end of its service: if another write to its key committed less than
``conflict_window`` before, it fails instead, ``error`` of kind ``conflict``, and
commits nothing (``contention.ContentionBooks.commit``). Reads are served as
usual. A write whose caller has timed out still commits (the database never
heard otherwise), so its own retry may then conflict with it.
"""

from __future__ import annotations

from typing import Any

from simulator.components.base import SUCCESS, Job
from simulator.components.service import Server
from simulator.contention import ContentionBooks, key_of, store_summary
from simulator.metrics import Rollup, Series
from simulator.scenario_data import Contention

__all__ = ["ContendedServer", "contended"]


def _writes(job: Job) -> bool:
    return bool(getattr(job.reply_to, "writes", False))


class ContendedServer(Server):
    """A server whose write attempts are checked for conflicts when they would commit."""

    def __init__(
        self, *args: Any, contention: Contention, contention_series: Series, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.contention = ContentionBooks(contention, contention_series)
        self.writes_present: dict[Job, None] = {}  # write attempts accepted, not yet ended

    def submit(self, job: Job) -> None:
        if not _writes(job):
            return super().submit(job)
        books = self.contention
        books.writes += 1
        super().submit(job)
        if job in self.in_service or (self.queue and self.queue[-1] is job):
            self.writes_present[job] = None
        else:
            books.failed += 1  # refused at the door, or black-holed by a partition

    def _finish(self, job: Job, outcome: str, error_kind: str | None) -> None:
        present = self.writes_present
        if present and job in present:
            del present[job]
            books = self.contention
            if outcome not in SUCCESS:
                books.failed += 1
            elif not books.commit(key_of(job, books.keys), self.env.clock):
                outcome, error_kind = "error", "conflict"
        super()._finish(job, outcome, error_kind)

    def _expire(self, job: Job, now: float) -> None:
        if job in self.writes_present:
            del self.writes_present[job]
            self.contention.failed += 1
        super()._expire(job, now)

    def crash(self) -> None:
        self.contention.failed += len(self.writes_present)
        self.writes_present.clear()
        super().crash()

    # -- reading -------------------------------------------------------------------------------

    def extra_rollups(self) -> list[Rollup]:
        return [*super().extra_rollups(), self.contention.rollup]

    def own_series(self) -> dict[str, Series]:
        return {**super().own_series(), f"contention.{self.name}": self.contention.series}

    def own_summary(self, now: float) -> dict[str, Any]:
        in_flight = len(self.writes_present)
        return {**super().own_summary(now), "contention": store_summary(self.contention, in_flight)}

    def own_snapshot(self) -> dict[str, Any]:
        books = self.contention
        return {**super().own_snapshot(), "conflicts": books.conflicts, "commits": books.committed}

    def own_problems(self) -> list[str]:
        present = sum(1 for job in (*self.in_service, *self.queue) if _writes(job))
        problems = self.contention.problems(len(self.writes_present), present)
        return [*super().own_problems(), *problems]


_CONTENDED: dict[type[Server], type[Server]] = {}


def contended(cls: type[Server]) -> type[Server]:
    """``cls`` with contended writes (one class per combination, made once)."""
    if cls not in _CONTENDED:
        _CONTENDED[cls] = type(f"Contended{cls.__name__}", (ContendedServer, cls), {})
    return _CONTENDED[cls]
