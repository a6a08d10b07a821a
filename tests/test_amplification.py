"""Compound retry amplification per route: the worst case from the policies, and measured."""

from __future__ import annotations

import pytest
from engine_helpers import SCENARIOS, example, run, scenario

from simulator.amplification import call_edges, measured, measured_in_bucket, worst_case
from simulator.engine import Simulation
from simulator.scenario import load_scenario, scenario_to_data, validate_data
from simulator.scenario_nodes import Publish, call_edge_names, publish_edge_names
from simulator.timeseries import time_series

CHAIN = """
murphy: 1
name: chain
duration: 10s
nodes:
  users:
    kind: client
    rate: 10/s
    calls: [{{to: a, retry: {{strategy: immediate, attempts: 2}}}}]
  a:
    kind: service
    service_time: {{dist: constant, value: 1ms}}
    calls: [{{to: b, retry: {{strategy: immediate, attempts: 3}}{b_extra}}}]
  b:
    kind: service
    service_time: {{dist: constant, value: 1ms}}
    calls: [{{to: c, retry: {{strategy: immediate, attempts: 4}}{c_extra}}}, {{to: c}}]
  c:
    kind: database
    service_time: {{dist: constant, value: 1ms}}
"""


def chain(b_extra: str = "", c_extra: str = ""):
    return scenario(CHAIN.format(b_extra=b_extra, c_extra=c_extra))


def test_the_amplification_example_multiplies_to_27_at_the_database() -> None:
    amp = worst_case(example("amplification.yaml"))
    assert {e: a.worst for e, a in amp.items()} == {"users->web": 3, "web->api": 9, "api->db": 27}
    assert amp["api->db"].own == 3
    assert amp["api->db"].route == ("users", "web", "api", "db")
    assert amp["api->db"].clients == {"users"}


def test_every_layer_multiplies_and_a_repeated_target_is_its_own_edge() -> None:
    amp = worst_case(chain())
    assert amp["users->a"].worst == 2 and amp["a->b"].worst == 6
    assert amp["b->c"].worst == 24
    assert amp["b->c#1"].worst == 6 and amp["b->c#1"].own == 1  # no retry of its own


def test_a_fallback_is_named_not_counted() -> None:
    """A default fallback answers the caller when the callee fails, but the layers above
    still retry their own timeouts and errors, each try calling again: the semantic fuzz
    measured 1.58 attempts per request below a default fallback a cut product called 1."""
    default = worst_case(chain(c_extra=", fallback: {kind: default}"))
    assert default["b->c"].worst == 24
    assert any("default fallback" in n for n in default["b->c"].notes)
    cached = worst_case(chain(c_extra=", fallback: {kind: cached}"))
    assert cached["b->c"].worst == 24  # a stale cache fails like no fallback at all
    assert any("cached fallback" in n for n in cached["b->c"].notes)
    upper = worst_case(chain(b_extra=", fallback: {kind: default}"))
    assert upper["a->b"].worst == 6 and upper["b->c"].worst == 24


def test_a_retry_budget_and_a_breaker_are_named_not_counted() -> None:
    text = CHAIN.format(b_extra="", c_extra=", breaker: {failures: 5}")
    amp = worst_case(scenario(text.replace("attempts: 4}", "attempts: 4, budget: {percent: 10%}}")))
    assert amp["b->c"].worst == 24
    assert any("retry budget" in n for n in amp["b->c"].notes)
    assert any("breaker" in n for n in amp["b->c"].notes)


def test_a_call_cycle_is_walked_once() -> None:
    sc = scenario("""
murphy: 1
name: cycle
duration: 5s
nodes:
  users: {kind: client, rate: 1/s, calls: [{to: a}]}
  a: {kind: service, service_time: {dist: constant, value: 1ms},
      calls: [{to: b, retry: {strategy: immediate, attempts: 2}}]}
  b: {kind: service, service_time: {dist: constant, value: 1ms},
      calls: [{to: a, retry: {strategy: immediate, attempts: 2}}]}
""")
    amp = worst_case(sc)
    assert amp["a->b"].worst == 2 and amp["b->a"].worst == 4


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_measured_compound_matches_the_runs_counts(seed: int) -> None:
    sim, _ = run(example("amplification.yaml"), seed=seed)
    amp = worst_case(sim.scenario)
    columns = time_series(sim)
    # Over the whole run, from the time series…
    attempts = {e: float(columns[f"edge.{e}.attempts"].sum()) for e in amp}
    requests = {"users": float(columns["route.users.requests"].sum())}
    whole = measured(amp, attempts, requests)
    # …equals the run's own counters.
    started = sim.clients["users"].stats.started_total
    for edge in amp:
        assert whole[edge] == pytest.approx(sim.sites[edge].stats.attempts / started)
    # During the fault every request becomes about 27 queries at the database (noise: the
    # bucket's requests are Poisson, their retries may land in the next bucket).
    width = sim.scenario.bucket
    during = [measured_in_bucket(amp, columns, row)["api->db"] for row in range(
        int(25 / width), int(45 / width))]  # fmt: skip
    assert 24 < sum(during) / len(during) < 30
    before = [measured_in_bucket(amp, columns, row)["api->db"] for row in range(6, 18)]
    assert all(0.8 < x < 1.2 for x in before)


def test_a_route_only_some_clients_take_counts_only_their_requests() -> None:
    # bulkheads: gateway->search is only_for search_clients. Retried 3 times against a search
    # that always fails, it makes 3 attempts per search request: the users' and orders'
    # requests never take it, so they neither reach it nor divide its measured figure.
    data = scenario_to_data(example("bulkheads.yaml", faults=[], duration=30.0))
    data["nodes"]["gateway"]["calls"][2]["retry"] = {"strategy": "immediate", "attempts": 3}
    data["nodes"]["search"]["error_rate"] = 1.0
    sc = validate_data(data)
    amp = worst_case(sc)
    assert amp["gateway->search"].clients == {"search_clients"}
    assert amp["gateway->search"].worst == 3
    assert amp["gateway->users"].clients == {"users_clients"}
    assert amp["search_clients->gateway"].clients == {"search_clients"}
    _, summary = run(sc)
    attempts = {e: float(summary["edges"][e]["attempts"]) for e in amp}
    requests = {c: float(summary["routes"][c]["requests"]) for c in summary["routes"]}
    figures = measured(amp, attempts, requests)
    assert figures["gateway->search"] == pytest.approx(3.0, rel=0.01)
    assert figures["gateway->orders"] == pytest.approx(1.0, rel=0.01)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_the_edge_names_the_analyses_use_are_the_engines(path) -> None:
    sc = load_scenario(path)
    named = {
        edge
        for name, node in sc.nodes.items()
        for edge in (*call_edge_names(name, node.calls), *publish_edge_names(name, node.publishes))
    }
    assert named <= set(Simulation(sc).sites)
    assert {e for e, *_ in call_edges(sc)} <= named


def test_a_repeated_target_is_named_with_its_index_everywhere() -> None:
    sc = chain()
    assert call_edge_names("b", sc.nodes["b"].calls) == ["b->c", "b->c#1"]
    assert {"b->c", "b->c#1"} <= set(Simulation(sc).sites)
    assert publish_edge_names("p", [
        Publish(to="bus", queue="q"), Publish(to="bus", queue="r"), Publish(to="bus", queue="q")
    ]) == ["p->bus.q", "p->bus.r", "p->bus.q#2"]  # fmt: skip
