"""A tiny stand-in for the engine's scheduler: a heap of (time, fn), driven by hand."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from itertools import count


class FakeScheduler:
    """``schedule(delay, fn)`` / ``cancel(handle)`` over simulated time ``now``."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, list]] = []
        self._seq = count()

    def schedule(self, delay: float, fn: Callable[[], None]) -> object:
        entry = [fn]
        heapq.heappush(self._heap, (self.now + delay, next(self._seq), entry))
        return entry

    def cancel(self, handle: object) -> None:
        assert isinstance(handle, list)
        handle[0] = None

    @property
    def pending(self) -> int:
        return sum(1 for _, _, entry in self._heap if entry[0] is not None)

    def run_until(self, t: float) -> None:
        while self._heap and self._heap[0][0] <= t:
            when, _, entry = heapq.heappop(self._heap)
            self.now = when
            if entry[0] is not None:
                entry[0]()
        self.now = t
