"""What a run sent back, kept for the views and for scrubbing. Qt-free.

The child sends its time series incrementally (the rows since the last frame);
``RunRecord`` writes them into preallocated columns. Snapshots are kept for
replay, thinned by halves whenever there are more than ``max_snapshots``, so a
long run stays bounded and evenly sampled.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np

MAX_SNAPSHOTS = 2000


class RunRecord:
    """The accumulated frames of one run."""

    def __init__(self, max_snapshots: int = MAX_SNAPSHOTS):
        self.max_snapshots = max_snapshots
        self.info: dict[str, Any] = {}
        self.columns: dict[str, np.ndarray] = {}
        self.rows = 0
        self.snapshots: list[dict[str, Any]] = []
        self.transitions: dict[str, list[tuple[float, str, str]]] = {}
        self.summary: dict[str, Any] | None = None
        self.blast: list[dict[str, Any]] | None = None

    # -- filling ---------------------------------------------------------------------------

    def start(self, info: dict[str, Any]) -> None:
        self.info = info

    @property
    def horizon(self) -> float:
        return float(self.info.get("horizon", 0.0))

    @property
    def faults(self) -> list[dict[str, Any]]:
        """Each fault's window: as planned while the run goes, as it acted once the summary
        is in (a bad version rolled back ends at its rollback, not at the end of the run)."""
        if self.summary and "faults" in self.summary:
            return self.summary["faults"]
        return self.info.get("faults", [])

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.snapshots[-1] if self.snapshots else None

    @property
    def now(self) -> float:
        return self.snapshots[-1]["time"] if self.snapshots else 0.0

    def add_frame(self, frame: dict[str, Any]) -> None:
        start = frame["rows_from"]
        incoming = frame["columns"]
        count = len(incoming["time_s"])
        size = max(int(self.info.get("rows", 0)), start + count)
        for key, values in incoming.items():
            column = self.columns.get(key)
            if column is None or len(column) < size:
                column = self._grow(column, size)
                self.columns[key] = column
            column[start : start + count] = values
        self.rows = max(self.rows, start + count)
        for edge, moves in frame["transitions"].items():
            self.transitions.setdefault(edge, []).extend(moves)
        self._keep(frame["snapshot"])

    @staticmethod
    def _grow(column: np.ndarray | None, size: int) -> np.ndarray:
        grown = np.full(size, np.nan)
        if column is not None:
            grown[: len(column)] = column
        return grown

    def _keep(self, snapshot: dict[str, Any]) -> None:
        if self.snapshots and snapshot["time"] <= self.snapshots[-1]["time"]:
            self.snapshots[-1] = snapshot
            return
        self.snapshots.append(snapshot)
        if len(self.snapshots) > self.max_snapshots:
            last = self.snapshots[-1]
            self.snapshots = [*self.snapshots[:-1:2], last]

    # -- reading ---------------------------------------------------------------------------

    def columns_at(self, t: float | None = None) -> dict[str, np.ndarray]:
        """The time series as it stood at simulated time ``t`` (default: everything)."""
        rows = self.rows
        if t is not None and self.info:
            rows = min(rows, max(1, int(np.ceil(t / self.info["bucket"] - 1e-9))))
        return {k: v[:rows] for k, v in self.columns.items()}

    def snapshot_at(self, t: float) -> dict[str, Any] | None:
        """The last snapshot taken at or before ``t`` (the first one if ``t`` is earlier)."""
        if not self.snapshots:
            return None
        times = [s["time"] for s in self.snapshots]
        i = bisect.bisect_right(times, t + 1e-9) - 1
        return self.snapshots[max(i, 0)]

    def breaker_states(self, edge: str, until: float | None = None) -> list[tuple[float, str]]:
        """(time, state) steps of ``edge``'s breaker from 0, closed first."""
        steps = [(0.0, "closed")]
        for t, _, to in self.transitions.get(edge, []):
            if until is not None and t > until:
                break
            steps.append((t, to))
        return steps
