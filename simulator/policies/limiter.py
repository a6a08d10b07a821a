"""Load shedding at a node's entry: a token bucket or a cap on requests in flight.

The token bucket (as in Envoy's local rate limit or Guava's ``RateLimiter``
without warm-up) refills ``rate`` tokens per second up to ``burst`` and starts
full: short bursts pass, the long-run admitted rate is ``rate``. Max-in-flight
(a concurrency limit, like Envoy's ``max_requests``) sheds when ``max_in_flight``
requests are inside the node. An adaptive limit (``concurrency.py``) moves that
cap with latency. All expose ``allow(now)`` and ``release()`` so the
engine treats them alike; the bucket's ``release`` does nothing.
"""

from __future__ import annotations

from simulator.policies._types import Admission, Rng
from simulator.policies.concurrency import AdaptiveLimiter
from simulator.scenario_policies import Limiter

__all__ = ["MaxInFlight", "TokenBucket", "make_limiter"]

# Refill arithmetic in floats: 10 steps of 0.1 s at 10/s must buy a whole token.
_EPSILON = 1e-9


class TokenBucket:
    """Admit a request if a token is left; tokens refill continuously at ``rate``."""

    def __init__(self, config: Limiter) -> None:
        self.rate = config.rate
        self.burst = config.burst
        self.tokens = float(config.burst)
        self._last: float | None = None
        self.admitted = 0
        self.shed = 0

    def allow(self, now: float) -> bool:
        """Take a token if one is there; a refusal counts in ``shed``."""
        if self._last is not None and now > self._last:
            self.tokens = min(float(self.burst), self.tokens + (now - self._last) * self.rate)
        if self._last is None or now > self._last:
            self._last = now
        if self.tokens >= 1.0 - _EPSILON:
            self.tokens = max(0.0, self.tokens - 1.0)
            self.admitted += 1
            return True
        self.shed += 1
        return False

    def release(self) -> None:
        """Nothing to give back: tokens are not tied to a request's lifetime."""


class MaxInFlight:
    """Admit a request while fewer than ``max_in_flight`` are inside."""

    def __init__(self, config: Limiter) -> None:
        self.limit = config.max_in_flight
        self.in_flight = 0
        self.max_seen = 0
        self.admitted = 0
        self.shed = 0

    def allow(self, now: float) -> bool:
        """Admit if below the limit; a refusal counts in ``shed``."""
        if self.in_flight >= self.limit:
            self.shed += 1
            return False
        self.in_flight += 1
        self.max_seen = max(self.max_seen, self.in_flight)
        self.admitted += 1
        return True

    def release(self) -> None:
        """An admitted request left the node."""
        if self.in_flight <= 0:
            raise RuntimeError("release without a matching allow")
        self.in_flight -= 1


def make_limiter(config: Limiter, rng: Rng | None = None) -> Admission:
    """Build the running limiter its description asks for (``rng``: an adaptive limit's own
    stream, which Vegas draws its probe jitter from)."""
    if config.kind == "token_bucket":
        return TokenBucket(config)
    if config.kind == "max_in_flight":
        return MaxInFlight(config)
    if rng is None:
        raise ValueError(f"an adaptive limit ({config.kind}) needs its random stream")
    return AdaptiveLimiter(config, rng)
