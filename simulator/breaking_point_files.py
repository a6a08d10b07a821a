"""The breaking point's plot, verdict and files (PNG, SVG, CSV, JSON). Qt-free.

The plot draws p99 latency (log scale) and success against the load multiplier,
one point per probe with its 95% interval, the SLO's lines, the knee and the
breaking point; the top axis gives the offered load in requests per second.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simulator.breaking_point import Ramp, offered_rates
from simulator.palette import series_colour
from simulator.plots import style_axes

__all__ = ["draw_ramp", "ramp_csv_rows", "ramp_data", "ramp_figure", "save_ramp", "verdict"]

SLO_COLOUR = "#c92a2a"
KNEE_COLOUR = "#e67700"
BREAK_COLOUR = "#862e9c"
# mid-tones: readable on the light figure of the files and on the app's dark one
LATENCY_COLOURS = (series_colour(5), series_colour(6))


def ramp_data(ramp: Ramp) -> dict[str, Any]:
    """The ramp as JSON-able data (what ``murphy ramp --json`` prints), with the verdict."""
    data = ramp.as_dict()
    data["verdict"] = verdict(ramp, data)
    return data


def _rate_text(rates: dict[str, float | None] | None) -> str:
    if not rates:
        return "?"
    parts = [f"{r} {v:,.1f}/s" if v is not None else f"{r} ?" for r, v in rates.items()]
    return ", ".join(parts)


def verdict(ramp: Ramp, data: dict[str, Any] | None = None) -> str:
    """One paragraph: where the SLO breaks, how sure, the knee, what saturated first."""
    data = data or ramp.as_dict()
    where = f"route {ramp.route}" if ramp.route else "all routes"
    bp = data["breaking_point"]
    parts = []
    if bp is None:
        reason = data["did_not_break"] or "the search stopped before it broke"
        top = max(p.multiplier for p in ramp.probes)
        parts.append(
            f"The SLO {ramp.slo.text} ({where}) held at every probe up to x{top:.3g}: {reason}."
        )
    elif bp["multiplier"] is None:
        parts.append(
            f"The SLO {ramp.slo.text} ({where}) is broken even at "
            f"x{bp['breaks_at_multiplier']:.3g} of the scenario's load."
        )
    else:
        ci = bp["ci"]
        sure = ""
        if ci and ci[0] is not None and ci[1] is not None:
            sure = f" (95% interval x{ci[0]:.3g} to x{ci[1]:.3g})"
        elif ci:
            sure = " (its 95% interval reaches past the probes)"
        parts.append(
            f"The SLO {ramp.slo.text} ({where}) holds up to x{bp['multiplier']:.3g} of the "
            f"scenario's load ({_rate_text(bp['rate_per_s'])}) and breaks at "
            f"x{bp['breaks_at_multiplier']:.3g} ({', '.join(bp['broken_clauses']) or 'SLO'} "
            f"fails); interpolated, it breaks near x{bp['estimate']:.3g}{sure}."
        )
        if bp["uncertain"]:
            parts.append(
                "The replications disagree near the boundary: more replications would narrow it."
            )
    if not any(c.metric == "success" for c in ramp.slo.clauses):
        worst = min(ramp.probes, key=lambda p: (p.mean["success"], -p.multiplier))
        if worst.mean["success"] < 0.99:
            parts.append(
                f"Beware: success fell to {worst.mean['success']:.1%} at x{worst.multiplier:.3g}, "
                "which this SLO does not look at (add a clause such as success>99.9%)."
            )
    knee = data["knee"]
    if knee is not None:
        parts.append(
            f"Latency turns up at the knee, x{knee['multiplier']:.3g} "
            f"({_rate_text(knee['rate_per_s'])}), where p99 reaches twice its light-load "
            f"{knee['light_load_p99_ms']:,.0f} ms."
        )
    first = data["saturated_first"]
    if first is not None:
        parts.append(
            f"First to saturate: {first['resource']} of {first['node']} at "
            f"x{first['multiplier']:.3g} ({first['how']})."
        )
    else:
        parts.append("No worker pool, queue, connection pool or memory saturated along the ramp.")
    if not ramp.with_faults and ramp.scenario.faults:
        parts.append("The scenario's faults were left out (--with-faults keeps them).")
    return " ".join(parts)


def draw_ramp(latency_ax: Axes, success_ax: Axes, ramp: Ramp) -> None:
    """p99 (and the SLO's latency metric) against load on one Axes, success on the other."""
    probes = [p for p in ramp.sorted_probes]
    x = [p.multiplier for p in probes]
    metrics = ["p99"] + [c.metric for c in ramp.slo.clauses if c.latency and c.metric != "p99"]
    for i, metric in enumerate(metrics):
        y = [p.mean[metric] for p in probes]
        err = [0.0 if math.isnan(p.ci95[metric]) else p.ci95[metric] for p in probes]
        low = [min(e, v * 0.999) if not math.isnan(v) else 0.0 for e, v in zip(err, y, strict=True)]
        latency_ax.errorbar(
            x,
            y,
            yerr=[low, err],
            color=LATENCY_COLOURS[i % len(LATENCY_COLOURS)],
            marker="o",
            ms=4,
            lw=1.4,
            capsize=3,
            label=f"{metric} latency (mean ± 95% CI)",
        )
    success = [100.0 * p.mean["success"] for p in probes]
    s_err = [0.0 if math.isnan(p.ci95["success"]) else 100 * p.ci95["success"] for p in probes]
    success_ax.errorbar(
        x,
        success,
        yerr=s_err,
        color=series_colour(2),
        marker="o",
        ms=4,
        lw=1.4,
        capsize=3,
        label="success (mean ± 95% CI)",
    )
    for clause in ramp.slo.clauses:
        ax = latency_ax if clause.latency else success_ax
        value = clause.threshold if clause.latency else 100 * clause.threshold
        ax.axhline(value, color=SLO_COLOUR, ls="--", lw=1.1, label=f"SLO {clause.text}")
    bp = ramp.breaking_point()
    knee = ramp.knee()
    for ax in (latency_ax, success_ax):
        if knee is not None:
            ax.axvline(
                knee["multiplier"],
                color=KNEE_COLOUR,
                ls=":",
                lw=1.4,
                label=f"knee x{knee['multiplier']:.3g}" if ax is latency_ax else None,
            )
        if bp is not None and bp["multiplier"] is not None:
            ax.axvspan(
                bp["multiplier"], bp["breaks_at_multiplier"], color=BREAK_COLOUR, alpha=0.25, lw=0
            )
            ax.axvline(
                bp["estimate"],
                color=BREAK_COLOUR,
                lw=1.4,
                label=f"breaking point x{bp['estimate']:.3g}" if ax is latency_ax else None,
            )
    latency_ax.set_yscale("log")
    # a wide interval's lower whisker would drag a log axis down by decades: the means decide
    shown = [p.mean[m] for p in probes for m in metrics if p.mean[m] > 0]
    if shown:
        latency_ax.set_ylim(bottom=min(shown) / 3)
    floor = min([v for v in success if not math.isnan(v)], default=100.0)
    floor = min(floor, *(100 * c.threshold for c in ramp.slo.clauses if not c.latency))
    success_ax.set_ylim(max(-2.0, floor - 0.1 * (101.0 - floor) - 0.5), 101.0)
    where = f"route {ramp.route}" if ramp.route else "all routes"
    style_axes(latency_ax, "latency (ms, log scale)", f"Latency against load ({where})")
    style_axes(success_ax, "answered (%)", "Success against load")
    latency_ax.legend(fontsize=8, frameon=False, loc="upper left")
    success_ax.legend(fontsize=8, frameon=False, loc="lower left")
    success_ax.set_xlabel("load multiplier (x every client's rate or users)")
    total = sum(v for v in offered_rates(ramp.scenario, 1.0).values() if v is not None)
    if total > 0:

        def to_rate(m: Any) -> Any:
            return m * total

        def to_multiplier(r: Any) -> Any:
            return r / total

        top = latency_ax.secondary_xaxis("top", functions=(to_rate, to_multiplier))
        top.set_xlabel("offered load (req/s, open-loop routes together)", fontsize=9)


def ramp_figure(ramp: Ramp) -> Figure:
    """The two panels, one above the other, sharing the load axis."""
    figure = Figure(figsize=(10, 8), layout="constrained")
    latency_ax, success_ax = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    draw_ramp(latency_ax, success_ax, ramp)
    figure.suptitle(
        f"{ramp.scenario.name}\nSLO {ramp.slo.text}, {ramp.replications} replications per probe",
        fontsize=11,
        fontweight="bold",
    )
    return figure


CSV_HEADER = ["multiplier", "purpose", "meets_slo", "uncertain"] + [
    f"{m}{s}" for m in ("mean", "p50", "p90", "p99", "p999", "success") for s in ("", "_ci95")
]


def ramp_csv_rows(ramp: Ramp) -> list[dict[str, Any]]:
    """One row per probe, lightest first (units: ms; success a fraction)."""
    rows = []
    for p in ramp.sorted_probes:
        row: dict[str, Any] = {
            "multiplier": round(p.multiplier, 6),
            "purpose": p.purpose,
            "meets_slo": p.holds,
            "uncertain": p.uncertain,
        }
        for m in p.mean:
            row[m] = "" if math.isnan(p.mean[m]) else round(p.mean[m], 6)
            row[f"{m}_ci95"] = "" if math.isnan(p.ci95[m]) else round(p.ci95[m], 6)
        rows.append(row)
    return rows


def save_ramp(ramp: Ramp, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``ramp.png``, ``ramp.svg``, ``ramp.csv`` and ``ramp.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figure = ramp_figure(ramp)
    paths = [out / "ramp.png", out / "ramp.svg", out / "ramp.csv", out / "ramp.json"]
    figure.savefig(paths[0], dpi=120)
    figure.savefig(paths[1])
    with paths[2].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_HEADER)
        writer.writeheader()
        writer.writerows(ramp_csv_rows(ramp))
    paths[3].write_text(json.dumps(ramp_data(ramp), indent=2), encoding="utf-8")
    return paths
