"""Messaging cases the semantic fuzz (tests/semantic_mutations.py) led to, kept as regressions.

Each is a minimal scenario; the tests pin what the engine (or the schema) now does.
"""

from __future__ import annotations

import pytest

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


def test_a_balancer_or_a_cache_refuses_publishes() -> None:
    """A balancer picked its publish as one more backend; both kinds only pass requests on."""
    with pytest.raises(ScenarioError, match=r"nodes\.lb: a balancer only passes requests on"):
        parse_scenario(BALANCER_PUBLISHES, "<balancer publishes>")
    cache = BALANCER_PUBLISHES.replace("kind: balancer", "kind: cache").replace(
        "calls: [{to: a}, {to: b}]", "calls: [{to: a}]"
    )
    with pytest.raises(ScenarioError, match=r"nodes\.lb: a cache only answers or calls its origin"):
        parse_scenario(cache, "<cache publishes>")
