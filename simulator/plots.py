"""Plots of a run, drawn with matplotlib's object API (no pyplot, no GUI backend).

The ``draw_*`` functions draw onto any Axes, so the desktop app embeds the very
same plots in its Qt canvases; ``save_run_plots`` writes them as PNG and SVG.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simulator.palette import series_colour
from simulator.scenario import FAULT_COLOURS

__all__ = [
    "FAULT_COLOURS",
    "draw_latency",
    "draw_throughput",
    "draw_utilization",
    "save_run_plots",
    "shade_faults",
    "style_axes",
]


def shade_faults(ax: Axes, faults: Sequence[dict], label: bool = True) -> None:
    """Shade each fault's window, labelled with its kind and target."""
    seen: set[str] = set()
    for fault in faults:
        colour = FAULT_COLOURS.get(fault["kind"], "#adb5bd")
        text = f"{fault['kind']} on {fault['target']}"
        ax.axvspan(
            fault["start_s"], fault["end_s"], color=colour, alpha=0.18, lw=0,
            label=text if label and text not in seen else None,
        )  # fmt: skip
        seen.add(text)


def style_axes(ax: Axes, ylabel: str, title: str) -> None:
    ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.25)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _routes(columns: dict[str, np.ndarray]) -> list[str]:
    return sorted({k.split(".")[1] for k in columns if k.startswith("route.")})


def draw_latency(ax: Axes, columns: dict[str, np.ndarray], faults: Sequence[dict]) -> None:
    """p50 (dashed) and p99 (solid) latency per entry route, log scale."""
    t = columns["time_s"]
    for i, route in enumerate(_routes(columns)):
        colour = series_colour(i)
        ax.plot(t, columns[f"route.{route}.p99_ms"], color=colour, lw=1.6, label=f"{route} p99")
        ax.plot(t, columns[f"route.{route}.p50_ms"], color=colour, lw=1.0, ls="--",
                label=f"{route} p50")  # fmt: skip
        _mark_unanswered(ax, t, columns, route, colour)
    shade_faults(ax, faults)
    ax.set_yscale("log")
    style_axes(ax, "latency (ms)", "Latency of answered requests, per route")
    ax.legend(fontsize=7, loc="upper right", ncols=2)


def _mark_unanswered(
    ax: Axes, t: np.ndarray, columns: dict[str, np.ndarray], route: str, colour: str
) -> None:
    """A hatched band at the foot of the axes where a route had requests and no answer.

    Latency is measured on answers only, so without this a line simply stops
    during an outage, and a chain where nothing gets through looks healthy.
    """
    requests = columns.get(f"route.{route}.requests")
    if requests is None or len(t) == 0:
        return
    silent = (requests > 0) & np.isnan(columns[f"route.{route}.p99_ms"])
    width = t[1] - t[0] if len(t) > 1 else 1.0
    edges = np.flatnonzero(np.diff(np.concatenate(([0], silent.astype(np.int8), [0]))))
    for first, end in zip(edges[::2], edges[1::2], strict=True):
        ax.axvspan(t[first], t[end - 1] + width, ymin=0.0, ymax=0.05, facecolor="none",
                   edgecolor=colour, hatch="////", lw=0.0)  # fmt: skip
        ax.text(t[first], 0.06, f" {route}: no answers", transform=ax.get_xaxis_transform(),
                fontsize=6.5, color=colour, va="bottom", clip_on=True)  # fmt: skip


def draw_throughput(ax: Axes, columns: dict[str, np.ndarray], faults: Sequence[dict]) -> None:
    """Goodput (solid) and failures (filled) per route, in requests per second."""
    t = columns["time_s"]
    width = t[1] - t[0] if len(t) > 1 else 1.0
    for i, route in enumerate(_routes(columns)):
        colour = series_colour(i)
        good = columns[f"route.{route}.goodput"] / width
        failed = columns[f"route.{route}.failed"] / width
        ax.plot(t, good, color=colour, lw=1.5, label=f"{route} ok/s")
        ax.fill_between(t, 0, failed, color=colour, alpha=0.35, lw=0, label=f"{route} failed/s")
    shade_faults(ax, faults, label=False)
    style_axes(ax, "requests / s", "Throughput and errors")
    ax.legend(fontsize=7, loc="upper right", ncols=2)


def draw_utilization(ax: Axes, columns: dict[str, np.ndarray], faults: Sequence[dict]) -> None:
    """Worker utilisation per node (0–100%)."""
    t = columns["time_s"]
    nodes = sorted({k.split(".")[1] for k in columns if k.endswith(".utilization")})
    for i, node in enumerate(nodes):
        ax.plot(t, 100 * columns[f"node.{node}.utilization"], color=series_colour(i),
                lw=1.3, label=node)  # fmt: skip
    shade_faults(ax, faults, label=False)
    ax.set_ylim(0, 105)
    style_axes(ax, "busy workers (%)", "Utilisation per node")
    ax.set_xlabel("simulated time (s)")
    ax.legend(fontsize=7, loc="upper right", ncols=2)


def run_figure(columns: dict[str, np.ndarray], faults: Sequence[dict], title: str) -> Figure:
    figure = Figure(figsize=(11, 9), layout="constrained")
    axes = figure.subplots(3, 1, sharex=True)
    draw_latency(axes[0], columns, faults)
    draw_throughput(axes[1], columns, faults)
    draw_utilization(axes[2], columns, faults)
    figure.suptitle(title, fontsize=12, fontweight="bold")
    return figure


def save_run_plots(
    columns: dict[str, np.ndarray],
    faults: Sequence[dict],
    title: str,
    out_dir: str | os.PathLike[str],
) -> list[Path]:
    """Write ``run.png`` and ``run.svg`` into ``out_dir``."""
    out = Path(out_dir)
    figure = run_figure(columns, faults, title)
    paths = [out / "run.png", out / "run.svg"]
    figure.savefig(paths[0], dpi=110)
    figure.savefig(paths[1])
    return paths
