"""Recovery after a fault: how long until a route answers as well as it did before.

Read from bucketed time series (``simulator.timeseries.time_series`` columns, or
the lists a sweep returns), so it works on one run or on a replication's result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["recovery_time", "success_series"]


def success_series(columns: Mapping[str, Sequence[float | None]], route: str | None = None):
    """Per-bucket success rate (answered / ended) of one route, or of all routes together.

    Buckets in which no request ended are NaN.
    """
    names = (
        [route] if route else sorted({k.split(".")[1] for k in columns if k.startswith("route.")})
    )
    good = sum(np.asarray(columns[f"route.{n}.goodput"], dtype=float) for n in names)
    failed = sum(np.asarray(columns[f"route.{n}.failed"], dtype=float) for n in names)
    ended = good + failed
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ended > 0, good / np.where(ended > 0, ended, 1), np.nan)


def recovery_time(
    columns: Mapping[str, Sequence[float | None]],
    fault_start: float,
    fault_end: float,
    route: str | None = None,
    threshold: float = 0.99,
    hold: int = 5,
    warmup: float = 0.0,
) -> float | None:
    """Seconds after ``fault_end`` until success holds ``threshold`` × baseline ``hold`` buckets.

    The baseline is the mean success rate between ``warmup`` and ``fault_start``.
    Returns 0.0 if the route is already back when the fault ends, and None if it
    never recovers before the run ends (a metastable failure, or a run too short).
    """
    times = np.asarray(columns["time_s"], dtype=float)
    rate = success_series(columns, route)
    before = rate[(times >= warmup) & (times + _width(times) <= fault_start)]
    baseline = float(np.nanmean(before)) if np.isfinite(before).any() else 1.0
    good = np.nan_to_num(rate, nan=0.0) >= threshold * baseline
    start = int(np.searchsorted(times, fault_end - 1e-9))
    for i in range(start, len(times) - hold + 1):
        if good[i : i + hold].all():
            return max(0.0, float(times[i]) - fault_end)
    return None


def _width(times: np.ndarray) -> float:
    return float(times[1] - times[0]) if len(times) > 1 else 1.0
