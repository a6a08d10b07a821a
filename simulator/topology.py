"""The scenario's nodes and calls as a networkx graph, and the questions asked of it.

Every function takes a graph (or a scenario) and answers one question, in the
manner of ``networkx.algorithms``. The engine refuses cyclic synchronous calls;
the editor shows the same findings as a problems list while the user draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import networkx as nx

from simulator.scenario import Client, Scenario, reference_problems

__all__ = [
    "Problem",
    "amplification_bound",
    "entry_points",
    "find_call_cycle",
    "problems",
    "to_graph",
    "unreachable",
]


def to_graph(scenario: Scenario) -> nx.DiGraph:
    """Nodes carry ``kind``; edges ``a -> b`` carry ``index`` (position in a's calls).

    A node calling the same target twice keeps the first call as the edge; the
    engine still runs both.

    Examples
    --------
    >>> from simulator.scenario import load_scenario
    >>> g = to_graph(load_scenario("scenarios/three-tier.yaml"))
    >>> sorted(g.successors("gateway"))
    ['orders']
    """
    graph = nx.DiGraph()
    for name, node in scenario.nodes.items():
        graph.add_node(name, kind=node.kind)
    for name, node in scenario.nodes.items():
        for index, call in enumerate(node.calls):
            if call.to in scenario.nodes and not graph.has_edge(name, call.to):
                graph.add_edge(name, call.to, index=index)
    return graph


def entry_points(graph: nx.DiGraph) -> list[str]:
    """The client nodes: where requests enter the system."""
    return [n for n, kind in graph.nodes(data="kind") if kind == "client"]


def unreachable(graph: nx.DiGraph) -> list[str]:
    """Nodes no client can reach: they will never see a request."""
    reached: set[str] = set()
    for entry in entry_points(graph):
        reached |= nx.descendants(graph, entry) | {entry}
    return [n for n in graph.nodes if n not in reached]


def find_call_cycle(graph: nx.DiGraph) -> list[str] | None:
    """One cycle of synchronous calls (it would hold a worker while waiting on itself).

    Stops at the first cycle a depth-first search meets: enumerating every simple
    cycle is exponential (14 services that all call each other have billions).
    """
    try:
        edges = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    return [a for a, _b in edges]


def amplification_bound(scenario: Scenario, node: str) -> int:
    """Worst-case attempts reaching ``node`` per entry request when every layer retries.

    Three layers retrying 3 times each give 27: the product of ``retry.attempts``
    along the most-retrying path from a client.

    One pass in topological order (the best product into each node), not an
    enumeration of paths, which is exponential in a layered graph. Calls form no
    cycle in a valid scenario; with a cycle the bound is unbounded and this raises
    ValueError.
    """
    graph = to_graph(scenario)
    if not nx.is_directed_acyclic_graph(graph):
        raise ValueError("calls form a cycle: retry amplification has no bound")
    reach = dict.fromkeys(nx.ancestors(graph, node) | {node}, 0)
    for entry in entry_points(graph):
        if entry in reach and entry != node:
            reach[entry] = 1
    for a in nx.topological_sort(graph.subgraph(reach)):
        if not reach[a]:
            continue
        for b in graph.successors(a):
            if b in reach:
                call = scenario.nodes[a].calls[graph.edges[a, b]["index"]]
                attempts = call.retry.attempts if call.retry else 1
                reach[b] = max(reach[b], reach[a] * attempts)
    return reach[node]


@dataclass(frozen=True)
class Problem:
    """A finding about a scenario, with what to select to show it."""

    severity: Literal["error", "warning"]
    message: str
    node: str | None = None
    call: int | None = None

    @property
    def loc(self) -> tuple[str | int, ...]:
        """Where in the scenario file it is, as a field path (``nodes.api.calls[1]``)."""
        if self.node is None:
            return ()
        return (
            ("nodes", self.node) if self.call is None else ("nodes", self.node, "calls", self.call)
        )


def problems(scenario: Scenario) -> list[Problem]:
    """Everything wrong or suspicious about a scenario's wiring, errors first."""
    found = []
    for loc, message in reference_problems(scenario):
        node = loc[1] if len(loc) > 1 and loc[0] == "nodes" else None
        call = loc[3] if len(loc) > 3 and loc[2] == "calls" else None
        found.append(Problem("error", message, node, call))
    graph = to_graph(scenario)
    cycle = find_call_cycle(graph)
    if cycle is not None:
        text = " -> ".join(cycle + cycle[:1])
        first_call = graph.edges[cycle[0], cycle[1 % len(cycle)]]["index"]
        found.append(Problem("error", f"synchronous call cycle: {text}", cycle[0], first_call))
    clients = entry_points(graph)
    if not clients:
        found.append(Problem("error", "no client: nothing sends requests"))
    for name in unreachable(graph) if clients else []:
        found.append(Problem("warning", f"{name} is not reached from any client", name))
    for name, node in scenario.nodes.items():
        if isinstance(node, Client) and not node.calls:
            found.append(Problem("warning", f"client {name} calls nothing", name))
        elif node.kind == "balancer" and not node.calls:
            found.append(Problem("warning", f"balancer {name} has no backends: it errors", name))
    return found
