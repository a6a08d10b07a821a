"""Where to draw nodes that the file gives no position: columns by depth from the clients.

Depth follows calls and messages alike (``to_graph`` has both): a broker sits right
of its publishers, a consumer right of its broker, a relay right of its database.
"""

from __future__ import annotations

import networkx as nx

from simulator.scenario import Scenario
from simulator.topology import to_graph

COLUMN, ROW = 260.0, 130.0


def default_positions(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """A position for every node: the file's layout where given, else a layered guess."""
    graph = to_graph(scenario)  # calls, publishes, deliveries and outbox reads
    depth: dict[str, int] = {}
    order = list(nx.topological_sort(graph)) if nx.is_directed_acyclic_graph(graph) else list(graph)
    for name in order:
        preds = [depth.get(p, 0) + 1 for p in graph.predecessors(name) if p in depth]
        depth[name] = max(preds, default=0)
    rows: dict[int, int] = {}
    out: dict[str, tuple[float, float]] = {}
    for name in scenario.nodes:
        if name in scenario.layout:
            out[name] = scenario.layout[name]
            continue
        col = depth.get(name, 0)
        row = rows.get(col, 0)
        rows[col] = row + 1
        out[name] = (col * COLUMN, row * ROW + _below(scenario))
    return out


def _below(scenario: Scenario) -> float:
    """Guessed nodes go under the laid-out ones, never on top of them."""
    ys = [y for _, y in scenario.layout.values()]
    return max(ys) + ROW if ys else 0.0
