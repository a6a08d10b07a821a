"""Alert rules evaluated live, at every bucket close, as a monitoring system would.

Each rule watches one target (a route, a node, a pooled call, a call with a
breaker) through the bucket that just closed. Like Prometheus, a rule whose
condition holds is *pending*; it *fires* once the condition has held at every
evaluation for its ``for:`` window, and *resolves* at the first evaluation
where it no longer holds. A bucket with no data for the metric (no request
answered, say) leaves the rule where it was. Subscribers hear of a firing at
the simulated instant it fires (a deploy's automatic rollback listens here).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.scenario_alerts import ResolvedRule, expand_rules

if TYPE_CHECKING:
    from simulator.engine import Simulation

__all__ = ["DETECTION_GRACE_S", "AlertMonitor", "Firing", "RuleState", "detection"]

DETECTION_GRACE_S = 60.0
"""A firing this long after a fault's end still counts as detecting it (effects outlast faults)."""

_EPS = 1e-9


@dataclass
class Firing:
    """One rule firing on one target: when it started, and when (if) it resolved."""

    rule: str
    metric: str
    target: str
    severity: str
    fired_s: float
    resolved_s: float | None
    value: float

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fired_s"] = round(self.fired_s, 6)
        out["resolved_s"] = None if self.resolved_s is None else round(self.resolved_s, 6)
        out["value"] = round(self.value, 6)
        return out


class RuleState:
    """Pending -> firing -> resolved for one rule on one target (a small state machine).

    ``update(now, width, value)`` is one evaluation from a bucket of ``width``
    seconds ending at ``now``; it returns ``"fired"``, ``"resolved"`` or None.
    The condition is taken to have held over the whole bucket that showed it,
    so a rule with ``for: 30s`` fires at the end of the 30th bad 1 s bucket, and
    one with ``for: 0s`` at the end of the first.
    """

    __slots__ = ("above", "firing", "for_s", "pending_since", "threshold")

    def __init__(self, threshold: float, above: bool, for_s: float):
        self.threshold, self.above, self.for_s = threshold, above, for_s
        self.pending_since: float | None = None
        self.firing = False

    def holds(self, value: float) -> bool:
        return value > self.threshold if self.above else value < self.threshold

    def update(self, now: float, width: float, value: float | None) -> str | None:
        if value is None:
            return None  # no data: neither evidence for nor against
        if not self.holds(value):
            self.pending_since = None
            if self.firing:
                self.firing = False
                return "resolved"
            return None
        if self.pending_since is None:
            self.pending_since = now - width
        if not self.firing and now - self.pending_since >= self.for_s - _EPS:
            self.firing = True
            return "fired"
        return None


Reader = Callable[[int], float | None]
"""The metric's value in bucket ``index`` (None: no data in that bucket)."""


class _Watch:
    """One expanded rule: its state machine, what it reads, and its open firing."""

    __slots__ = ("open", "read", "rule", "state", "target")

    def __init__(self, rule: ResolvedRule, target: str, read: Reader):
        self.rule, self.target, self.read = rule, target, read
        self.state = RuleState(rule.threshold, rule.above, rule.for_s)
        self.open: Firing | None = None


class AlertMonitor:
    """The alert rule set of one run, evaluated at every bucket close (``sim.alerts``)."""

    def __init__(self, sim: Simulation):
        self._sim = sim
        self.firings: list[Firing] = []
        self._subscribers: list[Callable[[Firing], None]] = []
        self._width = sim.scenario.bucket
        self._index = 0  # the bucket the next evaluation reads
        self._watches = [
            _Watch(rule, target, _reader(sim, rule.metric, target))
            for rule, target in expand_rules(sim.scenario)
        ]

    def subscribe(self, callback: Callable[[Firing], None]) -> None:
        """callback(firing) at the simulated instant a rule starts firing (inside the run)."""
        self._subscribers.append(callback)

    def evaluate(self, now: float) -> None:
        """One evaluation of every rule from the bucket that just closed at ``now``."""
        index = self._index
        self._index += 1
        for watch in self._watches:
            value = watch.read(index)
            change = watch.state.update(now, self._width, value)
            if change == "fired":
                assert value is not None
                firing = Firing(watch.rule.name, watch.rule.metric, watch.target,
                                watch.rule.severity, now, None, value)  # fmt: skip
                watch.open = firing
                self.firings.append(firing)
                for callback in self._subscribers:
                    callback(firing)
            elif change == "resolved" and watch.open is not None:
                watch.open.resolved_s = now
                watch.open = None

    def as_list(self) -> list[dict[str, Any]]:
        """The firings so far as plain data (the JSON's ``alerts``)."""
        return [f.as_dict() for f in self.firings]

    def problems(self) -> list[str]:
        """Bookkeeping checks: one open firing per firing rule, resolved after fired."""
        out = []
        for watch in self._watches:
            if watch.state.firing != (watch.open is not None):
                out.append(f"alert {watch.rule.name} on {watch.target}: state and firing disagree")
        for f in self.firings:
            if f.resolved_s is not None and f.resolved_s < f.fired_s:
                out.append(f"alert {f.rule} on {f.target}: resolved before it fired")
        return out


def _reader(sim: Simulation, metric: str, target: str) -> Reader:
    """How a metric is read from the recorders of one target, bucket by bucket."""
    kind, _, name = target.partition(" ")
    if kind == "route":
        return _route_reader(sim, metric, name)
    if kind == "node":
        return _node_reader(sim, metric, name)
    site = sim.sites[name]
    if kind == "pool":
        assert site.pool is not None and site.pool_recorder is not None
        in_use = site.pool_recorder.series.data["in_use"]
        size = max(site.pool.capacity, 1)
        return lambda i: float(in_use[i]) / size
    breaker = site.breaker
    assert breaker is not None
    seen = [0]

    def opened(_i: int) -> float:
        # Open now, or opened (and maybe closed again) since the last evaluation.
        opens, before = breaker.opens, seen[0]
        seen[0] = opens
        return float(opens) if opens > before or breaker.state != "closed" else 0.0

    return opened


def _route_reader(sim: Simulation, metric: str, name: str) -> Reader:
    stats = sim.clients[name].stats
    data = stats.series.data
    if metric == "error_rate":
        good, failed = data["goodput"], data["failed"]

        def error_rate(i: int) -> float | None:
            done = good[i] + failed[i]
            return float(failed[i] / done) if done > 0 else None

        return error_rate
    offset = stats.latency._offset
    gamma = stats.latency.gamma
    coarse = stats.COARSE

    def p99(i: int) -> float | None:
        counts = stats.bucketed[i]
        total = int(counts.sum())
        if not total:
            return None
        k = int(np.searchsorted(np.cumsum(counts), math.ceil(0.99 * total)))
        upper = gamma ** ((k + 1) * coarse - 1 - offset)
        return math.sqrt(upper * gamma ** (k * coarse - 1 - offset))

    return p99


def _node_reader(sim: Simulation, metric: str, name: str) -> Reader:
    server = sim.servers[name]
    data = server.stats.series.data
    if metric == "utilization":
        busy, workers = data["busy"], server.workers
        return lambda i: float(busy[i]) / workers
    if metric == "memory":
        memory = server.own_series()[f"node.{name}"].data["memory_mb"]
        limit = server.memory.limit  # type: ignore[attr-defined]
        return lambda i: float(memory[i]) / limit
    queue = data["queue"]

    def growing(i: int) -> float | None:
        # The queue's level if it rose since the last bucket, else 0 (never above a floor).
        if i == 0:
            return None
        level = float(queue[i])
        return level if level > queue[i - 1] else 0.0

    return growing


def detection(firings: list[Firing], start: float, end: float) -> Firing | None:
    """The first firing (any rule) at or after a fault's start and before its end + the grace."""
    for firing in firings:
        if start - _EPS <= firing.fired_s <= end + DETECTION_GRACE_S + _EPS:
            return firing
    return None
