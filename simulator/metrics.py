"""Streaming recorders whose memory does not grow with the number of requests.

- ``LogHistogram``: log-spaced bins, so any percentile is within ``rel_error``
  of the true value (1% by default), in a fixed number of bins.
- ``Series``: counters in fixed time buckets over the run's horizon.
- ``TimeAverage``: the time integral of a level (busy workers, queue length),
  the raw material of utilisation and of Little's law.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["LogHistogram", "Series", "TimeAverage"]

_MIN_VALUE = 1e-6  # a microsecond: anything faster is recorded as a microsecond
_MAX_VALUE = 1e6  # about eleven days


class LogHistogram:
    """Counts of values in bins ``(g^(i-1), g^i]``; a percentile is reported at the bin's centre."""

    __slots__ = ("_counts", "_inv_log", "_offset", "count", "gamma", "maximum", "total")

    def __init__(self, rel_error: float = 0.01):
        # A bin (g^(i-1), g^i] reported at 2g^i/(g+1) is off by at most (g-1)/(g+1).
        self.gamma = (1 + rel_error) / (1 - rel_error)
        self._inv_log = 1.0 / math.log(self.gamma)
        self._offset = -math.floor(math.log(_MIN_VALUE) * self._inv_log)
        size = self._offset + math.ceil(math.log(_MAX_VALUE) * self._inv_log) + 2
        self._counts = [0] * size
        self.count = 0
        self.total = 0.0
        self.maximum = 0.0

    def record(self, value: float) -> None:
        self.count += 1
        self.total += value
        if value > self.maximum:
            self.maximum = value
        if value < _MIN_VALUE:
            value = _MIN_VALUE
        elif value > _MAX_VALUE:
            value = _MAX_VALUE
        self._counts[math.ceil(math.log(value) * self._inv_log) + self._offset] += 1

    def record_in(self, value: float, index: int) -> None:
        """``record(value)`` when the caller already knows the value's bin ``index``."""
        self.count += 1
        self.total += value
        if value > self.maximum:
            self.maximum = value
        self._counts[index] += 1

    def merge(self, other: LogHistogram) -> None:
        for i, c in enumerate(other._counts):
            if c:
                self._counts[i] += c
        self.count += other.count
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    def _value_of(self, index: int) -> float:
        upper = self.gamma ** (index - self._offset)
        return 2 * upper / (self.gamma + 1)

    def percentile(self, q: float) -> float:
        """The value below which ``q`` percent of recorded values fall (NaN when empty)."""
        return self.percentiles([q])[0]

    def percentiles(self, qs: Iterable[float]) -> list[float]:
        qs = list(qs)
        if not self.count:
            return [math.nan] * len(qs)
        cumulative = np.cumsum(self._counts)
        out = []
        for q in qs:
            rank = max(1, math.ceil(q / 100.0 * self.count))
            index = int(np.searchsorted(cumulative, rank))
            out.append(min(self._value_of(index), self.maximum))
        return out


class Series:
    """Per-bucket counters over ``[0, horizon)``; one array per named quantity."""

    def __init__(self, horizon: float, bucket: float, names: Iterable[str]):
        self.bucket = bucket
        self.size = max(1, math.ceil(horizon / bucket - 1e-9))
        self.data = {name: np.zeros(self.size) for name in names}
        # The same memory seen as memoryviews: ``tally[name][i] += 1`` costs a third of a
        # numpy scalar update and is what the per-request hot paths use. (Through ``.data``
        # because numpy's stubs declare the buffer protocol only from Python 3.12.)
        self.tally: dict[str, memoryview[float]] = {
            name: memoryview(values.data) for name, values in self.data.items()
        }

    def index(self, now: float) -> int:
        i = int(now / self.bucket)
        return i if i < self.size else self.size - 1

    def add(self, name: str, now: float, amount: float = 1.0) -> None:
        self.tally[name][self.index(now)] += amount

    def times(self) -> np.ndarray:
        return np.arange(self.size) * self.bucket


class TimeAverage:
    """The integral over time of a level that changes in steps."""

    __slots__ = ("area", "last", "level", "peak")

    def __init__(self) -> None:
        self.level = 0
        self.area = 0.0
        self.last = 0.0
        self.peak = 0

    def change(self, now: float, delta: int) -> None:
        self.area += self.level * (now - self.last)
        self.last = now
        self.level += delta
        if self.level > self.peak:
            self.peak = self.level

    def area_until(self, now: float) -> float:
        return self.area + self.level * (now - self.last)


OUTCOMES = ("ok", "fallback", "error", "timeout", "rejected", "breaker_open", "shed")
ROUTE_SERIES = ("requests", "goodput", "failed", *OUTCOMES)


class RouteStats:
    """One entry route: every request's single outcome, its latency, and both over time.

    Totals count every request; ``steady`` counts and the latency histogram only
    those that started after the warm-up. Latency over time uses a coarser
    histogram per time bucket (about 5%), so a plot of p99 costs a few hundred
    integers per bucket, not one float per request. It holds answered requests
    only (ok and fallback): a fast rejection is not a fast answer, and failures
    have their own series.
    """

    COARSE = 5  # five 1%-bins make one coarse bin

    def __init__(self, series: Series, warmup: float):
        self.series = series
        self.warmup = warmup
        self.started_total = 0
        self.outcomes_total: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        self.steady: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        self.steady_started = 0
        self.latency = LogHistogram()
        self.ok_latency = LogHistogram()
        bins = len(self.latency._counts) // self.COARSE + 1
        self.bucketed = np.zeros((series.size, bins), dtype=np.int32)
        self._bins = bins
        self._bucketed_flat = self.bucketed.reshape(-1).data  # same memory, row-major

    def started(self, now: float) -> None:
        self.started_total += 1
        if now >= self.warmup:
            self.steady_started += 1
        self.series.tally["requests"][self.series.index(now)] += 1

    def ended(self, t0: float, now: float, outcome: str) -> None:
        self.outcomes_total[outcome] += 1
        i = self.series.index(now)
        data = self.series.tally
        data[outcome][i] += 1
        latency = now - t0
        if outcome == "ok" or outcome == "fallback":
            data["goodput"][i] += 1
            value = min(max(latency, _MIN_VALUE), _MAX_VALUE)
            fine = math.ceil(math.log(value) * self.latency._inv_log) + self.latency._offset
            self._bucketed_flat[i * self._bins + fine // self.COARSE] += 1
            if t0 >= self.warmup:
                # Both histograms share the fine bins: one logarithm serves all three records.
                self.steady[outcome] += 1
                self.latency.record_in(latency, fine)
                if outcome == "ok":
                    self.ok_latency.record_in(latency, fine)
            return
        data["failed"][i] += 1
        if t0 >= self.warmup:
            self.steady[outcome] += 1
            self.latency.record(latency)

    @property
    def in_flight(self) -> int:
        return self.started_total - sum(self.outcomes_total.values())

    def percentile_series(self, q: float) -> np.ndarray:
        """The ``q``-th percentile of answered requests' latency per bucket (NaN: none)."""
        counts = self.bucketed
        totals = counts.sum(axis=1)
        cumulative = np.cumsum(counts, axis=1)
        ranks = np.maximum(1, np.ceil(q / 100.0 * totals))
        index = (cumulative < ranks[:, None]).sum(axis=1)
        gamma = self.latency.gamma
        upper = gamma ** ((index + 1) * self.COARSE - 1 - self.latency._offset)
        lower = gamma ** (index * self.COARSE - 1 - self.latency._offset)
        values = np.sqrt(upper * lower)
        return np.where(totals > 0, values, np.nan)
