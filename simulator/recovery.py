"""Recovery after a fault: how long until a route answers as well as it did before.

Two measures. ``recovery_time`` reads bucketed time series (``time_series`` columns,
or the lists a sweep returns) and compares a route with itself before the fault.
``fault_recovery`` (what ``blast_radius[i].recovery_s`` reports, and what the
metastability map draws) compares a route bucket by bucket with the paired run
without the fault: same seed, same arrivals, so "as well as it would have" is known
for every bucket, even in a run whose load changes over time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["fault_recovery", "good_buckets", "recovery_text", "recovery_time", "success_series"]


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


# -- recovery of a fault, against its paired baseline run ------------------------------------

RECOVERY_HOLD = 5
"""Buckets in a row that must answer as well as the baseline: one good bucket is luck."""
RECOVERY_SHARE_SLACK = 0.01
"""Points of ok share a bucket may trail the baseline by: the blast radius's own 1% bar."""
RECOVERY_LATENCY_RATIO = 1.5
"""How much slower a bucket's p99 may be than the baseline's: the blast radius's own bar."""


def _route_arrays(sim: Any, route: str, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bucket of one route: requests answered ok, requests ended, p99 of answers (s)."""
    stats = sim.clients[route].stats
    data = stats.series.data
    ok = np.asarray(data["ok"][:count], dtype=float)
    ended = np.asarray(data["goodput"][:count], dtype=float) + np.asarray(
        data["failed"][:count], dtype=float
    )
    return ok, ended, stats.percentile_series(99)[:count]


def good_buckets(faulty: Any, baseline: Any, route: str) -> np.ndarray:
    """Per bucket: does ``route`` answer as well in ``faulty`` as in its paired ``baseline``?

    As well means: its ok share (fallbacks are not ok: a degraded answer) trails the
    baseline's by at most RECOVERY_SHARE_SLACK plus one request of that bucket (so a
    route with a few requests per bucket is not held down by one unlucky request), and
    its p99 is at most RECOVERY_LATENCY_RATIO times the baseline's. A bucket in which
    the baseline ended requests and the faulty run ended none is not good: its
    requests are stuck.
    """
    count = min(
        faulty.clients[route].stats.series.size, int(np.ceil(faulty.now / faulty.scenario.bucket))
    )
    ok_f, ended_f, p99_f = _route_arrays(faulty, route, count)
    ok_b, ended_b, p99_b = _route_arrays(baseline, route, count)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_f = np.where(ended_f > 0, ok_f / np.maximum(ended_f, 1), np.nan)
        share_b = np.where(ended_b > 0, ok_b / np.maximum(ended_b, 1), 1.0)
        slack = RECOVERY_SHARE_SLACK + 1.0 / np.maximum(ended_f, 1)
        share_ok = np.where(ended_f > 0, share_f >= share_b - slack, ended_b == 0)
        slow = np.isfinite(p99_f) & np.isfinite(p99_b) & (p99_f > RECOVERY_LATENCY_RATIO * p99_b)
    return np.asarray(share_ok & ~slow, dtype=bool)


def fault_recovery(
    faulty: Any, baseline: Any, routes: Sequence[str], fault_end: float, hold: int = RECOVERY_HOLD
) -> tuple[float | None, float | None]:
    """``(recovery_s, recovered_at_s)`` of a fault that degraded ``routes``.

    Recovered at the start of the first bucket, at or after the fault's end, that
    begins ``hold`` buckets in a row in which every route in ``routes`` answers as
    well as in the paired run without the fault (:func:`good_buckets`). ``(0.0,
    end)`` when no route was degraded, or all are already back when it ends;
    ``(None, None)`` when that never happens before the run ends (a metastable
    failure, a fault that lasts to the end, or a run too short to tell).
    """
    if not routes:
        return 0.0, fault_end
    good = np.logical_and.reduce([good_buckets(faulty, baseline, r) for r in routes])
    width = faulty.scenario.bucket
    first = int(np.ceil(fault_end / width - 1e-9))  # the first bucket wholly after the fault
    for i in range(first, len(good) - hold + 1):
        if good[i : i + hold].all():
            at = i * width
            return round(max(0.0, at - fault_end), 6), round(at, 6)
    return None, None


def recovery_text(entry: Mapping[str, Any]) -> str:
    """The words for a blast-radius entry's recovery, as the CLI, the report and the app say it."""
    if not entry.get("routes"):
        return "no route to recover"
    seconds = entry.get("recovery_s")
    if seconds is None:
        return "did not recover before the end"
    if seconds == 0:
        return "recovered as the fault ended"
    return f"recovered {seconds:g} s after the fault ended"
