"""Alert rules evaluated live, at every bucket close, as a monitoring system would.

Each rule watches one target (a route, a node, a pooled call, a call with a
breaker). At every bucket close it computes its metric over its lookback
``window`` (whole buckets ending with the one that just closed; fewer early in
the run), as Prometheus' ``rate(errors[30s])`` does. Like Prometheus, a rule whose
condition holds is *pending*; it *fires* once the condition has held at every
evaluation for its ``for:`` window, and *resolves* at the first evaluation
where it no longer holds. An evaluation with no data for the metric (no request
answered in the window, say) drops a pending rule's count, as Prometheus drops a
pending alert whose expression returns no sample, and leaves a firing rule firing.
Each firing carries ``since_s``, when its condition began to hold (the start of
its pending period): a fault is credited only with firings whose condition began
after it started (``detections``). Subscribers hear of a firing at
the simulated instant it fires (a deploy's automatic rollback listens here).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.scenario_alerts import ResolvedRule, expand_rules, window_buckets

if TYPE_CHECKING:
    from simulator.engine import Simulation
    from simulator.metrics import RouteStats

__all__ = [
    "DETECTION_GRACE_S",
    "SNAPSHOT_FIRINGS",
    "AlertMonitor",
    "Fault",
    "Firing",
    "FiringLog",
    "RuleState",
    "WindowRows",
    "WindowSum",
    "describe_value",
    "detection",
    "detections",
    "firings_at",
    "target_nodes",
]

DETECTION_GRACE_S = 60.0
"""A firing this long after a fault's end still counts as detecting it (effects outlast faults)."""

SNAPSHOT_FIRINGS = 200
"""Firings a live snapshot carries at most (the latest): a GUI keeps thousands of snapshots."""

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
    since_s: float = 0.0
    """When the condition began to hold: the start of the first bucket of its pending run."""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fired_s"] = round(self.fired_s, 6)
        out["since_s"] = round(self.since_s, 6)
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
            # No data: the condition did not hold at this evaluation, so a pending run ends
            # (two bad buckets around a silence are not a bad stretch); a firing stays.
            self.pending_since = None
            return None
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
"""The metric's value over the window ending with bucket ``index`` (None: no data in it)."""


class WindowSum:
    """The sum of a series over the ``n`` buckets ending at ``i`` (fewer at the start).

    Evaluations read bucket after bucket, so the sum runs: one add and one subtract
    per evaluation, whatever the window's length. A read out of that order (none in
    a run) sums the slice afresh. Counts (requests) are whole numbers held exactly in
    floats, so the running sum equals the slice's sum; a float series may differ from
    it in the last bits, never below zero.
    """

    __slots__ = ("last", "n", "series", "total")

    def __init__(self, series: np.ndarray, n: int):
        self.series, self.n = series, n
        self.total = 0.0
        self.last = -1

    def __call__(self, i: int) -> float:
        if i != self.last + 1:
            self.total = float(self.series[max(0, i - self.n + 1) : i + 1].sum())
        else:
            self.total += self.series.item(i)
            if i >= self.n:
                self.total = max(0.0, self.total - self.series.item(i - self.n))
        self.last = i
        return self.total

    def span(self, i: int) -> int:
        """How many buckets the window ending at ``i`` holds (fewer than ``n`` early on)."""
        return min(self.n, i + 1)


class WindowRows:
    """The element-wise sum of a 2-D array's rows over the window ending at row ``i``.

    The merged latency histogram of a window's buckets, kept running as ``WindowSum``
    keeps a sum. The returned row is the object's own: read it, do not keep it.
    """

    __slots__ = ("last", "n", "rows", "total")

    def __init__(self, rows: np.ndarray, n: int):
        self.rows, self.n = rows, n
        self.total = np.zeros(rows.shape[1], dtype=np.int64)
        self.last = -1

    def __call__(self, i: int) -> np.ndarray:
        if self.n == 1:
            self.last = i
            return self.rows[i]  # one bucket: its own row, nothing to keep
        if i != self.last + 1:
            self.total = self.rows[max(0, i - self.n + 1) : i + 1].sum(axis=0, dtype=np.int64)
        else:
            self.total += self.rows[i]
            if i >= self.n:
                self.total -= self.rows[i - self.n]
        self.last = i
        return self.total


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
        self._buckets = sim.series(()).size  # past the last, a close has nothing to read
        self._watches = [
            _Watch(rule, target, _reader(sim, rule, target))
            for rule, target in expand_rules(sim.scenario)
        ]

    def subscribe(self, callback: Callable[[Firing], None]) -> None:
        """callback(firing) at the simulated instant a rule starts firing (inside the run)."""
        self._subscribers.append(callback)

    def evaluate(self, now: float) -> None:
        """One evaluation of every rule from the bucket that just closed at ``now``."""
        index = self._index
        self._index += 1
        if index >= self._buckets:
            return
        for watch in self._watches:
            value = watch.read(index)
            change = watch.state.update(now, self._width, value)
            if change == "fired":
                assert value is not None
                since = watch.state.pending_since
                assert since is not None
                firing = Firing(watch.rule.name, watch.rule.metric, watch.target,
                                watch.rule.severity, now, None, value, since)  # fmt: skip
                watch.open = firing
                self.firings.append(firing)
                for callback in self._subscribers:
                    callback(firing)
            elif change == "resolved" and watch.open is not None:
                watch.open.resolved_s = now
                watch.open = None

    def as_list(self, last: int | None = None) -> list[dict[str, Any]]:
        """The firings so far as plain data (the JSON's ``alerts``); ``last``: only the latest."""
        firings = self.firings if last is None else self.firings[-last:]
        return [f.as_dict() for f in firings]

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


def _reader(sim: Simulation, rule: ResolvedRule, target: str) -> Reader:
    """How a rule's metric is read from the recorders of one target, over its window."""
    metric = rule.metric
    kind, _, name = target.partition(" ")
    n = window_buckets(rule.window_s, sim.scenario.bucket)
    if kind == "route":
        return _route_reader(sim, rule, name, n)
    if kind == "node":
        return _node_reader(sim, metric, name, n)
    if kind == "queue":
        broker, _, queue = name.partition("/")
        stats = sim.servers[broker].queue_stats[queue]  # type: ignore[attr-defined]
        return _rising(stats.series.data["depth"], n)
    if kind == "outbox":
        return _rising(sim.servers[name].series.data["pending"], n)  # type: ignore[attr-defined]
    site = sim.sites[name]
    if kind == "pool":
        assert site.pool is not None and site.pool_recorder is not None
        in_use = WindowSum(site.pool_recorder.series.data["in_use"], n)
        size = max(site.pool.capacity, 1)
        return lambda i: in_use(i) / in_use.span(i) / size  # the mean in use over the window
    breaker = site.breaker
    assert breaker is not None
    seen = [0]

    def opened(_i: int) -> float:
        # Open now, or opened (and maybe closed again) since the last evaluation: a state,
        # no window.
        opens, before = breaker.opens, seen[0]
        seen[0] = opens
        return float(opens) if opens > before or breaker.state != "closed" else 0.0

    return opened


def _route_reader(sim: Simulation, rule: ResolvedRule, name: str, n: int) -> Reader:
    stats = sim.clients[name].stats
    data = stats.series.data
    good = WindowSum(data["goodput"], n)
    if rule.metric == "error_rate":
        failed = WindowSum(data["failed"], n)

        def error_rate(i: int) -> float | None:
            # Failed over ended in the window: rate(failed[w]) / rate(ended[w]).
            bad = failed(i)
            done = good(i) + bad
            return bad / done if done > 0 else None

        return error_rate
    return _p99_reader(stats, good, rule, n)


def _p99_reader(
    stats: RouteStats, answered: Callable[[int], float], rule: ResolvedRule, n: int = 1
) -> Reader:
    """The p99 of the requests answered in the window, from its buckets' merged histograms.

    Bucket by bucket (``n`` = 1) it is ``RouteStats.percentile_series``'s value. Most
    evaluations are far from the threshold: one partial sum of the window's histogram
    says on which side the p99 lies (the bins' values rise with their index), and the
    exact value is computed only when the condition holds. A window where it does not
    reads as the threshold itself, which never holds. ``answered(i)``: the window's ok
    and fallback answers, the histogram's count.
    """
    gamma, offset, coarse = stats.latency.gamma, stats.latency._offset, stats.COARSE
    bins = stats.bucketed.shape[1]
    centres = [
        math.sqrt(gamma ** ((k + 1) * coarse - 1 - offset) * gamma ** (k * coarse - 1 - offset))
        for k in range(bins)
    ]
    threshold = rule.threshold
    # The first bin whose value is past the threshold (above: > it; below: >= it).
    split = next(
        (k for k, c in enumerate(centres) if (c > threshold if rule.above else c >= threshold)),
        bins,
    )
    rows = WindowRows(stats.bucketed, n)

    def p99(i: int) -> float | None:
        total = answered(i)
        hist = rows(i)  # read every evaluation: the running sum must see each bucket
        if not total:
            return None
        rank = math.ceil(0.99 * total)
        beneath = int(hist[:split].sum())
        if (beneath < rank) != rule.above:
            return threshold  # on the quiet side: the exact value is not needed
        k = int(np.searchsorted(np.cumsum(hist), rank))
        return centres[min(k, bins - 1)]

    return p99


def _node_reader(sim: Simulation, metric: str, name: str, n: int) -> Reader:
    server = sim.servers[name]
    data = server.stats.series.data
    if metric == "utilization":
        busy, workers = WindowSum(data["busy"], n), server.workers
        return lambda i: busy(i) / busy.span(i) / workers  # mean busy over the window
    if metric == "memory":
        memory = server.own_series()[f"node.{name}"].data["memory_mb"]
        limit = server.memory.limit  # type: ignore[attr-defined]
        return lambda i: memory.item(i) / limit  # a gauge: the last bucket's peak
    return _growing(data["queue"], n)


def _growing(queue: np.ndarray, n: int) -> Reader:
    """A queue's level if it is higher than a window ago (the first bucket's, early on),
    else 0 (never above a floor): a node's queue, a broker queue's depth, an outbox."""

    def growing(i: int) -> float | None:
        if i == 0:
            return None
        level = queue.item(i)
        return level if level > queue.item(max(0, i - n)) else 0.0

    return growing


def _rising(backlog: np.ndarray, n: int) -> Reader:
    """A backlog's level if it is the highest of the window's buckets, else 0.

    For a broker queue's depth and an outbox's backlog, whose healthy level is noisy
    (a relay's outbox is a sawtooth: rows pile up between polls, a batch empties
    them; a queue holds the messages its consumers prefetched): higher than one
    bucket a window ago is a coin toss, five in a row a false alarm every few
    minutes. A backlog that grows sets a new high at every bucket; noise rarely
    five times running.
    """

    def rising(i: int) -> float | None:
        if i == 0:
            return None
        level = backlog.item(i)
        return level if level > backlog[max(0, i - n) : i].max() else 0.0

    return rising


def target_nodes(target: str) -> set[str]:
    """The scenario nodes an alert's target names: ``call api->db#2`` names api and db,
    ``queue bus/orders`` the broker bus."""
    kind, _, name = target.partition(" ")
    if kind in ("call", "pool"):
        caller, _, callee = name.partition("->")
        return {caller, callee.partition("#")[0]}
    if kind == "queue":
        return {name.partition("/")[0]}  # queue bus/orders: the broker
    return {name}


def detection(
    firings: list[Firing],
    start: float,
    end: float,
    related: set[str] | None = None,
    bucket: float = 0.0,
) -> Firing | None:
    """The first firing that could be a fault's symptom (``detections`` for one fault).

    Could be: its condition began to hold at or after the fault's start, less one
    ``bucket`` (an evaluation reads whole buckets: a crash at 200 s fails requests
    the evaluation closing the 199-200 s bucket counts), it fired before the fault's
    end + ``DETECTION_GRACE_S``, and (with ``related``, the nodes connected to the
    fault's target) it watches one of them. A condition already holding when the
    fault began is an earlier cause's symptom, not this fault's.
    """
    return detections(firings, [(start, end, related)], bucket)[0]


Fault = tuple[float, float, set[str] | None]
"""A fault as detection sees it: start, end, and the nodes connected to its target."""


def detections(
    firings: list[Firing], faults: list[Fault], bucket: float = 0.0
) -> list[Firing | None]:
    """Each fault's detecting firing: the first firing credited to it (None: undetected).

    A firing is credited to one fault at most: among the faults it could be a
    symptom of (see ``detection``), the one that started latest at or before its
    condition began (of faults that started together, the first listed not yet
    detected). When db errors began at 10 s and an api slowdown at 15 s, an
    error-rate alert whose condition began at 10 s is the db's; one whose condition
    began at 16 s, while both are running, is the api's.
    """

    starts = [start - bucket for start, _, _ in faults]
    found: list[Firing | None] = [None] * len(faults)
    for firing in firings:
        best = -1
        for i, (start, end, related) in enumerate(faults):
            if starts[i] > firing.since_s + _EPS or firing.fired_s < start - _EPS:
                continue
            if firing.fired_s > end + DETECTION_GRACE_S + _EPS:
                continue
            if related is not None and not target_nodes(firing.target) & related:
                continue
            if best < 0 or start > faults[best][0] + _EPS:
                best = i
            elif abs(start - faults[best][0]) <= _EPS and found[best] and not found[i]:
                best = i  # started together: the one not yet detected
        if best >= 0 and found[best] is None:
            found[best] = firing
    return found


class FiringLog:
    """Every firing a live run has shown so far, from snapshots that carry only the latest.

    A snapshot holds the last ``SNAPSHOT_FIRINGS`` firings; a firing is known by its rule,
    target and instant, and a later snapshot updates it (its ``resolved_s``). The log keeps
    them in the order they fired, for an app's alert lane during a long run.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, float], dict[str, Any]] = {}

    def add(self, firings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Merge a snapshot's firings; return every firing seen, in the order they fired."""
        for firing in firings:
            self._seen[(firing["rule"], firing["target"], firing["fired_s"])] = firing
        return list(self._seen.values())


def firings_at(firings: list[dict[str, Any]], t: float) -> list[dict[str, Any]]:
    """The firings (as dicts) as they stood at ``t``: fired by then, resolved only if by then.

    What a replay shows at ``t`` from the firings of the whole run.
    """
    out = []
    for firing in firings:
        if firing["fired_s"] > t + _EPS:
            continue
        resolved = firing["resolved_s"]
        out.append(
            firing if resolved is None or resolved <= t + _EPS else {**firing, "resolved_s": None}
        )
    return out


def describe_value(metric: str, value: float) -> str:
    """A firing's value in its metric's unit, as a person reads it: '42.0%', '2.31 s', '17'."""
    if metric in ("error_rate", "utilization", "memory", "pool"):
        return f"{100 * value:.1f}%"
    if metric == "p99_latency":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if metric == "breaker_open":
        return f"opened {value:g} time{'s' if value != 1 else ''} so far"
    return f"{value:.0f} waiting" if metric == "queue_growing" else f"{value:g}"
