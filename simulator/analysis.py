"""Summaries of a finished run: the JSON contract, analytic cross-checks, paired comparisons.

Everything here reads what the recorders hold; nothing here runs or changes a simulation
(the blast radius, which runs paired baselines, lives in ``simulator.blast_radius``).
Steady-state figures leave out the warm-up: requests that started before it,
and node time before it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from simulator.alerting import Firing, detections
from simulator.contention import contention_summary
from simulator.corruption import corruption_summary
from simulator.message_flows import message_summary
from simulator.metrics import OUTCOMES, LogHistogram
from simulator.scenario_deploys import deploy_of_fault
from simulator.topology import to_graph

if TYPE_CHECKING:  # analysis reads finished runs; it never builds one
    from simulator.engine import Simulation
    from simulator.policies import ConnectionPool

__all__ = [
    "compare_runs",
    "erlang_b",
    "erlang_c",
    "mmc_wait",
    "summarize",
]

PERCENTILES = {"p50": 50, "p90": 90, "p99": 99, "p999": 99.9}


def _ms(seconds: float) -> float | None:
    return None if math.isnan(seconds) else round(seconds * 1000.0, 6)


def latency_summary(hist: LogHistogram) -> dict[str, float | None]:
    values = hist.percentiles(PERCENTILES.values())
    out = {"mean": _ms(hist.mean)}
    out.update({k: _ms(v) for k, v in zip(PERCENTILES, values, strict=True)})
    return out


def _route(sim: Simulation, name: str) -> dict[str, Any]:
    stats = sim.clients[name].stats
    steady = dict(stats.steady)
    total = sum(steady.values())
    good = steady["ok"] + steady["fallback"]
    return {
        "started": stats.steady_started,
        "requests": total,
        "outcomes": steady,
        "success_rate": round(good / total, 6) if total else None,
        "in_flight_at_end": stats.in_flight,
        "latency_ms": latency_summary(stats.latency),
        "ok_latency_ms": latency_summary(stats.ok_latency),
        **sim.clients[name].own_summary(),  # a finite crowd's: when its last request ended
    }


def _overall(sim: Simulation, routes: dict[str, Any]) -> dict[str, Any]:
    outcomes = dict.fromkeys(OUTCOMES, 0)
    hist = LogHistogram()
    for name in routes:
        for k, v in routes[name]["outcomes"].items():
            outcomes[k] += v
        hist.merge(sim.clients[name].stats.latency)
    total = sum(outcomes.values())
    good = outcomes["ok"] + outcomes["fallback"]
    return {
        "requests": total,
        "outcomes": outcomes,
        "success_rate": round(good / total, 6) if total else None,
        "latency_ms": latency_summary(hist),
    }


def _node(sim: Simulation, name: str) -> dict[str, Any]:
    server = sim.servers[name]
    s = server.stats
    now = sim.now
    span = max(now - sim.scenario.warmup, 1e-12) if now > sim.scenario.warmup else max(now, 1e-12)
    base = s.baseline
    busy_area = s.busy.area_until(now) - base.get("busy_area", 0.0)
    system_area = s.in_system_area(now) - base.get("in_system_area", 0.0)
    started = s.since_warmup("started")
    answered = s.since_warmup("answered")
    workers = server.workers
    errors = {k: v - base.get(f"error:{k}", 0) for k, v in sorted(s.errors.items())}
    out: dict[str, Any] = {
        "kind": sim.scenario.nodes[name].kind,
        "arrivals": s.since_warmup("arrivals"),
        "accepted": s.since_warmup("accepted"),
        "completions": s.since_warmup("completions"),
        "rejected": s.since_warmup("rejected"),
        "shed": s.since_warmup("shed"),
        "utilization": round(busy_area / (span * workers), 6) if math.isfinite(workers) else None,
        "mean_busy": round(busy_area / span, 6),
        "mean_in_system": round(system_area / span, 6),
        "mean_queue_wait_ms": _ms(s.since_warmup("wait_sum") / started) if started else None,
        "waited_share": round(s.since_warmup("waited") / started, 6) if started else None,
        "mean_sojourn_ms": _ms(s.since_warmup("sojourn_sum") / answered) if answered else None,
        "max_queue": s.queue.peak,
        "errors": {k: v for k, v in errors.items() if v},
    }
    own = sim.kinds[name].summary
    if own is not None:
        out.update(own(server, now))
    return out


def _edge(sim: Simulation, name: str) -> dict[str, Any]:
    site = sim.sites[name]
    st = site.stats
    requests = st.since_warmup("requests")
    attempts = st.since_warmup("attempts")
    out: dict[str, Any] = {
        "requests": requests,
        "attempts": attempts,
        "retries": st.since_warmup("retries"),
        "amplification": round(attempts / requests, 6) if requests else None,
        "outcomes": {
            k: v - st.baseline.get(f"outcome:{k}", 0) for k, v in sorted(st.outcomes.items())
        },
        "fallbacks": st.since_warmup("fallbacks"),
        "latency_ms": latency_summary(st.latency),
    }
    breaker = site.breaker
    if breaker is not None:
        out["breaker"] = {
            "state": breaker.state,
            "opens": breaker.opens,
            "time_open_s": round(breaker.time_open(sim.now), 6),
            "rejected": breaker.rejected,
        }
    if site.bulkhead is not None:
        out["bulkhead"] = {
            "rejected": site.bulkhead.rejected,
            "max_in_use": site.bulkhead.max_in_use,
        }
    if site.pool is not None:
        out["pool"] = _pool(site.pool)
    if site.config.hedge is not None:
        out["hedges"] = st.since_warmup("hedges")
        out["hedge_wins"] = st.since_warmup("hedge_wins")
    return out


def _pool(pool: ConnectionPool) -> dict[str, Any]:
    """A pool's books over the whole run (like the bulkhead's, not since the warm-up)."""
    p99 = pool.waits.p99()
    return {
        "rejected": pool.rejected,
        "max_in_use": pool.max_in_use,
        "opened": pool.opened,
        "closed": pool.closed,
        "recycled": pool.recycled,
        "stale_failures": pool.stale_failures,
        "acquire_timeouts": pool.timeouts,
        "peak_in_use": pool.max_in_use,
        "acquire_wait_p99_ms": None if math.isnan(p99) else round(p99 * 1000, 3),
        "leaked": pool.leaked,
        "exhausted_at_s": None if pool.exhausted_at is None else round(pool.exhausted_at, 6),
        "refused_by_database": pool.refused_by_database,
    }


def acting_window(sim: Simulation, fault: Any) -> tuple[float, float]:
    """When a fault acted in this run: its window, except that a bad version stops acting
    once its deploy's rollback has drained it (its window is "as long as the version
    runs", which a rollback cuts short). Plots shade, and recovery counts from, this end.
    """
    start, end = fault.window(sim.scenario.duration)
    if fault.kind != "bad_deploy" or sim.deploys is None:
        return start, end
    index = deploy_of_fault(sim.scenario, fault)
    rolled_back = None if index is None else sim.deploys.deploys[index].rollback_end_s
    return start, end if rolled_back is None else min(end, rolled_back)


def _faults(sim: Simulation, parts: list[set[str]]) -> list[dict[str, Any]]:
    """Each fault's window, and the first alert credited to it (``alerting.detections``).

    A firing can be a fault's symptom if its condition began after the fault started,
    it fired during the fault or soon after, on a node connected to the fault's target
    (``parts``: the scenario's connected parts); it is credited to one fault only.
    """
    sc = sim.scenario
    windows = [(f.kind, f.target, *acting_window(sim, f)) for f in sc.faults]
    related = [next((part for part in parts if w[1] in part), {w[1]}) for w in windows]
    found = detections(
        sim.alerts.firings, [(w[2], w[3], rel) for w, rel in zip(windows, related, strict=True)],
        sc.bucket,
    )  # fmt: skip
    return [_fault(*w, first) for w, first in zip(windows, found, strict=True)]


def _fault(
    kind: str, target: str, start: float, end: float, first: Firing | None
) -> dict[str, Any]:
    return {
        "kind": kind,
        "target": target,
        "start_s": start,
        "end_s": end,
        "detected_by": None if first is None else {
            "rule": first.rule, "target": first.target, "fired_s": round(first.fired_s, 6)
        },
        "time_to_detect_s": None if first is None else round(first.fired_s - start, 6),
    }  # fmt: skip


def summarize(sim: Simulation, blast_radius: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``murphy run --json`` summary: the contract tools and tests rely on."""
    sc = sim.scenario
    routes = {name: _route(sim, name) for name in sim.clients}
    parts = [set(p) for p in nx.weakly_connected_components(to_graph(sc))] if sc.faults else []
    out: dict[str, Any] = {
        "scenario": sc.name,
        "seed": sim.seed,
        "duration_s": sim.now,
        "warmup_s": sc.warmup,
        "wall_seconds": round(sim.wall_seconds, 3),
        "events": sim.event_count,
        "overall": _overall(sim, routes),
        "routes": routes,
        "nodes": {name: _node(sim, name) for name in sim.servers},
        "edges": {name: _edge(sim, name) for name in sim.sites},
        "faults": _faults(sim, parts),
        "alerts": sim.alerts.as_list(),
        "invariants": sim.check_invariants(),
    }
    if sim.books.streams:  # only scenarios with messages have the section: others stay as they were
        out["messages"] = message_summary(sim)
    stores = sim.data_stores()
    if stores:  # only scenarios with corruption, validation or reconciliation have the section
        out["corruption"] = corruption_summary(stores, sim.now)
    contended = {n: node["contention"] for n, node in out["nodes"].items() if "contention" in node}
    if contended:  # only scenarios with a contended database have the section
        crowds = {n: route["crowd"] for n, route in routes.items() if "crowd" in route}
        out["contention"] = contention_summary(contended, crowds)
    if sim.deploys is not None:  # only scenarios with deploys have the section
        out["deploys"] = sim.deploys.summary()
    if blast_radius is not None:
        out["blast_radius"] = blast_radius
    return out


# -- analytic cross-checks (closed forms from queueing theory) -------------------------------


def erlang_b(servers: int, offered: float) -> float:
    """Blocking probability of M/M/c/c with offered load ``offered`` = λ/μ (Erlang B)."""
    b = 1.0
    for k in range(1, servers + 1):
        b = offered * b / (k + offered * b)
    return b


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c (Erlang C); needs offered < servers."""
    b = erlang_b(servers, offered)
    rho = offered / servers
    return b / (1 - rho + rho * b)


def mmc_wait(arrival_rate: float, mean_service: float, servers: int) -> float:
    """Mean wait in queue of M/M/c, in seconds."""
    offered = arrival_rate * mean_service
    return erlang_c(servers, offered) * mean_service / (servers - offered)


# -- blast radius ---------------------------------------------------------------------------

DEGRADED_FAILURE_SHARE = 0.01  # a route losing 1% more requests than its baseline
DEGRADED_LATENCY_RATIO = 1.5  # or its p99 half as slow again
DEGRADED_UTILIZATION = 0.15  # a node 15 points busier
DEGRADED_ERRORS = 0.01  # or failing 1% more of what it is asked
DEGRADED_CROWDING = 2.0  # or holding twice as many requests (Little: slower per request)


def _window_route(sim: Simulation, name: str, lo: int, hi: int) -> dict[str, float]:
    stats = sim.clients[name].stats
    data = stats.series.data
    counts = stats.bucketed[lo:hi].sum(axis=0)
    p99 = math.nan
    if counts.sum():
        rank = math.ceil(0.99 * counts.sum())
        k = int(np.searchsorted(np.cumsum(counts), rank))
        p99 = stats.latency.gamma ** ((k + 1) * stats.COARSE - 1 - stats.latency._offset)
    return {
        "requests": float(data["requests"][lo:hi].sum()),
        "failed": float(data["failed"][lo:hi].sum()),
        "fallback": float(data["fallback"][lo:hi].sum()),
        "p99": p99,
    }


def _window_node(sim: Simulation, name: str, lo: int, hi: int) -> dict[str, float]:
    server = sim.servers[name]
    data = server.stats.series.data
    busy = float(data["busy"][lo:hi].mean()) if hi > lo else 0.0
    return {
        "arrivals": float(data["arrivals"][lo:hi].sum()),
        "bad": float(data["errors"][lo:hi].sum() + data["rejected"][lo:hi].sum()),
        "util": busy / server.workers if math.isfinite(server.workers) else 0.0,
        "in_system": float(data["in_system"][lo:hi].mean()) if hi > lo else 0.0,
    }


def compare_runs(faulty: Simulation, baseline: Simulation, start: float) -> dict[str, Any]:
    """What got worse from ``start`` to the end, paired against the same seed without the fault."""
    width = faulty.scenario.bucket
    lo = int(start / width)
    hi = next(iter(faulty.clients.values())).stats.series.size if faulty.clients else lo
    routes, nodes = {}, {}
    for name in faulty.clients:
        f, b = _window_route(faulty, name, lo, hi), _window_route(baseline, name, lo, hi)
        extra = (f["failed"] - b["failed"]) / f["requests"] if f["requests"] else 0.0
        fallback = (f["fallback"] - b["fallback"]) / f["requests"] if f["requests"] else 0.0
        ratio = f["p99"] / b["p99"] if b["p99"] and not math.isnan(f["p99"] / b["p99"]) else 1.0
        severity = max(extra / 0.2, fallback / 0.5, (ratio - 1) / 9)
        routes[name] = {
            "extra_failed": int(f["failed"] - b["failed"]),
            "extra_failure_share": round(extra, 6),
            "extra_fallback_share": round(fallback, 6),
            "p99_ratio": round(ratio, 4),
            "degraded": extra > DEGRADED_FAILURE_SHARE
            or fallback > DEGRADED_FAILURE_SHARE
            or ratio > DEGRADED_LATENCY_RATIO,
            "severity": round(min(1.0, max(0.0, severity)), 4),
        }
    for name in faulty.servers:
        f, b = _window_node(faulty, name, lo, hi), _window_node(baseline, name, lo, hi)
        extra = (f["bad"] - b["bad"]) / f["arrivals"] if f["arrivals"] else 0.0
        busier = f["util"] - b["util"]
        crowded = f["in_system"] / max(b["in_system"], 1.0)
        severity = max(extra / 0.2, busier / 0.5, (crowded - 1) / 9)
        nodes[name] = {
            "extra_error_share": round(extra, 6),
            "utilization_delta": round(busier, 6),
            "in_system_ratio": round(crowded, 4),
            "degraded": extra > DEGRADED_ERRORS
            or busier > DEGRADED_UTILIZATION
            or crowded > DEGRADED_CROWDING,
            "severity": round(min(1.0, max(0.0, severity)), 4),
        }
    out: dict[str, Any] = {"routes": routes, "nodes": nodes}
    if faulty.books.streams:  # only scenarios with messages: the others' JSON is unchanged
        out["flows"] = _compare_flows(faulty, baseline)
    if faulty.data_stores():  # only scenarios that track writes: the others' JSON is unchanged
        out["databases"] = _compare_stores(faulty, baseline)
    return out


def _compare_stores(faulty: Simulation, baseline: Simulation) -> dict[str, Any]:
    """Per tracked database, the corrupt records the fault added: harm no route may show.

    A bad write that slips through every layer is answered with success, so a
    corruption fault without layers degrades no route; its harm is data at rest.
    """
    before = baseline.data_stores()
    out = {}
    for name, store in faulty.data_stores().items():
        base = before.get(name)
        stored = store.books.stored - (base.books.stored if base is not None else 0)
        at_rest = store.sweep.at_rest - (base.sweep.at_rest if base is not None else 0)
        out[name] = {
            "extra_stored_corrupt": stored,
            "extra_at_rest": at_rest,
            "degraded": stored > 0,
        }
    return out


def _compare_flows(faulty: Simulation, baseline: Simulation) -> dict[str, Any]:
    """Per flow, what the fault cost in messages: lost, dead-lettered, applied twice, lag.

    The books count whole runs; the pair differs only by the fault, so the
    difference is the fault's. Any extra message lost, dead-lettered or applied
    twice is harm; so is the oldest message waiting twice as long (and over 1 s).
    """
    before = {flow.key: flow for flow in baseline.books.flows}
    out = {}
    for flow in faulty.books.flows:
        base = before.get(flow.key)
        if base is None:
            continue
        extra = {
            "extra_lost": flow.lost - base.lost,
            "extra_dead_lettered": flow.dead_lettered - base.dead_lettered,
            "extra_duplicates": flow.duplicates - base.duplicates,
            "extra_applied_twice": flow.applied_twice - base.applied_twice,
        }
        lag, base_lag = flow.lag.maximum, base.lag.maximum
        slower = lag > 1.0 and lag > DEGRADED_LATENCY_RATIO * 2 * max(base_lag, 1e-9)
        out[flow.key] = {
            **extra,
            "max_lag_ratio": round(lag / base_lag, 4) if base_lag > 0 else None,
            "degraded": slower
            or extra["extra_lost"] > 0
            or extra["extra_dead_lettered"] > 0
            or extra["extra_applied_twice"] > 0,
        }
    return out
