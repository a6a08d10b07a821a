"""What the drawing shows at one moment of a run, as plain dicts. Qt-free.

``node_states`` and ``edge_states`` turn a snapshot (and the time series up to
it) into per-item states: health, utilisation, queue, active faults, traffic,
error share, amplification and breaker. The canvas overlay only paints them.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import networkx as nx
import numpy as np

from gui.plots.figures import PlotFilter
from simulator.scenario import Scenario
from simulator.topology import to_graph
from simulator.units import format_duration

HEALTH_COLOURS = {
    "ok": "#2a9d8f",
    "busy": "#e9c46a",
    "saturated": "#e76f51",
    "crashed": "#9b2226",
    "partitioned": "#6d597a",
    "throttled": "#d4a017",
    "failing": "#e63946",
}
BREAKER_COLOURS = {"closed": "#2a9d8f", "open": "#c1121f", "half_open": "#f4a261"}


def edge_names(scenario: Scenario) -> dict[tuple[str, int], str]:
    """(caller, call index) → the engine's edge name: ``a->b``, or ``a->b#i`` for repeats."""
    out = {}
    for name, node in scenario.nodes.items():
        seen: set[str] = set()
        for index, call in enumerate(node.calls):
            out[(name, index)] = f"{name}->{call.to}" + (f"#{index}" if call.to in seen else "")
            seen.add(call.to)
    return out


def fault_label(fault: Any) -> str:
    """A few words for a fault badge: 'latency +2s', 'crash', 'errors 30%'."""
    kind = fault.kind
    if kind == "latency":
        add, mul = getattr(fault, "add", None), getattr(fault, "multiply", None)
        if add:
            return f"latency +{format_duration(add)}"
        return f"latency ×{mul:g}" if mul and mul != 1 else "latency"
    if kind == "error":
        return f"errors {fault.rate * 100:.0f}%"
    if kind == "throttle":
        return f"throttled to {fault.capacity * 100:.0f}%"
    if kind == "surge":
        return f"surge ×{fault.multiply:g}"
    return kind


# -- nodes ----------------------------------------------------------------------------------


def _bucket_row(columns: dict[str, np.ndarray], t: float, width: float) -> int | None:
    """The last bucket that has ended by ``t`` (or the current one, early in a run)."""
    rows = len(columns.get("time_s", ()))
    if rows == 0:
        return None
    return min(max(int(t / width + 1e-9) - 1, 0), rows - 1)


def node_states(
    scenario: Scenario, snapshot: dict[str, Any], columns: dict[str, np.ndarray], width: float
) -> dict[str, dict[str, Any]]:
    active: dict[str, list[str]] = {}
    for i in snapshot.get("active_faults", []):
        if i < len(scenario.faults):
            fault = scenario.faults[i]
            active.setdefault(fault.target, []).append(fault_label(fault))
    out = {name: _server_state(s, active.get(name, [])) for name, s in snapshot["nodes"].items()}
    row = _bucket_row(columns, snapshot["time"], width)
    for name in scenario.nodes:
        if name not in out:
            out[name] = _client_state(name, columns, row, width, active.get(name, []))
    return out


def _server_state(node: dict[str, Any], faults: list[str]) -> dict[str, Any]:
    workers = node["workers"]
    capacity = node["capacity"] if node["capacity"] is not None else workers
    busy, queue, limit = node["busy"], node["queue"], node["queue_limit"]
    utilization = busy / workers if workers else 0.0
    full = capacity is not None and busy >= capacity and (queue > 0 or not limit)
    if node["down"]:
        health = "crashed"
    elif node["partitioned"]:
        health = "partitioned"
    elif (limit and queue >= limit) or full:
        health = "saturated"
    elif node["throttled"]:
        health = "throttled"
    elif node["failing"]:
        health = "failing"
    else:
        health = "busy" if utilization >= 0.8 else "ok"
    # An unbounded queue gets a log gauge that reads full at 1000 waiting.
    queue_share = min(1.0, queue / limit if limit else math.log10(1 + queue) / 3)
    workers_text = f"{busy}/{workers:g}" if workers is not None else f"{busy}"
    if node["throttled"] and capacity is not None:
        workers_text += f" (cap {capacity:g})"
    queue_text = f"q {queue}/{limit}" if limit else f"q {queue}"
    return {
        "kind": "server",
        "health": health,
        "utilization": round(min(1.0, utilization), 2),
        "queue": queue,
        "queue_share": queue_share,
        "text": f"{workers_text} busy · {queue_text}",
        "faults": faults,
    }


def _client_state(
    name: str, columns: dict[str, np.ndarray], row: int | None, width: float, faults: list[str]
) -> dict[str, Any]:
    ok = failed = 0.0
    if row is not None and f"route.{name}.goodput" in columns:
        ok = float(columns[f"route.{name}.goodput"][row]) / width
        failed = float(columns[f"route.{name}.failed"][row]) / width
    share = failed / (ok + failed) if ok + failed else 0.0
    health = "failing" if share > 0.2 else ("busy" if share > 0.01 else "ok")
    text = f"{ok:.0f} ok/s" + (f" · {share * 100:.0f}% failing" if share > 0.005 else "")
    return {"kind": "client", "health": health, "utilization": 0.0, "queue": 0,
            "queue_share": 0.0, "text": text, "faults": faults}  # fmt: skip


# -- edges ----------------------------------------------------------------------------------


def edge_states(
    snapshot: dict[str, Any], columns: dict[str, np.ndarray], width: float
) -> dict[str, dict[str, Any]]:
    row = _bucket_row(columns, snapshot["time"], width)
    rates = {}
    for edge in snapshot["edges"]:
        values = [columns.get(f"edge.{edge}.{k}") for k in ("requests", "attempts", "failures")]
        if row is None or any(v is None for v in values):
            rates[edge] = (0.0, 0.0, 0.0)
        else:
            rates[edge] = tuple(float(v[row]) / width for v in values)
    peak = max((r[1] for r in rates.values()), default=0.0)
    out = {}
    for edge, live in snapshot["edges"].items():
        requests, attempts, failures = rates[edge]
        share = min(1.0, failures / attempts) if attempts else 0.0
        scale = math.log1p(attempts) / math.log1p(peak) if peak > 0 else 0.0
        out[edge] = {
            "error_share": round(share, 2),
            "amplification": round(attempts / requests, 1) if requests else 1.0,
            "breaker": live["breaker"],
            "width": round(2 * (1.5 + 6.5 * scale)) / 2,
            "colour": error_colour(round(share, 2)),
        }
    return out


def error_colour(share: float) -> str:
    """Grey-blue when healthy, through amber, to red when every attempt fails."""
    stops = [(0.0, (0x45, 0x7B, 0x9D)), (0.1, (0xE9, 0xA2, 0x3B)), (0.5, (0xC1, 0x12, 0x1F))]
    share = max(0.0, min(1.0, share))
    for (a, ca), (b, cb) in itertools.pairwise(stops):
        if share <= b:
            f = (share - a) / (b - a)
            mixed = (round(x + (y - x) * f) for x, y in zip(ca, cb, strict=True))
            return "#" + "".join(f"{c:02x}" for c in mixed)
    return "#c1121f"


# -- what a click on the drawing filters the plots to ----------------------------------------


def plot_filter(scenario: Scenario, key: tuple | None) -> PlotFilter:
    """Plots about a node (the routes that reach it) or a call; everything for no key."""
    if key is None or key[0] not in ("node", "call") or key[1] not in scenario.nodes:
        return PlotFilter()
    graph = to_graph(scenario)
    names = edge_names(scenario)
    clients = [n for n, v in scenario.nodes.items() if v.kind == "client"]
    if key[0] == "node":
        node = key[1]
        routes = {c for c in clients if c == node or node in nx.descendants(graph, c)}
        edges = {e for (src, i), e in names.items()
                 if src == node or scenario.nodes[src].calls[i].to == node}  # fmt: skip
        return PlotFilter(node, routes, {node}, edges, ("node", node))
    source, index = key[1], key[2]
    edge = names.get((source, index))
    if edge is None:
        return PlotFilter()
    target = scenario.nodes[source].calls[index].to
    routes = {c for c in clients if c == source or source in nx.descendants(graph, c)}
    label = f"{source} → {target}"
    return PlotFilter(label, routes, {source, target}, {edge}, ("call", edge))
