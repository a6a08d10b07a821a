"""What a comparison found: the best variant per column, and a verdict with its reason.

A table of means ± 95% intervals leaves the reading to the user; this module
reads it the same way every time, from the measurements alone (nothing is
written per scenario):

- **Best per column.** Each column has a direction (success: higher is better;
  latency, load, attempts: lower). The leader is *clear* when its interval
  does not overlap the runner-up's, *tied* when it does (or when one run per
  variant gives no interval): the variants in the tie may be the best.
- **Verdict.** The leader on the first column that separates the variants
  (success, else goodput, else p99…), with the reason the measurements support:
  it sends the fewest attempts per request on the call the variants change
  most and so loads the busiest node least; or its retries turn failures into
  answers.
- **Findings.** The columns another variant clearly wins (the trade-off). When the
  variants retry with different waits, whether the
  attempts per request follow the wait before the first retry (shorter waits,
  more attempts: a retry that comes back sooner finds the busy node still
  overloaded and fails again).

Rows are ``comparison_table``'s. Qt-free: ``murphy compare`` prints it, the
app's compare dialog shows it, the JSON carries it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

from simulator.scenario_policies import Retry

__all__ = [
    "CENSORED",
    "COLUMNS",
    "Best",
    "Column",
    "Judgement",
    "best_per_column",
    "censored_text",
    "column",
    "first_retry_wait",
    "judge_rows",
]

Direction = Literal["higher", "lower"]
Status = Literal["clear", "tied", "equal"]


@dataclass(frozen=True)
class Column:
    """What a column measures, in plain words, and which way is better."""

    label: str
    unit: str
    better: Direction
    help: str

    @property
    def direction_text(self) -> str:
        return "Higher is better." if self.better == "higher" else "Lower is better."


COLUMNS: dict[str, Column] = {
    "success_rate": Column(
        "success", "%", "higher",
        "Share of requests answered (ok, or with a fallback) after the warm-up, every "
        "route together.",
    ),
    "goodput_per_s": Column(
        "goodput", "/s", "higher",
        "Requests answered (ok or fallback) per second after the warm-up.",
    ),
    "p50_ms": Column(
        "p50", "ms", "lower",
        "Median latency of the requests after the warm-up, failures included (a failure "
        "answered fast counts as fast).",
    ),
    "p99_ms": Column(
        "p99", "ms", "lower",
        "The latency 99% of requests beat, failures included; a timeout caps it, so read "
        "it beside success.",
    ),
    "peak_load_per_s": Column(
        "peak load", "/s", "lower",
        "The most arrivals per second, in any bucket, at the busiest node (retries "
        "included): the load the variant piles on the bottom of the stack.",
    ),
    "total_attempts": Column(
        "attempts", "", "lower",
        "Attempts sent over every call, first tries and retries together: the work the "
        "variant asks of its dependencies.",
    ),
    "contention_calls": Column(
        "calls", "", "lower",
        "Write attempts that reached a contended database, every client's, retries included: "
        "the work the crowd needed to get its writes in (the backoff study's first figure).",
    ),
    "completion_s": Column(
        "completion", "s", "lower",
        "When the last request of the clients with requests_per_user ended: the last write "
        "in, or the last give-up (read success beside it); a run not done by its end counts "
        "its whole duration (the backoff study's second figure).",
    ),
    "messages_lost": Column(
        "lost msgs", "", "lower",
        "Events lost, counted once per producer and queue, however many consumer groups.",
    ),
    "messages_dead_lettered": Column(
        "dead-lettered", "", "lower", "Messages moved to a dead-letter queue, per consumer group."
    ),
    "messages_applied_twice": Column(
        "applied twice", "", "lower",
        "Messages a consumer applied more than once (a duplicate that was not deduplicated).",
    ),
    "max_lag_s": Column(
        "max lag", "s", "lower", "The longest a message waited from produced to acknowledged."
    ),
}  # fmt: skip
"""Every metric of ``comparison_table`` but the per-edge ``amplification:<edge>``."""

_HEADLINE_ORDER = ("success_rate", "goodput_per_s", "contention_calls", "completion_s", "p99_ms",
                   "p50_ms", "total_attempts", "peak_load_per_s", "messages_lost",
                   "messages_applied_twice")  # fmt: skip
_MAX_TRADEOFFS = 3  # lines: the rest is in the table
_SPREAD = 0.05  # attempts per request: a smaller spread between variants is not a difference


def column(key: str) -> Column:
    """The column of a metric key, ``amplification:<edge>`` included."""
    if key in COLUMNS:
        return COLUMNS[key]
    if key.startswith("amplification:"):
        edge = key.removeprefix("amplification:")
        return Column(
            f"attempts/request {edge}", "×", "lower",
            f"Attempts per request on the call {edge}: 1.00 means no retries, 3.00 means "
            "each request was sent three times on average.",
        )  # fmt: skip
    return Column(key, "", "lower", f"{key}.")


# -- best per column -------------------------------------------------------------------------


@dataclass(frozen=True)
class Best:
    """The leader of one column and whether the 95% intervals separate it from the rest.

    ``status``: ``clear`` (its interval clears the runner-up's), ``tied`` (they overlap,
    or one replication gave no interval: ``tied_with`` may be as good), ``equal`` (every
    variant measured the same: no leader).
    """

    key: str
    status: Status
    variant: str | None = None
    runner_up: str | None = None
    tied_with: tuple[str, ...] = ()

    def mark(self, variant: str) -> str:
        """``best``, ``tied`` or ``""``: how the cell of ``variant`` in this column is marked."""
        if self.status == "clear" and variant == self.variant:
            return "best"
        if self.status == "tied" and (variant == self.variant or variant in self.tied_with):
            return "tied"
        return ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant, "status": self.status, "runner_up": self.runner_up,
            "tied_with": list(self.tied_with), "better": column(self.key).better,
        }  # fmt: skip


def _stat(row: Mapping[str, Any], key: str) -> tuple[float, float] | None:
    metric = row["metrics"].get(key)
    if metric is None or metric["mean"] is None or not math.isfinite(metric["mean"]):
        return None
    half = metric["ci95"]
    return float(metric["mean"]), math.nan if half is None else float(half)


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two 95% intervals overlap; an interval we do not have overlaps everything."""
    if math.isnan(a[1]) or math.isnan(b[1]):
        return True
    return abs(a[0] - b[0]) <= a[1] + b[1]


def _best_of(rows: Sequence[Mapping[str, Any]], key: str) -> Best | None:
    measured = [(r["variant"], s) for r in rows if (s := _stat(r, key)) is not None]
    if len(measured) < 2:
        return None
    sign = 1.0 if column(key).better == "higher" else -1.0
    ranked = sorted(measured, key=lambda m: -sign * m[1][0])  # stable: table order on a tie
    (leader, lead), (second, _) = ranked[0], ranked[1]
    means = [s[0] for _, s in measured]
    halves = [s[1] for _, s in measured]
    same = all(math.isclose(m, means[0], rel_tol=1e-6, abs_tol=1e-12) for m in means)
    if same and all(h == 0 or math.isnan(h) for h in halves):
        return Best(key, "equal")
    tied = tuple(v for v, s in ranked[1:] if _overlap(lead, s))
    status: Status = "tied" if tied else "clear"
    return Best(key, status, leader, second, tied)


CENSORED = ("completion_s", "contention_calls")
"""Contention figures a run cut off by its end only bounds (``unfinished`` runs)."""


def _unfinished(row: Mapping[str, Any]) -> int:
    metric = row["metrics"].get("completion_s")
    return int(metric.get("unfinished", 0)) if metric else 0


def censored_text(metric: Mapping[str, Any], key: str, digits: int = 2) -> str | None:
    """A cell of runs that did not finish: ``not finished (≥ 30 s)``, or ``≥ 41.20 (1 of 3
    not finished)``; None when every run finished (the figure is a measurement)."""
    count = int(metric.get("unfinished", 0) or 0)
    if key not in CENSORED or count == 0:
        return None
    total = len(metric.get("values", ())) or count
    if key == "completion_s" and count == total and metric.get("duration_s") is not None:
        return f"not finished (≥ {metric['duration_s']:g} s)"
    shown = f"{metric['mean']:,.{digits}f}"
    return f"≥ {shown} ({count} of {total} not finished)"


def best_per_column(rows: Sequence[Mapping[str, Any]]) -> dict[str, Best]:
    """The leader of every metric two or more variants measured, in the rows' key order.

    When a contention run did not finish, its completion and calls are only lower bounds
    and (clients with a fixed number of requests) its goodput is cut short: goodput has
    no leader then, and completion and calls only one that finished every run (its lead
    over a lower bound holds whatever the unfinished runs would have measured).
    """
    keys = list(dict.fromkeys(k for r in rows for k in r["metrics"]))
    found = {key: _best_of(rows, key) for key in keys}
    if any(_unfinished(r) for r in rows):
        by_variant = {r["variant"]: r for r in rows}
        found["goodput_per_s"] = None
        for key in CENSORED:
            best = found.get(key)
            if best is not None and (best.variant is None or _unfinished(by_variant[best.variant])):
                found[key] = None
    return {key: best for key, best in found.items() if best is not None}


def _unfinished_finding(rows: Sequence[Mapping[str, Any]]) -> str | None:
    cut = [(r["variant"], _unfinished(r), r["replications"]) for r in rows if _unfinished(r)]
    if not cut:
        return None
    listed = "; ".join(f"{v}: {n} of {m} runs" for v, n, m in cut)
    duration = rows[0]["metrics"]["completion_s"].get("duration_s")
    end = f" ({duration:g} s)" if duration is not None else ""
    return (
        f"Not finished by the end{end}: {listed}. Their completion and calls are lower "
        "bounds and their goodput is cut short: goodput is not judged, completion and calls "
        "only for a variant that finished every run; a longer duration measures them"
    )


# -- retries ---------------------------------------------------------------------------------


def first_retry_wait(retry: Retry | None) -> float | None:
    """The mean wait, in seconds, before a request's first retry; None if it never retries.

    The first retry is the one every retried request makes, so its wait compares
    strategies on equal terms (later waits grow by the same factor for the
    exponential family). Decorrelated jitter draws it from U(base, 3·base).
    """
    if retry is None or retry.strategy == "none" or retry.attempts < 2:
        return None
    ceiling = min(retry.cap, retry.base)
    match retry.strategy:
        case "immediate":
            return 0.0
        case "fixed" | "exponential":
            return ceiling
        case "full_jitter":
            return ceiling / 2.0
        case "equal_jitter":
            return 0.75 * ceiling
        case "decorrelated_jitter":
            return _mean_capped_uniform(retry.base, 3.0 * retry.base, retry.cap)
    raise ValueError(f"unknown retry strategy {retry.strategy!r}")


def _mean_capped_uniform(low: float, high: float, cap: float) -> float:
    """E[min(cap, U(low, high))]."""
    if cap >= high or high <= low:
        return (low + high) / 2.0 if cap >= high else min(cap, low)
    if cap <= low:
        return cap
    return ((cap - low) * (low + cap) / 2.0 + (high - cap) * cap) / (high - low)


# -- the verdict -----------------------------------------------------------------------------


@dataclass
class Judgement:
    """The best per column, the one-line verdict, and further findings (one line each)."""

    best: dict[str, Best]
    verdict: str
    findings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "best": {key: b.as_dict() for key, b in self.best.items()},
            "verdict": self.verdict,
            "findings": list(self.findings),
        }


def _digits(key: str, value: float) -> int:
    """Decimals to show a metric with: the same for its mean and its ± half-width."""
    if key == "success_rate":
        return 1
    if key.startswith("amplification:") or column(key).unit == "s":
        return 2
    size = abs(value)
    return 0 if size >= 100 else 1 if size >= 1 or size == 0 else 2


def _number(key: str, value: float, digits: int) -> str:
    return f"{value * 100:.{digits}f}" if key == "success_rate" else f"{value:,.{digits}f}"


def _unit(key: str) -> str:
    unit = column(key).unit
    return {"ms": " ms", "s": " s", "×": ""}.get(unit, unit)


def _pm(key: str, stat: tuple[float, float]) -> str:
    """``77.4% ± 1.0``: the mean with its unit, ± the half-width of its interval."""
    mean, half = stat
    digits = _digits(key, mean)
    text = _number(key, mean, digits) + _unit(key)
    return text if math.isnan(half) else f"{text} ± {_number(key, half, digits)}"


def _range(values: Sequence[float], fmt: Any) -> str:
    low, high = min(values), max(values)
    return fmt(low) if fmt(low) == fmt(high) else f"{fmt(low)}–{fmt(high)}"


def _by_variant(rows: Sequence[Mapping[str, Any]], key: str) -> dict[str, float]:
    return {r["variant"]: s[0] for r in rows if (s := _stat(r, key)) is not None}


def _busiest_edge(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """The call whose attempts per request differ most between the variants."""
    spreads = {}
    for key in dict.fromkeys(k for r in rows for k in r["metrics"]):
        if key.startswith("amplification:"):
            values = list(_by_variant(rows, key).values())
            if len(values) >= 2:
                spreads[key] = max(values) - min(values)
    if not spreads:
        return None
    key = max(spreads, key=lambda k: spreads[k])
    return key if spreads[key] >= _SPREAD else None


def _headline(best: Best, rows: Sequence[Mapping[str, Any]]) -> str:
    """``none has the best success, 77.5% ± 1.0`` and how far ahead: clearly, within the noise, or
    unknown (one run per variant)."""
    stats = {r["variant"]: s for r in rows if (s := _stat(r, best.key)) is not None}
    lead = stats[best.variant]
    text = f"{best.variant} has the best {column(best.key).label}, {_pm(best.key, lead)}"
    second = best.runner_up
    if math.isnan(lead[1]):
        return (
            f"{text} (next: {second}, {_pm(best.key, stats[second])}; one run per "
            "variant gives no interval, so this may be chance)"
        )
    if best.status == "clear":
        return f"{text}, clearly ahead of {second} ({_pm(best.key, stats[second])})"
    tied = "; ".join(f"{v} {_pm(best.key, stats[v])}" for v in best.tied_with)
    return f"{text} (within the noise: {tied}; more replications may separate them)"


def _clear_elsewhere(
    lead: Best, best: Mapping[str, Best], rows: Sequence[Mapping[str, Any]]
) -> str:
    """A leader only within the noise on the headline column may clearly lead a later one:
    ``, and clearly the best p99, 501.5 ms ± 0.0``. The headline keeps the column that
    matters most (success before latency) without hiding the one that separates."""
    if lead.status == "clear":
        return ""
    later = _HEADLINE_ORDER[_HEADLINE_ORDER.index(lead.key) + 1 :]
    for key in later:
        other = best.get(key)
        if other is not None and other.status == "clear" and other.variant == lead.variant:
            stats = {r["variant"]: s for r in rows if (s := _stat(r, key)) is not None}
            return f", and clearly the best {column(key).label}, {_pm(key, stats[lead.variant])}"
    return ""


def _reason(best: Best, rows: Sequence[Mapping[str, Any]], hot: str | None) -> str | None:
    """Why the leader of success (or goodput) leads, if the attempts and load say so."""
    if best.key not in ("success_rate", "goodput_per_s") or best.variant is None:
        return None
    if best.status != "clear" and len(best.tied_with) == len(rows) - 1:
        return None  # every variant within the noise: nothing to explain
    edge = _busiest_edge(rows)
    if edge is None:
        return None
    amps = _by_variant(rows, edge)
    loads = _by_variant(rows, "peak_load_per_s")
    winner = best.variant
    if winner not in amps:
        return None
    others = {v: a for v, a in amps.items() if v != winner}
    name = edge.removeprefix("amplification:")
    if amps[winner] < min(others.values()) - _SPREAD / 2:
        whom = next(iter(others)) if len(others) == 1 else "the others"
        text = (f"it sends {amps[winner]:.2f} attempts per request on {name} against "
                f"{_range(list(others.values()), '{:.2f}'.format)} for {whom}")  # fmt: skip
        other_loads = [load for v, load in loads.items() if v != winner]
        if hot and winner in loads and other_loads and loads[winner] < min(other_loads):
            text += (f", so {hot}, the busiest node, peaks at {loads[winner]:,.0f}/s "
                     f"against {_range(other_loads, '{:,.0f}'.format)}/s")  # fmt: skip
        return text
    second = best.runner_up
    if second in best.tied_with:
        return None  # within the noise of the runner-up: its retries may not have helped
    if second in amps and amps[winner] > amps[second] + _SPREAD:
        return (
            f"its retries turn failures into answers, {amps[winner]:.2f} attempts per "
            f"request on {name} against {amps[second]:.2f} for {second}"
        )
    return None


def _wait_finding(
    rows: Sequence[Mapping[str, Any]], waits: Mapping[str, Mapping[str, float | None]],
    hot: str | None,
) -> str | None:  # fmt: skip
    """Shorter waits before a retry, more attempts per request: said only when the data agree."""
    edge = _busiest_edge(rows)
    if edge is None:
        return None
    name = edge.removeprefix("amplification:")
    stats = {r["variant"]: s for r in rows if (s := _stat(r, edge)) is not None}
    retrying = [(waits.get(v, {}).get(name), v) for v in stats]
    ordered = sorted((w, v) for w, v in retrying if w is not None)
    if len(ordered) < 2 or ordered[0][0] == ordered[-1][0]:
        return None
    amps = [stats[v][0] for _, v in ordered]
    steps = zip(pairwise(ordered), pairwise(amps), strict=True)
    if any(w1 < w2 and a1 - a2 < _SPREAD / 2 for ((w1, _), (w2, _)), (a1, a2) in steps):
        return None  # a longer wait without clearly fewer attempts: the rule does not hold
    if _overlap(stats[ordered[0][1]], stats[ordered[-1][1]]):
        return None  # the extremes are within the noise: nothing to explain
    listed = "; ".join(
        f"{v} ({_wait(w) if i else _wait(w) + ' before its first retry'}) {stats[v][0]:.2f}"
        + ("" if i else " attempts per request")
        for i, (w, v) in enumerate(ordered)
    )
    loads = _by_variant(rows, "peak_load_per_s")
    peaks = [loads.get(v, math.nan) for _, v in ordered]
    if hot is not None and all(p1 >= p2 for p1, p2 in pairwise(peaks)):
        shown = ", ".join(f"{p:,.0f}/s" for p in peaks)
        why = f"finds {hot} still overloaded (its peak load, in the same order: {shown}), fails"
        why += " and is retried again"
    else:
        why = "is more likely to fail and be retried again"
    return f"Shorter waits, more attempts on {name}: {listed}: a retry that comes back sooner {why}"


def _tradeoffs(
    lead: Best, best: Mapping[str, Best], rows: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Columns another variant clearly wins: what the verdict's leader gives up."""
    out = []
    for key in (*_HEADLINE_ORDER, "messages_dead_lettered", "max_lag_s"):
        other = best.get(key)
        if other is None or other.status != "clear" or other.variant == lead.variant:
            continue
        stats = {r["variant"]: s for r in rows if (s := _stat(r, key)) is not None}
        mine = stats.get(lead.variant)
        against = f" against {_pm(key, mine)} for {lead.variant}" if mine else ""
        out.append(f"Trade-off: {other.variant} has clearly the best {column(key).label}, "
                   f"{_pm(key, stats[other.variant])}{against}.")  # fmt: skip
    return out[:_MAX_TRADEOFFS]


def _wait(seconds: float) -> str:
    return "no wait" if seconds == 0 else f"{seconds * 1000:,.0f} ms"


def judge_rows(
    rows: Sequence[Mapping[str, Any]],
    waits: Mapping[str, Mapping[str, float | None]] | None = None,
) -> Judgement:
    """The best per column, the verdict and the findings of ``comparison_table`` rows.

    ``waits[variant][edge]`` is the mean wait before the first retry on that call
    (``first_retry_wait``), None where it does not retry; without it, no finding
    about waits is made.
    """
    best = best_per_column(rows)
    hot = rows[0].get("hot_node") if rows else None
    if len(rows) < 2:
        return Judgement(best, "One variant: nothing to compare it with.")
    if not best:
        return Judgement(best, "No column was measured for two variants: nothing to compare.")
    lead = next((best[k] for k in _HEADLINE_ORDER if k in best and best[k].status != "equal"),
                None)  # fmt: skip
    if lead is None:
        lead = next((b for b in best.values() if b.status != "equal"), None)
    if lead is None:
        return Judgement(best, "Every variant measured the same on every column.")
    verdict = _headline(lead, rows) + _clear_elsewhere(lead, best, rows)
    reason = _reason(lead, rows, hot)
    verdict += f", because {reason}." if reason else "."
    findings = _tradeoffs(lead, best, rows)
    cut = _unfinished_finding(rows)
    if cut:
        findings.insert(0, cut + ".")
    if waits:
        finding = _wait_finding(rows, waits, hot)
        if finding:
            findings.append(finding + ".")
    return Judgement(best, verdict, findings)
