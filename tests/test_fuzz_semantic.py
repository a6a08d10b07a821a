"""Semantic fuzz: valid mutations of the example scenarios run clean and replay exactly.

Each case (tests/semantic_mutations.py) is an example scenario with its knobs moved
within range, policies switched on and off and random faults on random targets,
run for 20 simulated seconds. It must run without an exception, every request must
end in exactly one outcome (the engine's invariants), the slot policies must be
within their bounds at the end, and every fifth case, run again with the same
seed, must give the same summary. ``MURPHY_SEMANTIC_FUZZ`` sets how many cases
(50 by default); ``python tools/fuzz_semantic.py N`` runs thousands.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from semantic_mutations import Case, make_case

from simulator.analysis import summarize
from simulator.engine import Simulation

CASES = int(os.environ.get("MURPHY_SEMANTIC_FUZZ", "50"))
REPLAY_EVERY = 5


def run_case(case: Case) -> tuple[Simulation, dict[str, Any]]:
    sim = Simulation(case.scenario).run_to_end()
    return sim, summarize(sim)


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
    return found


@pytest.mark.parametrize("index", range(CASES))
def test_valid_mutation_runs_clean(index: int) -> None:
    case = make_case(index)
    sim, summary = run_case(case)
    found = problems(sim, summary)
    assert found == [], f"case {index} (from {case.example}): {found[:5]}"
    if index % REPLAY_EVERY == 0:
        _, again = run_case(case)
        assert without_wall_clock(again) == without_wall_clock(summary), (
            f"case {index} (from {case.example}): same seed, different summary"
        )


def test_mutations_are_deterministic_and_varied() -> None:
    """Same index, same scenario; different indices differ (the fuzz is not one case)."""
    first = make_case(3).scenario
    assert make_case(3).scenario == first
    assert make_case(3, seed=1).scenario != first
    assert len({make_case(i).scenario.seed for i in range(10)}) == 10
