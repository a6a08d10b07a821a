"""Bucketed sliding time windows: bounded memory whatever the traffic.

resilience4j's time-based breaker window and the SRE book's throttling window
both keep per-interval partial counts rather than every event. A window of
``window`` seconds is split into ``n`` buckets, ``n = clamp(ceil(window), 10,
1000)``: one-second buckets for the common windows (as resilience4j does), finer
ones for sub-10-second windows, and never more than 1000 buckets. An event
leaves the window when its whole bucket has aged out, so the effective window is
between ``window·(n-1)/n`` and ``window``.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["SlidingCounts"]

_MIN_BUCKETS = 10
_MAX_BUCKETS = 1000


class SlidingCounts:
    """Totals of a few integer counters over the last ``window`` seconds."""

    def __init__(self, window: float, fields: int) -> None:
        if window <= 0:
            raise ValueError("a sliding window needs a positive length")
        self.buckets = min(_MAX_BUCKETS, max(_MIN_BUCKETS, math.ceil(window)))
        self.width = window / self.buckets
        self._fields = fields
        self._deque: deque[tuple[int, list[int]]] = deque()
        self._totals = [0] * fields

    def _advance(self, now: float) -> int:
        index = math.floor(now / self.width)
        oldest_kept = index - self.buckets + 1
        while self._deque and self._deque[0][0] < oldest_kept:
            _, counts = self._deque.popleft()
            for i, c in enumerate(counts):
                self._totals[i] -= c
        return index

    def add(self, now: float, *counts: int) -> None:
        """Add ``counts`` (one per field) at time ``now``."""
        index = self._advance(now)
        if self._deque and self._deque[-1][0] >= index:
            # Same bucket (or a clock that went backwards): fold into the newest bucket.
            bucket = self._deque[-1][1]
        else:
            bucket = [0] * self._fields
            self._deque.append((index, bucket))
        for i, c in enumerate(counts):
            bucket[i] += c
            self._totals[i] += c

    def totals(self, now: float) -> tuple[int, ...]:
        """Each field's total over the window ending at ``now``."""
        self._advance(now)
        return tuple(self._totals)

    def clear(self) -> None:
        """Forget everything (a breaker resets its window on closing)."""
        self._deque.clear()
        self._totals = [0] * self._fields

    def __len__(self) -> int:
        return len(self._deque)
