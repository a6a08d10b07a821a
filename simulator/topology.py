"""The scenario's nodes and calls as a networkx graph, and the questions asked of it.

Every function takes a graph (or a scenario) and answers one question, in the
manner of ``networkx.algorithms``. The engine refuses cyclic synchronous calls;
the editor shows the same findings as a problems list while the user draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import networkx as nx

from simulator.scenario import Client, Consumer, Database, Relay, Scenario, reference_problems
from simulator.zero_time import users_without_pause

__all__ = [
    "Problem",
    "amplification_bound",
    "call_graph",
    "entry_points",
    "find_call_cycle",
    "nothing_written_to",
    "problems",
    "to_graph",
    "unreachable",
]


def to_graph(scenario: Scenario) -> nx.DiGraph:
    """Nodes carry ``kind``; edges ``a -> b`` carry ``via`` and ``index``.

    ``via`` is ``call`` (``index``: position in a's calls), ``publish`` (position in
    a's publishes, or -1 for a relay's publish), ``delivery`` (a broker to its
    consumer) or ``outbox`` (a database to the relay that drains it). Only calls
    hold a worker while waiting, so only they can deadlock (``find_call_cycle``);
    the others still carry work, so they count for reachability. A node calling
    the same target twice keeps the first call as the edge; the engine runs both.

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
                graph.add_edge(name, call.to, via="call", index=index)
    for name, node in scenario.nodes.items():
        publishes = [(i, p) for i, p in enumerate(node.publishes)]
        if isinstance(node, Relay):
            publishes.append((-1, node.publish))
            _add_async(graph, node.database, name, "outbox", -1)
        for index, publish in publishes:
            _add_async(graph, name, publish.to, "publish", index)
        if isinstance(node, Consumer):
            _add_async(graph, node.broker, name, "delivery", -1)
    return graph


def _add_async(graph: nx.DiGraph, a: str, b: str, via: str, index: int) -> None:
    if a in graph and b in graph and not graph.has_edge(a, b):
        graph.add_edge(a, b, via=via, index=index)


def call_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """Only the synchronous calls: the edges along which a worker waits."""
    return graph.edge_subgraph([(a, b) for a, b, via in graph.edges(data="via") if via == "call"])


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
        edges = nx.find_cycle(call_graph(graph))
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
    graph = call_graph(to_graph(scenario))
    if node not in graph:
        return 1 if scenario.nodes[node].kind == "client" else 0
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
        if isinstance(node, Client) and not node.calls and not node.publishes:
            found.append(Problem("warning", f"client {name} calls nothing", name))
        elif node.kind == "balancer" and not node.calls:
            found.append(Problem("warning", f"balancer {name} has no backends: it errors", name))
    for name in users_without_pause(scenario):
        found.append(Problem(
            "warning", f"client {name}: its users send again at once (no think_time above 0 "
            "s): a request refused at once (a crash, a full queue) comes straight back, and "
            "a run that loops so without time moving is stopped with an error", name,
        ))  # fmt: skip
    found += _message_warnings(scenario)
    found += _disk_warnings(scenario)
    found += _pool_warnings(scenario)
    found += _contention_warnings(scenario)
    found += _limiter_warnings(scenario)
    found += _outlier_warnings(scenario)
    return found


def _outlier_warnings(scenario: Scenario) -> list[Problem]:
    """Outlier detection whose max_ejection_percent allows no backend out ejects nothing."""
    found = []
    for name, node in scenario.nodes.items():
        outlier = getattr(node, "outlier_detection", None)
        backends = len(getattr(node, "calls", ()))
        if outlier is None or backends == 0 or outlier.always_eject_one_host:
            continue
        if outlier.max_ejection_percent * backends < 1 - 1e-9:
            least = 100.0 / backends
            found.append(Problem(
                "warning", f"{name}: outlier_detection can eject no backend: "
                f"max_ejection_percent {outlier.max_ejection_percent:.0%} of {backends} "
                f"backends is less than one; set always_eject_one_host: true or "
                f"max_ejection_percent to at least {least:.4g}%", name,
            ))  # fmt: skip
    return found


def _limiter_warnings(scenario: Scenario) -> list[Problem]:
    """A limiter knob its kind does not read (min_limit on a token bucket) changes nothing."""
    found = []
    for name, node in scenario.nodes.items():
        limiter = getattr(node, "limiter", None)
        if limiter is None:
            continue
        by_kind = type(limiter).KIND_FIELDS
        unused = sorted(
            field for field in limiter.model_fields_set
            if field != "kind" and field not in by_kind[limiter.kind]
        )  # fmt: skip
        if unused:
            found.append(Problem(
                "warning", f"{name}: the {limiter.kind} limiter does not read "
                f"{', '.join(unused)} (they belong to other kinds)", name,
            ))  # fmt: skip
    return found


def nothing_written_to(scenario: Scenario, name: str) -> bool:
    """Whether a full disk on ``name`` would change nothing: no call to it writes (every
    publish to a broker is a write, so a broker is always written to)."""
    node = scenario.nodes.get(name)
    if node is None or node.kind == "broker":
        return False
    return not any(c.to == name and c.writes for n in scenario.nodes.values() for c in n.calls)


def _disk_warnings(scenario: Scenario) -> list[Problem]:
    """A full disk nothing writes to changes nothing: say so, or the fault looks broken."""
    found = []
    for fault in scenario.faults:
        if fault.kind == "disk_full" and nothing_written_to(scenario, fault.target):
            found.append(Problem(
                "warning", f"disk_full on {fault.target} changes nothing: no call to it "
                "writes (writes: true)", fault.target,
            ))  # fmt: skip
    return found


def _contention_warnings(scenario: Scenario) -> list[Problem]:
    """Contention on a database nothing writes to changes nothing: reads never conflict."""
    text = "changes nothing: no call to it writes (writes: true), and reads never conflict"
    return [
        Problem("warning", f"contention on {name} {text}", name)
        for name, node in scenario.nodes.items()
        if getattr(node, "contention", None) is not None and nothing_written_to(scenario, name)
    ]


def _pool_warnings(scenario: Scenario) -> list[Problem]:
    """Pools that may open more connections than their database accepts."""
    found = []
    for name, node in scenario.nodes.items():
        if not isinstance(node, Database) or node.max_connections is None:
            continue
        most = sum(
            call.pool.max_size + call.pool.overflow
            for caller in scenario.nodes.values()
            for call in getattr(caller, "calls", ())
            if call.to == name and call.pool is not None
        )
        if most > node.max_connections:
            found.append(Problem(
                "warning",
                f"pools to {name} may open {most} connections; it accepts "
                f"{node.max_connections} (max_connections): past that they are refused",
                name,
            ))  # fmt: skip
    return found


def _message_warnings(scenario: Scenario) -> list[Problem]:
    """Queues that fill with nobody to drain them, outboxes nothing writes to."""
    found = []
    consumed = {(n.broker, n.queue) for n in scenario.nodes.values() if isinstance(n, Consumer)}
    for name, node in scenario.nodes.items():
        if node.kind == "broker":
            for queue in node.queues:
                if (name, queue) not in consumed:
                    found.append(Problem(
                        "warning", f"queue {name}.{queue} has no consumer: it only fills", name
                    ))  # fmt: skip
        elif isinstance(node, Relay):
            writes = any(call.outbox == name for n in scenario.nodes.values() for call in n.calls)
            if not writes:
                found.append(Problem(
                    "warning", f"relay {name}: no call writes to its outbox (outbox: {name})", name
                ))  # fmt: skip
    return found
    return found
