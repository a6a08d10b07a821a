"""Counted slots with a FIFO of timed waiters: the shared core of bulkheads and pools.

Waiting is event-driven, never polled: a ``release`` hands the slot to the
oldest waiter at that very instant (cancelling its timer), and a waiter's timer
rejects it when its wait runs out. Callbacks run after the bookkeeping is done,
so they may call ``acquire`` or ``release`` again.

Grants are trampolined. A waiter's ``on_granted`` may end at once (its call is
refused by a crashed callee) and release again, which grants the next waiter,
and so on: granting inside ``release`` would nest one stack frame chain per
waiter, and a few thousand waiters end in ``RecursionError``. So a release made
while this object is already running a grant callback only hands the slot over
(bookkeeping, timer cancelled) and queues the callback; the outermost release
runs the queued callbacks one after another, in FIFO order. A release outside
any grant callback still grants at once, so runs without such a chain keep the
exact order of events they always had.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from itertools import count

from simulator.policies._types import Cancel, Schedule

__all__ = ["Slots"]


class _Waiter:
    __slots__ = ("handle", "on_granted", "on_rejected")

    def __init__(self, on_granted: Callable[[], None], on_rejected: Callable[[], None]) -> None:
        self.on_granted = on_granted
        self.on_rejected = on_rejected
        self.handle: object | None = None


class Slots:
    """``capacity`` slots; callers beyond it wait (FIFO) up to ``max_wait`` or are rejected.

    ``max_wait``: ``None`` waits without a time limit, ``0`` never waits.
    ``queue_limit``: ``None`` for an unbounded queue, else the most waiters kept.
    Subclasses hear about grants and frees through ``_on_taken`` and ``_on_freed``.
    """

    def __init__(
        self,
        capacity: int,
        max_wait: float | None,
        queue_limit: int | None,
        schedule: Schedule,
        cancel: Cancel,
    ) -> None:
        self.capacity = capacity
        self.max_wait = max_wait
        self.queue_limit = queue_limit
        self._schedule = schedule
        self._cancel = cancel
        self._waiters: OrderedDict[int, _Waiter] = OrderedDict()
        self._ids = count()
        self._granting = False  # a grant callback of ours is running further up the stack
        self._handed: deque[_Waiter] = deque()  # handed a slot, callback not yet run
        self.in_use = 0
        self.max_in_use = 0
        self.max_waiting = 0
        self.rejected = 0
        self.timed_out = 0

    @property
    def waiting(self) -> int:
        """Callers queued for a slot right now."""
        return len(self._waiters)

    def acquire(self, on_granted: Callable[[], None], on_rejected: Callable[[], None]) -> None:
        """Call ``on_granted`` once a slot is ours, or ``on_rejected`` if none comes in time."""
        if self.in_use < self.capacity:
            self.in_use += 1
            self.max_in_use = max(self.max_in_use, self.in_use)
            self._on_taken(handed_over=False)
            on_granted()
            return
        if self.max_wait == 0 or (
            self.queue_limit is not None and len(self._waiters) >= self.queue_limit
        ):
            self.rejected += 1
            on_rejected()
            return
        key = next(self._ids)
        waiter = _Waiter(on_granted, on_rejected)
        self._waiters[key] = waiter
        self.max_waiting = max(self.max_waiting, len(self._waiters))
        if self.max_wait is not None:
            waiter.handle = self._schedule(self.max_wait, lambda: self._expire(key))

    def release(self) -> None:
        """Free a slot; the oldest waiter, if any, gets it now (its callback maybe queued).

        Inside a grant callback of ours the slot is handed over at once but the
        callback waits for the outermost release's loop (see the module docstring).
        """
        if self.in_use <= 0:
            raise RuntimeError("release without a matching grant")
        if not self._waiters:
            self.in_use -= 1
            self._on_freed()
            return
        _, waiter = self._waiters.popitem(last=False)
        if waiter.handle is not None:
            self._cancel(waiter.handle)
        if self._granting:  # the outermost release below runs it: no nesting per waiter
            self._handed.append(waiter)
            return
        self._granting = True
        try:
            self._on_taken(handed_over=True)
            waiter.on_granted()
            handed = self._handed
            while handed:
                waiter = handed.popleft()
                # Told just before its callback, as for a direct grant: a pool's
                # needs_connect() describes the grant whose callback is running.
                self._on_taken(handed_over=True)
                waiter.on_granted()
        finally:
            self._granting = False

    def _expire(self, key: int) -> None:
        waiter = self._waiters.pop(key, None)
        if waiter is None:  # already granted; a scheduler that cannot cancel fires anyway
            return
        self.rejected += 1
        self.timed_out += 1
        waiter.on_rejected()

    def _on_taken(self, handed_over: bool) -> None:
        """A slot was granted: fresh (``handed_over`` False) or passed on by a release."""

    def _on_freed(self) -> None:
        """A slot went back to the free count (nobody was waiting)."""
