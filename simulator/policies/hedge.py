"""Hedged requests: when to send another attempt, and whether the budget allows it.

The model is Finagle's backup requests (``BackupRequestFilter``), which is Dean
and Barroso's "tail at scale" hedge made safe:

- **The delay** is fixed, or a percentile of the call's recent attempt
  latencies: the last ``HEDGE_WINDOW`` attempts that succeeded or timed out,
  and the losers a winner superseded, with the time they had taken when
  cancelled (a lower bound), as Finagle records them; other failures are left
  out, since a fast failure would pull the delay down. The percentile
  is recomputed every ``REFRESH`` samples, not per request, so a hedged call
  costs a sort of the window per hundred attempts. Until ``HEDGE_MIN_SAMPLES``
  latencies are known there is no delay and so no hedge: a guessed delay on a
  cold call could double its load.
- **The budget** is count-based over a sliding 10 s window (Finagle's
  ``maxExtraLoad`` over its retry budget's 10 s ``ttl``): a hedge may go out while
  ``hedges + 1 <= budget x requests`` over the window. Unlike gRPC's token bucket
  (which only reacts to failures) it bounds the extra load when every replica is
  merely slow, which is when hedges fire most.

The request's own state (its attempts in flight, who won) lives in
``simulator.hedging``; this object holds what the call shares across requests.
"""

from __future__ import annotations

import math

from simulator.policies._window import SlidingCounts
from simulator.scenario_policies import HEDGE_MIN_SAMPLES, HEDGE_WINDOW
from simulator.scenario_policies import Hedge as HedgeConfig

__all__ = ["BUDGET_WINDOW", "REFRESH", "HedgePolicy"]

BUDGET_WINDOW = 10.0
"""Seconds of requests and hedges the budget weighs (Finagle's retry budget ``ttl``)."""

REFRESH = 100
"""A percentile delay is recomputed after this many new latencies."""


class HedgePolicy:
    """The call's hedge delay and budget, shared by every request across the edge."""

    def __init__(self, config: HedgeConfig) -> None:
        self.max_hedges = config.max_hedges
        self.share = config.budget
        self.cancel_loser = config.cancel_loser
        self.fixed = config.delay
        self.percentile = config.percentile
        self._samples: list[float] = []  # a ring of the last HEDGE_WINDOW latencies
        self._next = 0  # where the next sample goes once the ring is full
        self._fresh = 0  # samples since the delay was last computed
        self._delay: float | None = self.fixed
        self._counts = SlidingCounts(BUDGET_WINDOW, 2) if self.share < 1.0 else None
        self.sent = 0
        self.denied = 0

    # -- the delay -----------------------------------------------------------------------------

    def delay(self) -> float | None:
        """Seconds to wait before hedging an attempt; None: too few latencies to tell yet."""
        return self._delay

    def observe(self, latency: float) -> None:
        """An attempt's latency (answered, timed out or superseded): feeds a percentile delay."""
        if self.percentile is None:
            return
        samples = self._samples
        if len(samples) < HEDGE_WINDOW:
            samples.append(latency)
        else:
            samples[self._next] = latency
            self._next = (self._next + 1) % HEDGE_WINDOW
        self._fresh += 1
        if len(samples) >= HEDGE_MIN_SAMPLES and (self._delay is None or self._fresh >= REFRESH):
            self._delay = _percentile(samples, self.percentile)
            self._fresh = 0

    # -- the budget ----------------------------------------------------------------------------

    def request_started(self, now: float) -> None:
        """A request crossed the edge: it earns the budget ``share`` of a hedge."""
        if self._counts is not None:
            self._counts.add(now, 1, 0)

    def may_hedge(self, now: float) -> bool:
        """True (and the hedge counted) if one more hedge fits the budget now."""
        counts = self._counts
        if counts is not None:
            requests, hedges = counts.totals(now)
            if hedges + 1 > self.share * requests + 1e-9:
                self.denied += 1
                return False
            counts.add(now, 0, 1)
        self.sent += 1
        return True


def _percentile(samples: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest sample with at least ``share`` at or below it."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
