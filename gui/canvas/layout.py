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


def free_spot(
    wanted: tuple[float, float],
    occupied: list[tuple[float, float]],
    size: tuple[float, float],
    gap: float = 30.0,
    within: tuple[float, float, float, float] | None = None,
) -> tuple[float, float]:
    """The top-left nearest ``wanted`` where a node of ``size`` overlaps none of the nodes whose
    top-lefts are ``occupied`` (of the same size), with ``gap`` between: a node added without
    a drop point (double-click in the palette, the Insert menu) must not hide another.

    Spots wholly inside ``within`` (left, top, right, bottom: the visible part of the canvas)
    come first, so the new node is seen where it lands."""
    width, height = size
    step_x, step_y = width + gap, (height + gap) / 2

    def free(x: float, y: float) -> bool:
        return all(abs(x - ox) >= width + gap or abs(y - oy) >= height + gap for ox, oy in occupied)

    rings = 12
    offsets = sorted(
        ((i, j) for i in range(-rings, rings + 1) for j in range(-2 * rings, 2 * rings + 1)),
        key=lambda o: ((o[0] * step_x) ** 2 + (o[1] * step_y) ** 2, abs(o[1]), o[1], o[0]),
    )
    spots = [(wanted[0] + i * step_x, wanted[1] + j * step_y) for i, j in offsets]
    if within is not None:
        left, top, right, bottom = within
        inside = [
            (x, y)
            for x, y in spots
            if left <= x and x + width <= right and top <= y and y + height <= bottom
        ]
        spots = inside + spots
    return next((spot for spot in spots if free(*spot)), wanted)
