"""Client-side adaptive throttling, as in the Google SRE book ("Handling Overload").

Each client remembers, over a sliding window, how many requests the application
tried (``requests``) and how many the backend accepted (``accepts``). Once the
backend refuses a lot, the client rejects new requests locally with probability
``max(0, (requests − K·accepts) / (requests + 1))`` so a refusing backend is not
also swamped by requests it will refuse. Locally rejected requests still count
in ``requests``: that is what keeps the probability up while the backend is sick
and lets it decay once accepts resume.
"""

from __future__ import annotations

from simulator.policies._types import Rng
from simulator.policies._window import SlidingCounts
from simulator.scenario_policies import AdaptiveThrottling

__all__ = ["AdaptiveThrottle"]

_REQUESTS, _ACCEPTS = 0, 1


class AdaptiveThrottle:
    """Per-client throttle: ``may_send`` before each request, ``record_accept`` on an answer."""

    def __init__(self, config: AdaptiveThrottling) -> None:
        self.k = config.k
        self.window = config.window
        self._counts = SlidingCounts(config.window, fields=2)
        self.local_rejects = 0

    def counts(self, now: float) -> tuple[int, int]:
        """``(requests, accepts)`` over the window ending at ``now``."""
        requests, accepts = self._counts.totals(now)
        return requests, accepts

    def rejection_probability(self, now: float) -> float:
        """The chance the next request is rejected locally (before it is counted)."""
        requests, accepts = self.counts(now)
        return max(0.0, (requests - self.k * accepts) / (requests + 1))

    def may_send(self, now: float, rng: Rng) -> bool:
        """Whether to send a request now; it counts as a request either way.

        The random stream is consulted only when the probability is positive, so
        a healthy backend leaves the stream untouched.
        """
        p = self.rejection_probability(now)
        self._counts.add(now, 1, 0)
        if p > 0.0 and rng.random() < p:
            self.local_rejects += 1
            return False
        return True

    def record_accept(self, now: float) -> None:
        """The backend answered (ok or an application error), i.e. it did not refuse."""
        self._counts.add(now, 0, 1)
