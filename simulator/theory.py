"""Queueing theory beside the simulation: what Erlang C predicts for one node, and when not to
believe it.

``predict(scenario, node)`` reads the scenario only: the arrival rate that reaches the
node (clients' rates down the calls, per client so that a call's ``only_for`` counts,
times each call's probability, split evenly over a balancer's backends, thinned to a
cache's misses, and from publishers through a broker's queue to each consumer group
of it), its workers,
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
from simulator.scenario_messages import Consumer, Relay
from simulator.scenario_nodes import Balancer, Cache, Call, Client, Service
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


Rates = dict[str | None, float]
"""Requests per second by origin: the client they entered at (None: a consumer's messages),
which is what a call's ``only_for`` tests."""


def _flow_graph(scenario: Scenario) -> nx.MultiDiGraph:
    """What carries work to a node: calls, outbox rows to their relay, and every message
    published to a queue to each consumer group of that queue (each gets every message)."""
    nodes = scenario.nodes
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(nodes)
    consumers: dict[tuple[str, str], list[str]] = {}
    for name, spec in nodes.items():
        if isinstance(spec, Consumer):
            consumers.setdefault((spec.broker, spec.queue), []).append(name)
    for name, spec in nodes.items():
        for index, call in enumerate(spec.calls):
            if call.to in nodes:
                graph.add_edge(name, call.to, via="call", index=index, call=call)
            if call.outbox is not None and call.outbox in nodes:
                graph.add_edge(name, call.outbox, via="outbox", index=index, call=call)
        publishes = list(spec.publishes)
        if isinstance(spec, Relay):
            publishes.append(spec.publish)
        for publish in publishes:
            for consumer in consumers.get((publish.to, publish.queue), []):
                graph.add_edge(name, consumer, via="publish", index=-1, call=publish)
    return graph


def _taken(rates: Rates, call: Call) -> Rates:
    """The part of ``rates`` that makes ``call``: its ``only_for`` clients, its probability."""
    return {
        origin: rate * call.probability
        for origin, rate in rates.items()
        if call.only_for is None or origin in call.only_for
    }


def _sent(spec: Any, work: Rates, data: dict[str, Any]) -> Rates:
    """What one edge carries from a node doing ``work`` (per origin)."""
    call = data["call"]
    if data["via"] == "publish":  # a message: its consumer's work has no client origin
        sent = work if isinstance(spec, Relay) else _taken(work, call)
        return {None: sum(sent.values())}
    if isinstance(spec, Balancer):  # each request to ONE of the backends routed for it
        out: Rates = {}
        for origin, rate in work.items():
            routed = [
                i for i, c in enumerate(spec.calls) if c.only_for is None or origin in c.only_for
            ]
            if data["index"] in routed:
                out[origin] = rate / len(routed)
        return out
    return _taken(work, call)


def _work(name: str, spec: Any, inflow: Rates, caveats: list[str]) -> Rates | None:
    """What ``name`` passes down its edges per origin, given what reaches it (None: unknown)."""
    if isinstance(spec, Client):
        if spec.users is not None:
            caveats.insert(
                0,
                f"client {name} is a closed loop ({spec.users} users): arrivals are not"
                " Poisson and their rate depends on the response time",
            )
            return None
        if spec.profile is not None:
            caveats.append(
                f"client {name} changes its rate over time (profile): predicted at its"
                " peak, the run averages over the whole profile"
            )
        return {name: spec.peak_rate()}
    if isinstance(spec, Cache):  # only the misses go on to the origin
        return {origin: rate * (1.0 - spec.hit_ratio) for origin, rate in inflow.items()}
    if isinstance(spec, Consumer):
        total = sum(inflow.values())
        capacity = spec.workers / max(distribution_mean(spec.processing_time), 1e-12)
        if total > capacity:
            caveats.append(
                f"consumer {name} cannot keep up ({total:.4g} messages/s published, it"
                f" processes at most {capacity:.4g}/s): its backlog grows, predicted at the"
                " rate it can process"
            )
            return {None: capacity}
        return inflow
    return inflow


def _arrivals(
    scenario: Scenario, node: str, graph: nx.MultiDiGraph
) -> tuple[float | None, list[str]]:
    """λ at ``node``: the clients' open-loop rates down the calls, per client (for
    ``only_for``), split by balancers, thinned by caches' hits, through brokers to their
    consumers; caveats where that is an approximation."""
    caveats: list[str] = []
    upstream = nx.ancestors(graph, node) | {node}
    sub = graph.subgraph(upstream)
    if not nx.is_directed_acyclic_graph(sub):
        return None, ["the calls and messages above it form a cycle: no arrival rate to predict"]
    inflow: dict[str, Rates] = {name: {} for name in upstream}
    for name in nx.topological_sort(sub):
        spec = scenario.nodes[name]
        if name == node:
            break
        work = _work(name, spec, inflow[name], caveats)
        if work is None:
            return None, caveats
        for _, callee, data in sub.out_edges(name, data=True):
            for origin, rate in _sent(spec, work, data).items():
                inflow[callee][origin] = inflow[callee].get(origin, 0.0) + rate
    caveats += _route_caveats(scenario, node, sub)
    return sum(inflow[node].values()), caveats


def _route_caveats(scenario: Scenario, node: str, sub: nx.MultiDiGraph) -> list[str]:
    """What the balancers, caches and brokers above ``node`` do that the rate above ignores."""
    caveats = []
    named: set[int] = set()  # faults already explained (a cache's crash)
    for name in sub.nodes:
        spec = scenario.nodes[name]
        if isinstance(spec, Balancer) and sub.has_edge(name, node):
            others = {c.to for c in spec.calls} - {node}
            moved = [
                _fault_text(scenario, f)
                for f in scenario.faults
                if f.target in others and f.kind in ("crash", "partition", "latency")
            ]
            if moved and (spec.health_check or spec.strategy == "least_outstanding"):
                why = "its health check" if spec.health_check else spec.strategy
                caveats.append(
                    f"faults on {name}'s other backends ({'; '.join(moved)}) move their share"
                    f" here while they last ({why}), which the run's averages include"
                )
            if spec.strategy == "round_robin":
                caveats.append(
                    f"{name} sends requests to its backends in turn (round robin): arrivals"
                    " here are more regular than Poisson, the wait is overestimated"
                )
            elif spec.strategy == "least_outstanding":
                caveats.append(
                    f"{name} sends each request to the backend with the fewest in flight: an"
                    " even share is assumed (true while the backends are alike), and arrivals"
                    " are not Poisson"
                )
        elif isinstance(spec, Cache):
            crashed = [
                i for i, f in enumerate(scenario.faults) if f.target == name and f.kind == "crash"
            ]
            crashes = ["{:g}–{:g} s".format(*scenario.faults[i].window(scenario.duration))
                       for i in crashed]  # fmt: skip
            if crashes and spec.warm_up > 0 and spec.hit_ratio > 0:
                named.update(crashed)
                caveats.append(
                    f"predicted with {name}'s warm hit ratio ({spec.hit_ratio:.0%}): its crash"
                    f" ({', '.join(crashes)}) empties it, and while it refills over"
                    f" {spec.warm_up:g} s up to {1 / max(1 - spec.hit_ratio, 1e-9):.3g}× the"
                    " usual misses come through, which the run's averages include"
                )
        elif isinstance(spec, Consumer):
            caveats.append(
                f"consumer {name} is predicted to process every message once as it is"
                " published: redeliveries, duplicates and lost messages are not counted"
            )
    above = [
        _fault_text(scenario, f)
        for i, f in enumerate(scenario.faults)
        if f.target in sub.nodes and f.target != node and i not in named
    ]
    if above:
        caveats.append(
            f"faults above it change what reaches it ({'; '.join(above)}): predicted for the"
            " time outside them, the run's averages include them"
        )
    return caveats


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
    for name, other in scenario.nodes.items():
        if isinstance(other, Relay) and other.database == node and other.mode == "polling":
            caveats.append(
                f"relay {name} polls its outbox here every {other.interval:g} s and marks the"
                " rows it sent: those queries are not counted"
            )
    if getattr(spec, "reconciliation", None) is not None:
        caveats.append("a reconciliation job holds some of its workers")
    below = nx.descendants(_call_graph(scenario), node) | {node}
    faults = [_fault_text(scenario, f) for f in scenario.faults if f.target in below]
    if faults:
        caveats.append(
            "faults on it or on what it calls change its service during the run ("
            + "; ".join(faults)
            + "): the prediction describes the time outside them, the run's averages do not"
        )
    return caveats


def _fault_text(scenario: Scenario, fault: Any) -> str:
    return "{} on {} at {:g}–{:g} s".format(
        fault.label(), fault.target, *fault.window(scenario.duration)
    )


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
    lam, caveats = _arrivals(scenario, node, _flow_graph(scenario))
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
        return Prediction(node, model, 0.0, mean, c, 0.0, 0.0, 0.0, 0.0, exact=False,
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
    if rho >= 1 and queue is not None:  # too much room to compute: past full load it fills
        return _full_queue(node, spec, lam, rho, queue, caveats)
    if rho >= 1:
        caveats.insert(0, f"unstable: ρ = {rho:.2f} ≥ 1, the queue grows without bound")
        return Prediction(node, model, lam, mean, c, rho, 1.0, None, None, None, False, False,
                          tuple(caveats))  # fmt: skip
    pw = erlang_c(c, offered)
    wq = pw / (c * mu - lam) * correction
    return Prediction(node, model, lam, mean, c, rho, pw, wq, lam * wq, None, True,
                      not caveats, tuple(caveats))  # fmt: skip


def _full_queue(
    node: str, spec: Service, lam: float, rho: float, queue: int, caveats: list[str]
) -> Prediction:
    """ρ ≥ 1 with a queue limit too large for M/M/c/K's states: once full it stays full, the
    workers serve c μ of the λ and turn the rest away (1 - 1/ρ); admitted requests wait for
    the whole queue ahead of them. Before it fills the queue grows: the caveat says how long."""
    c, mean = spec.workers, distribution_mean(spec.service_time)
    served = c / mean
    fill = queue / (lam - served) if lam > served else math.inf
    caveats.insert(
        0,
        f"past full load (ρ = {rho:.2f} ≥ 1) its queue of {queue:,} fills"
        + (f" in about {fill:.3g} s" if math.isfinite(fill) else " only slowly (ρ = 1)")
        + " and then stays full: the figures are the full queue's, turning away 1 - 1/ρ",
    )
    model = "M/M/c/K" if service_scv(spec.service_time) == 1.0 else "M/G/c/K (approx.)"
    return Prediction(node, model, lam, mean, c, 1.0, 1.0, queue / served, float(queue),
                      1.0 - 1.0 / rho, True, False, tuple(caveats))  # fmt: skip


def measured(summary: dict[str, Any], node: str, scenario: Scenario) -> Measured | None:
    """The figures ``predict`` gives, from a finished run's summary (after the warm-up)."""
    entry = (summary.get("nodes") or {}).get(node)
    if entry is None:
        return None
    # The span the summary's counts cover: the run's own (a run stopped early is shorter
    # than the scenario's duration), after the warm-up, as ``simulator.analysis`` counts it.
    now = float(summary.get("duration_s", scenario.duration))
    warmup = float(summary.get("warmup_s", scenario.warmup))
    span = max(now - warmup, 1e-12) if now > warmup else max(now, 1e-12)
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
