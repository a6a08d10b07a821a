"""Retry backoff strategies: "how long to wait before attempt n".

The jittered strategies follow the AWS Architecture Blog post "Exponential
Backoff And Jitter" (Marc Brooker, 2015), with ``v = min(cap, base·2ⁿ)``:

- ``full_jitter``: ``U(0, v)``
- ``equal_jitter``: ``v/2 + U(0, v/2)``
- ``decorrelated_jitter``: ``min(cap, U(base, 3·previous))``, ``previous`` starting at ``base``

``multiplier`` replaces the 2 of ``2ⁿ`` (resilience4j's exponential backoff grows
by 1.5 unless told). ``randomization`` ``f`` is resilience4j's randomized wait:
``fixed`` waits ``U(base·(1−f), base·(1+f))``, ``exponential`` ``min(cap,
U(g·(1−f), g·(1+f)))`` with ``g = base·multiplierⁿ`` (capped after the draw, as
resilience4j's ``ofExponentialRandomBackoff`` does). Both default to today's
behaviour and draw nothing more from the stream unless set.

Decorrelated jitter carries state (the previous sleep). That state belongs to
one request's retries, so it lives in a :class:`RetrySequence` made fresh per
request; a shared :class:`Backoff` would correlate unrelated requests.
"""

from __future__ import annotations

import math

from simulator.policies._types import Rng
from simulator.scenario_policies import Retry, RetryStrategy

__all__ = ["Backoff", "RetrySequence", "make_backoff"]

# multiplier**n beyond e**700 already exceeds any cap; stop before floats overflow.
_MAX_GROWTH = 700.0


class Backoff:
    """One call's retry policy, shared by all its requests: strategy, limits, retryable outcomes."""

    def __init__(
        self,
        strategy: RetryStrategy,
        base: float,
        cap: float,
        max_attempts: int,
        retry_on: frozenset[str],
        multiplier: float = 2.0,
        randomization: float = 0.0,
    ) -> None:
        self.strategy = strategy
        self.base = base
        self.cap = cap
        self.max_attempts = max_attempts
        self.retry_on = retry_on
        self.multiplier = multiplier
        self.randomization = randomization
        growth = math.log(multiplier) if multiplier > 1.0 else 0.0
        self._max_steps: float = int(_MAX_GROWTH / growth) if growth else math.inf

    def retryable(self, outcome: str) -> bool:
        """Whether an attempt that ended in ``outcome`` is worth another try."""
        return outcome in self.retry_on

    def sequence(self) -> RetrySequence:
        """A fresh per-request sequence of delays (own decorrelated-jitter state)."""
        return RetrySequence(self)

    def exponential(self, n: int) -> float:
        """``min(cap, base·multiplierⁿ)``, the ceiling the exponential strategies jitter under."""
        return min(self.cap, self.grown(n))

    def grown(self, n: int) -> float:
        """``base·multiplierⁿ`` before the cap (infinite once it would overflow)."""
        if n >= self._max_steps:
            return math.inf
        return self.base * self.multiplier**n

    def randomized(self, wait: float, rng: Rng) -> float:
        """``wait`` drawn within ± ``randomization`` of itself (resilience4j's ``randomize``)."""
        if math.isinf(wait):
            return wait
        delta = self.randomization * wait
        return rng.uniform(wait - delta, wait + delta)

    def __repr__(self) -> str:
        return (
            f"Backoff({self.strategy!r}, base={self.base}, cap={self.cap}, "
            f"max_attempts={self.max_attempts})"
        )


class RetrySequence:
    """The delays of one request's retries; ``next_delay`` is called once per retry."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self.retries = 0
        self._previous = backoff.base

    def next_delay(self, rng: Rng) -> float:
        """Seconds to wait before the next attempt (first call: before the 2nd attempt)."""
        n = self.retries
        self.retries += 1
        b = self.backoff
        match b.strategy:
            case "none" | "immediate":
                return 0.0
            case "fixed":
                return b.randomized(b.base, rng) if b.randomization else b.base
            case "exponential":
                if b.randomization:
                    return min(b.cap, b.randomized(b.grown(n), rng))
                return b.exponential(n)
            case "full_jitter":
                return rng.uniform(0.0, b.exponential(n))
            case "equal_jitter":
                half = b.exponential(n) / 2.0
                return half + rng.uniform(0.0, half)
            case "decorrelated_jitter":
                delay = min(b.cap, rng.uniform(b.base, 3.0 * self._previous))
                self._previous = delay
                return delay
        raise ValueError(f"unknown retry strategy {b.strategy!r}")


def make_backoff(config: Retry) -> Backoff:
    """Build the running backoff from its scenario description."""
    attempts = 1 if config.strategy == "none" else config.attempts
    return Backoff(
        config.strategy,
        config.base,
        config.cap,
        attempts,
        frozenset(config.retry_on),
        config.multiplier,
        config.randomization,
    )
