"""Ceilings on what a scenario may cost, checked before anything is built or run.

A small file can ask for a lot: two clients for ``1000000s`` at a ``1s`` bucket
hold two million per-bucket latency histograms. The memory a run will hold is
a product of counts the scenario states (time buckets times the series kept per
route, node and call), so it is estimated here, from the scenario alone, and a
scenario over the budget is refused with the estimate and the way out.

The per-bucket costs mirror the recorders (``metrics.RouteStats``, the node and
edge series); ``tests/test_hostile_input.py`` checks them against the engine's
series names and against tracemalloc on a real run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from simulator.metrics import ROUTE_SERIES, LogHistogram, RouteStats

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = ["LIMITS", "MEMORY_BUDGET", "estimate_memory", "limit_problems", "memory_problem"]

LIMITS = {
    "file_bytes": 1_000_000,
    "yaml_nodes": 50_000,  # 500 nodes of 100 fields; PyYAML holds about 1 KB per node
    "nodes": 500,
    "calls_per_node": 64,
    "faults": 1_000,
    "expected_requests": 500_000_000,
    "time_buckets": 1_000_000,
    "alert_rules": 200,  # rules written in the alerts: section
    "alert_watches": 20_000,  # rules times the targets each watches, after expansion
}
"""Ceilings that stop a hostile or mistaken file before it costs memory or hours."""

MEMORY_BUDGET = 1 << 30
"""Bytes of recorders one run may hold (1 GiB); the estimate is compared with this."""

NODE_SERIES_COUNT = 7  # components.base.NODE_SERIES: arrivals ... in_system
EDGE_SERIES_COUNT = 3  # calls.EDGE_SERIES: requests, attempts, failures
POOL_SERIES_COUNT = 4  # calls.POOL_SERIES: in_use, idle, waiters, acquire_wait_p99_ms
_FINE_BINS = len(LogHistogram()._counts)  # bins of one latency histogram
_COARSE_BINS = _FINE_BINS // RouteStats.COARSE + 1  # int32 bins per route per bucket
# Measured with tracemalloc (run, summary and time-series export) and rounded up:
_ROUTE_FIXED = 85_000  # a client: its histograms, counters, streams, summary
_NODE_FIXED = 6_000  # a server: stats, streams, simpy resources
_EDGE_FIXED = 17_000  # a call site: its stats and latency histogram (11 KB of pointers)
_POOL_FIXED = 25_000  # a connection pool: two wait histograms (11 KB each) and its books
_EXPORT_PER_BIN = 17  # bytes per coarse bin per bucket while percentiles are computed


def _counts(scenario: Scenario) -> tuple[int, int, int]:
    """Routes, servers and edges; a broker's queues, a relay's outbox, a database's
    corruption books and a memory model count as servers (their five, one, five and one
    series are fewer than a node's seven), a relay's query and publish as edges."""
    nodes = scenario.nodes.values()
    routes = sum(1 for n in nodes if n.kind == "client")
    edges = sum(len(n.calls) + len(n.publishes) + 2 * (n.kind == "relay") for n in nodes)
    extra = sum(
        len(getattr(n, "queues", {}))
        + (n.kind == "relay")
        + (getattr(n, "memory", None) is not None)
        for n in nodes
    )
    extra += _tracked_at_most(scenario)
    return routes, len(scenario.nodes) - routes + extra, edges


def _tracked_at_most(scenario: Scenario) -> int:
    """Databases that may track their writes (five series each): all of them, if any may."""
    nodes = scenario.nodes.values()
    used = any(f.kind == "corruption" for f in scenario.faults) or any(
        getattr(n, "validation", None) or getattr(n, "reconciliation", None)
        or any(c.validation for c in n.calls)
        for n in nodes
    )  # fmt: skip
    return sum(n.kind == "database" for n in nodes) if used else 0


def time_buckets(scenario: Scenario) -> int:
    """Buckets of every time series: the duration over the bucket width, rounded up."""
    ratio = scenario.duration / scenario.bucket if scenario.bucket > 0 else math.inf
    if not ratio <= LIMITS["time_buckets"]:  # also catches inf and nan (1e308s / 500ms)
        return LIMITS["time_buckets"] + 1
    return max(1, math.ceil(ratio - 1e-9))


def estimate_memory(scenario: Scenario) -> int:
    """Bytes one run's recorders will hold, from the scenario's counts alone.

    buckets x (routes x (8 x 10 series + 4 x 277 histogram bins)
               + nodes x 8 x 7 series + calls x 8 x 3 series + pools x 8 x 4 series
               + 17 x 277 while a route's percentiles are computed for export)
    + fixed costs per route, node and call (their whole-run latency histograms).
    """
    routes, servers, edges = _counts(scenario)
    pools = sum(
        call.pool is not None
        for node in scenario.nodes.values()
        for call in (*getattr(node, "calls", ()), *getattr(node, "publishes", ()))
    )
    route_bucket = 8 * len(ROUTE_SERIES) + 4 * _COARSE_BINS
    per_bucket = (
        routes * route_bucket
        + servers * 8 * NODE_SERIES_COUNT
        + edges * 8 * EDGE_SERIES_COUNT
        + pools * 8 * POOL_SERIES_COUNT
    )
    if routes:
        per_bucket += _EXPORT_PER_BIN * _COARSE_BINS  # int64 cumulative sums etc., one route
    fixed = routes * _ROUTE_FIXED + servers * _NODE_FIXED + edges * _EDGE_FIXED
    fixed += pools * _POOL_FIXED
    return time_buckets(scenario) * per_bucket + fixed


def _mib(n: float) -> str:
    return f"{n / (1 << 20):,.0f} MiB" if n < 1 << 30 else f"{n / (1 << 30):,.2f} GiB"


def memory_problem(scenario: Scenario) -> str | None:
    """Why the scenario needs too much memory to run, or None if it fits the budget."""
    estimate = estimate_memory(scenario)
    if estimate <= MEMORY_BUDGET:
        return None
    buckets = time_buckets(scenario)
    return (
        f"this run would need about {_mib(estimate)} for its time series "
        f"({buckets:,} buckets); the budget is {_mib(MEMORY_BUDGET)}: "
        "use a coarser bucket or a shorter duration"
    )


def limit_problems(scenario: Scenario) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Counts, durations and estimated costs over their ceilings."""
    if len(scenario.nodes) > LIMITS["nodes"]:
        yield ("nodes",), f"{len(scenario.nodes)} nodes; the limit is {LIMITS['nodes']}"
    if len(scenario.faults) > LIMITS["faults"]:
        yield ("faults",), f"{len(scenario.faults)} faults; the limit is {LIMITS['faults']}"
    if time_buckets(scenario) > LIMITS["time_buckets"]:
        yield (
            ("bucket",),
            f"{scenario.duration:g}s / {scenario.bucket:g}s is more than "
            f"{LIMITS['time_buckets']:,} time buckets; use a coarser bucket",
        )
    else:
        memory = memory_problem(scenario)
        if memory is not None:
            yield ("bucket",), memory
    peak = sum(n.peak_rate() for n in scenario.nodes.values() if n.kind == "client")
    surge = max((f.multiply for f in scenario.faults if f.kind == "surge"), default=1.0)
    expected = peak * max(1.0, surge) * scenario.duration
    if expected > LIMITS["expected_requests"]:
        yield (
            ("duration",),
            (
                f"rate x duration is about {expected:.3g} requests; "
                f"the limit is {LIMITS['expected_requests']:.0e}"
            ),
        )
