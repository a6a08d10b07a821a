"""One breaking-point search on a background thread, which Cancel can stop. Qt-free.

The same machinery as a comparison (``ComparisonJob``: a killable process pool of
its own, a watcher thread that kills it on Cancel, an executor that refuses
submits once cancelled); only the work differs: ``find_breaking_point``, whose
probes follow one another (each probe's replications run side by side).
"""

from __future__ import annotations

import os
from concurrent.futures import Executor
from typing import Any

from gui.plots.compare_job import ComparisonJob
from simulator.breaking_point import SLO, Ramp, find_breaking_point
from simulator.scenario import Scenario


class RampJob(ComparisonJob):
    """``find_breaking_point`` on a daemon thread; poll ``progress``, ``running``, ``ramp``."""

    def __init__(
        self,
        scenario: Scenario,
        slo: SLO,
        route: str | None,
        replications: int,
        with_faults: bool = False,
        executor: Any = None,
        options: dict[str, Any] | None = None,
    ):
        # each probe's replications run side by side: as many workers as replications
        workers = min(os.cpu_count() or 1, max(1, replications))
        super().__init__(scenario, [], replications, executor, workers=workers)
        self.slo, self.route, self.with_faults = slo, route, with_faults
        self.options = options or {}
        self.ramp: Ramp | None = None
        self.progress = (0, replications)

    def _compute(self, executor: Executor) -> None:
        self.ramp = find_breaking_point(
            self.scenario,
            self.slo,
            self.route,
            self.replications,
            executor,
            with_faults=self.with_faults,
            progress=self._on_progress,
            **self.options,
        )

    def _discard(self) -> None:
        self.ramp = None
