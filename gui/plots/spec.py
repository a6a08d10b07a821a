"""What each run plot shows, as plain data: lines, fills, bands, bars, titles, legends.

Qt-free and matplotlib-free. ``plot_spec(kind, data)`` is the one place that
decides what a plot draws from a run's columns; the live pyqtgraph views
(``live_view``) and the exported matplotlib figures (``figures``) only render
it, so what the app shows and what it saves cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.palette import series_colour
from simulator.scenario import FAULT_COLOURS

"""The route and node colours (the command line's plots use the same ones)."""
PLOTS = ("latency", "throughput", "breakers", "pools", "messages", "resources", "limits")
TITLES = {
    "latency": "Latency",
    "throughput": "Throughput and errors",
    "breakers": "Circuit breakers",
    "pools": "Queues and utilisation",
    "messages": "Messages",
    "resources": "Connection pools and memory",
    "limits": "Concurrency limits",
}
EXTRA_PLOTS = ("messages", "resources", "limits")
"""Plots shown only for a scenario that has what they draw (``needed_plots``)."""
BREAKER_COLOURS = {"closed": "#2a9d8f", "open": "#e63946", "half_open": "#4895ef"}
"""Half-open is blue: the fault shading already uses the oranges and yellows."""
OOM_COLOUR = "#9b2226"
MAX_LEGEND = 12
MAX_FAULT_LABELS = 4


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


# -- the spec ---------------------------------------------------------------------------------


@dataclass
class Line:
    key: str  # stable across refreshes: a live view updates the curve with this key in place
    x: np.ndarray
    y: np.ndarray
    colour: str
    width: float = 1.3
    dashed: bool = False


@dataclass
class Fill:
    """The area between ``low`` and ``high``: failures, stacked route on route."""

    key: str
    x: np.ndarray
    low: np.ndarray
    high: np.ndarray
    colour: str
    alpha: float = 0.45


@dataclass
class Band:
    """A hatched strip at the foot of the plot where a route had requests and no answer."""

    start: float
    end: float
    colour: str
    text: str


@dataclass
class Bar:
    """One state of one breaker: row ``row`` from ``start`` to ``end``."""

    row: int
    start: float
    end: float
    colour: str


@dataclass
class Entry:
    """One legend entry; ``style`` is "line", "dashed", "fill" or "bar"."""

    label: str
    colour: str
    style: str = "line"


@dataclass
class Panel:
    title: str
    ylabel: str = ""
    log: bool = False
    ymin: float | None = None  # None: fit the data
    ymax: float | None = None
    lines: list[Line] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)  # breaker names, row 0 at the top
    hlines: list[tuple[float, str]] = field(default_factory=list)  # (y, colour), dashed
    legend: list[Entry] = field(default_factory=list)
    caption: str = ""
    empty: str = ""  # said in the middle of the plot when there is nothing to draw

    @property
    def named_rows(self) -> list[str]:
        """The row names written on the bars: none when there are too many to read."""
        return self.rows if len(self.rows) <= MAX_LEGEND else []

    @property
    def too_many(self) -> bool:
        """More series than a legend can name: the plot says "click a node" instead."""
        return len(self.legend) > MAX_LEGEND


@dataclass
class FaultSpan:
    start: float
    end: float
    colour: str


@dataclass
class PlotSpec:
    kind: str
    panels: list[Panel]  # one or two, sharing the x axis
    faults: list[FaultSpan]
    fault_labels: list[tuple[float, str]]  # (start, "kind on targets") on the first panel
    horizon: float
    now: float
    xlabel: str = "simulated time (s)"


def needed_plots(scenario: Any) -> tuple[str, ...]:
    """The extra plots a scenario has something for: brokers, pools, memory."""
    nodes = list(scenario.nodes.values())
    out = []
    if any(n.kind == "broker" for n in nodes):
        out.append("messages")
    pools = any(getattr(c, "pool", None) is not None for n in nodes for c in n.calls)
    if pools or any(getattr(n, "memory", None) is not None for n in nodes):
        out.append("resources")
    if any(getattr(getattr(n, "limiter", None), "adaptive", False) for n in nodes):
        out.append("limits")
    return tuple(out)


def plot_spec(kind: str, data: PlotData) -> PlotSpec:
    """Everything plot ``kind`` draws at ``data.now``."""
    pools, memory = _has(data, "pool.", ".in_use"), _has(data, "node.", ".memory_mb")
    if kind == "pools":
        panels = [_utilization(data), _queues(data)]
    elif kind == "messages":
        panels = [_depth(data), _lag(data)]
    elif kind == "resources" and (pools or not memory):
        # pools and memory, or pools and their waiting callers (or nothing yet)
        panels = [_pools(data), _memory(data) if memory or not pools else _waiters(data)]
    elif kind == "resources":  # memory only: one plot gets the room
        panels = [_memory(data)]
    elif kind == "limits":
        panels = [_limits(data)]
    else:
        panels = [{"latency": _latency, "throughput": _throughput,
                   "breakers": _breakers}[kind](data)]  # fmt: skip
        if kind == "breakers" and _has(data, "node.", ".ejected"):
            panels.append(_ejections(data))
    spans = list(
        {  # the same kind on several targets at once: one span, not a darker one
            (f["start_s"], f["end_s"], FAULT_COLOURS.get(f["kind"], "#adb5bd")): None
            for f in data.faults
        }
    )
    faults = [FaultSpan(*span) for span in spans]
    return PlotSpec(kind, panels, faults, fault_labels(data.faults), data.horizon or 1.0, data.now)


def fault_labels(faults: Sequence[dict[str, Any]]) -> list[tuple[float, str]]:
    """What each shaded window is, at its start (none when there are too many to read)."""
    groups: dict[tuple[float, str], list[str]] = {}
    for fault in faults:  # the same kind at the same time on several targets: one label
        groups.setdefault((fault["start_s"], fault["kind"]), []).append(fault["target"])
    if len(groups) > MAX_FAULT_LABELS:
        return []
    return [(start, f"{kind} on {', '.join(targets)}") for (start, kind), targets in groups.items()]


def readable(colour: str, dark: bool) -> str:
    """``colour``, lightened on a dark background until it stands out (navy becomes sky)."""
    if not dark:
        return colour
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
    if luminance >= 0.45:
        return colour
    mix = min(1.0, (0.45 - luminance) / (1.0 - luminance) + 0.25)
    r, g, b = (round(c + (255 - c) * mix) for c in (r, g, b))
    return f"#{r:02x}{g:02x}{b:02x}"


# -- the panels -------------------------------------------------------------------------------


def _keep(columns: dict[str, np.ndarray], prefix: str, names: set[str] | None) -> dict:
    """Columns other than ``prefix.*``, plus ``prefix.<name>.*`` for the chosen names."""
    if names is None:
        return columns
    return {
        k: v for k, v in columns.items()
        if not k.startswith(prefix + ".") or k.split(".")[1] in names
    }  # fmt: skip


def _with(data: PlotData, title: str) -> str:
    return f"{title} — {data.filter.label}" if data.filter.label else title


def _has(data: PlotData, prefix: str, suffix: str) -> bool:
    """Whether the run has any such column at all (filtered out or not)."""
    return any(k.startswith(prefix) and k.endswith(suffix) for k in data.columns)


def _width(t: np.ndarray) -> float:
    return float(t[1] - t[0]) if len(t) > 1 else 1.0


def _routes(columns: dict[str, np.ndarray]) -> list[str]:
    return sorted({k.split(".")[1] for k in columns if k.startswith("route.")})


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


def pool_names(data: PlotData) -> list[str]:
    """The call edges that have ``pool.<edge>.in_use`` columns (and pass the filter)."""
    return _names(data.columns, "pool.", ".in_use", data.filter.pools)


def _node_names(data: PlotData, key: str) -> list[str]:
    return _names(data.columns, "node.", "." + key, data.filter.nodes)


def silent_spans(t: np.ndarray, requests: np.ndarray, p99: np.ndarray) -> list[tuple[int, int]]:
    """(first, end) bucket indices where a route had requests and no answer.

    Latency is measured on answers only, so without a mark a line simply stops
    during an outage, and a chain where nothing gets through looks healthy.
    """
    silent = (requests > 0) & np.isnan(p99)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], silent.astype(np.int8), [0]))))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _latency(data: PlotData) -> Panel:
    columns = _keep(data.columns, "route", data.filter.routes)
    title = _with(data, "Latency of answered requests: p99 solid, p50 dashed")
    panel = Panel(title, "latency (ms)", log=True)
    routes = [r for r in _routes(columns) if f"route.{r}.p99_ms" in columns]
    if not routes or all(np.all(np.isnan(columns[f"route.{r}.p99_ms"])) for r in routes):
        panel.title, panel.log = _with(data, "Latency per route"), False
        panel.empty = "no answered requests yet"
        return panel
    t = columns["time_s"]
    width = _width(t)
    for i, route in enumerate(routes):
        colour = series_colour(i)
        p99 = columns[f"route.{route}.p99_ms"]
        panel.lines.append(Line(f"{route}.p99", t, p99, colour, 1.6))
        panel.lines.append(Line(f"{route}.p50", t, columns[f"route.{route}.p50_ms"], colour,
                                1.0, dashed=True))  # fmt: skip
        panel.legend.append(Entry(route, colour))
        requests = columns.get(f"route.{route}.requests")
        if requests is not None and len(t):
            for first, end in silent_spans(t, requests, p99):
                panel.bands.append(Band(float(t[first]), float(t[end - 1] + width), colour,
                                        f" {route}: no answers"))  # fmt: skip
    return panel


def _throughput(data: PlotData) -> Panel:
    t = data.columns["time_s"]
    width = _width(t)
    focus = data.filter.focus
    if focus is None:
        panel = Panel(_with(data, "Answered per s (lines); failed per s (stacked fills)"),
                      "requests / s", ymin=0.0)  # fmt: skip
        columns = _keep(data.columns, "route", data.filter.routes)
        routes = [r for r in _routes(columns) if f"route.{r}.goodput" in columns]
        below = np.zeros(len(t))
        for i, route in enumerate(routes):  # one band per route, stacked: never mixed colours
            colour = series_colour(i)
            failed = np.nan_to_num(columns[f"route.{route}.failed"] / width)
            panel.fills.append(Fill(f"{route}.failed", t, below, below + failed, colour))
            below = below + failed
        for i, route in enumerate(routes):
            colour = series_colour(i)
            panel.lines.append(Line(f"{route}.ok", t, columns[f"route.{route}.goodput"] / width,
                                    colour, 1.5))  # fmt: skip
            panel.legend.append(Entry(f"{route} answered", colour))
            panel.legend.append(Entry(f"{route} failed", colour, "fill"))
        return panel
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
    panel = Panel(f"Traffic at {name.replace('->', ' → ')}", "per second", ymin=0.0)
    for i, (key, label) in enumerate(series):
        values = data.columns.get(f"{prefix}.{key}")
        if values is not None:
            panel.lines.append(Line(label, t, values / width, series_colour(i), 1.4))
            panel.legend.append(Entry(label, series_colour(i)))
    return panel


def _breakers(data: PlotData) -> Panel:
    edges = [e for e in data.breakers if data.filter.edges is None or e in data.filter.edges]
    panel = Panel(_with(data, "Breaker state per call"))
    if not edges:
        panel.empty = "no circuit breaker on " + ("these calls" if data.breakers else "any call")
        return panel
    for row, edge in enumerate(edges):
        steps = [s for s in data.breakers[edge] if s[0] <= data.now]
        for (start, state), nxt in zip(steps, [*steps[1:], (data.now, "")], strict=True):
            if nxt[0] > start:
                colour = BREAKER_COLOURS.get(state, "#adb5bd")
                panel.bars.append(Bar(row, start, nxt[0], colour))
    panel.rows = [edge.replace("->", " → ") for edge in edges]
    if not panel.named_rows:
        panel.caption = f"{len(edges)} calls:\nclick one to see\nit alone"
    panel.legend = [Entry(state.replace("_", "-"), colour, "bar")
                    for state, colour in BREAKER_COLOURS.items()]  # fmt: skip
    return panel


def _ejections(data: PlotData) -> Panel:
    """Backends each balancer's outlier detection holds out (mean per bucket), and, dashed,
    the share of the bucket it spent in panic, routing to every backend anyway."""
    panel = Panel("Backends ejected by outlier detection (dashed: in panic)", "ejected",
                  ymin=0.0)  # fmt: skip
    t = data.columns["time_s"]
    for i, node in enumerate(_node_names(data, "ejected")):
        colour = series_colour(i)
        panel.lines.append(Line(f"{node}.ejected", t, data.columns[f"node.{node}.ejected"], colour))
        panic = data.columns.get(f"node.{node}.panic")
        if panic is not None:
            panel.lines.append(Line(f"{node}.panic", t, panic, colour, dashed=True))
        panel.legend.append(Entry(node, colour))
    if not panel.lines:
        panel.empty = "no balancer with outlier detection here"
    return panel


def _utilization(data: PlotData) -> Panel:
    panel = Panel(_with(data, "Busy workers and queue length"), "busy (%)", ymin=0.0, ymax=105.0)
    t = data.columns["time_s"]
    for i, node in enumerate(_node_names(data, "utilization")):
        panel.lines.append(Line(node, t, 100 * data.columns[f"node.{node}.utilization"],
                                series_colour(i)))  # fmt: skip
        panel.legend.append(Entry(node, series_colour(i)))
    return panel


def _lower(data: PlotData, columns: list[str], ylabel: str, caption: str = "") -> Panel:
    """The lower half of a two-part plot: one line per column, in the upper half's colours
    (whose legend names them), counted from zero."""
    panel = Panel("", ylabel, ymin=0.0, caption=caption)
    t = data.columns["time_s"]
    for i, column in enumerate(columns):
        values = data.columns.get(column)
        if values is not None:
            panel.lines.append(Line(column, t, values, series_colour(i)))
    return panel


def _queues(data: PlotData) -> Panel:
    return _lower(data, [f"node.{n}.queue" for n in _node_names(data, "queue")], "queued")


def _depth(data: PlotData) -> Panel:
    """Messages held per queue (solid) and outbox rows waiting per relay (dashed)."""
    panel = Panel(_with(data, "Messages held per queue; outbox rows (dashed)"), "messages",
                  ymin=0.0)  # fmt: skip
    queues = queue_names(data.columns, data.filter.queues)
    outboxes = _names(data.columns, "outbox.", ".pending", data.filter.nodes)
    if not queues and not outboxes:
        panel.empty = "no broker queue " + ("here" if data.filter.queues else "yet")
        return panel
    t = data.columns["time_s"]
    for i, name in enumerate(queues):
        panel.lines.append(
            Line(name, t, data.columns[f"queue.{name}.depth"], series_colour(i), 1.4)
        )
        panel.legend.append(Entry(name, series_colour(i)))
    for j, name in enumerate(outboxes, start=len(queues)):
        panel.lines.append(Line(f"{name} outbox", t, data.columns[f"outbox.{name}.pending"],
                                series_colour(j), 1.2, dashed=True))  # fmt: skip
        panel.legend.append(Entry(f"{name} outbox", series_colour(j), "dashed"))
    return panel


def _lag(data: PlotData) -> Panel:
    """The age of each queue's oldest unacknowledged message: how far consumers are behind."""
    columns = [f"queue.{name}.lag_s" for name in queue_names(data.columns, data.filter.queues)]
    return _lower(data, columns, "lag (s)", "oldest unacknowledged message's age")


def _shares(data: PlotData, panel: Panel, lines: list[tuple[str, str]], empty: str) -> Panel:
    """Each (column, label) as a percentage of its limit (``data.limits``)."""
    if not lines:
        panel.empty = empty
        return panel
    panel.ymin, panel.ymax = 0.0, 110.0
    t = data.columns["time_s"]
    for i, (column, label) in enumerate(lines):
        share = data.columns[column] / (data.limits.get(column) or 1.0)
        panel.lines.append(Line(label, t, 100 * share, series_colour(i), 1.4))
        panel.legend.append(Entry(label, series_colour(i)))
    return panel


def _pools(data: PlotData) -> Panel:
    """Connections in use per pool, as a share of all it may open (max + overflow)."""
    panel = Panel(_with(data, "Connections in use (% of max + overflow)"), "in use (%)")
    lines = [(f"pool.{edge}.in_use", edge.replace("->", " → ")) for edge in pool_names(data)]
    empty = "no connection pool " + ("here" if data.filter.pools is not None else "yet")
    return _shares(data, panel, lines, empty)


def _waiters(data: PlotData) -> Panel:
    """Callers waiting for a connection: an exhausted pool's queue."""
    columns = [f"pool.{edge}.waiters" for edge in pool_names(data)]
    return _lower(data, columns, "waiting", "callers waiting for a connection")


def _memory(data: PlotData) -> Panel:
    """Each node's memory as a share of its limit: at 100% it is OOM-killed."""
    panel = Panel(_with(data, "Memory (% of the limit): OOM-killed at the dashed line"),
                  "memory (%)")  # fmt: skip
    lines = [(f"node.{node}.memory_mb", node) for node in _node_names(data, "memory_mb")]
    empty = "no memory limit " + ("here" if data.filter.nodes is not None else "set")
    _shares(data, panel, lines, empty)
    if panel.lines:
        panel.hlines.append((100.0, OOM_COLOUR))
    return panel


def _limits(data: PlotData) -> Panel:
    """Each adaptive limit (solid) over the requests inside its node (dashed): where the
    dashed line meets the solid one, arrivals are shed."""
    panel = Panel(_with(data, "Concurrency limit (solid) and requests inside (dashed)"),
                  "requests", ymin=0.0)  # fmt: skip
    nodes = _node_names(data, "limit")
    if not nodes:
        panel.empty = "no adaptive limit " + ("here" if data.filter.nodes is not None else "set")
        return panel
    t = data.columns["time_s"]
    for i, node in enumerate(nodes):
        colour = series_colour(i)
        panel.lines.append(Line(f"{node} limit", t, data.columns[f"node.{node}.limit"], colour,
                                1.6))  # fmt: skip
        inside = data.columns.get(f"node.{node}.in_system")
        if inside is not None:
            panel.lines.append(Line(f"{node} inside", t, inside, colour, 1.1, dashed=True))
        panel.legend += [Entry(f"{node} limit", colour), Entry(f"{node} inside", colour, "dashed")]
    return panel
