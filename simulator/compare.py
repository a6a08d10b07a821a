"""Comparing strategies: variants of one scenario, replicated, with 95% confidence intervals.

The API (used by ``murphy compare``/``murphy sweep`` and by the desktop app's
compare view)::

    from simulator.compare import run_comparison, comparison_table, comparison_figure

    c = run_comparison(
        scenario,                                   # a validated Scenario
        [("nodes.api.calls[0].retry.strategy", ["immediate", "full_jitter"])],
        replications=5,
        executor=None,        # "local" (default), "serial", "dask://HOST:PORT", "dask://local",
                              # or any concurrent.futures.Executor
        progress=None,        # progress(done, total) as runs complete
    )
    rows = comparison_table(c)     # one dict per variant: label, overrides, metrics{mean, ci95}
    fig = comparison_figure(c)     # a matplotlib Figure (object API): draw it anywhere
    found = judge(c, rows)         # best variant per column (clear or tied), verdict, findings
    save_comparison(c, "out/")     # compare.png, compare.svg, compare.csv, compare.json

Metrics per variant (mean over replications, ± the half-width of a Student-t
95% interval): ``success_rate`` (answered, ok or fallback, over all requests
after warm-up), ``goodput_per_s``, ``p50_ms``, ``p99_ms`` (every route's
requests, after warm-up), ``peak_load_per_s`` (the highest arrivals per second
in any bucket at the node with the most arrivals: the load retries put on the
bottom of the stack), ``total_attempts`` (attempts over every call edge) and
``amplification:<edge>`` (attempts per request on each call edge).

Replication k of every variant uses seed ``base_seed + k`` (common random
numbers), so a difference between variants is the policy's, not the dice's.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simulator.compare_verdict import (
    CENSORED,
    Best,
    Judgement,
    first_retry_wait,
    judge_rows,
)
from simulator.palette import series_colour
from simulator.plots import shade_faults, style_axes
from simulator.recovery import success_series
from simulator.scenario import Scenario
from simulator.scenario_nodes import call_edge_names, publish_edge_names
from simulator.sweep import run_many
from simulator.variants import Variant, variant_grid

__all__ = [
    "CONTENTION_METRICS",
    "MESSAGE_METRICS",
    "METRICS",
    "Comparison",
    "comparison_figure",
    "comparison_table",
    "hot_node",
    "judge",
    "mean_ci",
    "retry_waits",
    "run_comparison",
    "save_comparison",
    "t_quantile",
]

METRICS = {
    "success_rate": ("success", "%"),
    "goodput_per_s": ("goodput", "/s"),
    "p50_ms": ("p50", "ms"),
    "p99_ms": ("p99", "ms"),
    "peak_load_per_s": ("peak load", "/s"),
    "total_attempts": ("attempts", ""),
}
"""The headline metrics, in display order: key -> (short label, unit)."""

MESSAGE_METRICS = {
    "messages_lost": ("lost msgs", ""),
    "messages_dead_lettered": ("dead-lettered", ""),
    "messages_applied_twice": ("applied twice", ""),
    "max_lag_s": ("max lag", "s"),
}
"""For scenarios with messages, whole run: events lost (once per producer and queue, however
many consumer groups), dead-lettered and applied twice (per group), and the worst lag."""

CONTENTION_METRICS = {
    "contention_calls": ("calls", ""),
    "completion_s": ("completion", "s"),
}
"""For scenarios with a contended database (the AWS backoff study): write attempts at the
contended resource, every client's, and when the last request of the finite clients ended
(a run in which some were still in flight at its end counts its whole duration)."""

# Student t, two-sided 95% (the 0.975 quantile), for 1..30 degrees of freedom.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
_Z975 = 1.959963984540054


def t_quantile(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (no scipy needed).

    A table to 30, then the Cornish–Fisher expansion around the normal (error < 1e-4).
    """
    if df < 1:
        return math.nan
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci(values: Sequence[float | None]) -> tuple[float, float]:
    """Mean and the half-width of its 95% Student-t interval (NaN half-width for one value)."""
    data = np.array([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if data.size == 0:
        return math.nan, math.nan
    mean = float(data.mean())
    if data.size < 2:
        return mean, math.nan
    sem = float(data.std(ddof=1)) / math.sqrt(data.size)
    return mean, t_quantile(data.size - 1) * sem


@dataclass
class Comparison:
    """Every run of every variant, and where they came from."""

    scenario: Scenario
    variants: list[Variant]
    runs: list[list[dict[str, Any]]]  # runs[v][k]: variant v, replication k
    base_seed: int
    varies: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def replications(self) -> int:
        return len(self.runs[0]) if self.runs else 0

    @property
    def labels(self) -> list[str]:
        return [v.label for v in self.variants]

    @property
    def faults(self) -> list[dict[str, Any]]:
        return self.runs[0][0]["faults"] if self.runs and self.runs[0] else []


def run_comparison(
    scenario: Scenario,
    varies: Sequence[tuple[str, Sequence[str]]],
    replications: int = 5,
    executor: Any = None,
    progress: Callable[[int, int], None] | None = None,
    base_seed: int | None = None,
) -> Comparison:
    """Run the grid of ``varies`` (every combination), ``replications`` times each."""
    if replications < 1:
        raise ValueError("replications must be at least 1")
    variants = variant_grid(scenario, varies)
    seed = scenario.seed if base_seed is None else base_seed
    runs = run_many(scenario, variants, replications, seed, executor, progress)
    grid = [(path, list(values)) for path, values in varies]
    return Comparison(scenario, variants, runs, seed, grid)


# -- per-run figures -------------------------------------------------------------------------


def hot_node(c: Comparison) -> str | None:
    """The node with the most arrivals over every run: where the load piles up."""
    totals: dict[str, float] = {}
    for runs in c.runs:
        for run in runs:
            for name, node in run["nodes"].items():
                totals[name] = totals.get(name, 0.0) + node["arrivals"]
    return max(totals, key=lambda n: totals[n]) if totals else None


def _run_metrics(run: dict[str, Any], node: str | None) -> dict[str, float | None]:
    overall = run["overall"]
    outcomes = overall["outcomes"]
    span = max(run["duration_s"] - run["warmup_s"], 1e-12)
    series = run.get("series", {})
    peak = None
    if node is not None and f"node.{node}.arrivals" in series:
        times = series["time_s"]
        width = times[1] - times[0] if len(times) > 1 else 1.0
        peak = max(series[f"node.{node}.arrivals"]) / width
    out: dict[str, float | None] = {
        "success_rate": overall["success_rate"],
        "goodput_per_s": (outcomes["ok"] + outcomes["fallback"]) / span,
        "p50_ms": overall["latency_ms"]["p50"],
        "p99_ms": overall["latency_ms"]["p99"],
        "peak_load_per_s": peak,
        "total_attempts": float(sum(e["attempts"] for e in run["edges"].values())),
    }
    flows = run.get("messages")
    if flows:
        # An event lost before the broker is lost to every consumer group: count it once
        # per stream (producer and queue), the worst of its flows.
        per_stream: dict[str, int] = {}
        for key, f in flows.items():
            stream = key.rsplit("->", 1)[0]
            per_stream[stream] = max(per_stream.get(stream, 0), f["lost"])
        out["messages_lost"] = float(sum(per_stream.values()))
        out["messages_dead_lettered"] = float(sum(f["dead_lettered"] for f in flows.values()))
        out["messages_applied_twice"] = float(sum(f["applied_twice"] for f in flows.values()))
        lags = [f["max_lag_s"] for f in flows.values() if f["max_lag_s"] is not None]
        out["max_lag_s"] = max(lags) if lags else None
    contention = run.get("contention")
    if contention:
        out["contention_calls"] = float(contention["calls"])
        done = contention["completion_s"]
        out["completion_s"] = float(run["duration_s"] if done is None else done)
    for name, edge in run["edges"].items():
        out[f"amplification:{name}"] = edge["amplification"]
    return out


def comparison_table(c: Comparison) -> list[dict[str, Any]]:
    """One row per variant: ``variant``, ``overrides``, ``replications``, ``metrics``.

    ``metrics[name]`` is ``{"mean", "ci95", "values"}`` (``ci95`` the half-width,
    NaN with a single replication); names are METRICS' keys and ``amplification:<edge>``.
    With a contended database, ``completion_s`` and ``contention_calls`` also carry
    ``unfinished`` (runs whose writers were not all done by the end: their figures are
    lower bounds, ``completion_s`` the run's ``duration_s``).
    """
    node = hot_node(c)
    rows = []
    for variant, runs in zip(c.variants, c.runs, strict=True):
        per_run = [_run_metrics(run, node) for run in runs]
        names = list(dict.fromkeys(k for m in per_run for k in m))
        metrics = {}
        for name in names:
            values = [m.get(name) for m in per_run]
            mean, half = mean_ci(values)
            metrics[name] = {"mean": mean, "ci95": half, "values": values}
        if "completion_s" in metrics:
            # A run whose writers were not all done by its end has no completion time: its
            # duration stands in (a lower bound), and its calls are cut short too.
            unfinished = sum(1 for run in runs if run["contention"]["completion_s"] is None)
            for key in CENSORED:
                if key in metrics:
                    metrics[key]["unfinished"] = unfinished
                    metrics[key]["duration_s"] = runs[0]["duration_s"] if runs else None
        rows.append({
            "variant": variant.label, "overrides": dict(variant.overrides),
            "replications": len(runs), "hot_node": node, "metrics": metrics,
        })  # fmt: skip
    return rows


def retry_waits(c: Comparison) -> dict[str, dict[str, float | None]]:
    """Per variant, per call edge (named as in the run's ``edges``), the mean wait before the
    first retry (``first_retry_wait``; None where the call does not retry)."""
    out = {}
    for variant in c.variants:
        scenario = variant.scenario or c.scenario
        waits: dict[str, float | None] = {}
        for name, node in scenario.nodes.items():
            for edge, retry in _retry_edges(name, node):
                waits.setdefault(edge, first_retry_wait(retry))
        out[variant.label] = waits
    return out


def _retry_edges(name: str, node: Any) -> list[tuple[str, Any]]:
    """(edge name, retry) of a node's calls and publishes, named as the engine names them."""
    calls = zip(node.calls, call_edge_names(name, node.calls), strict=True)
    publishes = zip(node.publishes, publish_edge_names(name, node.publishes), strict=True)
    edges = [(edge, policy.retry) for policy, edge in (*calls, *publishes)]
    relay = getattr(node, "publish", None) if node.kind == "relay" else None
    if relay is not None:
        edges.append((f"{name}->{relay.to}.{relay.queue}", relay.retry))
    return edges


def judge(c: Comparison, rows: list[dict[str, Any]] | None = None) -> Judgement:
    """The best variant per column, the one-line verdict and the findings (see
    ``simulator.compare_verdict``), with the retry waits of every variant's policies."""
    return judge_rows(rows or comparison_table(c), retry_waits(c))


# -- plots -----------------------------------------------------------------------------------


def _mean_series(runs: list[dict[str, Any]], key: str) -> np.ndarray:
    stack = np.array([[np.nan if v is None else v for v in r["series"][key]] for r in runs])
    if np.isnan(stack).all():
        return stack[0]
    with np.errstate(invalid="ignore"), _quiet_nanmean():
        return np.nanmean(stack, axis=0)


class _quiet_nanmean:
    """numpy warns on all-NaN columns (buckets where no variant answered); that is expected."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._ctx.__exit__(exc_type, exc, tb)


def _success_over_time(runs: list[dict[str, Any]]) -> np.ndarray:
    """Success per bucket from the replications' counts pooled (not a mean of ratios)."""
    columns: dict[str, Any] = {"time_s": runs[0]["series"]["time_s"]}
    for key in runs[0]["series"]:
        if key.startswith("route.") and key.endswith((".goodput", ".failed")):
            columns[key] = sum(np.asarray(r["series"][key], dtype=float) for r in runs)
    return 100.0 * success_series(columns)


def draw_load(ax: Axes, c: Comparison, node: str | None = None) -> None:
    """Arrivals per second at the hot node, one line per variant (mean over replications)."""
    node = node or hot_node(c)
    for i, (label, runs) in enumerate(zip(c.labels, c.runs, strict=True)):
        t = np.asarray(runs[0]["series"]["time_s"])
        width = t[1] - t[0] if len(t) > 1 else 1.0
        load = _mean_series(runs, f"node.{node}.arrivals") / width
        ax.plot(t, load, color=series_colour(i), lw=1.4, label=label)
    shade_faults(ax, c.faults)
    style_axes(ax, "arrivals / s", f"Load offered to {node} (attempts included)")


def draw_success(ax: Axes, c: Comparison) -> None:
    """Share of requests answered (ok or fallback) per bucket, per variant."""
    for i, (label, runs) in enumerate(zip(c.labels, c.runs, strict=True)):
        t = runs[0]["series"]["time_s"]
        ax.plot(t, _success_over_time(runs), color=series_colour(i), lw=1.4, label=label)
    shade_faults(ax, c.faults, label=False)
    ax.set_ylim(-3, 103)
    style_axes(ax, "answered (%)", "Success rate over time (all routes)")


def draw_p99(ax: Axes, c: Comparison) -> None:
    """p99 latency of answered requests per bucket, per variant, log scale."""
    for i, (label, runs) in enumerate(zip(c.labels, c.runs, strict=True)):
        t = runs[0]["series"]["time_s"]
        ax.plot(t, _mean_series(runs, "overall.p99_ms"), color=series_colour(i),
                lw=1.4, label=label)  # fmt: skip
    shade_faults(ax, c.faults, label=False)
    ax.set_yscale("log")
    style_axes(ax, "p99 (ms)", "p99 latency of answered requests")


def draw_bars(
    ax: Axes, c: Comparison, rows: list[dict[str, Any]], key: str, ylabel: str, title: str,
    label: str | None = None,
) -> None:  # fmt: skip
    """One metric per variant as bars, with 95% CI whiskers; ``label`` (a format such as
    ``"{:.1f}"``) writes each mean over its bar, for bars of very different heights."""
    means = [r["metrics"][key]["mean"] for r in rows]
    halves = [np.nan_to_num(r["metrics"][key]["ci95"]) for r in rows]
    x = np.arange(len(rows))
    colours = [series_colour(i) for i in range(len(rows))]
    bars = ax.bar(x, means, yerr=halves, color=colours, alpha=0.85, capsize=5, ecolor="#333333")
    if label is not None:
        ax.bar_label(bars, labels=[label.format(m) for m in means], fontsize=7, padding=2)
        ax.margins(y=0.15)
    ax.set_xticks(x, [r["variant"] for r in rows], rotation=20, ha="right", fontsize=8)
    style_axes(ax, ylabel, f"{title}, mean ± 95% CI ({c.replications} runs)")


def draw_attempts(ax: Axes, c: Comparison, rows: list[dict[str, Any]] | None = None) -> None:
    """Total attempts over every call edge per variant, with 95% CI whiskers."""
    draw_bars(ax, c, rows or comparison_table(c), "total_attempts", "attempts (all calls)",
              "Total attempts")  # fmt: skip


def draw_contention(axes: Sequence[Axes], c: Comparison, rows: list[dict[str, Any]]) -> None:
    """The backoff study's two figures: calls at the contended resource and completion time."""
    draw_bars(axes[0], c, rows, "contention_calls", "write attempts", "Calls (contended writes)",
              "{:,.0f}")  # fmt: skip
    draw_bars(axes[1], c, rows, "completion_s", "seconds", "Completion (last client done)",
              "{:.1f} s")  # fmt: skip


def comparison_figure(c: Comparison, rows: list[dict[str, Any]] | None = None) -> Figure:
    """Four panels: load at the hot node, success rate, p99 over time; total attempts. With a
    contended database, two more: calls at it and completion time."""
    rows = rows or comparison_table(c)
    contended = bool(rows) and "contention_calls" in rows[0]["metrics"]
    figure = Figure(figsize=(13, 13 if contended else 9), layout="constrained")
    panels = figure.subplots(3 if contended else 2, 2)
    (a, b), (d, e) = panels[0], panels[1]
    draw_load(a, c)
    draw_success(b, c)
    draw_p99(d, c)
    draw_attempts(e, c, rows)
    if contended:
        draw_contention(panels[2], c, rows)
    for ax in (a, b, d):
        ax.set_xlabel("simulated time (s)")
    handles, labels = a.get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=min(6, len(labels)),
                  fontsize=8, frameon=False)  # fmt: skip
    figure.suptitle(f"{c.scenario.name}: {c.replications} replications per variant",
                    fontsize=12, fontweight="bold")  # fmt: skip
    return figure


# -- files -----------------------------------------------------------------------------------


def _flat(
    rows: list[dict[str, Any]], best: dict[str, Best]
) -> tuple[list[str], list[dict[str, Any]]]:
    """One CSV row per variant: each metric's mean, ``_ci95`` and ``_best`` (``best`` for the
    clear leader, ``tied`` for the variants tied for the lead, else empty)."""
    names = list(dict.fromkeys(k for r in rows for k in r["metrics"]))
    suffixes = ("", "_ci95", "_best")
    header = ["variant", "replications"] + [f"{n}{s}" for n in names for s in suffixes]
    flat = []
    for r in rows:
        out: dict[str, Any] = {"variant": r["variant"], "replications": r["replications"]}
        for n in names:
            m = r["metrics"].get(n, {"mean": math.nan, "ci95": math.nan})
            out[n], out[f"{n}_ci95"] = m["mean"], m["ci95"]
            out[f"{n}_best"] = best[n].mark(r["variant"]) if n in best else ""
        flat.append(out)
    return header, flat


def comparison_data(
    c: Comparison, rows: list[dict[str, Any]] | None = None, judgement: Judgement | None = None
) -> dict[str, Any]:
    """The comparison as JSON-able data (NaN written as null), with the best per column, the
    verdict and the findings (``judge``)."""
    rows = rows or comparison_table(c)
    judgement = judgement or judge(c, rows)
    return _json_safe({
        "scenario": c.scenario.name, "base_seed": c.base_seed, "replications": c.replications,
        "varies": [{"field": p, "values": v} for p, v in c.varies], "variants": rows,
        **judgement.as_dict(),
    })  # fmt: skip


def _json_safe(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {k: _json_safe(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_json_safe(v) for v in data]
    return data


def save_comparison(c: Comparison, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``compare.png``, ``compare.svg``, ``compare.csv`` and ``compare.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = comparison_table(c)
    figure = comparison_figure(c, rows)
    paths = [out / "compare.png", out / "compare.svg", out / "compare.csv", out / "compare.json"]
    figure.savefig(paths[0], dpi=110)
    figure.savefig(paths[1])
    judgement = judge(c, rows)
    header, flat = _flat(rows, judgement.best)
    with paths[2].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        for row in flat:
            writer.writerow({k: "" if isinstance(v, float) and math.isnan(v) else v
                             for k, v in row.items()})  # fmt: skip
    data = comparison_data(c, rows, judgement)
    paths[3].write_text(json.dumps(data, indent=2), encoding="utf-8")
    return paths
