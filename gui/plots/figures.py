"""The run's live plots as matplotlib Figures, built from plain data. Qt-free.

Four always (latency, throughput, breakers, queues and utilisation) and, beside
them, "messages" (broker queue depth and outbox rows; the age of the oldest
unacknowledged message) for scenarios with brokers, and "resources" (connection
pools in use; memory against its limit) for scenarios with pools or memory.

The same builders serve the live panel (drawn on a render thread), the
scrubber (columns cut at the chosen time) and the exports (PNG/SVG). Route,
throughput and utilisation plots reuse ``simulator.plots`` so the app and the
command line draw the same numbers the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from simulator.plots import PALETTE, draw_latency, draw_throughput, shade_faults

PLOTS = ("latency", "throughput", "breakers", "pools", "messages", "resources")
TITLES = {
    "latency": "Latency",
    "throughput": "Throughput and errors",
    "breakers": "Circuit breakers",
    "pools": "Queues and utilisation",
    "messages": "Messages",
    "resources": "Connection pools and memory",
}
EXTRA_PLOTS = ("messages", "resources")
"""Plots shown only for a scenario that has what they draw (``needed_plots``)."""
BREAKER_COLOURS = {"closed": "#2a9d8f", "open": "#e63946", "half_open": "#4895ef"}
"""Half-open is blue: the fault shading already uses the oranges and yellows."""
NOW_COLOUR = "#1d3557"
MAX_LEGEND = 12
LEGEND_PX = 112


@dataclass
class PlotFilter:
    """What the plots show; None means everything of that sort."""

    label: str = ""
    routes: set[str] | None = None
    nodes: set[str] | None = None
    edges: set[str] | None = None
    focus: tuple[str, str] | None = None  # ("node", name) or ("call", edge)
    queues: set[str] | None = None  # "broker.queue"
    pools: set[str] | None = None  # call edges ("api->db") whose connection pools to show


@dataclass
class PlotData:
    """One moment of one run, as the plots need it."""

    columns: dict[str, np.ndarray]
    faults: Sequence[dict[str, Any]]
    horizon: float
    now: float
    breakers: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    filter: PlotFilter = field(default_factory=PlotFilter)
    limits: dict[str, float] = field(default_factory=dict)
    """What a level is measured against, by column: a pool's connections, a node's memory."""


def needed_plots(scenario: Any) -> tuple[str, ...]:
    """The extra plots a scenario has something for: brokers, pools, memory."""
    nodes = list(scenario.nodes.values())
    out = []
    if any(n.kind == "broker" for n in nodes):
        out.append("messages")
    pools = any(getattr(c, "pool", None) is not None for n in nodes for c in n.calls)
    if pools or any(getattr(n, "memory", None) is not None for n in nodes):
        out.append("resources")
    return tuple(out)


def new_figure(width_px: int, height_px: int, dpi: float = 96.0) -> Figure:
    figure = Figure(figsize=(max(width_px, 200) / dpi, max(height_px, 120) / dpi), dpi=dpi)
    # Fixed margins in pixels: constrained layout costs more than the drawing itself.
    w, h = max(width_px, 200), max(height_px, 120)
    figure.subplots_adjust(
        left=62 / w, right=1 - 12 / w, top=1 - 26 / h, bottom=34 / h, hspace=0.45
    )
    return figure


def build(kind: str, data: PlotData, width_px: int, height_px: int) -> Figure:
    figure = new_figure(width_px, height_px)
    draw(kind, figure, data)
    return figure


def draw(kind: str, figure: Figure, data: PlotData) -> None:
    """Draw plot ``kind`` onto an empty ``figure``."""
    pools, memory = _has(data, "pool.", ".in_use"), _has(data, "node.", ".memory_mb")
    if kind in ("pools", "messages") or (kind == "resources" and (pools or not memory)):
        top, bottom = figure.subplots(2, 1, sharex=True)
        if kind == "pools":
            _draw_utilization(top, data)
            _draw_queues(bottom, data)
        elif kind == "messages":
            _draw_depth(top, data)
            _draw_lag(bottom, data)
        else:  # pools and memory, or pools and their waiting callers (or nothing yet)
            _draw_pools(top, data)
            (_draw_memory if memory or not pools else _draw_waiters)(bottom, data)
        axes = [top, bottom]
    elif kind == "resources":  # memory only: one plot gets the room
        ax = figure.add_subplot()
        _draw_memory(ax, data)
        axes = [ax]
    else:
        ax = figure.add_subplot()
        {"latency": _draw_latency, "throughput": _draw_throughput,
         "breakers": _draw_breakers}[kind](ax, data)  # fmt: skip
        axes = [ax]
    for ax in axes:
        ax.set_xlim(0, data.horizon or 1)
        ax.axvline(data.now, color=NOW_COLOUR, lw=1.2, alpha=0.8)
        ax.title.set_fontsize(9)
        ax.tick_params(labelsize=7.5)
        ax.yaxis.label.set_fontsize(8)
        ax.xaxis.label.set_fontsize(8)
    _legends_outside(figure, axes, kind)
    _name_faults(axes[0], data.faults)
    axes[-1].set_xlabel("simulated time (s)")


def _name_faults(ax: Axes, faults: Sequence[dict[str, Any]]) -> None:
    """Say what each shaded window is, at its top left (when there are few enough to read)."""
    groups: dict[tuple[float, str], list[str]] = {}
    for fault in faults:  # the same kind at the same time on several targets: one label
        groups.setdefault((fault["start_s"], fault["kind"]), []).append(fault["target"])
    if len(groups) > 4:
        return
    for i, ((start, kind), targets) in enumerate(groups.items()):
        ax.text(start, 0.98 - 0.09 * (i % 3), f" {kind} on {', '.join(targets)}",
                transform=ax.get_xaxis_transform(), va="top", fontsize=6.5, color="#5c4033",
                clip_on=True)  # fmt: skip


def _legend_entries(ax: Axes, kind: str) -> tuple[list, list[str]]:
    """One entry per route or node: line styles and shading are explained by the titles."""
    handles, labels = ax.get_legend_handles_labels()
    keep = []
    for handle, label in zip(handles, labels, strict=True):
        if kind == "latency" and label.endswith(" p99"):
            keep.append((handle, label[: -len(" p99")]))
        elif kind == "throughput" and data_route(label):
            keep.append((handle, data_route(label)))
        elif kind in ("pools", "breakers", "messages", "resources") or (
            kind == "throughput" and "/s" in label and not label.endswith(" failed/s")
        ):
            keep.append((handle, label))
    return [h for h, _ in keep], [lbl for _, lbl in keep]


def data_route(label: str) -> str:
    return label[: -len(" ok/s")] if label.endswith(" ok/s") else ""


def _legends_outside(figure: Figure, axes: list[Axes], kind: str) -> None:
    """Legends to the right of the plot, where they never hide a line."""
    width = figure.bbox.width
    placed = False
    for ax in axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        legend.remove()
        handles, labels = _legend_entries(ax, kind)
        if not labels:
            continue
        if len(labels) > MAX_LEGEND:
            ax.text(1.01, 1.0, f"{len(labels)} series:\nclick a node\nor call to see\nit alone",
                    transform=ax.transAxes, va="top", fontsize=6.5, color="#6c757d")  # fmt: skip
        else:
            ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                      fontsize=6.5, frameon=False, borderaxespad=0.0)  # fmt: skip
        placed = True
    if placed:
        figure.subplots_adjust(right=1 - LEGEND_PX / width)


# -- the plots ------------------------------------------------------------------------------


def _keep(columns: dict[str, np.ndarray], prefix: str, names: set[str] | None) -> dict:
    """Columns other than ``prefix.*``, plus ``prefix.<name>.*`` for the chosen names."""
    if names is None:
        return columns
    return {
        k: v for k, v in columns.items()
        if not k.startswith(prefix + ".") or k.split(".")[1] in names
    }  # fmt: skip


def _empty(ax: Axes, text: str, title: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#6c757d")
    ax.set_yticks([])
    ax.set_title(title, loc="left", fontweight="bold")


def _draw_latency(ax: Axes, data: PlotData) -> None:
    columns = _keep(data.columns, "route", data.filter.routes)
    if not any(k.endswith(".p99_ms") for k in columns) or _no_values(columns, ".p99_ms"):
        _empty(ax, "no answered requests yet", "Latency per route")
        return
    draw_latency(ax, columns, data.faults)
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    title = _with(data, "Latency of answered requests: p99 solid, p50 dashed")
    ax.set_title(title, loc="left", fontweight="bold")


def _no_values(columns: dict[str, np.ndarray], suffix: str) -> bool:
    return all(np.all(np.isnan(v)) for k, v in columns.items() if k.endswith(suffix))


def _draw_throughput(ax: Axes, data: PlotData) -> None:
    focus = data.filter.focus
    if focus is None:
        draw_throughput(ax, _keep(data.columns, "route", data.filter.routes), data.faults)
        ax.set_title(_with(data, "Answered per s (lines), failed (filled)"), loc="left",
                     fontweight="bold")  # fmt: skip
        return
    what, name = focus
    if what == "node" and f"route.{name}.requests" in data.columns:  # a client: its route
        series = [("requests", "started/s"), ("goodput", "answered/s"), ("failed", "failed/s")]
        prefix = f"route.{name}"
    elif what == "node":
        series = [("arrivals", "arrivals/s"), ("errors", "errors/s"), ("rejected", "rejected/s")]
        prefix = f"node.{name}"
    else:
        series = [("requests", "requests/s"), ("attempts", "attempts/s"),
                  ("failures", "failed attempts/s")]  # fmt: skip
        prefix = f"edge.{name}"
    t = data.columns["time_s"]
    width = t[1] - t[0] if len(t) > 1 else 1.0
    for i, (key, label) in enumerate(series):
        values = data.columns.get(f"{prefix}.{key}")
        if values is not None:
            ax.plot(t, values / width, color=PALETTE[i], lw=1.4, label=label)
    shade_faults(ax, data.faults, label=False)
    ax.set_title(f"Traffic at {name}", loc="left", fontweight="bold")
    ax.set_ylabel("per second")
    ax.grid(True, alpha=0.25)
    ax.legend(loc="upper left", ncols=3)


def _draw_breakers(ax: Axes, data: PlotData) -> None:
    edges = [e for e in data.breakers if data.filter.edges is None or e in data.filter.edges]
    title = _with(data, "Breaker state per call")
    if not edges:
        text = "no circuit breaker on " + ("these calls" if data.breakers else "any call")
        _empty(ax, text, title)
        return
    for row, edge in enumerate(edges):
        steps = [s for s in data.breakers[edge] if s[0] <= data.now]
        for (start, state), nxt in zip(steps, [*steps[1:], (data.now, "")], strict=True):
            ax.broken_barh([(start, max(nxt[0] - start, 0))], (row - 0.35, 0.7),
                           color=BREAKER_COLOURS.get(state, "#adb5bd"), lw=0)  # fmt: skip
    shade_faults(ax, data.faults, label=False)
    for row, edge in enumerate(edges):  # names inside the bars: long names need no margin
        ax.text(data.horizon * 0.005, row, edge.replace("->", " → "), va="center", fontsize=7,
                color="white", fontweight="bold")  # fmt: skip
    ax.set_yticks([])
    ax.set_ylim(len(edges) - 0.5, -0.5)
    for state, colour in BREAKER_COLOURS.items():
        ax.plot([], [], color=colour, lw=6, label=state.replace("_", "-"))
    ax.legend(loc="upper left", ncols=3)
    ax.set_title(title, loc="left", fontweight="bold")


def _node_names(data: PlotData, key: str) -> list[str]:
    names = sorted({k.split(".")[1] for k in data.columns if k.startswith("node.")
                    and k.endswith("." + key)})  # fmt: skip
    return [n for n in names if data.filter.nodes is None or n in data.filter.nodes]


def _draw_utilization(ax: Axes, data: PlotData) -> None:
    t = data.columns["time_s"]
    for i, node in enumerate(_node_names(data, "utilization")):
        ax.plot(t, 100 * data.columns[f"node.{node}.utilization"],
                color=PALETTE[i % len(PALETTE)], lw=1.3, label=node)  # fmt: skip
    shade_faults(ax, data.faults, label=False)
    ax.set_ylim(0, 105)
    ax.set_ylabel("busy (%)")
    ax.grid(True, alpha=0.25)
    ax.set_title(_with(data, "Busy workers and queue length"), loc="left", fontweight="bold")
    if ax.lines:
        ax.legend(loc="upper left", ncols=4)


def _draw_queues(ax: Axes, data: PlotData) -> None:
    columns = [f"node.{node}.queue" for node in _node_names(data, "queue")]
    _lower_panel(ax, data, columns, "queued")


def _lower_panel(
    ax: Axes, data: PlotData, columns: list[str], ylabel: str, caption: str = ""
) -> None:
    """The lower half of a two-part plot: one line per column, in the upper half's colours
    (whose legend names them), counted from zero."""
    t = data.columns["time_s"]
    for i, column in enumerate(columns):
        values = data.columns.get(column)
        if values is not None:
            ax.plot(t, values, color=PALETTE[i % len(PALETTE)], lw=1.3)
    shade_faults(ax, data.faults, label=False)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.25)
    if caption:
        ax.text(0.005, 0.96, caption, transform=ax.transAxes, va="top", fontsize=6.5,
                color="#6c757d")  # fmt: skip


def _names(
    columns: dict[str, np.ndarray], prefix: str, suffix: str, wanted: set[str] | None
) -> list[str]:
    """What sits between ``prefix`` and ``suffix`` in the column names, sorted, filtered."""
    names = sorted(k[len(prefix) : -len(suffix)] for k in columns
                   if k.startswith(prefix) and k.endswith(suffix))  # fmt: skip
    return [n for n in names if wanted is None or n in wanted]


def queue_names(columns: dict[str, np.ndarray], wanted: set[str] | None = None) -> list[str]:
    """The ``broker.queue`` names that have ``queue.<broker>.<queue>.depth`` columns."""
    return _names(columns, "queue.", ".depth", wanted)


def _outboxes(data: PlotData) -> list[str]:
    return _names(data.columns, "outbox.", ".pending", data.filter.nodes)


def _draw_depth(ax: Axes, data: PlotData) -> None:
    """Messages held per queue (solid) and outbox rows waiting per relay (dashed)."""
    title = _with(data, "Messages held per queue; outbox rows (dashed)")
    queues, outboxes = queue_names(data.columns, data.filter.queues), _outboxes(data)
    if not queues and not outboxes:
        _empty(ax, "no broker queue " + ("here" if data.filter.queues else "yet"), title)
        return
    t = data.columns["time_s"]
    for i, name in enumerate(queues):
        ax.plot(t, data.columns[f"queue.{name}.depth"], color=PALETTE[i % len(PALETTE)],
                lw=1.4, label=name)  # fmt: skip
    for j, name in enumerate(outboxes, start=len(queues)):
        ax.plot(t, data.columns[f"outbox.{name}.pending"], color=PALETTE[j % len(PALETTE)],
                lw=1.2, ls="--", label=f"{name} outbox")  # fmt: skip
    shade_faults(ax, data.faults, label=False)
    ax.set_ylabel("messages")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.25)
    ax.set_title(title, loc="left", fontweight="bold")
    if ax.lines:
        ax.legend(loc="upper left", ncols=3)


def _draw_lag(ax: Axes, data: PlotData) -> None:
    """The age of each queue's oldest unacknowledged message: how far consumers are behind."""
    columns = [f"queue.{name}.lag_s" for name in queue_names(data.columns, data.filter.queues)]
    _lower_panel(ax, data, columns, "lag (s)", "oldest unacknowledged message's age")


def _with(data: PlotData, title: str) -> str:
    return f"{title} — {data.filter.label}" if data.filter.label else title


def _has(data: PlotData, prefix: str, suffix: str) -> bool:
    """Whether the run has any such column at all (filtered out or not)."""
    return any(k.startswith(prefix) and k.endswith(suffix) for k in data.columns)


def pool_names(data: PlotData) -> list[str]:
    """The call edges that have ``pool.<edge>.in_use`` columns (and pass the filter)."""
    return _names(data.columns, "pool.", ".in_use", data.filter.pools)


def _draw_pools(ax: Axes, data: PlotData) -> None:
    """Connections in use per pool, as a share of all it may open (max + overflow)."""
    title = _with(data, "Connections in use (% of max + overflow)")
    lines = [(f"pool.{edge}.in_use", edge.replace("->", " → ")) for edge in pool_names(data)]
    empty = "no connection pool " + ("here" if data.filter.pools is not None else "yet")
    _draw_shares(ax, data, lines, title, "in use (%)", empty)


def _draw_waiters(ax: Axes, data: PlotData) -> None:
    """Callers waiting for a connection: an exhausted pool's queue."""
    columns = [f"pool.{edge}.waiters" for edge in pool_names(data)]
    _lower_panel(ax, data, columns, "waiting", "callers waiting for a connection")


def _draw_memory(ax: Axes, data: PlotData) -> None:
    """Each node's memory as a share of its limit: at 100% it is OOM-killed."""
    title = _with(data, "Memory (% of the limit): OOM-killed at the dashed line")
    lines = [(f"node.{node}.memory_mb", node) for node in _node_names(data, "memory_mb")]
    empty = "no memory limit " + ("here" if data.filter.nodes is not None else "set")
    if _draw_shares(ax, data, lines, title, "memory (%)", empty):
        ax.axhline(100, color="#9b2226", lw=1.0, ls="--")


def _draw_shares(
    ax: Axes, data: PlotData, lines: list[tuple[str, str]], title: str, ylabel: str, empty: str
) -> bool:
    """Each (column, label) as a percentage of its limit (``data.limits``); False if none."""
    if not lines:
        _empty(ax, empty, title)
        return False
    t = data.columns["time_s"]
    for i, (column, label) in enumerate(lines):
        share = data.columns[column] / (data.limits.get(column) or 1.0)
        ax.plot(t, 100 * share, color=PALETTE[i % len(PALETTE)], lw=1.4, label=label)
    shade_faults(ax, data.faults, label=False)
    ax.set_ylim(0, 110)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.25)
    ax.set_title(title, loc="left", fontweight="bold")
    ax.legend(loc="upper left", ncols=3)
    return True
