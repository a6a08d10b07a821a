"""Semantic fuzz: valid mutations of the example scenarios run clean and replay exactly.

Each case (tests/semantic_mutations.py) is an example scenario with its knobs moved
within range, policies switched on and off and random faults on random targets,
run for 20 simulated seconds. It must run without an exception, every request must
end in exactly one outcome (the engine's invariants), the slot policies must be
within their bounds at the end, and every fifth case, run again with the same
seed in uneven chunks (as the app streams a run), must keep the invariants after
every chunk and give the same summary. Cases with messaging (a broker, publishers,
relays, consumers: about half of them) must also keep the message books
conserved and in step with what the components hold (the engine's own check),
plus the bounds in ``message_bounds``: queues within capacity, consumers within
prefetch, and the promises the docs make (an outbox loses nothing unless the
broker does; a one-worker consumer whose dedupe store remembers every id applies
nothing twice). Every case's failure-mode report must render (every seventh with
its faults' blast radius measured). ``MURPHY_SEMANTIC_FUZZ`` sets how many cases (40 by default,
about five seconds); ``python tools/fuzz_semantic.py N`` runs thousands.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from semantic_mutations import Case, make_case

from simulator.analysis import summarize
from simulator.blast_radius import blast_radius
from simulator.components.broker import Broker
from simulator.components.consumer import Consumer
from simulator.engine import Simulation
from simulator.messages import LOSS_REASONS
from simulator.report import report_markdown
from simulator.scenario import Relay, Scenario

CASES = int(os.environ.get("MURPHY_SEMANTIC_FUZZ", "40"))
REPLAY_EVERY = 5
REPORT_BLAST_EVERY = 7  # cases whose report also measures each fault's blast radius
CHUNKS = (0.37, 1.0, 3.3)  # simulated seconds per chunk of a replay


def run_case(case: Case) -> tuple[Simulation, dict[str, Any]]:
    sim = Simulation(case.scenario).run_to_end()
    return sim, summarize(sim)


def run_in_chunks(case: Case, chunk: float) -> tuple[Simulation, dict[str, Any], list[str]]:
    """The case run ``chunk`` simulated seconds at a time, as the app streams it.

    After every chunk the engine's invariants are checked (they hold at any instant,
    not only at the end) and a live snapshot is taken (the app's view must not fail
    mid-run); the third value lists the invariants broken first, with the time.
    """
    sim = Simulation(case.scenario)
    found: list[str] = []

    def check(now: float, _horizon: float) -> None:
        if not found:
            found.extend(f"at {now:g}s: {p}" for p in sim.check_invariants())
        sim.snapshot()

    sim.run_to_end(chunk=chunk, progress=check)
    return sim, summarize(sim), found


def comparable(summary: dict[str, Any]) -> Any:
    """What two runs of one case must agree on: all but wall clock and the event count.

    The event count includes the events that end each chunk, so it depends on how
    the run was chunked; nothing else may.
    """
    return without_wall_clock({k: v for k, v in summary.items() if k != "events"})


def without_wall_clock(summary: Any) -> Any:
    """The summary minus the wall-clock fields, which no two runs share."""
    if isinstance(summary, dict):
        return {k: without_wall_clock(v) for k, v in summary.items() if "wall" not in k}
    if isinstance(summary, list):
        return [without_wall_clock(v) for v in summary]
    return summary


def problems(sim: Simulation, summary: dict[str, Any]) -> list[str]:
    """The engine's own invariants plus end-of-run bounds on clients and slot policies."""
    found = list(sim.check_invariants()) + list(summary.get("invariants", []))
    for name, client in sim.clients.items():
        stats = client.stats
        ended = sum(stats.outcomes_total.values())
        if stats.started_total != ended + client.in_flight:
            found.append(f"{name}: {stats.started_total} started != {ended} ended "
                         f"+ {client.in_flight} in flight")  # fmt: skip
    for edge, site in sim.sites.items():
        for label, slots in (("bulkhead", site.bulkhead), ("pool", site.pool)):
            if slots is None:
                continue
            if not 0 <= slots.in_use <= slots.capacity:
                found.append(f"{edge} {label}: {slots.in_use} in use of {slots.capacity}")
            if slots.waiting and slots.in_use < slots.capacity:
                found.append(f"{edge} {label}: {slots.waiting} wait beside a free slot")
        st = site.stats
        if st.finished > st.requests or st.attempts < st.finished:
            found.append(f"{edge}: {st.requests} requests, {st.attempts} attempts, "
                         f"{st.finished} finished")  # fmt: skip
    return found + message_bounds(sim)


def message_bounds(sim: Simulation) -> list[str]:
    """What the message books and the brokers and consumers must satisfy at the end."""
    found = []
    scenario = sim.scenario
    for flow in sim.books.flows:
        stream, key = flow.stream, flow.key
        if not stream.published <= stream.produced:
            found.append(f"{key}: {stream.published} published of {stream.produced} produced")
        if not flow.delivered <= min(flow.produced, flow.deliveries):
            found.append(f"{key}: {flow.delivered} delivered, {flow.produced} produced, "
                         f"{flow.deliveries} deliveries")  # fmt: skip
        if flow.duplicates > flow.deliveries or flow.applied > flow.deliveries:
            found.append(f"{key}: {flow.deliveries} deliveries, {flow.duplicates} duplicates, "
                         f"{flow.applied} applied")  # fmt: skip
        if flow.applied_twice > flow.applied:
            found.append(f"{key}: {flow.applied_twice} applied twice of {flow.applied}")
        if flow.consumer is None and flow.deliveries:
            found.append(f"{key}: {flow.deliveries} deliveries with no consumer")
        if sum(flow.lost_by.values()) != flow.lost or not set(flow.lost_by) <= set(LOSS_REASONS):
            found.append(f"{key}: {flow.lost} lost, by {flow.lost_by}")
        producer = scenario.nodes.get(stream.producer)
        if isinstance(producer, Relay) and flow.lost and not _broker_loses(scenario, stream):
            # The outbox's promise: rows leave only once acknowledged, so only the broker
            # (a drop after the ack, retention, a crash without durability) can lose one.
            found.append(f"{key}: the outbox lost {flow.lost} ({flow.lost_by})")
        if flow.applied_twice and _remembers_everything(sim, flow.consumer):
            found.append(f"{key}: {flow.applied_twice} applied twice by a one-worker consumer "
                         "whose dedupe store remembers every id")  # fmt: skip
    by_queue: dict[tuple[str, str], list[Any]] = {}
    for flow in sim.books.flows:
        by_queue.setdefault((flow.stream.broker, flow.stream.queue), []).append(flow)
    for name, server in sim.servers.items():
        if isinstance(server, Broker):
            for queue, stats in server.queue_stats.items():
                flows = by_queue.get((name, queue), [])
                # The broker's own counters and the books count the same deliveries.
                if stats.delivered != sum(f.deliveries for f in flows):
                    found.append(f"{name}.{queue}: {stats.delivered} delivered, the books "
                                 f"count {sum(f.deliveries for f in flows)}")  # fmt: skip
                for sub in stats.subscriptions:
                    group = sub.consumer.name if sub.consumer is not None else None
                    mine = [f for f in flows if f.consumer == group]
                    dead = sum(f.dead_lettered for f in mine)
                    expired = sum(f.lost_by.get("expired", 0) for f in mine)
                    if dead > sub.dead_letters or expired > sub.expired:
                        found.append(f"{name}.{queue}->{group}: ids dead-lettered {dead}, "
                                     f"expired {expired}; copies {sub.dead_letters}, "
                                     f"{sub.expired}")  # fmt: skip
                    if len(sub) > sub.spec.capacity:
                        found.append(f"{name}.{queue}: {len(sub)} held, capacity "
                                     f"{sub.spec.capacity}")  # fmt: skip
                    if server.down and sub.unacked:
                        found.append(f"{name}.{queue}: {len(sub.unacked)} out while down")
        elif isinstance(server, Consumer):
            held = server.busy + len(server.queue)
            if held > server.prefetch:
                found.append(f"{name}: holds {held}, prefetch {server.prefetch}")
            applied = sum(f.applied for f in sim.books.flows if f.consumer == name)
            if server.processed != applied:
                found.append(f"{name}: processed {server.processed}, the books applied {applied}")
    return found


def _broker_loses(scenario: Scenario, stream: Any) -> bool:
    """Whether the broker itself may lose messages of ``stream`` (so an outbox can too)."""
    broker = scenario.nodes[stream.broker]
    faults = [f for f in scenario.faults if f.target == stream.broker]
    return (
        broker.queues[stream.queue].retention is not None
        or any(f.kind == "message_drop" and f.when == "after_ack" for f in faults)
        or (not broker.durable and any(f.kind == "crash" for f in faults))
    )


def _remembers_everything(sim: Simulation, consumer: str | None) -> bool:
    """One worker (no two copies at once) and a store that forgets nothing in the run."""
    spec = sim.scenario.nodes.get(consumer or "")
    produced = sum(stream.produced for stream in sim.books.streams.values())
    return (
        spec is not None
        and spec.workers == 1
        and spec.dedupe is not None
        and spec.dedupe.capacity >= produced
        and spec.dedupe.window > sim.scenario.duration
    )


@pytest.mark.parametrize("index", range(CASES))
def test_valid_mutation_runs_clean(index: int) -> None:
    case = make_case(index)
    sim, summary = run_case(case)
    found = problems(sim, summary)
    assert found == [], f"case {index} (from {case.example}): {found[:5]}"
    # the failure-mode report reads any valid run: its recoveries, dependencies and faults
    full = summary
    if index % REPORT_BLAST_EVERY == 0 and case.scenario.faults:  # and its failure modes
        full = summarize(sim, blast_radius(case.scenario, sim.seed, sim))
    report = report_markdown(case.scenario, full, sim)
    assert "## Recovery procedures observed" in report, f"case {index} (from {case.example})"
    if index % REPLAY_EVERY == 0:  # again, in uneven chunks with checks between them
        _, again, midway = run_in_chunks(case, CHUNKS[index // REPLAY_EVERY % len(CHUNKS)])
        assert midway == [], f"case {index} (from {case.example}): {midway[:5]}"
        assert comparable(again) == comparable(summary), (
            f"case {index} (from {case.example}): same seed, different summary"
        )


def test_mutations_are_deterministic_and_varied() -> None:
    """Same index, same scenario; different indices differ (the fuzz is not one case)."""
    first = make_case(3).scenario
    assert make_case(3).scenario == first
    assert make_case(3, seed=1).scenario != first
    assert len({make_case(i).scenario.seed for i in range(10)}) == 10
