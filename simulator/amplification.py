"""Compound retry amplification: how many attempts one user request can become at each call.

An edge's own ratio (attempts / requests at that call) hides what the layers
above it do: three layers that each retry 3 times turn one user request into
3 x 3 x 3 = 27 attempts at the deepest call. ``worst_case`` walks every route
(client -> ... -> leaf over the calls, with networkx) and multiplies the tries
along it; ``measured`` divides the attempts an edge saw by the requests its
routes' clients sent, over the same window.

The worst case assumes the callee of the edge fails every attempt and that the
failure is one every retry above retries. Along the way up:

* a fallback is not counted: a ``default`` one answers the caller when the callee
  fails, but the layers above still retry their own failures (a timeout while the
  callee is slow, a full queue, their own errors), each try calling again: the
  semantic fuzz found 1.58 attempts per request below a default fallback that a
  "cut" product called 1; a ``cached`` one fails like none once its value is older
  than ``max_age``; ``fail`` does nothing;
* a retry budget is not counted either (below ``min_concurrency`` active requests
  it lets every retry through), nor breakers (they stop attempts only once open)
  nor timeouts; each is named in the edge's notes when it bounds the sustained
  factor;
* ``probability`` below 100% is ignored: the worst request takes every call;
* a call with ``only_for`` is walked only from the clients it names: the others'
  requests never take it, so they neither reach it nor count in its measured figure.

Qt-free: the app's canvas paints the figures, ``murphy`` could print them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from simulator.scenario import Scenario
from simulator.scenario_nodes import Call, call_edge_names

__all__ = ["MAX_ROUTES", "EdgeAmplification", "call_edges", "measured", "worst_case"]

MAX_ROUTES = 20_000
"""Routes walked per scenario before giving up (a dense drawing has exponentially many)."""


@dataclass(frozen=True)
class EdgeAmplification:
    """One call's compound figures."""

    edge: str
    """The engine's edge name (``api->db``, ``api->db#2`` for a repeated target)."""
    own: int
    """Tries this call makes per request it is given (1 without a retry)."""
    worst: int
    """Attempts at this call per request of the worst route's client, in the worst case."""
    route: tuple[str, ...]
    """Nodes of that worst route: its client first, this call's target last."""
    clients: frozenset[str]
    """Clients whose requests reach this call: the measured figure divides by their requests."""
    notes: tuple[str, ...] = field(default=())
    """Policies on the route that bound the sustained factor but not the worst case."""


def call_edges(scenario: Scenario) -> Iterator[tuple[str, str, str, Call]]:
    """(edge name, caller, callee, call) for every call, named as the engine names them."""
    for name, node in scenario.nodes.items():
        for call, edge in zip(node.calls, call_edge_names(name, node.calls), strict=True):
            if call.to in scenario.nodes:
                yield edge, name, call.to, call


def _tries(call: Call) -> int:
    retry = call.retry
    tries = retry.attempts if retry is not None and retry.strategy != "none" else 1
    if call.hedge is not None:  # each try may be hedged max_hedges times
        tries *= 1 + call.hedge.max_hedges
    return tries


def _notes(call: Call, edge: str) -> list[str]:
    notes = []
    retry = call.retry
    if retry is not None and retry.strategy != "none" and retry.budget is not None:
        notes.append(
            f"{edge}: a retry budget caps sustained retries at {retry.budget.percent:.0%} of"
            f" active requests (not counted: below {retry.budget.min_concurrency} active,"
            " every retry runs)"
        )
    if call.fallback is not None and call.fallback.kind == "cached":
        notes.append(f"{edge}: a cached fallback stops the retries above while its value is fresh")
    if call.fallback is not None and call.fallback.kind == "default":
        notes.append(
            f"{edge}: a default fallback answers its failures, so the layers above retry only"
            " their own (timeouts, full queues, errors)"
        )
    if call.breaker is not None:
        notes.append(f"{edge}: a breaker stops the tries once it opens")
    if call.hedge is not None and call.hedge.budget < 1:
        notes.append(
            f"{edge}: a hedge budget caps sustained hedges at {call.hedge.budget:.0%} of requests"
        )
    return notes


def worst_case(scenario: Scenario) -> dict[str, EdgeAmplification]:
    """Per call reached from a client, the worst compound amplification over its routes.

    Along a route e1…ek the figure at ek is its own tries times the tries of every call
    above it. A call back into a node already on the route counts once and the walk
    stops there.
    """
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(scenario.nodes)
    for edge, caller, callee, call in call_edges(scenario):
        graph.add_edge(caller, callee, key=edge, call=call)
    best: dict[str, tuple[int, tuple[str, ...]]] = {}
    reach: dict[str, set[str]] = {}
    notes: dict[str, list[str]] = {}
    walked = 0
    clients = [n for n, node in scenario.nodes.items() if node.kind == "client"]
    for client in clients:
        # Depth-first over simple paths: (node, product so far, nodes, notes so far).
        stack: list[tuple[str, int, tuple[str, ...], tuple[str, ...]]]
        stack = [(client, 1, (client,), ())]
        while stack and walked < MAX_ROUTES:
            node, product, path, seen_notes = stack.pop()
            for _, callee, edge, data in graph.out_edges(node, keys=True, data=True):
                call = data["call"]
                if call.only_for is not None and client not in call.only_for:
                    continue  # this client's requests never take it (a gateway's other route)
                walked += 1
                figure = _tries(call) * product
                route = (*path, callee)
                here = (*seen_notes, *_notes(call, edge))
                if edge not in best or figure > best[edge][0]:
                    best[edge] = (figure, route)
                    notes[edge] = list(here)
                reach.setdefault(edge, set()).add(client)
                if callee not in path:  # a call back up a cycle counts once, then stops
                    stack.append((callee, figure, route, here))
    out = {}
    for edge, _caller, _callee, spec in call_edges(scenario):
        if edge in best:
            figure, route = best[edge]
            out[edge] = EdgeAmplification(
                edge, _tries(spec), figure, route, frozenset(reach[edge]), tuple(notes[edge])
            )
    return out


def measured(
    amplification: Mapping[str, EdgeAmplification],
    attempts: Mapping[str, float],
    requests: Mapping[str, float],
) -> dict[str, float]:
    """Attempts at each call per request sent by the clients that reach it.

    ``attempts``: per edge name; ``requests``: per client; both counted over the same
    window (one time bucket live, the whole run at its end). Edges whose clients sent
    nothing in the window are left out.
    """
    out = {}
    for edge, amp in amplification.items():
        sent = sum(requests.get(c, 0.0) for c in amp.clients)
        if sent > 0 and edge in attempts:
            out[edge] = attempts[edge] / sent
    return out


def measured_in_bucket(
    amplification: Mapping[str, EdgeAmplification], columns: Mapping[str, np.ndarray], row: int
) -> dict[str, float]:
    """``measured`` over one bucket of ``simulator.timeseries.time_series`` columns."""
    attempts = {
        e: float(columns[f"edge.{e}.attempts"][row])
        for e in amplification
        if f"edge.{e}.attempts" in columns
    }
    clients = {c for amp in amplification.values() for c in amp.clients}
    requests = {
        c: float(columns[f"route.{c}.requests"][row])
        for c in clients
        if f"route.{c}.requests" in columns
    }
    return measured(amplification, attempts, requests)
