"""Outlier detection with Envoy's semantics: which backends a balancer ejects, and for how long.

What is followed (Envoy's ``source/common/upstream/outlier_detection_impl.cc`` and the
architecture overview "Outlier detection", in the default mode without
``split_external_local_origin_errors``):

- Each result a backend (a *host*) gives is a success, a 5xx, or a gateway failure
  (502/503/504: also a 5xx). A 5xx raises ``consecutive_5xx``; a gateway failure
  also raises the gateway counter, which any other 5xx resets; a success resets
  both. A detection fires when a counter *reaches* its threshold (``==``, so a
  host that keeps failing while ejected is not detected again until a success or
  its return resets the counter), and resets that counter once handled.
- A detection is ignored for a host already ejected. Otherwise the host is
  ejected if the ejected share after it stays within ``max_ejection_percent``, or
  if none is ejected and ``always_eject_one_host`` (Envoy's option since 1.31,
  off by default); beyond that the detection counts as an *overflow*. A
  detection that may eject ejects with the probability of its ``enforcing_*``
  setting, drawn from the balancer's own stream (no draw at 0% or 100%).
- An ejection lasts ``base_ejection_time`` × the host's backoff multiplier, capped
  at ``max_ejection_time``; each ejection raises the multiplier (while
  ``multiplier × base < max + base``), and each sweep that finds the host back
  (returned at an earlier sweep) lowers it by one, at the start of the sweep,
  before its success-rate and failure-percentage checks (Envoy's
  ``checkHostForUneject`` runs for every host first). Hosts return only at a
  sweep (every ``interval``), once their time has passed.
- At each sweep the interval's counts close (the previous interval's are judged,
  as Envoy's two swapped buckets do): among hosts not ejected, those with at
  least ``success_rate_request_volume`` requests enter success-rate detection if
  there are ``success_rate_minimum_hosts`` of them, and a host whose rate is
  below mean − ``success_rate_stdev_factor`` × stdev (population) is detected;
  those with ``failure_percentage_request_volume`` requests enter failure-
  percentage detection if there are ``failure_percentage_minimum_hosts`` of them,
  and a host failing at least ``failure_percentage_threshold`` is detected.

Simplified: no jitter on the ejection time (``max_ejection_time_jitter`` is 0 s in
Envoy by default), no local-origin split, no active-health-check un-ejection,
detections act at once (Envoy posts them to its main thread), and a host already
ejected by success rate in a sweep is not detected again by failure percentage
in the same sweep (Envoy would try to eject it twice).
"""

from __future__ import annotations

import math

from simulator.metrics import TimeAverage
from simulator.policies._types import Rng
from simulator.scenario_policies import OutlierDetection

__all__ = [
    "CONSECUTIVE_5XX", "CONSECUTIVE_GATEWAY_FAILURE", "DETECTIONS", "FAILURE_5XX",
    "FAILURE_PERCENTAGE", "GATEWAY_FAILURE", "OK", "SUCCESS_RATE", "OutlierDetector",
    "classify",
]  # fmt: skip

OK, FAILURE_5XX, GATEWAY_FAILURE = 0, 1, 2
"""What a backend's answer is to outlier detection: a success, a 5xx, a 502/503/504."""

CONSECUTIVE_5XX = "consecutive_5xx"
CONSECUTIVE_GATEWAY_FAILURE = "consecutive_gateway_failure"
SUCCESS_RATE = "success_rate"
FAILURE_PERCENTAGE = "failure_percentage"
DETECTIONS = (CONSECUTIVE_5XX, CONSECUTIVE_GATEWAY_FAILURE, SUCCESS_RATE, FAILURE_PERCENTAGE)
_EPSILON = 1e-9


def classify(outcome: str, host_down: bool) -> int:
    """Map a Murphy attempt outcome onto Envoy's classes (what the router reports).

    ``ok``, ``fallback`` and ``rate_limited`` (a 429 is not a 5xx) are successes, and
    so is a token bucket's ``shed`` (the caller passes ``"rate_limited"`` for it: Envoy's
    local rate limit answers 429). ``timeout`` (504), ``rejected`` (queue or
    connections full: 503), any other ``shed`` (max_in_flight, adaptive: 503)
    and an ``error`` from a host that is down (connection refused or reset, which
    Envoy maps to 503) are gateway failures. Any other ``error`` (the host ran and
    failed: 500) is a 5xx that is not a gateway failure.
    """
    if outcome == "ok" or outcome == "fallback" or outcome == "rate_limited":
        return OK
    if outcome == "error" and not host_down:
        return FAILURE_5XX
    return GATEWAY_FAILURE


class _Host:
    """One backend's counters, ejection state and backoff multiplier."""

    __slots__ = (
        "backoff", "consecutive_5xx", "consecutive_gateway", "ejected", "ejected_at",
        "ejections", "successes", "total", "unejected_at", "window_successes", "window_total",
    )  # fmt: skip

    def __init__(self) -> None:
        self.consecutive_5xx = self.consecutive_gateway = 0
        self.total = self.successes = 0  # the interval now open
        self.window_total = self.window_successes = 0  # the last closed interval
        self.ejected = False
        self.ejected_at = 0.0
        self.unejected_at: float | None = None
        self.backoff = 0  # Envoy's ejectTimeBackoff: the multiplier of base_ejection_time
        self.ejections = 0


class OutlierDetector:
    """The detector of one balancer over ``hosts`` backends (indices 0..hosts-1).

    ``record(host, result, now)`` after each answer, ``sweep(now)`` every ``interval``;
    ``ejected[i]`` says whether backend ``i`` is out of the candidates now.
    """

    def __init__(self, config: OutlierDetection, hosts: int, rng: Rng) -> None:
        self.config = config
        self._rng = rng
        self._hosts = [_Host() for _ in range(hosts)]
        self.ejected = [False] * hosts  # read by the balancer per request: a plain list
        self.active = 0  # hosts ejected now
        self.level = TimeAverage()  # hosts ejected, integrated over time (the series)
        self.detected = dict.fromkeys(DETECTIONS, 0)
        self.enforced = dict.fromkeys(DETECTIONS, 0)
        self.overflow = 0  # detections refused by max_ejection_percent (ejections_overflow)
        self.returns = 0  # ejections ended at a sweep
        self._enforcing = {
            CONSECUTIVE_5XX: config.enforcing_consecutive_5xx,
            CONSECUTIVE_GATEWAY_FAILURE: config.enforcing_consecutive_gateway_failure,
            SUCCESS_RATE: config.enforcing_success_rate,
            FAILURE_PERCENTAGE: config.enforcing_failure_percentage,
        }

    # -- results, inline ---------------------------------------------------------------------

    def record(self, index: int, result: int, now: float) -> None:
        """Backend ``index`` answered: ``OK``, ``FAILURE_5XX`` or ``GATEWAY_FAILURE``."""
        host = self._hosts[index]
        host.total += 1
        if result == OK:
            host.successes += 1
            host.consecutive_5xx = host.consecutive_gateway = 0
            return
        config = self.config
        if result == GATEWAY_FAILURE:
            host.consecutive_gateway += 1
            if host.consecutive_gateway == config.consecutive_gateway_failure:
                self._consecutive(index, CONSECUTIVE_GATEWAY_FAILURE, now)
        else:
            host.consecutive_gateway = 0
        host.consecutive_5xx += 1
        if host.consecutive_5xx == config.consecutive_5xx:
            self._consecutive(index, CONSECUTIVE_5XX, now)

    def _consecutive(self, index: int, kind: str, now: float) -> None:
        host = self._hosts[index]
        if host.ejected:
            return  # as Envoy: ignored, and the counter is left as it is
        self._detect(index, kind, now)
        if kind == CONSECUTIVE_5XX:
            host.consecutive_5xx = 0
        else:
            host.consecutive_gateway = 0

    # -- ejection ----------------------------------------------------------------------------

    def _detect(self, index: int, kind: str, now: float) -> None:
        """Backend ``index`` is an outlier by ``kind``: eject it if the limits and chance allow."""
        self.detected[kind] += 1
        count = len(self._hosts)
        allowed = (self.active + 1) / count <= self.config.max_ejection_percent + _EPSILON
        if not allowed and not (self.config.always_eject_one_host and self.active == 0):
            self.overflow += 1
            return
        if not self._enforced(kind):
            return
        self.enforced[kind] += 1
        self._eject(index, now)

    def _enforced(self, kind: str) -> bool:
        chance = self._enforcing[kind]
        if chance >= 1.0:
            return True
        return chance > 0.0 and self._rng.random() < chance

    def _eject(self, index: int, now: float) -> None:
        host = self._hosts[index]
        config = self.config
        host.ejected = True
        host.ejected_at = now
        host.ejections += 1
        if (
            host.backoff * config.base_ejection_time
            < config.max_ejection_time + config.base_ejection_time
        ):
            host.backoff += 1
        self.ejected[index] = True
        self.active += 1
        self.level.change(now, 1)

    def _uneject(self, index: int, now: float) -> None:
        host = self._hosts[index]
        host.ejected = False
        host.unejected_at = now
        host.consecutive_5xx = host.consecutive_gateway = 0
        self.ejected[index] = False
        self.active -= 1
        self.returns += 1
        self.level.change(now, -1)

    def ejection_time(self, index: int) -> float:
        """How long backend ``index``'s current (or next) ejection lasts."""
        host = self._hosts[index]
        return min(
            self.config.base_ejection_time * max(host.backoff, 1), self.config.max_ejection_time
        )

    # -- the sweep, every interval -----------------------------------------------------------

    def sweep(self, now: float) -> None:
        """Return hosts whose time has passed, judge the closed interval, decay multipliers."""
        config = self.config
        for index, host in enumerate(self._hosts):
            if host.ejected:
                due = min(config.base_ejection_time * host.backoff, config.max_ejection_time)
                if due <= now - host.ejected_at + _EPSILON:
                    self._uneject(index, now)
            elif host.backoff > 0:  # back since the last sweep: Envoy's checkHostForUneject
                host.backoff -= 1
            host.window_total, host.window_successes = host.total, host.successes
            host.total = host.successes = 0
        self._judge_rates(now)

    def reset(self, now: float) -> None:
        """Start afresh, as a restarted proxy does: no host ejected (each ejection still out
        ends now, counted as a return), multipliers at 0, counters and windows empty. The
        run's totals (detections, ejections, overflow) are kept for the JSON."""
        for index, host in enumerate(self._hosts):
            if host.ejected:
                self._uneject(index, now)
            fresh = _Host()
            fresh.ejections = host.ejections
            self._hosts[index] = fresh

    def _judge_rates(self, now: float) -> None:
        config = self.config
        count = len(self._hosts)
        if (
            count < config.success_rate_minimum_hosts
            and count < config.failure_percentage_minimum_hosts
        ):
            return
        rated: list[tuple[int, float]] = []  # (host, success rate) with enough volume
        by_share: list[tuple[int, float]] = []
        for index, host in enumerate(self._hosts):
            if host.ejected or not host.window_total:
                continue
            rate = host.window_successes / host.window_total
            if host.window_total >= config.success_rate_request_volume:
                rated.append((index, rate))
            if host.window_total >= config.failure_percentage_request_volume:
                by_share.append((index, rate))
        if rated and len(rated) >= config.success_rate_minimum_hosts:
            mean = sum(rate for _, rate in rated) / len(rated)
            stdev = math.sqrt(sum((rate - mean) ** 2 for _, rate in rated) / len(rated))
            threshold = mean - config.success_rate_stdev_factor * stdev
            for index, rate in rated:
                if rate < threshold - _EPSILON and not self._hosts[index].ejected:
                    self._detect(index, SUCCESS_RATE, now)
        if by_share and len(by_share) >= config.failure_percentage_minimum_hosts:
            for index, rate in by_share:
                failing = 1.0 - rate >= config.failure_percentage_threshold - _EPSILON
                if failing and not self._hosts[index].ejected:
                    self._detect(index, FAILURE_PERCENTAGE, now)

    # -- what readers see --------------------------------------------------------------------

    def ejections(self, index: int) -> int:
        """Times backend ``index`` was ejected in the whole run."""
        return self._hosts[index].ejections

    def backoff(self, index: int) -> int:
        """Backend ``index``'s multiplier of ``base_ejection_time`` now."""
        return self._hosts[index].backoff

    def problems(self) -> list[str]:
        """Bookkeeping that must hold: the ejected count, the flags and the ejection totals."""
        out = []
        flagged = sum(host.ejected for host in self._hosts)
        if flagged != self.active or self.ejected != [host.ejected for host in self._hosts]:
            out.append(f"outlier: {self.active} ejected counted, {flagged} hosts flagged")
        if not 0 <= self.active <= len(self._hosts) or self.level.level != self.active:
            out.append(f"outlier: {self.active} ejected of {len(self._hosts)} hosts")
        total = sum(host.ejections for host in self._hosts)
        if total != sum(self.enforced.values()) or total != self.returns + self.active:
            out.append(f"outlier: {total} ejections, {sum(self.enforced.values())} enforced, "
                       f"{self.returns} returned + {self.active} still out")  # fmt: skip
        if any(self.enforced[k] > self.detected[k] for k in DETECTIONS):
            out.append("outlier: more ejections enforced than detected")
        return out
