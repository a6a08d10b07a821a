"""One tuning search on a background thread, which Cancel can stop. Qt-free.

The comparison's machinery (``ComparisonJob``: a killable process pool of its own,
a watcher thread that kills it on Cancel, an executor that refuses submits once
cancelled); the work is ``simulator.tuning.tune``, whose rungs follow one another
(each rung's runs side by side).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

from gui.plots.compare_job import ComparisonJob
from simulator.scenario import Scenario
from simulator.tuning import Tuning, tune
from simulator.tuning_objective import Objective
from simulator.tuning_space import Dimension


class TuneJob(ComparisonJob):
    """``tune`` on a daemon thread; poll ``progress``, ``running`` and ``tuning``."""

    def __init__(
        self,
        scenario: Scenario,
        call: str,
        objective: Objective,
        space: Sequence[Dimension],
        budget: int,
        executor: Any = None,
    ):
        super().__init__(scenario, [], 1, executor, workers=min(os.cpu_count() or 1, budget))
        self.call, self.objective, self.space, self.budget = call, objective, list(space), budget
        self.tuning: Tuning | None = None
        self.progress = (0, budget)

    def _compute(self, executor: Executor) -> None:
        self.tuning = tune(
            self.scenario,
            self.call,
            self.objective,
            space=self.space,
            budget=self.budget,
            executor=executor,
            progress=self._on_progress,
        )

    def _discard(self) -> None:
        self.tuning = None
