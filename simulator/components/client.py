"""Where requests are born and where their one outcome is recorded.

Open loop: Poisson arrivals at a rate, or along a profile of steps and ramps
(non-homogeneous Poisson by thinning); arrivals keep coming however slow the
system gets. Closed loop: ``users`` each wait for their answer, think, and ask
again, so they slow down with the system. A client's request makes the
client's calls in order; the first failure ends it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simulator._simpy import Environment, Wake, wake_after
from simulator.components.base import SUCCESS, Job, pending_of
from simulator.components.kind import NodeKind, World
from simulator.metrics import ROUTE_SERIES, RouteStats
from simulator.randomness import RandomStream
from simulator.sampling import make_sampler
from simulator.scenario import Client as ClientSpec

if TYPE_CHECKING:
    from simulator.calls import CallSite

__all__ = ["KIND", "Client", "FiniteClient", "rate_at"]


def rate_at(spec: ClientSpec, now: float) -> float:
    """The client's base arrival rate at ``now`` (before any surge)."""
    if spec.rate is not None:
        return spec.rate
    points = spec.profile or []
    rate = 0.0
    previous = None
    for point in points:
        if point.at > now:
            if point.ramp and previous is not None and point.at > previous.at:
                share = (now - previous.at) / (point.at - previous.at)
                return previous.rate + share * (point.rate - previous.rate)
            return rate
        rate, previous = point.rate, point
    return rate


class Client:
    """Generates requests and records each request's single outcome and latency."""

    dual_write = False  # True: a publish announces this client's commits (engine.add_call)

    def __init__(
        self,
        env: Environment,
        name: str,
        spec: ClientSpec,
        stats: RouteStats,
        arrivals_rng: RandomStream,
        route_rng: RandomStream,
        think_time: Callable[[], float] | None,
    ):
        self.env, self.name, self.spec, self.stats = env, name, spec, stats
        self.arrivals_rng, self.route_rng, self.think_time = arrivals_rng, route_rng, think_time
        self.sites: list[CallSite] = []
        self.surge = 1.0
        self.surge_peak = 1.0  # the largest surge any fault will apply, for thinning
        self.in_flight = 0

    def start(self) -> None:
        if self.spec.users is not None:
            for _ in range(self.spec.users):
                self._think()
        else:
            self._schedule_arrival()

    # -- open loop ---------------------------------------------------------------------------

    def _schedule_arrival(self) -> None:
        spec = self.spec
        if spec.rate is not None and self.surge_peak == 1.0:
            if spec.rate > 0:
                gap = self.arrivals_rng.exponential(1.0 / spec.rate)
                wake_after(self.env, gap, self._on_arrival)
            return
        self._schedule_thinned(self.env.clock)

    def _schedule_thinned(self, now: float) -> None:
        """Lewis–Shedler thinning against the peak rate: exact for any rate profile."""
        peak = self.spec.peak_rate() * self.surge_peak
        if peak <= 0:
            return
        while True:
            now += self.arrivals_rng.exponential(1.0 / peak)
            if now >= self._horizon:
                return
            rate = rate_at(self.spec, now) * self._surge_at(now)
            if self.arrivals_rng.random() * peak < rate:
                break
        wake_after(self.env, now - self.env.clock, self._on_arrival)

    _horizon = math.inf
    _surge_windows: tuple[tuple[float, float, float], ...] = ()

    def set_plan(self, horizon: float, surges: list[tuple[float, float, float]]) -> None:
        """Tell the client its horizon and its surge windows (start, end, factor) in advance."""
        self._horizon = horizon
        self._surge_windows = tuple(surges)
        if surges:
            self.surge_peak = max(1.0, math.prod(f for _, _, f in surges))

    def _surge_at(self, t: float) -> float:
        factor = 1.0
        for start, end, f in self._surge_windows:
            if start <= t < end:
                factor *= f
        return factor

    def _on_arrival(self, _wake: Wake) -> None:
        self._schedule_arrival()
        self._begin()

    # -- closed loop -------------------------------------------------------------------------

    def _think(self) -> None:
        pause = self.think_time() if self.think_time else 0.0
        wake_after(self.env, pause, self._on_think_done)

    def _on_think_done(self, _wake: Wake) -> None:
        self._begin()

    # -- one request -------------------------------------------------------------------------

    def _begin(self, number: int | None = None) -> None:
        now = self.env.clock
        request = Job(self, math.inf, number, self.name)
        request.t_arrive = now
        self.in_flight += 1
        stats = self.stats  # RouteStats.started(now), inlined: once per request
        stats.started_total += 1
        if now >= stats.warmup:
            stats.steady_started += 1
        self._next_call(request)

    def _next_call(self, request: Job) -> None:
        sites = self.sites
        while request.step < len(sites):
            site = sites[request.step]
            request.step += 1
            if site.probability >= 1.0 or self.route_rng.random() < site.probability:
                site.call(request, self._after_call)
                return
        self._end(request, "fallback" if request.degraded else "ok")

    def _after_call(self, request: Job, outcome: str) -> None:
        if outcome in SUCCESS:
            if outcome == "fallback":
                request.degraded = True
            self._next_call(request)
        elif outcome == "rate_limited":
            self._end(request, "rejected")  # a route's outcomes are the seven: a 429 is a refusal
        else:
            self._end(request, outcome)

    def _end(self, request: Job, outcome: str) -> None:
        if self.dual_write:
            pending = pending_of(request)
            if pending is not None:  # committed, but the event was never sent
                request.pending = None
                pending[0].abandon(pending[1], "not_published", self.env.clock)
            request.epoch = -1  # finished: a late commit for it finds nobody to publish it
        self.in_flight -= 1
        self.stats.ended(request.t_arrive, self.env.clock, outcome)
        if self.spec.users is not None:
            self._think()

    def on_reply(self, job: Job, outcome: str) -> None:  # pragma: no cover - clients take no calls
        raise RuntimeError(f"client {self.name} cannot be called")

    def own_summary(self) -> dict[str, Any]:
        """Fields of the route's own for ``routes.<name>`` in the JSON (a finite crowd's)."""
        return {}


class FiniteClient(Client):
    """A closed loop whose users each make ``requests_per_user`` requests, then stop.

    Its own class so that a client whose users go on for ever pays nothing. Each
    request carries its number in its user's sequence (``Job.state``, which no callee
    reads on a client's request), so every user stops after exactly its share, however
    unevenly their requests take. ``finished_at``: when the last request of all ended.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        spec = self.spec
        self.per_user: int = spec.requests_per_user  # type: ignore[assignment]
        self.remaining = (spec.users or 0) * self.per_user
        self.finished_at: float | None = None
        self.last_ok_at: float | None = None
        self.succeeded = 0
        self._next: int | None = 1  # the number of the request the next pause leads to

    def start(self) -> None:
        for _ in range(self.spec.users or 0):
            self._think()

    def _think(self) -> None:
        number = self._next
        if number is None:
            return  # this user has made its share
        pause = self.think_time() if self.think_time else 0.0
        wake_after(self.env, pause, self._on_think_done, number)

    def _on_think_done(self, wake: Wake) -> None:
        self._begin(wake.value)

    def _end(self, request: Job, outcome: str) -> None:
        now = self.env.clock
        number: int = request.state
        self.remaining -= 1
        if outcome in SUCCESS:
            self.last_ok_at = now
            self.succeeded += 1
        if self.remaining == 0:
            self.finished_at = now
        self._next = number + 1 if number < self.per_user else None
        super()._end(request, outcome)  # thinks again: towards request _next, if any

    def own_summary(self) -> dict[str, Any]:
        return {"crowd": {
            "requests_per_user": self.per_user,
            "requests": (self.spec.users or 0) * self.per_user,
            "succeeded": self.succeeded,
            "finished_s": None if self.finished_at is None else round(self.finished_at, 6),
            "last_ok_s": None if self.last_ok_at is None else round(self.last_ok_at, 6),
        }}  # fmt: skip

    def problems(self) -> list[str]:
        """Every user stops after its share: no more requests than that, none ended twice."""
        ended = sum(self.stats.outcomes_total.values())
        total = (self.spec.users or 0) * self.per_user
        if self.stats.started_total > total or ended + self.remaining != total:
            return [f"{self.name}: {self.stats.started_total} requests started, {ended} ended, "
                    f"{self.remaining} left of {total}"]  # fmt: skip
        return []


def _invariants(name: str, client: Client) -> list[str]:
    return client.problems() if isinstance(client, FiniteClient) else []


def _build(world: World, name: str, spec: ClientSpec) -> Client:
    think = make_sampler(spec.think_time, world.stream(name, "think")) if spec.think_time else None
    stats = RouteStats(world.series(ROUTE_SERIES), world.scenario.warmup)
    cls = Client if spec.requests_per_user is None else FiniteClient
    return cls(
        world.env, name, spec, stats,
        world.stream(name, "arrivals"), world.stream(name, "route"), think,
    )  # fmt: skip


KIND = NodeKind("client", _build, invariants=_invariants)
