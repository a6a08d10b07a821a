"""One metastability map running on a background thread, which Cancel can stop. Qt-free.

The same machinery as the compare view's ``ComparisonJob`` (a killable process
pool of its own, a watcher thread that kills it on Cancel, an executor that
refuses submits once cancelled); only the work differs: ``run_map`` instead of
``run_comparison``, then the fluid preview (``preview_map``: milliseconds per cell).
"""

from __future__ import annotations

import os
from concurrent.futures import Executor
from typing import Any

from gui.plots.compare_job import ComparisonJob
from simulator.metastability import MetastabilityMap, run_map
from simulator.metastability_fluid import preview_map
from simulator.scenario import Scenario


class MapJob(ComparisonJob):
    """``run_map`` on a daemon thread; poll ``progress``, ``running`` and ``map``/``error``."""

    def __init__(
        self,
        scenario: Scenario,
        varies: list[tuple[str, list[str]]],
        replications: int,
        fault: int = 0,
        executor: Any = None,
        workers: int | None = None,
    ):
        super().__init__(scenario, varies, replications, executor, workers)
        cells = 1
        for _path, values in varies:
            cells *= max(1, len(values))
        runs = cells * replications
        self.workers = workers or min(os.cpu_count() or 1, runs)
        self.progress = (0, runs)
        self.fault = fault
        self.map: MetastabilityMap | None = None
        self.preview: list[list[float | None]] | None = None  # the fluid's, when it applies

    def _compute(self, executor: Executor) -> None:
        self.map = run_map(
            self.scenario, self.varies, self.replications,
            executor=executor, progress=self._on_progress, fault=self.fault,
        )  # fmt: skip
        self.preview = preview_map(self.scenario, self.varies, self.fault)

    def _discard(self) -> None:
        self.map = None
