"""Streaming recorders whose memory does not grow with the number of requests.

- ``LogHistogram``: log-spaced bins, so any percentile is within ``rel_error``
  of the true value (1% by default), in a fixed number of bins.
- ``Series``: counters in fixed time buckets over the run's horizon.
- ``TimeAverage``: the time integral of a level (busy workers, queue length),
  the raw material of utilisation and of Little's law.
- ``Rollup``: fills a ``Series`` once per bucket from cumulative readings, so the
  per-request cost of a time series is one integer addition.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

__all__ = ["LogHistogram", "PeakRollup", "Rollup", "Series", "TimeAverage"]

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
    """Per-bucket values over ``[0, horizon)``; one array per named quantity (see Rollup)."""

    def __init__(self, horizon: float, bucket: float, names: Iterable[str]):
        self.bucket = bucket
        self.size = max(1, math.ceil(horizon / bucket - 1e-9))
        self.data = {name: np.zeros(self.size) for name in names}


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


class Rollup:
    """Per-bucket values of a Series, computed from cumulative readings at bucket ends.

    A count per bucket is the difference of a cumulative counter's readings at the
    bucket's two ends; a mean level (``levels``) is the difference of a time
    integral divided by the time elapsed; a sample (``samples``) is the reading
    itself at the bucket's end. The engine closes a bucket at each
    boundary and flushes the open one whenever it stops, so the series is always
    complete up to the current time. Recording an event costs the recorder one
    integer addition instead of an index computation and an array update.
    """

    def __init__(
        self,
        series: Series,
        readings: dict[str, Callable[[float], float]],
        levels: Iterable[str] = (),
        samples: Iterable[str] = (),
    ):
        self.series = series
        self.readings = readings
        self.levels = frozenset(levels)
        self.samples = frozenset(samples)  # written as read at the bucket's end (an age, a size)
        self.base = dict.fromkeys(readings, 0.0)
        self.open = 0  # the bucket now accumulating
        self.opened_at = 0.0

    def _write(self, now: float) -> dict[str, float]:
        values = {name: read(now) for name, read in self.readings.items()}
        if self.open >= self.series.size:
            return values
        elapsed = now - self.opened_at
        for name, value in values.items():
            if name in self.samples:
                self.series.data[name][self.open] = value
                continue
            delta = value - self.base[name]
            if name in self.levels:
                if elapsed <= 0:
                    continue
                delta /= elapsed
            self.series.data[name][self.open] = delta
        return values

    def close(self, now: float) -> None:
        """The open bucket ends at ``now``: write its final values and open the next."""
        self.base = self._write(now)
        self.open += 1
        self.opened_at = now

    def flush(self, now: float) -> None:
        """Write the open bucket's values so far (the engine stopped mid-bucket)."""
        self._write(now)


class PeakRollup(Rollup):
    """The highest value of one level in each bucket, for a level its owner watches.

    The owner calls ``note(value)`` wherever the level may peak (a rise, and
    just before a fall if the level also grows between events); the bucket's
    value is the highest noted, or the level at the bucket's end if higher.
    A new bucket starts from the level at its start.
    """

    def __init__(self, series: Series, name: str, level: Callable[[float], float]):
        self.level = level
        self.peak = 0.0
        super().__init__(series, {name: self._highest}, samples=(name,))

    def _highest(self, now: float) -> float:
        return max(self.peak, self.level(now))

    def note(self, value: float) -> None:
        if value > self.peak:
            self.peak = value

    def close(self, now: float) -> None:
        super().close(now)
        self.peak = self.level(now)


def _reader(counts: dict[str, int], key: str) -> Callable[[float], float]:
    return lambda _now: counts[key]


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
        self.rollup = self._rollup()

    def _rollup(self) -> Rollup:
        totals = self.outcomes_total
        readings: dict[str, Callable[[float], float]] = {
            "requests": lambda _now: self.started_total,
            "goodput": lambda _now: totals["ok"] + totals["fallback"],
            "failed": lambda _now: sum(totals.values()) - totals["ok"] - totals["fallback"],
        }
        for outcome in OUTCOMES:
            readings[outcome] = _reader(totals, outcome)
        return Rollup(self.series, readings)

    def started(self, now: float) -> None:
        self.started_total += 1
        if now >= self.warmup:
            self.steady_started += 1

    def ended(self, t0: float, now: float, outcome: str) -> None:
        self.outcomes_total[outcome] += 1
        latency = now - t0
        if outcome == "ok" or outcome == "fallback":
            value = min(max(latency, _MIN_VALUE), _MAX_VALUE)
            fine = math.ceil(math.log(value) * self.latency._inv_log) + self.latency._offset
            row = self.rollup.open  # the bucket now accumulating, as for the counts
            self._bucketed_flat[row * self._bins + fine // self.COARSE] += 1
            if t0 >= self.warmup:
                # Both histograms share the fine bins: one logarithm serves all three records.
                self.steady[outcome] += 1
                self.latency.record_in(latency, fine)
                if outcome == "ok":
                    self.ok_latency.record_in(latency, fine)
            return
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
