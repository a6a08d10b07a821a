"""Adaptive concurrency limits: a cap on requests inside a node that moves with their latency.

The update rules follow Netflix's concurrency-limits library (Java,
``com.netflix.concurrency.limits.limit``): ``AIMDLimit``, ``VegasLimit`` and
``Gradient2Limit``, with their parameter names (in snake_case) and defaults. Each
rule is ``on_sample(now, rtt, in_flight, dropped) -> limit``, called once per
request that leaves, as the library's ``Limit.onSample(startTime, rtt, inflight,
didDrop)``: ``rtt`` is the time from admission to the reply, ``in_flight`` the
requests inside when this one was admitted (itself included), ``dropped`` whether
it counts as a drop (what the engine calls a drop is its choice; see
``components/adaptive.py``).

``AdaptiveLimiter`` is the admission side, as the library's ``SimpleLimiter``:
admit while fewer than ``limit`` are inside, else shed. It keeps the books the
run reports (the limit's initial, final, lowest and highest values, its time
integral for the ``limit`` series, the drops).
"""

from __future__ import annotations

import math

from simulator.policies._types import Rng
from simulator.scenario_policies import Limiter

__all__ = ["AIMDLimit", "AdaptiveLimiter", "Gradient2Limit", "LimitRule", "VegasLimit",
           "make_rule"]  # fmt: skip


def log10_root(limit: int) -> int:
    """The library's ``Log10RootIntFunction`` with baseline 0: ``max(1, int(log10 limit))``
    below 1000, ``int(log10 limit)`` from there (so 1 up to 99, 2 up to 999, then 3...)."""
    if limit < 1000:
        return max(1, int(math.log10(limit))) if limit >= 1 else 1
    return int(math.log10(limit))


class AIMDLimit:
    """Loss based: +1 while no drop and the limit is in use, x ``backoff_ratio`` on a drop.

    As ``AIMDLimit._update``: a drop, or an ``rtt`` above ``timeout``, multiplies the
    limit by the ratio (truncated to an integer); otherwise the limit grows by one if
    at least half of it was in use when the request was admitted (``in_flight * 2 >=
    limit``), so an idle node does not inflate it. Clamped to [min_limit, max_limit].
    """

    __slots__ = ("backoff_ratio", "limit", "max_limit", "min_limit", "timeout")

    def __init__(self, config: Limiter) -> None:
        self.limit = config.initial_limit
        self.min_limit, self.max_limit = config.min_limit, config.max_limit
        self.backoff_ratio, self.timeout = config.backoff_ratio, config.timeout

    def on_sample(self, now: float, rtt: float, in_flight: int, dropped: bool) -> int:
        limit = self.limit
        if dropped or rtt > self.timeout:
            limit = int(limit * self.backoff_ratio)
        elif in_flight * 2 >= limit:
            limit += 1
        self.limit = min(self.max_limit, max(self.min_limit, limit))
        return self.limit


class VegasLimit:
    """Delay based, after TCP Vegas: estimate the queue from the no-load latency.

    As ``VegasLimit._update``: the lowest ``rtt`` seen is the no-load latency, forgotten
    (replaced by the current sample) every ``probe_multiplier x limit x jitter``
    samples, the jitter uniform in [0.5, 1) and drawn from the node's own stream. The
    queue is ``ceil(limit x (1 - rtt_noload / rtt))``. A drop shrinks the limit by
    log10(limit); with less than half of it in use nothing changes; otherwise a queue
    up to log10(limit) grows it by ``beta``, below ``alpha`` by log10(limit), above
    ``beta`` it shrinks by log10(limit), in between it holds. ``alpha`` and ``beta``
    default to 3 and 6 x log10(limit). The new estimate is clamped to [1,
    max_concurrency] and mixed in by ``smoothing`` (1.0: taken whole). Samples that
    set the no-load latency, or probe it, change nothing. A sample of zero latency
    (the library refuses one) is ignored.
    """

    __slots__ = ("_alpha", "_beta", "estimate", "jitter", "max_limit", "probe_count",
                 "probe_multiplier", "rng", "rtt_noload", "smoothing")  # fmt: skip

    def __init__(self, config: Limiter, rng: Rng) -> None:
        self.estimate = float(config.initial_limit)
        self.max_limit = config.ceiling()
        self.smoothing = 1.0 if config.smoothing is None else config.smoothing
        self._alpha, self._beta = config.alpha, config.beta
        self.probe_multiplier = config.probe_multiplier
        self.rng = rng
        self.rtt_noload = 0.0  # 0: none seen yet
        self.probe_count = 0
        self.jitter = rng.uniform(0.5, 1.0)

    @property
    def limit(self) -> int:
        return int(self.estimate)

    def on_sample(self, now: float, rtt: float, in_flight: int, dropped: bool) -> int:
        if rtt <= 0.0:
            return self.limit
        self.probe_count += 1
        if self.jitter * self.probe_multiplier * self.estimate <= self.probe_count:
            self.jitter = self.rng.uniform(0.5, 1.0)
            self.probe_count = 0
            self.rtt_noload = rtt
            return self.limit
        if self.rtt_noload == 0.0 or rtt < self.rtt_noload:
            self.rtt_noload = rtt
            return self.limit
        return self._update(rtt, in_flight, dropped)

    def _update(self, rtt: float, in_flight: int, dropped: bool) -> int:
        estimate = self.estimate
        whole = int(estimate)
        step = log10_root(whole)
        if dropped:
            new = estimate - step
        elif in_flight * 2 < estimate:
            return whole
        else:
            queue = math.ceil(estimate * (1.0 - self.rtt_noload / rtt))
            alpha = self._alpha if self._alpha is not None else 3 * step
            beta = self._beta if self._beta is not None else 6 * step
            if queue <= step:
                new = estimate + beta
            elif queue < alpha:
                new = estimate + step
            elif queue > beta:
                new = estimate - step
            else:
                return whole
        new = max(1.0, min(float(self.max_limit), new))
        self.estimate = (1.0 - self.smoothing) * estimate + self.smoothing * new
        return self.limit


class ExpAverage:
    """The library's ``ExpAvgMeasurement``: a plain mean over the first ``warmup`` samples,
    then an exponential average with factor 2 / (window + 1)."""

    __slots__ = ("count", "factor", "total", "value", "warmup")

    def __init__(self, window: int, warmup: int) -> None:
        self.factor = 2.0 / (window + 1)
        self.warmup = warmup
        self.value = self.total = 0.0
        self.count = 0

    def add(self, sample: float) -> float:
        if self.count < self.warmup:
            self.count += 1
            self.total += sample
            self.value = self.total / self.count
        else:
            self.value = self.value * (1.0 - self.factor) + sample * self.factor
        return self.value


class Gradient2Limit:
    """Delay based: the gradient between a long average latency and the latest one.

    As ``Gradient2Limit._update``: the short latency is the sample itself, the long one
    an exponential average over ``long_window`` samples (a plain mean over the first
    10); when the long is more than twice the short (the load has passed) it is cut by
    5% per sample to catch up. With less than half the limit in use nothing changes.
    Otherwise ``gradient = clamp(rtt_tolerance x long / short, 0.5, 1)`` and the new
    limit ``limit x gradient + queue_size``, mixed in by ``smoothing`` and clamped to
    [min_limit, max_concurrency]. A sample of zero latency is ignored (the ratio needs
    a positive one).
    """

    __slots__ = ("estimate", "long_rtt", "max_limit", "min_limit", "queue_size", "smoothing",
                 "tolerance")  # fmt: skip

    def __init__(self, config: Limiter) -> None:
        self.estimate = float(config.initial_limit)
        self.min_limit, self.max_limit = config.min_limit, config.ceiling()
        self.queue_size = config.queue_size
        self.smoothing = 0.2 if config.smoothing is None else config.smoothing
        self.tolerance = config.rtt_tolerance
        self.long_rtt = ExpAverage(config.long_window, 10)

    @property
    def limit(self) -> int:
        return int(self.estimate)

    def on_sample(self, now: float, rtt: float, in_flight: int, dropped: bool) -> int:
        if rtt <= 0.0:
            return self.limit
        estimate = self.estimate
        long_rtt = self.long_rtt.add(rtt)
        if long_rtt / rtt > 2.0:
            self.long_rtt.value *= 0.95
        if in_flight < estimate / 2:
            return int(estimate)
        gradient = max(0.5, min(1.0, self.tolerance * long_rtt / rtt))
        new = estimate * gradient + self.queue_size
        new = estimate * (1.0 - self.smoothing) + new * self.smoothing
        self.estimate = max(float(self.min_limit), min(float(self.max_limit), new))
        return self.limit


LimitRule = AIMDLimit | VegasLimit | Gradient2Limit


def make_rule(config: Limiter, rng: Rng) -> LimitRule:
    """The update rule ``config.kind`` names (``rng``: Vegas's probe jitter)."""
    if config.kind == "aimd":
        return AIMDLimit(config)
    if config.kind == "vegas":
        return VegasLimit(config, rng)
    if config.kind == "gradient2":
        return Gradient2Limit(config)
    raise ValueError(f"{config.kind} is not an adaptive limit")


class AdaptiveLimiter:
    """Admit while fewer than the rule's limit are inside (``SimpleLimiter``); else shed.

    ``allow``/``release`` as the other entry limiters; ``sample`` feeds the rule when an
    admitted request leaves; ``restart`` starts the rule afresh (a new process's limiter
    starts from ``initial_limit``). The limit's time integral (``area_until``) gives the
    series its mean over each time bucket.
    """

    def __init__(self, config: Limiter, rng: Rng) -> None:
        self.config, self.rng = config, rng
        self.rule = make_rule(config, rng)
        self.limit = self.rule.limit
        self.initial = self.lowest = self.highest = self.limit
        self.in_flight = 0
        self.entry_in_flight = 0  # requests inside as the last one was admitted, itself included
        self.admitted = self.shed = 0
        self.samples = self.drops = 0
        self._area = 0.0
        self._since = 0.0

    def allow(self, now: float) -> bool:
        """Admit if fewer than the limit are inside; a refusal counts in ``shed``."""
        if self.in_flight >= self.limit:
            self.shed += 1
            return False
        self.in_flight += 1
        self.entry_in_flight = self.in_flight
        self.admitted += 1
        return True

    def release(self) -> None:
        """An admitted request left the node."""
        if self.in_flight <= 0:
            raise RuntimeError("release without a matching allow")
        self.in_flight -= 1

    def sample(self, now: float, rtt: float, in_flight: int, dropped: bool) -> None:
        """One admitted request's latency and fate: the rule may move the limit."""
        self.samples += 1
        if dropped:
            self.drops += 1
        self._set(now, self.rule.on_sample(now, rtt, in_flight, dropped))

    def restart(self, now: float) -> None:
        """The process restarted: its limiter starts again from ``initial_limit``."""
        self.rule = make_rule(self.config, self.rng)
        self._set(now, self.rule.limit)

    def _set(self, now: float, limit: int) -> None:
        if limit == self.limit:
            return
        self._area += self.limit * (now - self._since)
        self._since = now
        self.limit = limit
        if limit < self.lowest:
            self.lowest = limit
        if limit > self.highest:
            self.highest = limit

    def area_until(self, now: float) -> float:
        """The limit integrated over time up to ``now``."""
        return self._area + self.limit * (now - self._since)
