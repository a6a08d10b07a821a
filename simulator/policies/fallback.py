"""What a failed call answers instead: a cached value, a default, or nothing.

A cached fallback (Hystrix's "fallback via cache", Polly's ``Fallback`` fed by a
cache) only helps while the cache is fresh: it can answer only if the call
succeeded within ``max_age``. A default value always answers; ``fail`` never does.
"""

from __future__ import annotations

from simulator.scenario_policies import Fallback

__all__ = ["FallbackPolicy"]


class FallbackPolicy:
    """``record_success`` on every success; ``answer`` when the call failed."""

    def __init__(self, config: Fallback) -> None:
        self.kind = config.kind
        self.max_age = config.max_age
        self.last_success: float | None = None
        self.served = 0
        self.stale_refusals = 0

    def record_success(self, now: float) -> None:
        """The real call succeeded at ``now``: the cache holds a value this fresh."""
        self.last_success = now

    def answer(self, now: float) -> bool:
        """Whether the fallback can answer for a failed call at ``now``.

        A cached fallback with no success yet, or a last success older than
        ``max_age``, refuses; that counts in ``stale_refusals``.
        """
        if self.kind == "fail":
            return False
        if self.kind == "cached" and (
            self.last_success is None or now - self.last_success > self.max_age
        ):
            self.stale_refusals += 1
            return False
        self.served += 1
        return True
