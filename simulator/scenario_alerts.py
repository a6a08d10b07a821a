"""The scenario's ``alerts:`` section: the alert rule set, and its expansion per target.

The catalogue's key metrics are the default rules (``DEFAULT_RULES``); a
scenario keeps them (``defaults: true``), overrides fields of one by naming it,
switches one off (``enabled: false``) or adds its own. ``resolve_rules`` merges
the section with the defaults into complete rules; ``expand_rules`` turns each
rule's target (``every route``, ``node api``...) into the concrete targets the
engine evaluates. Both are plain functions over the scenario, shared by the
engine, the file check and the app.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from simulator.scenario_limits import LIMITS
from simulator.scenario_nodes import call_edge_names
from simulator.scenario_types import Duration, Strict
from simulator.units import parse_duration, parse_percent

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = [
    "DEFAULT_RULES",
    "MAX_RULES",
    "METRICS",
    "WINDOWED",
    "AlertRule",
    "Alerts",
    "ResolvedRule",
    "alert_problems",
    "applicable_targets",
    "expand_rules",
    "resolve_rules",
    "scenario_targets",
    "watched_targets",
    "window_buckets",
]

MAX_RULES = LIMITS["alert_rules"]
"""Rules in one scenario's ``alerts:`` section at most (the defaults do not count)."""

Metric = Literal[
    "error_rate", "p99_latency", "utilization", "memory", "pool", "breaker_open", "queue_growing"
]
Severity = Literal["critical", "warning", "info"]

# metric -> (what it watches, the unit of its threshold)
METRICS: dict[str, tuple[str, str]] = {
    "error_rate": ("route", "percent"),
    "p99_latency": ("route", "duration"),
    "utilization": ("node", "percent"),
    "memory": ("node", "percent"),
    "pool": ("pool", "percent"),
    "breaker_open": ("call", "none"),
    "queue_growing": ("node", "count"),
}
"""Each metric's target kind and threshold unit."""

_UNIT_TEXT = {
    "percent": "a percentage such as 1% or 0.01",
    "duration": "a duration such as 800ms or 2s",
    "count": "a number of requests such as 10",
}


class AlertRule(Strict):
    """One alert rule, or the fields of a default rule it overrides (by the same name)."""

    name: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
        description="the rule's name; a default rule's name (error-rate, p99-latency, "
        "utilization, memory, pool, breaker-open, queue-growing) overrides only the fields given",
    )  # fmt: skip
    metric: Metric | None = Field(
        None,
        description="what is watched: error_rate, p99_latency (route); utilization, memory, "
        "queue_growing (node, broker queue, outbox); pool (pooled call); breaker_open (call "
        "with a breaker)",
    )
    target: str | None = Field(
        None, max_length=200,
        description="'route NAME', 'node NAME', 'call CALLER->CALLEE', 'pool CALLER->CALLEE', "
        "'queue BROKER/QUEUE' or 'outbox RELAY' (queue growing), or 'every route' / 'every "
        "node' / 'every call' / 'every pool': one alert per target ('every node' of queue "
        "growing also watches every broker queue and outbox)",
    )  # fmt: skip
    above: float | str | None = Field(
        None,
        description="fires when the metric is above this, in its unit: a percentage (error rate, "
        "utilization, memory, pool), a duration (p99 latency), a count (queue floor)",
    )
    below: float | str | None = Field(
        None, description="fires when the metric is below this (same units as above)"
    )
    for_: Duration | None = Field(
        None, alias="for",
        description="the condition must hold at every evaluation over this long before the "
        "rule fires (0: at the first evaluation); evaluated once per time bucket",
    )  # fmt: skip
    window: Duration | None = Field(
        None,
        description="the lookback each evaluation computes its value over (as Prometheus' "
        "rate over [30s]), in whole buckets, rounded up: error rate, p99, utilization and "
        "pool over the window; queue growing compares now with a window ago; memory (a "
        "gauge) and breaker open read the present and ignore it",
    )
    severity: Severity | None = Field(None, description="critical, warning or info")
    enabled: bool = Field(True, description="false: the rule (e.g. a default) is switched off")

    model_config = Strict.model_config | {"populate_by_name": True}

    @field_validator("above", "below")
    @classmethod
    def _threshold_text(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, bool):
            raise ValueError("expected a number or a value with its unit, not true/false")
        if isinstance(value, float | int) and not (math.isfinite(value) and value >= 0):
            raise ValueError("a threshold is a finite non-negative number")
        if isinstance(value, str) and len(value) > 64:
            raise ValueError("a threshold is at most 64 characters")
        return value


class Alerts(Strict):
    """The alert rule set: the catalogue's default rules, overridden or added to."""

    defaults: bool = Field(
        True, description="keep the catalogue's default rules (false: only the rules below)"
    )
    rules: list[AlertRule] = Field(
        default_factory=list, max_length=MAX_RULES,
        description="rules added, or default rules overridden by name; a rule's fields: name, "
        "metric, target, above or below, for (how long it holds), window (the lookback its "
        "value is computed over), severity, enabled",
    )  # fmt: skip


@dataclass(frozen=True)
class ResolvedRule:
    """A complete rule: every field known, the threshold parsed into the metric's unit."""

    name: str
    metric: str
    target: str
    threshold: float  # seconds, a fraction or a count; 0 for breaker_open
    above: bool  # True: fires above the threshold; False: below
    for_s: float
    severity: str
    window_s: float  # the lookback of each evaluation; 0: one bucket (memory, breaker_open)


WINDOWED = frozenset({"error_rate", "p99_latency", "utilization", "pool", "queue_growing"})
"""The metrics a rule's ``window`` applies to (memory is a gauge, breaker_open a state)."""


def window_buckets(window_s: float, bucket: float) -> int:
    """The buckets a window spans: rounded up to whole buckets, at least one.

    A window shorter than the bucket reads the one bucket that closed; the rounding
    leaves a window that is a whole number of buckets (30 s of 1 s buckets) exact.
    """
    return max(1, math.ceil(window_s / bucket - 1e-9))


DEFAULT_RULES: tuple[ResolvedRule, ...] = (
    # Each value is computed over a lookback window, then held for ``for:`` (Prometheus'
    # ``rate(errors[30s]) / rate(requests[30s]) > 0.01`` with ``for: 10s``). Scenarios
    # compress an incident into minutes (faults of 10-60 s), so windows are shorter than a
    # production pager's 5 min - 1 h but keep the SRE workbook's point: a rate over 30 s
    # sees a 3% error rate on 40 requests/s (about one failure a second) as 3%, not as a
    # run of 0% and 100% buckets, and the 10 s hold then asks that it persist.
    ResolvedRule("error-rate", "error_rate", "every route", 0.01, True, 10.0, "critical", 30.0),
    # p99 over the merged latencies of 30 s: one slow burst moves a 1 s bucket's p99, not
    # the window's.
    ResolvedRule("p99-latency", "p99_latency", "every route", 2.0, True, 10.0, "critical", 30.0),
    # Saturation is a trend: mean busy workers over a minute, held 30 s; busy workers are
    # normal for a burst.
    ResolvedRule("utilization", "utilization", "every node", 0.8, True, 30.0, "warning", 60.0),
    # Memory is a gauge (the peak of the last bucket): no window, held 10 s.
    ResolvedRule("memory", "memory", "every node", 0.85, True, 10.0, "warning", 0.0),
    ResolvedRule("pool", "pool", "every pool", 0.8, True, 10.0, "warning", 30.0),
    # A breaker opening is already a decision made over a window: report it at once.
    ResolvedRule("breaker-open", "breaker_open", "every call", 0.0, True, 0.0, "warning", 0.0),
    # A queue past 10 waiting and longer than 10 s before, at every evaluation for 5 s:
    # a rise over a span, not from one bucket to the next (which noise reverses).
    ResolvedRule("queue-growing", "queue_growing", "every node", 10.0, True, 5.0, "warning", 10.0),
)
"""The catalogue's key metrics, with the ``for:`` each holds before firing and why."""

_DEFAULTS = {rule.name: rule for rule in DEFAULT_RULES}
_NEW_RULE_WINDOW = {rule.metric: rule.window_s for rule in DEFAULT_RULES}
"""A new rule's window when it gives none: its metric's default rule's."""


def _parse_threshold(metric: str, raw: float | str) -> float:
    unit = METRICS[metric][1]
    if unit == "percent":
        return parse_percent(raw)
    if unit == "duration":
        return parse_duration(raw)
    if unit == "count":
        if isinstance(raw, str):
            raise ValueError(f"expected {_UNIT_TEXT['count']}, got {raw!r}")
        return float(raw)
    raise ValueError(f"a {metric} rule takes no threshold: it fires when the breaker opens")


def _merge(rule: AlertRule, base: ResolvedRule | None) -> ResolvedRule:
    """The rule's fields over its default's (or on their own); ValueError says what is missing."""
    metric = rule.metric or (base.metric if base else None)
    if metric is None:
        raise ValueError("a new rule needs a metric (and a target and a threshold)")
    if base is not None and metric != base.metric and rule.target is None:
        base = None  # a different metric under a default's name: nothing else carries over
    target = rule.target or (base.target if base else None)
    if target is None:
        raise ValueError("a new rule needs a target, e.g. 'route checkout' or 'every route'")
    raw = rule.above if rule.above is not None else rule.below
    if rule.above is not None and rule.below is not None:
        raise ValueError("give above or below, not both")
    if raw is not None:
        threshold, above = _parse_threshold(metric, raw), rule.below is None
        if METRICS[metric][1] == "percent" and (threshold >= 1.0 if above else threshold <= 0.0):
            # A fraction never exceeds 100% nor falls below 0%: the rule could never fire.
            word, bound = ("above", "100%") if above else ("below", "0%")
            shown = raw if isinstance(raw, str) else f"{raw:g}"
            raise ValueError(
                f"{word}: {shown} reads as {100 * threshold:g}%, and {metric} is never {word} "
                f"{bound}: the rule could never fire; write a percentage, e.g. {word}: 1%"
            )
    elif base is not None:
        threshold, above = base.threshold, base.above
    elif METRICS[metric][1] == "none":
        threshold, above = 0.0, True
    else:
        unit = _UNIT_TEXT[METRICS[metric][1]]
        raise ValueError(f"a {metric} rule needs a threshold: above: {unit}")
    for_s = rule.for_ if rule.for_ is not None else (base.for_s if base else 30.0)
    severity = rule.severity or (base.severity if base else "warning")
    if metric not in WINDOWED:
        window_s = 0.0  # a gauge or a state: the present, whatever the rule says
    elif rule.window is not None:
        window_s = rule.window
    else:
        window_s = base.window_s if base else _NEW_RULE_WINDOW[metric]
    return ResolvedRule(rule.name, metric, target, threshold, above, for_s, severity, window_s)


def resolve_rules(alerts: Alerts) -> list[ResolvedRule]:
    """The rule set in force: defaults (if kept) with overrides, then the added rules.

    A rule that cannot be completed is left out: the file check (``alert_problems``)
    reports each with its line, and an app can run a scenario it still lists problems for.
    """
    rules = dict(_DEFAULTS) if alerts.defaults else {}
    off: set[str] = set()
    for rule in alerts.rules:
        if not rule.enabled:
            off.add(rule.name)
            continue
        try:
            rules[rule.name] = _merge(rule, _DEFAULTS.get(rule.name) if alerts.defaults else None)
        except ValueError:
            rules.pop(rule.name, None)
    return [r for name, r in rules.items() if name not in off]


@dataclass(frozen=True)
class Targets:
    """What a scenario has to watch, by kind (from the spec: the engine builds the same)."""

    routes: list[str]
    nodes: list[str]
    calls: list[str]
    breakers: list[str]
    pools: list[str]
    serving: list[str]  # nodes with a finite number of workers
    memory: list[str]  # nodes with a memory model
    queued: list[str]  # nodes that can queue
    queues: list[str] = field(default_factory=list)  # broker queues, as "BROKER/QUEUE"
    outboxes: list[str] = field(default_factory=list)  # relays (their outbox's backlog)


def scenario_targets(scenario: Scenario) -> Targets:
    """Every route, node and call edge of a scenario, and which ones each metric applies to."""
    routes, nodes, calls, breakers, pools = [], [], [], [], []
    serving, memory, queued, queues, outboxes = [], [], [], [], []
    for name, node in scenario.nodes.items():
        if node.kind == "broker":
            queues += [f"{name}/{queue}" for queue in getattr(node, "queues", {})]
        elif node.kind == "relay":
            outboxes.append(name)
        if node.kind == "client":
            routes.append(name)
        else:
            nodes.append(name)
            workers = getattr(node, "workers", None)
            if isinstance(workers, int):
                serving.append(name)
            if getattr(node, "memory", None) is not None:
                memory.append(name)
            if getattr(node, "queue", 0) != 0:
                queued.append(name)
        for call, edge in zip(node.calls, call_edge_names(name, node.calls), strict=True):
            calls.append(edge)
            if call.breaker is not None:
                breakers.append(edge)
            if call.pool is not None:
                pools.append(edge)
    return Targets(routes, nodes, calls, breakers, pools, serving, memory, queued, queues, outboxes)


def applicable_targets(metric: str, targets: Targets) -> list[str]:
    """The targets of ``every ...`` for a metric: only those the metric means something on."""
    if metric in ("error_rate", "p99_latency"):
        return targets.routes
    if metric == "utilization":
        return targets.serving
    if metric == "memory":
        return targets.memory
    if metric == "queue_growing":
        return targets.queued
    if metric == "pool":
        return targets.pools
    return targets.breakers


def watched_targets(metric: str, targets: Targets) -> list[str]:
    """The targets ``every ...`` expands to, spelt as in the JSON (``node api``).

    Queue growing watches what a person calls a queue: a node's own queue, a
    broker's queue (``queue bus/orders``, its depth over all consumer groups) and
    an outbox's backlog (``outbox relay``, rows not yet published).
    """
    wanted = METRICS[metric][0]
    out = [f"{wanted} {t}" for t in applicable_targets(metric, targets)]
    if metric == "queue_growing":
        out += [f"queue {q}" for q in targets.queues] + [f"outbox {o}" for o in targets.outboxes]
    return out


def _target_problem(metric: str, target: str, targets: Targets) -> str | None:
    kind, _, name = target.partition(" ")
    wanted = METRICS[metric][0]
    if metric == "queue_growing" and kind in ("queue", "outbox"):
        known = targets.queues if kind == "queue" else targets.outboxes
        if name in known:
            return None
        spelt = "queue BROKER/QUEUE" if kind == "queue" else "outbox RELAY"
        return f"no {kind} {name!r} in this scenario: write '{spelt}'"
    if kind != wanted:
        return f"a {metric} rule watches a {wanted}: write '{wanted} NAME' or 'every {wanted}'"
    if name == "":
        return f"name the {wanted}: '{wanted} NAME' or 'every {wanted}'"
    if name.startswith("every"):
        return f"write 'every {wanted}', not '{target}'"
    known = {"route": targets.routes, "node": targets.nodes, "call": targets.calls,
             "pool": targets.calls}[kind]  # fmt: skip
    if name not in known:
        return f"no {kind} {name!r} in this scenario"
    if name not in applicable_targets(metric, targets):
        why = {"utilization": "has no finite workers", "memory": "has no memory model",
               "queue_growing": "has no queue", "pool": "has no connection pool",
               "breaker_open": "has no circuit breaker"}[metric]  # fmt: skip
        return f"{kind} {name!r} {why}"
    return None


def expand_rules(scenario: Scenario) -> list[tuple[ResolvedRule, str]]:
    """Each rule in force with each concrete target it watches, in rule order.

    A target is spelt as in the JSON: ``route checkout``, ``node api``,
    ``call api->db``, ``pool api->db``.
    """
    targets = scenario_targets(scenario)
    out = []
    for rule in resolve_rules(scenario.alerts):
        if rule.target.startswith("every "):
            out += [(rule, t) for t in watched_targets(rule.metric, targets)]
        elif _target_problem(rule.metric, rule.target, targets) is None:
            out.append((rule, rule.target))  # else reported by alert_problems; watched nowhere
    return out


def alert_problems(scenario: Scenario) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Rules that cannot be completed or watch nothing real, located at the rule's field."""
    targets = scenario_targets(scenario)
    section = scenario.alerts
    names = [rule.name for rule in section.rules]
    for i, rule in enumerate(section.rules):
        loc = ("alerts", "rules", i)
        if names.index(rule.name) != i:
            yield (*loc, "name"), f"a second rule named {rule.name!r}: give each rule its own name"
            continue
        if not rule.enabled:
            if rule.name not in _DEFAULTS or not section.defaults:
                yield (*loc, "enabled"), f"no default rule {rule.name!r} to switch off"
            continue
        try:
            resolved = _merge(rule, _DEFAULTS.get(rule.name) if section.defaults else None)
        except ValueError as exc:
            field = _field_of(rule, str(exc))
            yield (*loc, field), str(exc)
            continue
        if resolved.target.startswith("every "):
            wanted = METRICS[resolved.metric][0]
            if resolved.target != f"every {wanted}":
                message = f"a {resolved.metric} rule watches a {wanted}: write 'every {wanted}'"
                yield (*loc, "target"), message
            continue
        problem = _target_problem(resolved.metric, resolved.target, targets)
        if problem is not None:
            yield (*loc, "target"), problem
    yield from _watch_count_problem(section, targets)


def _watch_count_problem(
    section: Alerts, targets: Targets
) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every rule is evaluated on every target at every bucket: bound the product."""
    rules = resolve_rules(section)
    every = [r for r in rules if r.target.startswith("every ")]
    watches = len(rules) - len(every)
    watches += sum(len(watched_targets(r.metric, targets)) for r in every)
    if watches > LIMITS["alert_watches"]:
        limit = LIMITS["alert_watches"]
        message = f"the rules watch {watches} targets; the limit is {limit}: name targets instead"
        yield ("alerts", "rules"), message


def _field_of(rule: AlertRule, message: str) -> str:
    """The field a merge error is about, so the message lands on its line (or the rule's)."""
    if "needs a metric" in message:
        return "metric"
    if "needs a target" in message:
        return "target"
    return "below" if rule.below is not None and rule.above is None else "above"
