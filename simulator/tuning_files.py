"""The tuner's verdict, trade-off figure and files (PNG, SVG, CSV, JSON). Qt-free.

The figure has two panels. Left, the trade-off: the objective's metric against
another (the first constraint's, else p99), one point per candidate at the rung
it reached (bigger: more replications, with 95% whiskers), the Pareto front of
those points as a line, the best as a star and the file's own settings as a
diamond, and the constraints' thresholds. Right, the objective against the
timeout (log scale), coloured by retry attempts.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from simulator.palette import series_colour
from simulator.plots import style_axes
from simulator.scenario import Scenario
from simulator.tuning import Candidate, Tuning
from simulator.tuning_objective import LATENCY, METRICS, format_value
from simulator.tuning_space import spell
from simulator.variants import apply_overrides

__all__ = [
    "NO_CLEAR_GAIN",
    "applied_scenario",
    "pareto",
    "save_tuning",
    "settings_text",
    "tradeoff_metric",
    "tune_csv_rows",
    "tune_data",
    "tune_figure",
    "verdict",
]

BEST_COLOUR = "#ffe600"  # yellow: no series colour (palette, viridis' rungs) is near it
BASELINE_COLOUR = "#ffffff"  # white, black-edged: likewise
NO_CLEAR_GAIN = (
    "No clear gain over the file's settings: the 95% interval of the difference includes "
    "0 (or favours the file), so keep them or search with a larger budget"
)
FRONT_COLOUR = "#c92a2a"


def settings_text(settings: dict[str, Any]) -> str:
    """``timeout 1s, 3 attempts, budget 10%, breaker at 50%`` (absent fields in words)."""
    parts = []
    for field, value in settings.items():
        if field == "timeout":
            parts.append("no timeout" if value is None else f"timeout {spell(field, value)}")
        elif field == "retry.attempts":
            parts.append("no retry" if value == 1 else f"{value} attempts")
        elif field == "retry.budget.percent":
            if settings.get("retry.attempts", 2) != 1:
                parts.append("no budget" if value is None else f"budget {spell(field, value)}")
        elif value is None:
            parts.append("no breaker" if field == "breaker.failure_rate" else "rate breaker")
        elif field == "breaker.failure_rate":
            parts.append(f"breaker at {spell(field, value)} failures")
        else:
            parts.append(f"breaker after {value} failures")
    return ", ".join(parts)


def tradeoff_metric(tuning: Tuning) -> str:
    """What the objective is traded against: the first other constrained metric, else p99
    (success when the objective is a latency)."""
    goal = tuning.objective.metric
    for c in tuning.objective.constraints:
        if c.metric != goal:
            return c.metric
    return "p99" if goal not in LATENCY else "success"


def _judged(tuning: Tuning) -> list[Candidate]:
    return tuning.ranking


def pareto(tuning: Tuning, x: str | None = None) -> list[int]:
    """Indices of the candidates no other beats on both the objective and ``x`` (means)."""
    x = x or tradeoff_metric(tuning)
    y = tuning.objective.metric

    def signed(c: Candidate, m: str) -> float:
        v = c.mean(m)
        return v if METRICS[m][0] else -v

    points = [(c, signed(c, x), signed(c, y)) for c in _judged(tuning)]
    points = [p for p in points if math.isfinite(p[1]) and math.isfinite(p[2])]
    front = []
    for c, a, b in points:
        dominated = any((a2 >= a and b2 >= b) and (a2 > a or b2 > b) for _, a2, b2 in points)
        if not dominated:
            front.append(c.index)
    return sorted(front)


def _round(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 6)


def _candidate(tuning: Tuning, c: Candidate, rank: int | None, front: set[int]) -> dict[str, Any]:
    means = c.means()
    return {
        "index": c.index,
        "rank": rank,
        "settings": {f: None if v is None else spell(f, v) for f, v in c.settings.items()},
        "overrides": dict(c.overrides),
        "rung": c.rung,
        "replications": c.replications,
        "feasible": tuning.objective.feasible(means) if means else False,
        "pareto": c.index in front,
        "baseline": c.baseline,
        "mean": {m: _round(v) for m, v in means.items()},
        "ci95": {m: _round(c.ci95(m)) for m in means},
    }


def tune_data(tuning: Tuning) -> dict[str, Any]:
    """The search as JSON-able data (what ``murphy tune --json`` prints), with the verdict."""
    x = tradeoff_metric(tuning)
    front = set(pareto(tuning, x))
    ranking = tuning.ranking
    ranks = {c.index: i + 1 for i, c in enumerate(ranking)}
    data = {
        "scenario": tuning.scenario.name,
        "call": tuning.call.edge,
        "objective": tuning.objective.text,
        "budget": tuning.budget,
        "runs": tuning.runs_used,
        "base_seed": tuning.base_seed,
        "combinations": tuning.space_size,
        "candidates": len(tuning.candidates),
        "space": [
            {
                "field": d.field,
                "values": [None if v is None else spell(d.field, v) for v in d.values],
                "current": None if d.current is None else spell(d.field, d.current),
            }
            for d in tuning.space
        ],
        "rungs": tuning.rungs,
        "best": _candidate(tuning, tuning.best, 1, front),
        "baseline": _candidate(tuning, tuning.baseline, ranks.get(0), front),
        "difference": {
            m: dict(zip(("mean", "ci95"), map(_round, tuning.difference(m)), strict=True))
            for m in tuning.objective.metrics
        },
        "tradeoff": {"x": x, "y": tuning.objective.metric, "pareto": sorted(front)},
        "ranking": [_candidate(tuning, c, ranks[c.index], front) for c in ranking],
    }
    data["clear_gain"] = tuning.clear_gain()
    data["verdict"] = verdict(tuning, data)
    return data


def _figures(tuning: Tuning, c: Candidate) -> str:
    parts = []
    for m in tuning.objective.metrics:
        half = c.ci95(m)
        ci = f" ± {format_value(m, half).removesuffix(' ms')}" if math.isfinite(half) else ""
        parts.append(f"{m} {format_value(m, c.mean(m))}{ci}")
    return ", ".join(parts)


def verdict(tuning: Tuning, data: dict[str, Any] | None = None) -> str:
    """One paragraph: the best settings and their figures, against the file's own."""
    best, base, objective = tuning.best, tuning.baseline, tuning.objective
    metric = objective.metric
    tried = f"{len(tuning.candidates)} of {tuning.space_size} combinations"
    parts = []
    if best.baseline:
        parts.append(
            f"The file's own settings of {tuning.call.edge} ({settings_text(best.settings)}) are "
            f"the best of {tried} for {objective.text}: {_figures(tuning, best)} "
            f"({best.replications} replications)."
        )
    else:
        diff, half = tuning.difference(metric)
        sure = f" ± {format_value(metric, half).removesuffix(' ms')}" if math.isfinite(half) else ""
        sign = "+" if diff >= 0 else "−"
        amount = format_value(metric, abs(diff))
        if metric == "success":
            amount = f"{100 * abs(diff):.2f} points"
            sure = f" ± {100 * half:.2f}" if math.isfinite(half) else ""
        parts.append(
            f"Best of {tried} for {objective.text} on {tuning.call.edge}: "
            f"{settings_text(best.settings)}, with {_figures(tuning, best)} "
            f"({best.replications} replications). The file's settings "
            f"({settings_text(base.settings)}) give {_figures(tuning, base)}: "
            f"{metric} {sign}{amount}{sure} on the same seeds."
        )
        if not tuning.clear_gain():
            parts.append(NO_CLEAR_GAIN + ".")
    if objective.constraints and not objective.feasible(best.means()):
        parts.append(
            "No candidate met every constraint: this one came closest "
            "(loosen a bound or widen the space with --space)."
        )
    parts.append(f"{tuning.runs_used} runs in {len(tuning.rungs)} rungs of successive halving.")
    return " ".join(parts)


# -- the figure -------------------------------------------------------------------------------


def _size(c: Candidate, most: int) -> float:
    return 18 + 70 * math.log2(max(c.replications, 1)) / max(math.log2(max(most, 2)), 1)


def _scatter(ax: Axes, tuning: Tuning, x: str, y: str, colour_of: Any) -> None:
    """Each candidate at its means (with whiskers once it has two runs); best and baseline."""
    judged = _judged(tuning)
    most = max(c.replications for c in judged)
    scale = 100.0 if y == "success" else 1.0
    xscale = 100.0 if x == "success" else 1.0
    for c in judged:
        cx, cy = xscale * c.mean(x), scale * c.mean(y)
        if not (math.isfinite(cx) and math.isfinite(cy)):
            continue
        if c.replications > 1:
            ex, ey = xscale * c.ci95(x), scale * c.ci95(y)
            ax.errorbar(cx, cy, xerr=ex if math.isfinite(ex) else None,
                        yerr=ey if math.isfinite(ey) else None, color="#868e96",
                        lw=0.8, alpha=0.6, zorder=1)  # fmt: skip
        ax.scatter(cx, cy, s=_size(c, most), color=colour_of(c), alpha=0.8,
                   edgecolors="white", linewidths=0.5, zorder=2)  # fmt: skip
    for c, marker, colour, label in (
        (tuning.baseline, "D", BASELINE_COLOUR, "the file's settings"),
        (tuning.best, "*", BEST_COLOUR, "best"),
    ):
        cx, cy = xscale * c.mean(x), scale * c.mean(y)
        if math.isfinite(cx) and math.isfinite(cy):
            ax.scatter(cx, cy, s=260 if marker == "*" else 90, marker=marker, color=colour,
                       edgecolors="black", linewidths=0.7, zorder=4, label=label)  # fmt: skip


def _axis_label(metric: str) -> str:
    if metric == "success":
        return "success (%)"
    if metric in LATENCY:
        return f"{metric} latency (ms)"
    return METRICS[metric][1]


def _rung_colour(tuning: Tuning, rung: int) -> Any:
    """Early rungs pale, the last dark: how far a candidate went in the search."""
    last = max(len(tuning.rungs) - 1, 1)
    return colormaps["viridis"](0.85 - 0.75 * rung / last)


def _plain_log_axis(ax: Axes) -> None:
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:.3g}")
    )
    ax.xaxis.set_minor_formatter(NullFormatter())


def draw_tradeoff(ax: Axes, tuning: Tuning) -> None:
    """The objective against the traded-off metric, the Pareto front joined up."""
    x, y = tradeoff_metric(tuning), tuning.objective.metric
    _scatter(ax, tuning, x, y, lambda c: _rung_colour(tuning, c.rung))
    for record in tuning.rungs:
        ax.scatter([], [], s=30, color=_rung_colour(tuning, record["rung"]),
                   label=f"out at rung {record['rung']} ({record['replications']} runs)"
                   if record["rung"] < len(tuning.rungs) - 1 else
                   f"last rung ({record['replications']} runs)")  # fmt: skip
    xs = 100.0 if x == "success" else 1.0
    ys = 100.0 if y == "success" else 1.0
    front = [c for c in tuning.candidates if c.index in set(pareto(tuning, x))]
    front.sort(key=lambda c: c.mean(x))
    if len(front) > 1:
        ax.plot([xs * c.mean(x) for c in front], [ys * c.mean(y) for c in front],
                color=FRONT_COLOUR, lw=1.2, ls="-", zorder=3, label="Pareto front")  # fmt: skip
    for c in tuning.objective.constraints:
        scale = 100.0 if c.metric == "success" else 1.0
        if c.metric == x:
            ax.axvline(scale * c.threshold, color=FRONT_COLOUR, ls="--", lw=1, label=c.text)
        elif c.metric == y:
            ax.axhline(scale * c.threshold, color=FRONT_COLOUR, ls="--", lw=1, label=c.text)
    if x in LATENCY:
        _plain_log_axis(ax)
    ax.set_xlabel(_axis_label(x))
    style_axes(ax, _axis_label(y), f"{y} against {x}")
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.13),
              ncols=3)  # fmt: skip


def draw_against_timeout(ax: Axes, tuning: Tuning) -> None:
    """The objective against the timeout, one colour per number of attempts."""
    y = tuning.objective.metric
    fields = [d.field for d in tuning.space]
    axis = "timeout" if "timeout" in fields else fields[0]
    attempts = sorted({c.settings.get("retry.attempts", 1) for c in tuning.candidates})
    colour = {a: series_colour(i + 1) for i, a in enumerate(attempts)}
    scale = 100.0 if y == "success" else 1.0
    judged = _judged(tuning)
    none_at = None
    values = [c.settings[axis] for c in judged if c.settings[axis] is not None]
    if any(c.settings[axis] is None for c in judged) and values:
        none_at = max(values) * 2  # "no timeout" drawn right of the longest
    most = max(c.replications for c in judged)
    for c in judged:
        at = c.settings[axis] if c.settings[axis] is not None else none_at
        value = scale * c.mean(y)
        if at is None or not math.isfinite(value):
            continue
        ax.scatter(at, value, s=_size(c, most), color=colour[c.settings.get("retry.attempts", 1)],
                   alpha=0.8, edgecolors="white", linewidths=0.5, zorder=2)  # fmt: skip
    for c, marker, col in (
        (tuning.baseline, "D", BASELINE_COLOUR),
        (tuning.best, "*", BEST_COLOUR),
    ):
        at = c.settings[axis] if c.settings[axis] is not None else none_at
        if at is not None and math.isfinite(c.mean(y)):
            ax.scatter(at, scale * c.mean(y), s=260 if marker == "*" else 90, marker=marker,
                       color=col, edgecolors="black", linewidths=0.7, zorder=4)  # fmt: skip
    for a in attempts:
        ax.scatter([], [], color=colour[a], label="no retry" if a == 1 else f"{a} attempts")
    if axis == "timeout":
        ax.set_xscale("log")
        ticks = sorted(set(values)) + ([none_at] if none_at else [])
        ax.set_xticks(ticks, [spell("timeout", t) for t in sorted(set(values))]
                      + (["none"] if none_at else []), fontsize=8)  # fmt: skip
        ax.minorticks_off()
    ax.set_xlabel(axis)
    style_axes(ax, _axis_label(y), f"{y} against the {axis}")
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.13),
              ncols=4)  # fmt: skip


def tune_figure(tuning: Tuning) -> Figure:
    """The trade-off and the objective against the timeout, side by side."""
    figure = Figure(figsize=(12, 6.2), layout="constrained")
    left, right = figure.subplots(1, 2)
    draw_tradeoff(left, tuning)
    draw_against_timeout(right, tuning)
    figure.suptitle(
        f"{tuning.scenario.name}: tuning {tuning.call.edge} for {tuning.objective.text}\n"
        f"best: {settings_text(tuning.best.settings)}",
        fontsize=11,
        fontweight="bold",
    )
    return figure


# -- files ------------------------------------------------------------------------------------


def tune_csv_rows(tuning: Tuning) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per candidate judged, in the ranking's order: settings, rung, figures."""
    data = tune_data(tuning)
    fields = [d.field for d in tuning.space]
    metrics = list(METRICS)
    header = ["rank", "index", *fields, "rung", "replications", "feasible", "pareto",
              "baseline"] + [f"{m}{s}" for m in metrics for s in ("", "_ci95")]  # fmt: skip
    rows = []
    for c in data["ranking"]:
        row: dict[str, Any] = {k: c[k] for k in ("rank", "index", "rung", "replications",
                                                 "feasible", "pareto", "baseline")}  # fmt: skip
        row.update({f: "none" if v is None else v for f, v in c["settings"].items()})
        for m in metrics:
            row[m] = "" if c["mean"].get(m) is None else c["mean"][m]
            row[f"{m}_ci95"] = "" if c["ci95"].get(m) is None else c["ci95"][m]
        rows.append(row)
    return header, rows


def save_tuning(tuning: Tuning, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``tune.png``, ``tune.svg``, ``tune.csv`` and ``tune.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figure = tune_figure(tuning)
    paths = [out / "tune.png", out / "tune.svg", out / "tune.csv", out / "tune.json"]
    figure.savefig(paths[0], dpi=110)
    figure.savefig(paths[1])
    header, rows = tune_csv_rows(tuning)
    with paths[2].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    paths[3].write_text(json.dumps(tune_data(tuning), indent=2), encoding="utf-8")
    return paths


def applied_scenario(tuning: Tuning, scenario: Scenario) -> Scenario:
    """``scenario`` with the best settings written onto the tuned call (validated)."""
    return apply_overrides(scenario, tuning.best.overrides)
