"""Where to draw nodes that the file gives no position: columns by depth from the clients.

Depth follows calls and messages alike (``to_graph`` has both): a broker sits right
of its publishers, a consumer right of its broker, a relay right of its database;
and the message path gets a band of rows of its own, below the request path.
"""

from __future__ import annotations

import networkx as nx

from simulator.scenario import Scenario
from simulator.topology import to_graph

COLUMN, ROW = 260.0, 130.0
MESSAGE_KINDS = ("broker", "relay", "consumer")


def default_positions(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """A position for every node: the file's layout where given, else a layered guess."""
    graph = to_graph(scenario)  # calls, publishes, deliveries and outbox reads
    depth: dict[str, int] = {}
    order = list(nx.topological_sort(graph)) if nx.is_directed_acyclic_graph(graph) else list(graph)
    for name in order:
        preds = [depth.get(p, 0) + 1 for p in graph.predecessors(name) if p in depth]
        depth[name] = max(preds, default=0)
    guessed = [n for n in scenario.nodes if n not in scenario.layout]
    # The message path (brokers, relays, consumers) runs in a band below the request path,
    # so a publish that skips columns does not cross the nodes between.
    bands = [[n for n in guessed if scenario.nodes[n].kind not in MESSAGE_KINDS],
             [n for n in guessed if scenario.nodes[n].kind in MESSAGE_KINDS]]  # fmt: skip
    out: dict[str, tuple[float, float]] = dict(scenario.layout)
    top = _below(scenario)
    for band in bands:
        rows: dict[int, int] = {}
        for name in band:
            col = depth.get(name, 0)
            row = rows.get(col, 0)
            rows[col] = row + 1
            out[name] = (col * COLUMN, row * ROW + top)
        top += max(rows.values(), default=0) * ROW
    return {name: out[name] for name in scenario.nodes}


def _below(scenario: Scenario) -> float:
    """Guessed nodes go under the laid-out ones, never on top of them."""
    ys = [y for _, y in scenario.layout.values()]
    return max(ys) + ROW if ys else 0.0
