"""A balancer with Envoy's outlier detection and panic threshold (``outlier_detection`` set).

Its own class, built only when a balancer declares ``outlier_detection``, so that
other balancers pay nothing per request. Every answer a backend gives reaches the
detector (``policies.outlier``) from the backend's call site: the balancer's call
sites are given a subclass that reports each attempt's answer (a reply or the
call's own timeout) before handling it, as Envoy's router reports each upstream
try. Refusals by the caller's own guards (its breaker, bulkhead, pool, throttle)
never reached the backend and are not reported, as Envoy's circuit-breaker
overflows are not.

Ejected backends leave the candidates. Envoy's panic threshold: when fewer than
``healthy_panic_threshold`` of a request's backends are healthy (not ejected,
and, under ``health_check``, not down or partitioned), the request may go to any
of them, healthy or not; at 0% the request goes to the healthy ones, or fails
with ``no_backend`` when there are none (the fail-open rule of a plain balancer's
health check gives way to the threshold here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from simulator._simpy import Wake
from simulator.components.balancer import Balancer
from simulator.components.base import Job
from simulator.metrics import Rollup, Series, TimeAverage
from simulator.policies.limiter import TokenBucket
from simulator.policies.outlier import OutlierDetector, classify
from simulator.randomness import RandomStream
from simulator.scenario_policies import OutlierDetection

if TYPE_CHECKING:
    from simulator.calls import CallSite

__all__ = ["OUTLIER_SERIES", "OutlierBalancer"]

OUTLIER_SERIES = ("ejected", "panic")
_EPSILON = 1e-9


class OutlierBalancer(Balancer):
    """A balancer that ejects failing backends and falls back to all of them in panic."""

    def __init__(
        self,
        *args: Any,
        outlier: OutlierDetection,
        panic_threshold: float,
        outlier_rng: RandomStream,
        outlier_series: Series,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.outlier, self.panic_threshold, self._outlier_rng = (
            outlier,
            panic_threshold,
            outlier_rng,
        )
        self.detector = OutlierDetector(outlier, 0, outlier_rng)  # sized in start_detection
        self.in_panic = False  # some route set is in panic (the only one, without only_for)
        self.panic_level = TimeAverage()  # 1 while in panic: its area is the time in panic
        self.panic_requests = 0  # requests routed in panic (Envoy's lb_healthy_panic)
        self.panics = 0  # episodes: times the balancer entered panic
        # With only_for, requests route over different sets of backends, each in panic or not
        # on its own (Envoy's subset balancer judges panic per subset): the sets in panic now.
        self._routes_differ = False
        self._panicked: set[tuple[int, ...]] = set()
        self._shed_429: list[bool] = []  # per backend: its shed is a token bucket's (a 429)
        self._series = outlier_series
        self._rollup = Rollup(
            outlier_series,
            {
                "ejected": lambda now: self.detector.level.area_until(now),
                "panic": self.panic_level.area_until,
            },
            levels=OUTLIER_SERIES,
        )

    def start_detection(self) -> None:
        """Once the backends exist: size the detector, watch their answers, start the sweeps."""
        self.detector = OutlierDetector(self.outlier, len(self.sites), self._outlier_rng)
        self._routes_differ = any(site.only_for is not None for site in self.sites)
        self._shed_429 = [
            isinstance(getattr(site.target, "limiter", None), TokenBucket) for site in self.sites
        ]
        for index, site in enumerate(self.sites):
            site.__class__ = _observed(type(site))
            site.outlier_owner, site.outlier_host = self, index  # type: ignore[attr-defined]
        self.env.timeout(self.outlier.interval).callbacks.append(self._sweep)

    def _sweep(self, _event: simpy.Event) -> None:
        self.detector.sweep(self.env.now)
        self.env.timeout(self.outlier.interval).callbacks.append(self._sweep)

    def observe(self, index: int, outcome: str) -> None:
        """Backend ``index`` answered an attempt with ``outcome``."""
        site = self.sites[index]
        if outcome == "shed" and self._shed_429[index]:
            outcome = "rate_limited"  # Envoy's local rate limit answers 429, not a 5xx
        self.detector.record(index, classify(outcome, site.target.down), self.env.clock)

    def crash(self) -> None:
        """The detector lives in the process (Envoy's does): its ejections and panic die with
        it, and the restarted one starts afresh."""
        super().crash()
        self._forget_detection()

    def restart(self) -> None:
        was_down = self.down
        super().restart()
        if was_down and not self.down:  # a fresh proxy: nothing backends told the dead one
            self._forget_detection()

    def _forget_detection(self) -> None:
        """No host ejected, multipliers at 0, counters empty, no panic; the run's totals stay."""
        self.detector.reset(self.env.clock)
        self._panicked.clear()
        if self.in_panic:
            self._set_panic(False)

    # -- routing -----------------------------------------------------------------------------

    def _candidates(self, job: Job) -> list[int]:
        routed = self._routed(job)
        ejected = self.detector.ejected
        if self.health_check:
            sites = self.sites
            healthy = [i for i in routed if not ejected[i] and self._healthy(sites[i])]
        else:
            healthy = [i for i in routed if not ejected[i]]
        panic = len(healthy) < self.panic_threshold * len(routed) - _EPSILON
        if self._routes_differ:
            self._route_set_panic(tuple(routed), panic)
        elif panic != self.in_panic:
            self._set_panic(panic)
        if panic:
            self.panic_requests += 1
            return routed
        return healthy

    def _route_set_panic(self, routed: tuple[int, ...], panic: bool) -> None:
        """The request's route set is (or is no longer) in panic; the balancer is in panic
        while any of its sets is, so requests of other sets do not end its episode."""
        panicked = self._panicked
        if panic == (routed in panicked):
            return
        if panic:
            panicked.add(routed)
        else:
            panicked.discard(routed)
        if bool(panicked) != self.in_panic:
            self._set_panic(bool(panicked))

    def _set_panic(self, panic: bool) -> None:
        self.in_panic = panic
        self.panic_level.change(self.env.clock, 1 if panic else -1)
        if panic:
            self.panics += 1

    # -- what readers see --------------------------------------------------------------------

    def host_names(self) -> list[str]:
        """Each backend as the JSON names it: its call's target (``target#i`` for a repeat)."""
        prefix = f"{self.name}->"
        return [site.name.removeprefix(prefix) for site in self.sites]

    def extra_rollups(self) -> list[Rollup]:
        return [*super().extra_rollups(), self._rollup]

    def own_series(self) -> dict[str, Series]:
        return {**super().own_series(), f"node.{self.name}": self._series}

    def own_summary(self, now: float) -> dict[str, Any]:
        detector = self.detector
        hosts = self.host_names()
        return {
            **super().own_summary(now),
            "outlier": {
                "ejections": sum(detector.enforced.values()),
                "ejections_per_host": {h: detector.ejections(i) for i, h in enumerate(hosts)},
                "ejections_by_detection": dict(detector.enforced),
                "detections": dict(detector.detected),
                "overflow": detector.overflow,
                "ejected_at_end": [h for i, h in enumerate(hosts) if detector.ejected[i]],
                "panics": self.panics,
                "panic_requests": self.panic_requests,
                "time_in_panic_s": round(self.panic_level.area_until(now), 6),
            },
        }

    def own_snapshot(self) -> dict[str, Any]:
        ejected = self.detector.ejected
        return {
            **super().own_snapshot(),
            "ejected": [site.name for i, site in enumerate(self.sites) if ejected[i]],
            "panic": self.in_panic,
        }

    def own_problems(self) -> list[str]:
        out = [*super().own_problems(), *self.detector.problems()]
        if len(self.detector.ejected) != len(self.sites):
            out.append(f"outlier: {len(self.detector.ejected)} hosts, {len(self.sites)} backends")
        if self.panic_level.level != int(self.in_panic):
            out.append("outlier: the panic level disagrees with the panic state")
        if self._routes_differ and self.in_panic != bool(self._panicked):
            out.append("outlier: the panic state disagrees with its route sets in panic")
        return out


# -- the backends' call sites, watched ---------------------------------------------------------


class _ObservedSite:
    """Reports each attempt's answer to the balancer before the call handles it.

    Mixed in front of the site's own class (``_observed``): a reply to an attempt the
    caller still waits for, or the attempt's timeout. A late reply (after a timeout)
    was already reported as the timeout.
    """

    outlier_owner: OutlierBalancer
    outlier_host: int

    def on_reply(self, job: Job, outcome: str) -> None:
        if not job.closed:
            self.outlier_owner.observe(self.outlier_host, outcome)
        super().on_reply(job, outcome)  # type: ignore[misc]

    def _on_timer(self, wake: Wake) -> None:
        if not wake.value.closed:
            self.outlier_owner.observe(self.outlier_host, "timeout")
        super()._on_timer(wake)  # type: ignore[misc]


_OBSERVED: dict[type, type] = {}


def _observed(cls: type[CallSite]) -> type:
    """``cls`` with its answers reported (one class per site class, made once)."""
    if cls not in _OBSERVED:
        _OBSERVED[cls] = type(f"Observed{cls.__name__}", (_ObservedSite, cls), {})
    return _OBSERVED[cls]
