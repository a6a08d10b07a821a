"""A load balancer: a ``Server`` that sends each request to ONE of its calls, not to all.

It is a pass-through (zero service time, unlimited concurrency, no queue), so
what it adds to a request is only the choice of backend. That choice is the
lesson: round robin keeps feeding a slow instance its equal share, while
least-outstanding notices the requests piling up there and sends elsewhere.
Only the call selection differs from a plain service; ``Server._next_call``,
the hot path of every service, is left as it was.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from simulator.components.base import Job, avoid_of, no_time
from simulator.components.kind import NodeKind, World
from simulator.components.service import OWN_HOOKS, Server, server_options
from simulator.scenario import Balancer as BalancerSpec

if TYPE_CHECKING:
    from simulator.calls import CallSite

__all__ = ["KIND", "Balancer"]


class Balancer(Server):
    """Chooses a backend per request by ``strategy``; the chosen call's outcome is the answer.

    ``job.step`` holds the chosen backend's index + 1 while the call is out, so the
    reply knows whose in-flight count to lower (0: not sent yet).
    """

    def __init__(self, *args: Any, strategy: str, health_check: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.strategy, self.health_check = strategy, health_check
        self.outstanding: list[int] = []  # this balancer's requests in flight, per backend
        self.chosen: list[int] = []  # requests sent, per backend
        self._turn = 0  # round robin's next backend (also least_outstanding's tie-break start)
        # Set by a hedged call to this balancer: only then may a job name backends to avoid
        # (reading the unset slot costs an exception inside getattr on every request).
        self.hedged = False
        self.cancelled = 0  # requests a hedge cancelled while out at a backend (no error)

    def _next_call(self, job: Job) -> None:
        if job.step:  # the backend has answered with a success
            return self._finish(job, "fallback" if job.degraded else "ok", None)
        if len(self.outstanding) < len(self.sites):  # sites are appended after construction
            self.outstanding = [0] * len(self.sites)
            self.chosen = [0] * len(self.sites)
        # Only a hedged call's jobs may name backends to avoid (see ``hedged``).
        index = self._choose(job, avoid_of(job) if self.hedged else None)
        if index is None:
            return self._finish(job, "error", "no_backend")
        self.outstanding[index] += 1
        self.chosen[index] += 1
        job.step = index + 1
        self.sites[index].call(job, self._after_call)

    def _after_call(self, job: Job, outcome: str) -> None:
        # Lowered even for a job lost in a crash: the call itself was out until now.
        self.outstanding[job.step - 1] -= 1
        super()._after_call(job, outcome)

    def after_cancel(self, job: Job) -> None:
        """The backend call for ``job`` was abandoned (``LinkedCallSite.abandon``): the job
        ends as ``cancelled``, counted apart, not as an error of the balancer: its caller
        gave up, nobody failed."""
        self.outstanding[job.step - 1] -= 1
        if job.epoch != self.epoch:
            return
        self.cancelled += 1
        self._finish(job, "cancelled", None)

    def own_summary(self, now: float) -> dict[str, Any]:
        out = super().own_summary(now)
        if self.cancelled:
            out["cancelled"] = self.cancelled
        return out

    def cancel(self, job: Job, now: float) -> None:
        """A hedge's loser cancelled: its deadline passes here and, when the backend call
        propagates deadlines, at the backend too (where the work is queued), and the balancer
        stops waiting for it (``after_cancel``), as a proxy resets the upstream."""
        super().cancel(job, now)
        if job.step:
            site = self.sites[job.step - 1]
            child = site.job_of(job)
            if child is not None:  # a LinkedCallSite: it stops waiting for the backend
                site.abandon(child, now)  # type: ignore[attr-defined]

    def _candidates(self, job: Job) -> list[int]:
        routed = [
            i
            for i, site in enumerate(self.sites)
            if site.only_for is None or job.origin in site.only_for
        ]
        if not self.health_check:
            return routed
        healthy = [i for i in routed if self._healthy(self.sites[i])]
        return healthy or routed  # nothing healthy: fail open, as real balancers do

    def _routed(self, job: Job) -> list[int]:
        """The backends this request may go to at all (its client's routes); ``_candidates``
        spells it out inline, as it runs per request."""
        return [
            i
            for i, site in enumerate(self.sites)
            if site.only_for is None or job.origin in site.only_for
        ]

    @staticmethod
    def _healthy(site: CallSite) -> bool:
        return not (site.target.down or site.target.partitioned)

    def _choose(self, job: Job, avoid: set[int] | None = None) -> int | None:
        """A backend for ``job``; ``avoid``: a hedged request's backends tried (``Job.avoid``),
        skipped while another candidate is left, and the pick joins them, so the request's
        next hedge or retry avoids it too."""
        candidates = self._candidates(job)
        if not candidates:
            return None
        if avoid is not None:
            candidates = [i for i in candidates if i not in avoid] or candidates
        n = len(self.sites)
        if self.strategy == "random":
            pick = candidates[int(self.route_rng.random() * len(candidates))]
        elif self.strategy == "power_of_two":
            pick = self._power_of_two(candidates)
        else:
            # Scan from the round-robin pointer so ties (and skipped backends) rotate fairly.
            ordered = sorted(candidates, key=lambda i: (i - self._turn) % n)
            if self.strategy == "least_outstanding":
                pick = min(ordered, key=self.outstanding.__getitem__)
            else:
                pick = ordered[0]
            self._turn = (pick + 1) % n
        if avoid is not None:
            avoid.add(pick)
        return pick

    def _power_of_two(self, candidates: list[int]) -> int:
        """Two candidates drawn at random, with replacement, the one with fewer requests in
        flight (the first drawn on a tie): Envoy's least_request with its default
        choice_count of 2 (``unweightedHostPickNChoices``: each draw is ``random() % n``, no
        dedup), so the busiest of n backends still gets 1/n² of the picks."""
        count = len(candidates)
        if count == 1:
            return candidates[0]
        rng = self.route_rng
        a = candidates[int(rng.random() * count)]
        b = candidates[int(rng.random() * count)]
        return b if self.outstanding[b] < self.outstanding[a] else a


def _build(world: World, name: str, spec: BalancerSpec) -> Balancer:
    """A pass-through: no service time, unlimited concurrency, no queue, no errors of its own."""
    cls: type[Balancer] = Balancer
    extra: dict[str, Any] = {}
    if spec.outlier_detection is not None:
        # Only a balancer that ejects pays for it per request: a subclass (imported here,
        # as it subclasses Balancer).
        from simulator.components.outlier_balancer import OUTLIER_SERIES, OutlierBalancer

        cls = OutlierBalancer
        extra.update(outlier=spec.outlier_detection, panic_threshold=spec.healthy_panic_threshold,
                     outlier_rng=world.stream(name, "outlier"),
                     outlier_series=world.series(OUTLIER_SERIES))  # fmt: skip
    return cls(
        world.env, name, workers=math.inf, queue_limit=0, service_time=no_time,
        error_rate=0.0, strategy=spec.strategy, health_check=spec.health_check,
        **server_options(world, name), **extra,
    )  # fmt: skip


def _connect(world: World, name: str, balancer: Balancer) -> None:
    """Outlier detection starts once the backends' call sites exist."""
    start = getattr(balancer, "start_detection", None)
    if start is not None:
        start()


KIND = NodeKind("balancer", _build, connect=_connect, **OWN_HOOKS)
