"""The semantic fuzz's mutated scenarios through the two read-only views of issue 12: the
compound amplification's worst case bounds what a run measures, and the queueing-theory
prediction never fails and stays within its ranges. ``MURPHY_SEMANTIC_FUZZ`` sets how many
cases (40 by default), as for ``test_fuzz_semantic``."""

from __future__ import annotations

import math
import os

import networkx as nx
import pytest
from semantic_mutations import make_case

from simulator.amplification import measured, worst_case
from simulator.engine import Simulation
from simulator.theory import predict

CASES = int(os.environ.get("MURPHY_SEMANTIC_FUZZ", "40"))


@pytest.mark.parametrize("index", range(CASES))
def test_worst_case_bounds_the_measured_amplification(index: int) -> None:
    case = make_case(index)
    sc = case.scenario
    amp = worst_case(sc)
    for name in sc.nodes:
        p = predict(sc, name)
        if p is None:
            continue
        assert p.utilization >= 0 and (p.caveats or p.exact)
        for value in (p.wait_probability, p.blocking):
            assert value is None or 0.0 <= value <= 1.0 + 1e-9, (case, name, p)
        for value in (p.mean_wait, p.mean_queue):
            assert value is None or (value >= 0 and math.isfinite(value)), (case, name, p)
    calls = nx.DiGraph((n, c.to) for n, s in sc.nodes.items() for c in s.calls)
    if not nx.is_directed_acyclic_graph(calls):
        return  # a cycle is walked once: the bound is claimed for acyclic calls only
    sim = Simulation(sc).run_to_end()
    attempts = {e: float(sim.sites[e].stats.attempts) for e in amp if e in sim.sites}
    requests = {c: float(sim.clients[c].stats.started_total) for c in sim.clients}
    for edge, figure in measured(amp, attempts, requests).items():
        assert figure <= amp[edge].worst * (1 + 1e-9), (case.example, index, edge, figure)
