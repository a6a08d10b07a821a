"""Reading the message books of a run: the live view, the summary, and the conservation check.

Each flow's fates are counted as they happen (``messages.Flow``); what is checked
here is that those counts and the copies the components actually hold agree:
every produced id is delivered, lost, dead-lettered or in flight, and every live
copy in the books is somewhere real (a publisher waiting for its ack, an outbox
row, a message in a broker queue).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.components.broker import Broker, queue_states
from simulator.components.relay import Relay
from simulator.messages import Flow
from simulator.publishing import PublishSite

if TYPE_CHECKING:
    from simulator.engine import Simulation

__all__ = ["message_problems", "message_snapshot", "message_summary"]

LAG_PERCENTILES = {"p50": 50, "p90": 90, "p99": 99}


def _held_copies(sim: Simulation) -> dict[int, int]:
    """Live copies each flow has where components hold them, by ``id(flow)``."""
    held: dict[int, int] = {}
    for server in sim.servers.values():
        if isinstance(server, Broker):
            for stats in server.queue_stats.values():
                for sub in stats.subscriptions:
                    for copy in [*sub.ready, *sub.unacked]:
                        held[id(copy.flow)] = held.get(id(copy.flow), 0) + 1
            for job in server.in_service:  # publishes the broker has not decided on yet
                if job.step == 0:
                    for flow in job.reply_to.message_of(job).stream.flows:  # type: ignore[attr-defined]
                        held[id(flow)] = held.get(id(flow), 0) + 1
        elif isinstance(server, Relay) and server.stream is not None:
            for flow in server.stream.flows:
                held[id(flow)] = held.get(id(flow), 0) + len(server.outbox)
    for site in sim.sites.values():
        if isinstance(site, PublishSite) and site.holding:
            for flow in site.stream.flows:
                held[id(flow)] = held.get(id(flow), 0) + site.holding
    return held


def message_problems(sim: Simulation) -> list[str]:
    """Conservation per flow, and the books' live copies against the components' contents."""
    problems: list[str] = []
    held = _held_copies(sim)
    for flow in sim.books.flows:
        problems += flow.problems()
        books, real = flow.live_copies(), held.get(id(flow), 0)
        if books != real:
            problems.append(
                f"{flow.key}: the books count {books} live copies, components hold {real}"
            )
    return problems


def _produced_times(sim: Simulation) -> dict[tuple[int, int], float]:
    """When each message still held somewhere was produced (for the age of the oldest)."""
    out: dict[tuple[int, int], float] = {}
    for server in sim.servers.values():
        if isinstance(server, Broker):
            for stats in server.queue_stats.values():
                for sub in stats.subscriptions:
                    for copy in [*sub.ready, *sub.unacked]:
                        out[(copy.message.stream.index, copy.message.id)] = copy.message.produced
        elif isinstance(server, Relay):
            for message in server.outbox:
                out[(message.stream.index, message.id)] = message.produced
    return out


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
    produced = _produced_times(sim)
    flows = {}
    for flow in sim.books.flows:
        index = flow.stream.index
        oldest = next(
            (now - produced[(index, i)] for i in flow.oldest_in_flight() if (index, i) in produced),
            0.0,
        )
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
            "lag_s": round(oldest, 6),
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
