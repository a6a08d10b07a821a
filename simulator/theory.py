"""Queueing theory beside the simulation: what Erlang C predicts for one node, and when not to
believe it.

``predict(scenario, node)`` reads the scenario only: the arrival rate that reaches the
node (clients' rates through the calls, times each call's probability), its workers,
waiting room and mean service time, and gives M/M/c (Erlang C) or, with a bounded
queue, M/M/c/K: utilisation, probability of waiting, mean wait in queue and mean queue
length. Every assumption the scenario breaks is a caveat in plain words; some make the
figures approximate (non-exponential service: Allen–Cunneen's correction), some leave
nothing to predict (a closed-loop client, ρ ≥ 1 without a queue limit).
``measured(summary, node, scenario)`` picks the same figures from a finished run's
summary, so that the two can be shown side by side.

Qt-free: the app's inspector shows it, a notebook or a test can call it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from simulator.analysis import erlang_c
from simulator.scenario import Scenario
from simulator.scenario_nodes import Client, Service
from simulator.scenario_types import Exponential, distribution_mean, lognormal_sigma

__all__ = ["Measured", "Prediction", "measured", "predict", "service_scv"]

MAX_STATES = 2_000_000
"""M/M/c/K with more waiting room than this is computed as M/M/c (the room never fills)."""


@dataclass(frozen=True)
class Prediction:
    """What queueing theory says about one node, and how far to trust it."""

    node: str
    model: str
    """Kendall's notation of the model used: M/M/c, M/M/c/K, M/G/c (approx.)…"""
    arrival_rate: float
    """λ, requests per second reaching the node (retries not counted)."""
    mean_service: float
    """1/μ in seconds: the node's own service time, without its downstream calls."""
    servers: int
    utilization: float
    """ρ = λ / (c μ), of the requests admitted (a full queue turns some away)."""
    wait_probability: float | None = None
    """Share of admitted requests that wait for a worker (Erlang C: C(c, a))."""
    mean_wait: float | None = None
    """Wq in seconds, over admitted requests."""
    mean_queue: float | None = None
    """Lq: requests waiting, on average over time."""
    blocking: float | None = None
    """Share of arrivals turned away by a full queue (M/M/c/K only)."""
    stable: bool = True
    """False: ρ ≥ 1 with no queue limit, the queue grows without bound."""
    exact: bool = True
    """Every assumption of the model holds: the figures are the model's, not approximations."""
    caveats: tuple[str, ...] = field(default=())
    """Assumptions the scenario breaks, each in a sentence."""


@dataclass(frozen=True)
class Measured:
    """The same figures from a run's summary (after the warm-up)."""

    arrival_rate: float
    utilization: float | None
    wait_probability: float | None  # started after waiting in the queue, of those started
    mean_wait: float | None
    mean_queue: float | None
    blocking: float | None


def service_scv(dist: Any) -> float:
    """Squared coefficient of variation of a service time (1 for the exponential)."""
    mean = distribution_mean(dist)
    if mean <= 0:
        return 0.0
    if dist.dist == "exponential":
        return 1.0
    if dist.dist == "constant":
        return 0.0
    if dist.dist == "uniform":
        return ((dist.high - dist.low) ** 2 / 12) / mean**2
    sigma = lognormal_sigma(dist)
    return math.exp(sigma * sigma) - 1


def _arrivals(scenario: Scenario, node: str) -> tuple[float | None, list[str]]:
    """λ at ``node`` from the clients' open-loop rates down the calls; caveats on the way."""
    caveats: list[str] = []
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(scenario.nodes)
    for name, spec in scenario.nodes.items():
        for call in spec.calls:
            if call.to in scenario.nodes:
                graph.add_edge(name, call.to, call=call)
    upstream = nx.ancestors(graph, node) | {node}
    sub = graph.subgraph(upstream)
    if not nx.is_directed_acyclic_graph(sub):
        return None, ["the calls above it form a cycle: no arrival rate to predict from"]
    rate: dict[str, float] = {}
    for name in nx.topological_sort(sub):
        spec = scenario.nodes[name]
        if isinstance(spec, Client):
            if spec.users is not None:
                return None, [
                    f"client {name} is a closed loop ({spec.users} users): arrivals are not"
                    " Poisson and their rate depends on the response time"
                ]
            if spec.profile is not None:
                caveats.append(
                    f"client {name} changes its rate over time (profile): predicted at its"
                    " peak, the run averages over the whole profile"
                )
            rate[name] = spec.peak_rate()
        else:
            rate[name] = sum(
                rate[a] * data["call"].probability for a, _, data in sub.in_edges(name, data=True)
            )
    return rate[node], caveats


def _feedback_caveats(scenario: Scenario, node: str) -> list[str]:
    caveats = []
    spec = scenario.nodes[node]
    callers = []
    for name, other in scenario.nodes.items():
        for call in other.calls:
            if call.to != node:
                continue
            if other.kind != "client":
                callers.append(name)
            if call.retry is not None and call.retry.strategy != "none" and call.retry.attempts > 1:
                caveats.append(
                    f"{name} retries its calls here (up to {call.retry.attempts} tries):"
                    " failures and timeouts feed back as extra arrivals, not counted"
                )
            if call.timeout is not None:
                caveats.append(
                    f"{name} gives up after {call.timeout:g} s: requests that wait longer are"
                    " abandoned or wasted, which the model does not know (approximate)"
                )
    if callers:
        caveats.append(
            f"arrivals come through {', '.join(sorted(set(callers)))}, not straight from a"
            " client: Poisson only while those pass each request on as it comes (Burke)"
        )
    if spec.calls:
        targets = ", ".join(sorted({c.to for c in spec.calls}))
        caveats.append(
            f"a worker stays busy through its calls to {targets}: the real service time is"
            " longer and not exponential (predicted with service_time alone)"
        )
    if getattr(spec, "limiter", None) is not None:
        caveats.append("a limiter sheds arrivals before the queue")
    if getattr(spec, "max_connections", None) is not None:
        caveats.append("a connection limit turns requests away before the queue")
    if getattr(spec, "memory", None) is not None or getattr(spec, "liveness", None) is not None:
        caveats.append("the process may be restarted (memory limit or liveness probe)")
    if getattr(spec, "reconciliation", None) is not None:
        caveats.append("a reconciliation job holds some of its workers")
    faults = [
        "{} on {} at {:g}–{:g} s".format(f.label(), f.target, *f.window(scenario.duration))
        for f in scenario.faults
        if f.target == node or f.target in nx.descendants(_call_graph(scenario), node)
    ]
    if faults:
        caveats.append(
            "faults on it or on what it calls change its service during the run ("
            + "; ".join(faults)
            + "): the prediction describes the time outside them, the run's averages do not"
        )
    return caveats


def _call_graph(scenario: Scenario) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(scenario.nodes)
    graph.add_edges_from(
        (n, c.to) for n, s in scenario.nodes.items() for c in s.calls if c.to in scenario.nodes
    )
    return graph


def _mmck(lam: float, mu: float, c: int, k: int) -> tuple[float, float, float, float]:
    """M/M/c/K: (blocking, P(wait | admitted), Lq, utilisation), in log space (no overflow)."""
    n = np.arange(k + 1)
    steps = np.log(lam / mu) - np.log(np.minimum(np.maximum(n, 1), c))
    logs = np.concatenate(([0.0], np.cumsum(steps[1:])))
    p = np.exp(logs - logs.max())
    p /= p.sum()
    blocking = float(p[k])
    admitted = 1.0 - blocking
    waiting = float(p[c:k].sum()) / admitted if admitted > 0 else 1.0
    lq = float(((n[c:] - c) * p[c:]).sum())
    busy = float((np.minimum(n, c) * p).sum())
    return blocking, waiting, lq, busy / c


def predict(scenario: Scenario, node: str) -> Prediction | None:
    """Erlang C (or M/M/c/K) for ``node``, with every broken assumption named; None for a
    node that is not a queue of workers (a client, a broker, a balancer…)."""
    spec = scenario.nodes.get(node)
    if not isinstance(spec, Service):  # a database is a service too
        return None
    c = spec.workers
    mean = distribution_mean(spec.service_time)
    lam, caveats = _arrivals(scenario, node)
    caveats += _feedback_caveats(scenario, node)
    scv = service_scv(spec.service_time)
    if not isinstance(spec.service_time, Exponential):
        caveats.append(
            f"service time is {spec.service_time.dist}, not exponential (squared coefficient"
            f" of variation {scv:.2f}): M/G/c, the wait is Allen–Cunneen's approximation"
        )
    queue = spec.queue
    bounded = queue is not None and queue + c <= MAX_STATES
    model = ("M/M/c/K" if bounded else "M/M/c") if scv == 1.0 else (
        "M/G/c/K (approx.)" if bounded else "M/G/c (approx.)")  # fmt: skip
    if lam is None or mean <= 0:
        return Prediction(node, model, lam or 0.0, mean, c, 0.0, stable=True, exact=False,
                          caveats=tuple(caveats))  # fmt: skip
    if lam == 0:
        return Prediction(node, model, 0.0, mean, c, 0.0, 0.0, 0.0, 0.0,
                          caveats=(*caveats, "no client's requests reach it"))  # fmt: skip
    mu = 1.0 / mean
    offered = lam * mean
    correction = (1.0 + scv) / 2.0  # Allen–Cunneen: 1 for exponential service
    if bounded:
        assert queue is not None
        blocking, waiting, lq, rho = _mmck(lam, mu, c, c + queue)
        admitted = lam * (1 - blocking)
        wq = lq / admitted if admitted > 0 else 0.0
        if scv != 1.0:
            caveats.append("a bounded queue with non-exponential service: approximate")
        return Prediction(node, model, lam, mean, c, rho, waiting, wq * correction,
                          lq * correction, blocking, True, not caveats,
                          tuple(caveats))  # fmt: skip
    rho = offered / c
    if rho >= 1:
        caveats.insert(0, f"unstable: ρ = {rho:.2f} ≥ 1, the queue grows without bound")
        return Prediction(node, model, lam, mean, c, rho, 1.0, None, None, None, False, False,
                          tuple(caveats))  # fmt: skip
    pw = erlang_c(c, offered)
    wq = pw / (c * mu - lam) * correction
    return Prediction(node, model, lam, mean, c, rho, pw, wq, lam * wq, None, True,
                      not caveats, tuple(caveats))  # fmt: skip


def measured(summary: dict[str, Any], node: str, scenario: Scenario) -> Measured | None:
    """The figures ``predict`` gives, from a finished run's summary (after the warm-up)."""
    entry = (summary.get("nodes") or {}).get(node)
    if entry is None:
        return None
    span = max(scenario.duration - scenario.warmup, 1e-12)
    arrivals = entry.get("arrivals", 0)
    wait = entry.get("mean_queue_wait_ms")
    in_system, busy = entry.get("mean_in_system"), entry.get("mean_busy")
    return Measured(
        arrival_rate=arrivals / span,
        utilization=entry.get("utilization"),
        wait_probability=entry.get("waited_share"),
        mean_wait=wait / 1000 if wait is not None else None,
        mean_queue=max(0.0, in_system - busy) if in_system is not None and busy is not None
        else None,
        blocking=entry.get("rejected", 0) / arrivals if arrivals else None,
    )  # fmt: skip
