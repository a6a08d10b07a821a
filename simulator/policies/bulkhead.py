"""A bulkhead: a per-dependency concurrency limit, so one slow dependency cannot take every worker.

Two kinds, after resilience4j:

- ``semaphore`` (``SemaphoreBulkhead``): ``max_concurrent`` permits; a call
  without one waits up to ``max_wait`` in FIFO order (a fair semaphore), and
  ``max_wait: 0`` rejects at once.
- ``pool`` (``ThreadPoolBulkhead``): ``max_concurrent`` workers and a FIFO queue
  of ``queue`` places; a call finding the queue full is rejected at once. Queued
  calls wait without a time limit unless ``max_wait`` is positive.

Rejected calls fail fast: the engine turns ``on_rejected`` into a ``rejected`` outcome.
"""

from __future__ import annotations

from simulator.policies._slots import Slots
from simulator.policies._types import Cancel, Schedule
from simulator.scenario_policies import Bulkhead as BulkheadConfig

__all__ = ["Bulkhead"]


class Bulkhead(Slots):
    """``acquire(on_granted, on_rejected)`` before the call, ``release()`` after it."""

    def __init__(self, config: BulkheadConfig, schedule: Schedule, cancel: Cancel) -> None:
        self.kind = config.kind
        if config.kind == "semaphore":
            super().__init__(config.max_concurrent, config.max_wait, None, schedule, cancel)
        else:
            max_wait = config.max_wait if config.max_wait > 0 else None
            super().__init__(config.max_concurrent, max_wait, config.queue, schedule, cancel)
