"""Loops of work that can go round without simulated time moving: refused before a run.

A consumer that republishes to its own queue is a legitimate design (a retry
topic, a saga's next step). But when every step round the loop can take exactly
0 s (a ``constant: 0s`` processing time, a broker with 0 s publish latency, a
service with 0 s service time) the messages go round forever at one instant: the
event queue never empties below the current time and the run never ends. The
scenario file is untrusted input, so such a file is refused with the loop spelled
out and the line of the publish that closes it, like a cycle of synchronous calls.

The graph here is of *instant-capable* steps. Its vertices are the scenario's
nodes plus one per broker queue (``broker.queue``); an edge ``a -> b`` means work
at ``a`` can hand work to ``b`` at the same instant, and a vertex is kept only if
its own time can be exactly zero (a distribution with an atom at 0: a constant 0,
a uniform from 0 to 0, an exponential or lognormal of mean or median 0). A uniform
from 0 to 10 ms can draw values near zero but moves time on average, so it does
not stop the clock and is not refused. Time a node's own calls add before it
publishes is not counted (a call refused at once takes none), so the check errs
on the side of refusing. A publish or call with probability 0 is never made: no
edge.

No networkx here: ``simulator.scenario`` calls this for every file it loads, and
the graph is small.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from simulator.scenario_messages import Broker, Consumer, Relay
from simulator.scenario_nodes import Balancer, Cache, Client, Publish, Service, ThirdParty
from simulator.scenario_types import Constant, Exponential, LogNormal, Uniform

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = ["ZeroTimeLoop", "can_take_no_time", "find_zero_time_loop", "zero_time_problems"]

Dist = Exponential | Constant | Uniform | LogNormal
_QUEUE = "\x00"  # starts a broker queue's vertex and parts it: no node name holds it


def can_take_no_time(dist: Dist) -> bool:
    """Whether a draw can be exactly 0 s with a positive probability (an atom at zero)."""
    if isinstance(dist, Constant):
        return dist.value <= 0.0
    if isinstance(dist, Uniform):
        return dist.high <= 0.0
    if isinstance(dist, Exponential):
        return dist.mean <= 0.0
    return dist.median <= 0.0  # LogNormal: the sampler returns 0 for a median of 0


class ZeroTimeLoop:
    """One loop found: its vertices in order, and where in the file it closes."""

    def __init__(self, path: list[str], loc: tuple[Any, ...], why: list[str]):
        self.path, self.loc, self.why = path, loc, why

    @property
    def message(self) -> str:
        text = " -> ".join([*self.path, self.path[0]])
        return (
            f"messages can loop in no simulated time: {text} ({', '.join(self.why)} can be "
            "0 s), so the clock would stop and the run never end: give one step a time above 0"
        )


def _instant_because(scenario: Scenario, vertex: str) -> str | None:
    """Why ``vertex`` can take no time (what to change), or None if it always takes some."""
    if vertex.startswith(_QUEUE):
        name = vertex[len(_QUEUE) :].split(_QUEUE, 1)[0]
        broker = scenario.nodes[name]
        assert isinstance(broker, Broker)
        return f"{name} publish_latency" if can_take_no_time(broker.publish_latency) else None
    node = scenario.nodes[vertex]
    if isinstance(node, Consumer):
        return f"{vertex} processing_time" if can_take_no_time(node.processing_time) else None
    if isinstance(node, Service):  # and Database, a subclass
        return f"{vertex} service_time" if can_take_no_time(node.service_time) else None
    if isinstance(node, ThirdParty | Cache):
        return f"{vertex} latency" if can_take_no_time(node.latency) else None
    if isinstance(node, Relay):  # republishes at once while rows are visible
        return f"{vertex} lag" if node.lag <= 0.0 else None
    if isinstance(node, Balancer):
        return f"{vertex} (a pass-through)"
    return None  # a client is never handed work; an unknown kind is given the benefit


def _shown(vertex: str) -> str:
    """A vertex as the file spells it: a node's name, or ``broker.queue``."""
    return ".".join(vertex[len(_QUEUE) :].split(_QUEUE, 1)) if vertex.startswith(_QUEUE) else vertex


def _edges(scenario: Scenario) -> dict[str, list[tuple[str, tuple[Any, ...]]]]:
    """Every ``a -> b`` along which work can pass, with the file location that makes it."""
    nodes = scenario.nodes
    out: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}

    def queue_vertex(broker: str, queue: str) -> str | None:
        spec = nodes.get(broker)
        if isinstance(spec, Broker) and queue in spec.queues:
            return f"{_QUEUE}{broker}{_QUEUE}{queue}"
        return None

    for name, node in nodes.items():
        edges = out.setdefault(name, [])
        for i, call in enumerate(node.calls):
            if call.probability <= 0.0 or call.to not in nodes:
                continue
            edges.append((call.to, ("nodes", name, "calls", i)))
            relay = nodes.get(call.outbox or "")
            if isinstance(relay, Relay) and call.to == relay.database:
                # The row commits at the database and the relay picks it up: through both.
                out.setdefault(call.to, []).append((call.outbox or "", ("nodes", name, "calls", i)))
        publishes: list[tuple[tuple[Any, ...], Publish]] = [
            (("nodes", name, "publishes", i), p) for i, p in enumerate(node.publishes)
        ]
        if isinstance(node, Relay):
            publishes.append((("nodes", name, "publish"), node.publish))
        for loc, publish in publishes:
            target = queue_vertex(publish.to, publish.queue)
            if publish.probability > 0.0 and target is not None:
                edges.append((target, loc))
        if isinstance(node, Consumer):
            source = queue_vertex(node.broker, node.queue)
            if source is not None:
                out.setdefault(source, []).append((name, ("nodes", name, "queue")))
    return out


def find_zero_time_loop(scenario: Scenario) -> ZeroTimeLoop | None:
    """The first loop through a broker queue whose every step can take no time, or None.

    A depth-first search over the instant-capable vertices (iterative: 500 nodes in
    a chain must not exhaust the stack); the first back edge closes a loop. Loops of
    synchronous calls alone are not reported here (``topology`` reports those).
    """
    edges = _edges(scenario)
    why = {v: _instant_because(scenario, v) for v in edges}
    live = {v for v, reason in why.items() if reason is not None}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in edges:
        if root not in live or root in state:
            continue
        path: list[str] = [root]
        locs: list[tuple[Any, ...]] = []
        stack: list[Iterator[tuple[str, tuple[Any, ...]]]] = [iter(edges[root])]
        state[root] = 1
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                state[path.pop()] = 2
                if locs:
                    locs.pop()
                continue
            target, loc = step
            if target not in live:
                continue
            if state.get(target) == 1:
                start = path.index(target)
                loop = path[start:]
                if any(v.startswith(_QUEUE) for v in loop):  # through a queue: messages
                    return _spelled(loop, [*locs[start:], loc], why)
                continue
            if target not in state:
                state[target] = 1
                path.append(target)
                locs.append(loc)
                stack.append(iter(edges.get(target, ())))
    return None


def _spelled(
    loop: list[str], locs: list[tuple[Any, ...]], why: dict[str, str | None]
) -> ZeroTimeLoop:
    """Start the loop at its first publish, and point at that publish's line."""
    first = next(
        (i for i, loc in enumerate(locs) if "publishes" in loc or loc[-1:] == ("publish",)), 0
    )
    # locs[i] is the edge out of loop[i]: rotate so the loop starts at that publisher.
    loop = loop[first:] + loop[:first]
    reasons = [r for v in loop if (r := why[v]) is not None]
    return ZeroTimeLoop([_shown(v) for v in loop], locs[first], reasons)


def zero_time_problems(scenario: Scenario) -> Iterator[tuple[tuple[Any, ...], str]]:
    """The loop, if any, as a located problem (what ``reference_problems`` yields)."""
    loop = find_zero_time_loop(scenario)
    if loop is not None:
        yield loop.loc, loop.message


def users_without_pause(scenario: Scenario) -> list[str]:
    """Closed-loop clients whose users can send again at the instant an answer comes.

    A request refused at once (a crashed node, a full queue) then comes straight back
    at the same instant, again and again: the engine stops such a run (``EngineError``)
    rather than hang, and the problems list warns beforehand.
    """
    return [
        name
        for name, node in scenario.nodes.items()
        if isinstance(node, Client)
        and node.users is not None
        and (node.think_time is None or can_take_no_time(node.think_time))
    ]


STALL_EVENTS_MIN = 1_000_000
"""Events in a row at one simulated instant after which any run is stopped as stalled."""
STALL_EVENTS_MAX = 50_000_000
STALL_EVENTS_PER_SLOT = 20  # events one request may cost at one instant, per attempt


def stall_events(scenario: Scenario) -> int:
    """How many events in a row at one instant mean a run has stalled, not a burst.

    A legitimate instant can be busy: a crash refuses every queued request and every
    closed-loop user at once, and each may retry at once. The crowd that can act at one
    instant is bounded by the users, workers, waiting rooms and prefetch the scenario
    gives, times the most attempts any call makes; past ``STALL_EVENTS_PER_SLOT`` events
    for each of those (and at least ``STALL_EVENTS_MIN``, seconds of wall time) it is
    a loop. Capped, so that a hostile scenario cannot make the guard useless.
    """
    crowd = 0
    attempts = 1
    for node in scenario.nodes.values():
        crowd += getattr(node, "users", None) or 0
        for field in ("workers", "queue", "prefetch"):
            value = getattr(node, field, None)
            crowd += value if isinstance(value, int) else 0
        for edge in [*node.calls, *node.publishes]:
            if edge.retry is not None:
                attempts = max(attempts, edge.retry.attempts)
    bound = STALL_EVENTS_PER_SLOT * crowd * attempts
    return min(max(STALL_EVENTS_MIN, bound), STALL_EVENTS_MAX)
