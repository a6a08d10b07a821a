"""Messaging cases the semantic fuzz (tests/semantic_mutations.py) led to, kept as regressions.

Each is a minimal scenario that ``validate_data`` accepts. A known engine bug is
marked ``xfail(strict=True, raises=AssertionError)``: the test fails loudly once
the engine is fixed, so the mark is removed with the fix.
"""

from __future__ import annotations

import pytest

from simulator.analysis import summarize
from simulator.engine import Simulation
from simulator.scenario import ScenarioError, parse_scenario

BALANCER_PUBLISHES = """
murphy: 1
name: a balancer that publishes
seed: 1
duration: 10s
nodes:
  users:
    kind: client
    rate: 100/s
    calls: [{to: lb}]
  lb:
    kind: balancer
    calls: [{to: a}, {to: b}]
    publishes: [{to: bus, queue: q}]
  a:
    kind: service
    service_time: {dist: constant, value: 1ms}
  b:
    kind: service
    service_time: {dist: constant, value: 1ms}
  bus:
    kind: broker
    queues: {q: {}}
  c:
    kind: consumer
    broker: bus
    queue: q
"""


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="a balancer picks its publish as one more backend (Balancer._next_call chooses "
    "among all its sites, publishes included): a third of the requests go to the broker "
    "instead of a backend, and the others publish nothing",
)
def test_a_balancer_publishes_after_its_backend_not_instead_of_one() -> None:
    try:
        scenario = parse_scenario(BALANCER_PUBLISHES, "<balancer publishes>")
    except ScenarioError:
        return  # refusing publishes on a balancer, as on a broker, is a fix too
    sim = Simulation(scenario).run_to_end()
    assert sim.check_invariants() == []
    edges = summarize(sim)["edges"]
    arrived = edges["users->lb"]["requests"]
    to_backends = edges["lb->a"]["requests"] + edges["lb->b"]["requests"]
    assert to_backends == arrived, f"{arrived} requests, {to_backends} sent to a backend"
