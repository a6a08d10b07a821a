"""Reading the message books of a run: the live view, the summary, and the conservation check.

Each flow's fates are counted as they happen (``messages.Flow``); what is checked
here is that those counts and the copies the components actually hold agree:
every produced id is delivered, lost, dead-lettered or in flight, and every live
copy in the books is somewhere real (a publisher waiting for its ack, an outbox
row, a message in a broker queue).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from simulator.components.broker import Broker, queue_states
from simulator.components.relay import Relay
from simulator.messages import Flow, Message
from simulator.publishing import PublishSite

if TYPE_CHECKING:
    from simulator.engine import Simulation

__all__ = ["message_problems", "message_snapshot", "message_summary"]

LAG_PERCENTILES = {"p50": 50, "p90": 90, "p99": 99}


def _held(sim: Simulation) -> Iterator[tuple[Iterable[Flow], Message | None, int]]:
    """Every live copy a component holds: the flows it counts in, its message, how many.

    Broker queues hold one flow's copy each; a publish the broker has not decided on,
    an outbox row and a publisher's unacknowledged events count in every flow of their
    stream. A publisher only counts its events (``holding``), so their message is None.
    """
    for server in sim.servers.values():
        if isinstance(server, Broker):
            for stats in server.queue_stats.values():
                for sub in stats.subscriptions:
                    for copy in [*sub.ready, *sub.unacked]:
                        yield (copy.flow,), copy.message, 1
            for job in server.in_service:
                if job.step == 0:  # a publish the broker has not decided on yet
                    message = job.reply_to.message_of(job)  # type: ignore[attr-defined]
                    yield message.stream.flows, message, 1
        elif isinstance(server, Relay):
            for message in server.outbox:
                yield message.stream.flows, message, 1
    for site in sim.sites.values():
        if isinstance(site, PublishSite) and site.holding:
            yield site.stream.flows, None, site.holding


def message_problems(sim: Simulation) -> list[str]:
    """Conservation per flow, and the books' live copies against the components' contents."""
    problems: list[str] = []
    held: dict[int, int] = {}
    for flows, _message, count in _held(sim):
        for flow in flows:
            held[id(flow)] = held.get(id(flow), 0) + count
    for flow in sim.books.flows:
        problems += flow.problems()
        books, real = flow.live_copies(), held.get(id(flow), 0)
        if books != real:
            problems.append(
                f"{flow.key}: the books count {books} live copies, components hold {real}"
            )
    return problems


def _flow_entry(flow: Flow) -> dict[str, Any]:
    stream = flow.stream
    return {
        "producer": stream.producer,
        "broker": stream.broker,
        "queue": stream.queue,
        "consumer": flow.consumer,
    }


def message_snapshot(sim: Simulation, now: float) -> dict[str, Any]:
    """``flows`` and ``queues`` for the live view (see ``Simulation.snapshot``)."""
    oldest: dict[int, float] = {}  # by id(flow): the earliest production still in flight
    for held_in, message, _count in _held(sim):
        if message is None:
            continue
        for flow in held_in:
            if flow.is_in_flight(message.id):
                oldest[id(flow)] = min(oldest.get(id(flow), now), message.produced)
    flows = {}
    for flow in sim.books.flows:
        flows[flow.key] = {
            **_flow_entry(flow),
            "produced": flow.produced,
            "published": flow.stream.published,
            "delivered": flow.delivered,
            "lost": flow.lost,
            "duplicates": flow.duplicates,
            "applied_twice": flow.applied_twice,
            "dead_lettered": flow.dead_lettered,
            "in_flight": flow.in_flight(),
            "lag_s": round(now - oldest.get(id(flow), now), 6),
        }
    queues = {
        f"{name}.{q}": {"broker": name, "queue": q, **state}
        for name, server in sim.servers.items()
        if isinstance(server, Broker)
        for q, state in queue_states(server).items()
    }
    return {"flows": flows, "queues": queues}


def message_summary(sim: Simulation) -> dict[str, Any]:
    """The JSON ``messages`` section: one entry per flow, counted over the whole run."""
    out = {}
    for flow in sim.books.flows:
        lag = flow.lag
        percentiles = lag.percentiles(LAG_PERCENTILES.values())
        out[flow.key] = {
            **_flow_entry(flow),
            "produced": flow.produced,
            "published": flow.stream.published,
            "delivered": flow.delivered,
            "lost": flow.lost,
            "lost_by": dict(sorted(flow.lost_by.items())),
            "deliveries": flow.deliveries,
            "duplicates": flow.duplicates,
            "applied": flow.applied,
            "applied_twice": flow.applied_twice,
            "dead_lettered": flow.dead_lettered,
            "in_flight": flow.in_flight(),
            "max_lag_s": round(lag.maximum, 6) if lag.count else None,
            "lag_s": {
                k: (round(v, 6) if lag.count else None)
                for k, v in zip(LAG_PERCENTILES, percentiles, strict=True)
            },
        }
    return out
