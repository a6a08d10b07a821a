"""A circuit breaker with resilience4j's semantics, and the simple "N failures in T" form.

States and moves (resilience4j ``CircuitBreakerStateMachine``):

- ``closed``: every call is permitted; outcomes fill a sliding window (the last
  ``window_calls`` calls, or the calls of the last ``window`` seconds kept in
  bucketed partial counts). Once the window holds ``min_calls`` calls (capped at
  ``window_calls`` for a count window, as resilience4j does) the breaker opens
  when the failure rate reaches ``failure_rate`` or the slow-call rate reaches
  ``slow_call_rate``. A rate is only judged when at least one such call exists,
  so a 0% threshold means "on the first failure", not "always".
- ``open``: calls are rejected until ``open_for`` has passed; the next
  ``try_acquire`` then moves to ``half_open`` (resilience4j's default, no
  automatic transition without traffic).
- ``half_open``: exactly ``half_open_calls`` trial calls are permitted, more are
  rejected. When that many outcomes are recorded the breaker closes (with a fresh
  window) if their failure rate and slow rate are below the thresholds, and opens
  again otherwise.

The simple form (``failures`` set) opens on the ``failures``-th failure within
``within`` seconds (exact: it keeps the last ``failures`` failure times), ignoring
rates and ``min_calls`` while closed; open and half-open behave as above (the
half-open verdict uses ``failure_rate`` and the slow-call thresholds in both forms).

Half-open permits are not handed back one by one: the episode ends, and its
permits with it, once ``half_open_calls`` outcomes are recorded. As in
resilience4j without ``maxWaitDurationInHalfOpenState``, a permitted call whose
outcome is never recorded would hold half-open; the engine records an outcome
for every permitted call (a timeout or a downstream rejection is an outcome), so
half-open always reaches its verdict. Outcomes recorded while
``open`` belong to calls permitted earlier and are ignored, as resilience4j
discards the open state's metrics; a late closed-era outcome recorded in
``half_open`` counts as a trial outcome, as it does in resilience4j.
"""

from __future__ import annotations

from collections import deque

from simulator.policies._window import SlidingCounts
from simulator.scenario_policies import Breaker

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "CircuitBreaker"]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
_EPSILON = 1e-12


class _CountWindow:
    """The last ``size`` outcomes as (failed, slow) flags with running sums."""

    def __init__(self, size: int) -> None:
        self._calls: deque[tuple[bool, bool]] = deque(maxlen=size)
        self._failures = 0
        self._slows = 0

    def add(self, now: float, failed: bool, slow: bool) -> None:
        if len(self._calls) == self._calls.maxlen:
            old_failed, old_slow = self._calls[0]
            self._failures -= old_failed
            self._slows -= old_slow
        self._calls.append((failed, slow))
        self._failures += failed
        self._slows += slow

    def stats(self, now: float) -> tuple[int, int, int]:
        return len(self._calls), self._failures, self._slows

    def clear(self) -> None:
        self._calls.clear()
        self._failures = self._slows = 0


class _TimeWindow:
    """Calls, failures and slow calls over the last ``window`` seconds, bucketed."""

    def __init__(self, window: float) -> None:
        self._counts = SlidingCounts(window, fields=3)

    def add(self, now: float, failed: bool, slow: bool) -> None:
        self._counts.add(now, 1, int(failed), int(slow))

    def stats(self, now: float) -> tuple[int, int, int]:
        calls, failures, slows = self._counts.totals(now)
        return calls, failures, slows

    def clear(self) -> None:
        self._counts.clear()


def _exceeds(count: int, calls: int, threshold: float) -> bool:
    # Rates as fractions; the epsilon keeps 3/10 at or above a 30% threshold read as 0.3.
    return count > 0 and count / calls >= threshold - _EPSILON


class CircuitBreaker:
    """The breaker of one call: ``try_acquire`` before it, ``record`` its outcome after."""

    def __init__(self, config: Breaker) -> None:
        self.config = config
        self.state = CLOSED
        self.transitions: list[tuple[float, str, str]] = []
        self.opens = 0
        self.rejected = 0
        self._slow_after = config.slow_call_duration
        self._window: _CountWindow | _TimeWindow
        if config.window is not None:
            self._window = _TimeWindow(config.window)
            self._min_calls = config.min_calls
        else:
            self._window = _CountWindow(config.window_calls)
            self._min_calls = min(config.min_calls, config.window_calls)
        self._failure_times: deque[float] | None = (
            deque(maxlen=config.failures) if config.failures is not None else None
        )
        self._opened_at = 0.0
        self._open_total = 0.0
        self._trial_permits = 0
        self._trial_calls = self._trial_failures = self._trial_slows = 0

    def try_acquire(self, now: float) -> bool:
        """May a call go now? A refusal counts in ``rejected``."""
        if self.state == OPEN and now >= self._opened_at + self.config.open_for:
            self._move(now, HALF_OPEN)
        if self.state == CLOSED:
            return True
        if self.state == HALF_OPEN and self._trial_permits < self.config.half_open_calls:
            self._trial_permits += 1
            return True
        self.rejected += 1
        return False

    def record(self, now: float, outcome: str, duration: float) -> None:
        """A permitted call finished with ``outcome`` after ``duration`` seconds."""
        failed = outcome in self.config.record_on
        slow = self._slow_after is not None and duration >= self._slow_after
        if self.state == CLOSED:
            self._window.add(now, failed, slow)
            if self._tripped(now, failed):
                self._move(now, OPEN)
        elif self.state == HALF_OPEN:
            self._trial_calls += 1
            self._trial_failures += failed
            self._trial_slows += slow
            if self._trial_calls >= self.config.half_open_calls:
                self._move(now, OPEN if self._trial_failed() else CLOSED)

    def release(self) -> None:
        """A permitted call was cancelled by its caller: it records nothing, and a half-open
        trial permit goes back (resilience4j's ``releasePermission``), so half-open still
        reaches its verdict."""
        if self.state == HALF_OPEN and self._trial_permits > 0:
            self._trial_permits -= 1

    def time_open(self, now: float) -> float:
        """Total seconds spent in the ``open`` state (not ``half_open``) up to ``now``.

        ``open`` lasts until the first ``try_acquire`` after ``open_for``, since the
        move to half-open is lazy.
        """
        if self.state == OPEN:
            return self._open_total + (now - self._opened_at)
        return self._open_total

    def stats(self, now: float) -> tuple[int, int, int]:
        """``(calls, failures, slow calls)`` in the closed-state window."""
        return self._window.stats(now)

    def _tripped(self, now: float, failed: bool) -> bool:
        if self._failure_times is not None:
            if not failed:
                return False
            self._failure_times.append(now)
            oldest = self._failure_times[0]
            full = len(self._failure_times) == self._failure_times.maxlen
            return full and now - oldest <= self.config.within
        calls, failures, slows = self._window.stats(now)
        if calls < self._min_calls:
            return False
        return self._rates_exceeded(calls, failures, slows)

    def _trial_failed(self) -> bool:
        return self._rates_exceeded(self._trial_calls, self._trial_failures, self._trial_slows)

    def _rates_exceeded(self, calls: int, failures: int, slows: int) -> bool:
        if _exceeds(failures, calls, self.config.failure_rate):
            return True
        return self._slow_after is not None and _exceeds(slows, calls, self.config.slow_call_rate)

    def _move(self, now: float, to: str) -> None:
        if self.state == OPEN:
            self._open_total += now - self._opened_at
        self.transitions.append((now, self.state, to))
        self.state = to
        # Each state starts with fresh metrics, as resilience4j builds a new state object.
        self._window.clear()
        if self._failure_times is not None:
            self._failure_times.clear()
        self._trial_permits = 0
        self._trial_calls = self._trial_failures = self._trial_slows = 0
        if to == OPEN:
            self.opens += 1
            self._opened_at = now

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state!r}, opens={self.opens})"
