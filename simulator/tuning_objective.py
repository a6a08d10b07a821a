"""What ``murphy tune`` optimises: one metric to maximise or minimise, and constraints.

``"success max, p99<2s"`` reads as: among the settings whose mean p99 is under
2 s, the one with the highest mean success. The metrics are the comparison's
(``simulator.compare``), read from one run's compact result (``sweep.run_one``):

- ``success``: answered (ok or fallback) over every route's requests after the warm-up;
- ``goodput``: answered requests per second after the warm-up;
- ``mean``, ``p50``, ``p90``, ``p99``, ``p999``: latency of every route's finished requests (ms);
- ``attempts``: attempts over every call edge (the load the whole system sends);
- ``amplification``: attempts per request on the tuned call.

A ranking puts the settings that meet every constraint first, best objective
first; then the others, the least violation first, so that a search where nothing
is feasible still says which came closest.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from simulator.units import holds, parse_duration, parse_percent, parse_rate

__all__ = [
    "METRICS",
    "Constraint",
    "Objective",
    "ObjectiveError",
    "parse_objective",
    "run_metrics",
]

LATENCY = ("mean", "p50", "p90", "p99", "p999")
METRICS: dict[str, tuple[bool, str]] = {
    "success": (True, "share of requests answered"),
    "goodput": (True, "answered requests per second"),
    **{m: (False, f"{m} latency (ms)") for m in LATENCY},
    "attempts": (False, "attempts over every call"),
    "amplification": (False, "attempts per request on the tuned call"),
}
"""Metric name -> (higher is better, what it measures)."""
MAX_OBJECTIVE_TEXT = 300
EXAMPLE = 'e.g. "success max, p99<2s"'


class ObjectiveError(ValueError):
    """An objective that cannot be read; the message says what to write instead."""


def _higher(metric: str) -> bool:
    return METRICS[metric][0]


def format_value(metric: str, value: float) -> str:
    """A metric's value as a person reads it (99.2%, 1,830 ms, 151.3/s, 1.08)."""
    if value is None or math.isnan(value):
        return "–"
    if metric == "success":
        return f"{100 * value:.2f}%"
    if metric in LATENCY:
        return f"{value:,.0f} ms" if value >= 10 else f"{value:.2f} ms"
    if metric == "goodput":
        return f"{value:,.1f}/s"
    if metric == "attempts":
        return f"{value:,.0f}"
    return f"{value:.3f}"


@dataclass(frozen=True)
class Constraint:
    """``metric op threshold`` (latency in ms, success a fraction, goodput per second)."""

    metric: str
    op: str
    threshold: float
    text: str

    def holds(self, value: float) -> bool:
        return holds(value, self.op, self.threshold)

    def violation(self, value: float) -> float:
        """How far outside the constraint ``value`` is, relative to the threshold (0: holds)."""
        if self.holds(value):
            return 0.0
        if math.isnan(value):
            return math.inf
        scale = max(abs(self.threshold), 1e-9)
        if self.metric == "success":
            scale = max(1.0 - self.threshold, 1e-3)  # 99% vs 99.9% is a tenfold miss
        return abs(value - self.threshold) / scale


@dataclass(frozen=True)
class Objective:
    """Maximise or minimise ``metric`` subject to every constraint."""

    metric: str
    maximize: bool
    constraints: tuple[Constraint, ...]
    warnings: tuple[str, ...] = ()
    """Bounds every candidate meets by definition (they change nothing): say so."""

    @property
    def text(self) -> str:
        head = f"{self.metric} {'max' if self.maximize else 'min'}"
        return ", ".join([head, *(c.text for c in self.constraints)])

    @property
    def metrics(self) -> list[str]:
        """Every metric the objective reads, the objective's first."""
        return list(dict.fromkeys([self.metric, *(c.metric for c in self.constraints)]))

    def feasible(self, values: dict[str, float]) -> bool:
        return all(c.holds(values[c.metric]) for c in self.constraints)

    def violation(self, values: dict[str, float]) -> float:
        return sum(c.violation(values[c.metric]) for c in self.constraints)

    def better(self, a: float, b: float) -> bool:
        """``a`` is a better objective value than ``b`` (NaN is worse than anything)."""
        if math.isnan(a):
            return False
        if math.isnan(b):
            return True
        return a > b if self.maximize else a < b

    def sort_key(self, values: dict[str, float]) -> tuple[float, ...]:
        """Ascending is best first: feasible before not, then the objective, then the first
        constraint's metric in its own direction (a tie on 100% success goes to the faster)."""
        value = values[self.metric]
        signed = math.inf if math.isnan(value) else (-value if self.maximize else value)
        feasible = self.feasible(values)
        key: list[float] = [0.0 if feasible else 1.0, 0.0 if feasible else self.violation(values)]
        key.append(signed)
        for c in self.constraints:
            v = values[c.metric]
            key.append(math.inf if math.isnan(v) else (-v if _higher(c.metric) else v))
        return tuple(key)


_CONSTRAINT = re.compile(r"^([a-z0-9]+)\s*(<=|>=|<|>)\s*(\S.*?)$")
_WORD = r"(max|min|maximi[sz]e|minimi[sz]e)"
_GOAL = re.compile(rf"^(?:{_WORD}\s+([a-z0-9]+)|([a-z0-9]+)\s+{_WORD})$")


def _unknown(metric: str, part: str) -> ObjectiveError:
    return ObjectiveError(f"unknown metric {metric!r} in {part!r}: use one of {', '.join(METRICS)}")


def _threshold(metric: str, raw: str, part: str) -> float:
    try:
        if metric == "success":
            bare = raw.strip()
            if bare.replace(".", "", 1).isdigit() and 1.0 < float(bare) <= 100.0:
                raise ValueError(f"{bare} looks like a percent: write {bare}%")
            value = parse_percent(raw)
            if not 0.0 <= value <= 1.0:
                raise ValueError("a success rate is between 0% and 100%")
        elif metric in LATENCY:
            value = parse_duration(raw) * 1000.0
        elif metric == "goodput":
            value = parse_rate(raw if "/" in raw else f"{raw}/s")
        else:
            value = float(raw)
            if not math.isfinite(value) or value < 0:
                raise ValueError("give a non-negative number")
    except ValueError as exc:
        kind = {"success": "a percentage (99.9%)", "goodput": "a rate (150/s)"}.get(
            metric, "a duration (500ms, 2s)" if metric in LATENCY else "a number"
        )
        raise ObjectiveError(f"{part!r}: {exc} ({metric} takes {kind})") from None
    return value


def _goal(match: re.Match[str], part: str) -> tuple[str, bool]:
    word, metric = (match[1], match[2]) if match[1] else (match[4], match[3])
    if metric not in METRICS:
        raise _unknown(metric, part)
    maximize = word.startswith("max")
    if maximize != _higher(metric):
        good = "max" if _higher(metric) else "min"
        raise ObjectiveError(
            f"{part!r} looks for the worst {metric}: {metric} is better "
            f"{'higher' if _higher(metric) else 'lower'}, write {metric} {good}"
        )
    return metric, maximize


def _constraint(match: re.Match[str], part: str) -> Constraint:
    metric, op, raw = match.groups()
    if metric not in METRICS:
        raise _unknown(metric, part)
    if op.startswith("<") == _higher(metric):
        if _higher(metric):
            how = "higher: keep it above a floor (success>99%)"
        else:
            how = f"lower: keep it below a ceiling ({metric}<2s)"
        raise ObjectiveError(f"{part!r}: {metric} is better {how}")
    constraint = Constraint(metric, op, _threshold(metric, raw, part), f"{metric}{op}{raw}")
    _check_meetable(constraint, part)
    return constraint


# The best value each metric can take by definition: a latency is above 0, a call makes
# at least one attempt per request, a success rate is at most 100%.
_BEST_POSSIBLE = {**{m: 0.0 for m in LATENCY}, "amplification": 1.0, "attempts": 0.0,
                  "success": 1.0}  # fmt: skip
_WORST_POSSIBLE = {"success": 0.0, "goodput": 0.0}


def _check_meetable(c: Constraint, part: str) -> None:
    """Refuse a bound no candidate can meet by definition (p99<0s, amplification<1)."""
    best = _BEST_POSSIBLE.get(c.metric)
    if best is None:
        return
    strict = c.op in ("<", ">") or c.metric in LATENCY  # a latency is never exactly 0
    if _higher(c.metric):
        never = c.threshold > best or (strict and c.threshold >= best)
    else:
        never = c.threshold < best or (strict and c.threshold <= best)
    if never:
        shown = {"success": "100%", "amplification": "1"}.get(c.metric, "0")
        side = "at most" if _higher(c.metric) else "at least"
        if c.metric in LATENCY:
            side = "above"
        raise ObjectiveError(
            f"{part!r}: no candidate can meet it: {c.metric} is {side} {shown} by definition"
        )


def _vacuous(c: Constraint) -> str | None:
    """A warning for a bound every candidate meets by definition (success>=0%)."""
    worst = _WORST_POSSIBLE.get(c.metric)
    if worst is not None and c.op == ">=" and c.threshold <= worst:
        return f"{c.text} holds for every candidate: it changes nothing (drop it or raise it)"
    return None


def parse_objective(text: str) -> Objective:
    """``"success max, p99<2s"``: one ``METRIC max|min`` and any constraints, by commas.

    Latency constraints take a duration (``p99<2s``), ``success`` a percentage or a fraction
    (``success>=99%``), ``goodput`` a rate (``goodput>150/s``), the others a number.
    """
    if not isinstance(text, str) or not text.strip():
        raise ObjectiveError(f"an objective is needed, {EXAMPLE}")
    if len(text) > MAX_OBJECTIVE_TEXT:
        raise ObjectiveError(f"the objective is longer than {MAX_OBJECTIVE_TEXT} characters")
    goals: list[tuple[str, bool]] = []
    constraints: list[Constraint] = []
    for raw_part in text.split(","):
        part = " ".join(raw_part.lower().split())
        if not part:
            raise ObjectiveError(f"an empty clause in {text.strip()!r}: {EXAMPLE}")
        if goal := _GOAL.match(part):
            goals.append(_goal(goal, part))
        elif bound := _CONSTRAINT.match(part):
            constraint = _constraint(bound, part)
            if any(c.metric == constraint.metric for c in constraints):
                raise ObjectiveError(f"{constraint.metric} is constrained twice: keep one bound")
            constraints.append(constraint)
        else:
            raise ObjectiveError(
                f"cannot read {part!r}: write METRIC max, METRIC min or a bound such as "
                f"p99<2s ({EXAMPLE})"
            )
    if len(goals) != 1:
        what = "no metric to optimise" if not goals else "two metrics to optimise"
        raise ObjectiveError(f"{what}: give exactly one METRIC max or METRIC min, {EXAMPLE}")
    metric, maximize = goals[0]
    warnings = tuple(w for c in constraints if (w := _vacuous(c)) is not None)
    return Objective(metric, maximize, tuple(constraints), warnings)


def run_metrics(run: dict[str, Any], edge: str) -> dict[str, float]:
    """Every metric of one run's compact result (``sweep.run_one``); NaN where undefined."""
    overall = run["overall"]
    latency = overall["latency_ms"]
    span = max(run["duration_s"] - run["warmup_s"], 1e-12)
    outcomes = overall["outcomes"]

    def number(value: Any) -> float:
        return math.nan if value is None else float(value)

    out = {m: number(latency.get(m)) for m in LATENCY}
    out["success"] = number(overall["success_rate"])
    out["goodput"] = (outcomes["ok"] + outcomes["fallback"]) / span
    out["attempts"] = float(sum(e["attempts"] for e in run["edges"].values()))
    out["amplification"] = number(run["edges"].get(edge, {}).get("amplification"))
    return out
