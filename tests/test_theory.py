"""Queueing theory beside the simulation: Erlang C's prediction for a node, and its caveats."""

from __future__ import annotations

import pytest
from engine_helpers import example, run, scenario

from simulator.analysis import erlang_b, summarize
from simulator.engine import Simulation
from simulator.theory import measured, predict

ONE = """
murphy: 1
name: one queue
seed: {seed}
duration: {duration}
warmup: 20s
nodes:
  users: {{kind: client, rate: {rate}}}
  server:
    kind: service
    workers: {workers}
    queue: {queue}
    service_time: {service}
faults: []
"""


def one(rate="90/s", workers=2, queue="null", service="{dist: exponential, mean: 20ms}",
        duration="400s", seed=1, extra=""):  # fmt: skip
    text = ONE.format(rate=rate, workers=workers, queue=queue, service=service,
                      duration=duration, seed=seed)  # fmt: skip
    text = text.replace("users: {kind: client, rate: " + rate + "}",
                        "users: {kind: client, rate: " + rate + ", calls: [{to: server" + extra
                        + "}]}")  # fmt: skip
    return scenario(text)


@pytest.mark.parametrize(
    ("name", "wq", "pw"), [("mm1.yaml", 0.040, 0.8), ("mmc.yaml", 0.00286, 0.458)]
)
def test_the_queueing_examples_match_erlang_c(name: str, wq: float, pw: float) -> None:
    sc = example(name)
    prediction = predict(sc, "server")
    assert prediction is not None and prediction.exact and not prediction.caveats
    assert prediction.model == "M/M/c" and prediction.utilization == pytest.approx(0.8)
    assert prediction.mean_wait == pytest.approx(wq, rel=0.01)
    assert prediction.wait_probability == pytest.approx(pw, rel=0.01)
    assert prediction.mean_queue == pytest.approx(prediction.arrival_rate * wq, rel=0.01)
    sim, summary = run(sc)
    seen = measured(summary, "server", sim.scenario)
    assert seen is not None
    assert seen.utilization == pytest.approx(prediction.utilization, rel=0.02)
    assert seen.wait_probability == pytest.approx(prediction.wait_probability, rel=0.05)
    assert seen.mean_wait == pytest.approx(prediction.mean_wait, rel=0.08)
    assert seen.mean_queue == pytest.approx(prediction.mean_queue, rel=0.08)
    assert seen.arrival_rate == pytest.approx(prediction.arrival_rate, rel=0.02)


def test_no_waiting_room_is_erlang_b_and_a_small_queue_is_mmck() -> None:
    loss = predict(one(queue=0, workers=3, rate="120/s"), "server")
    assert loss is not None and loss.model == "M/M/c/K"
    assert loss.blocking == pytest.approx(erlang_b(3, 120 * 0.020))
    assert loss.wait_probability == pytest.approx(0.0, abs=1e-12)
    sc = one(queue=3, workers=2, rate="110/s", duration="600s")  # ρ = 1.1: fine with a limit
    small = predict(sc, "server")
    assert small is not None and small.stable and small.exact
    _, summary = run(sc)
    seen = measured(summary, "server", sc)
    assert seen is not None and seen.blocking is not None
    assert seen.blocking == pytest.approx(small.blocking, rel=0.08)
    assert seen.utilization == pytest.approx(small.utilization, rel=0.03)
    assert seen.mean_queue == pytest.approx(small.mean_queue, rel=0.08)


def test_an_unbounded_queue_past_full_load_is_unstable() -> None:
    p = predict(one(rate="120/s", workers=2), "server")
    assert p is not None and not p.stable and p.mean_wait is None
    assert "grows without bound" in p.caveats[0]


def test_non_exponential_service_is_allen_cunneen_and_says_so() -> None:
    exp = predict(one(), "server")
    const = predict(one(service="{dist: constant, value: 20ms}"), "server")
    assert exp is not None and const is not None and not const.exact
    assert const.model == "M/G/c (approx.)"
    assert const.mean_wait == pytest.approx(exp.mean_wait / 2)  # (1 + 0) / 2
    assert any("not exponential" in c for c in const.caveats)


def test_every_broken_assumption_is_named() -> None:
    p = predict(example("retry-storm.yaml"), "inventory")
    assert p is not None and not p.exact
    text = " ".join(p.caveats)
    assert "retries" in text and "through api" in text and "throttled to 30% on inventory" in text
    upstream = predict(example("retry-storm.yaml"), "api")
    assert upstream is not None
    assert any("calls to inventory" in c for c in upstream.caveats)
    assert any("on inventory" in c for c in upstream.caveats)  # a fault below it counts too
    closed = scenario("""
murphy: 1
name: closed
duration: 10s
nodes:
  users: {kind: client, users: 10, think_time: {dist: exponential, mean: 1s}, calls: [{to: s}]}
  s: {kind: service, service_time: {dist: exponential, mean: 10ms}}
""")
    p = predict(closed, "s")
    assert p is not None and p.wait_probability is None and "closed loop" in p.caveats[0]
    assert predict(closed, "users") is None  # a client is not a queue


def test_the_rate_follows_the_calls_and_their_probability() -> None:
    sc = one(extra=", probability: 25%")
    p = predict(sc, "server")
    assert p is not None and p.arrival_rate == pytest.approx(22.5)


# What reaches a node behind a balancer, a cache, a gateway's routes: the examples say it in
# their descriptions, and a run without their faults measures it.
@pytest.mark.parametrize(
    ("name", "node", "rate", "duration"),
    [
        ("load-balancer.yaml", "app1", 200.0, 120.0),  # 600/s over three: each a quarter busy
        ("cold-cache.yaml", "db", 100.0, 150.0),  # the 10% misses of 1000/s: half busy
        ("bulkheads.yaml", "search", 100.0, 70.0),  # only search_clients' requests take it
    ],
)
def test_the_rate_follows_balancers_caches_and_routes(
    name: str, node: str, rate: float, duration: float
) -> None:
    sc = example(name, faults=[], duration=duration)
    p = predict(sc, node)
    assert p is not None and p.stable
    assert p.arrival_rate == pytest.approx(rate)
    _, summary = run(sc)
    seen = measured(summary, node, sc)
    assert seen is not None and seen.utilization is not None
    assert seen.arrival_rate == pytest.approx(p.arrival_rate, rel=0.04)
    assert seen.utilization == pytest.approx(p.utilization, rel=0.05)
    assert seen.blocking == pytest.approx(p.blocking or 0.0, abs=1e-3)


def test_a_cache_misses_are_erlang_c_at_its_origin() -> None:
    # Bernoulli misses of Poisson arrivals, delayed by the lookup, are Poisson: the database
    # behind a warm cache is M/M/c/K (4 workers, ρ = 0.5: P(wait) 17.4%, Wq 1.74 ms).
    sc = example("cold-cache.yaml", faults=[], duration=240.0)
    p = predict(sc, "db")
    assert p is not None and p.model == "M/M/c/K"
    assert p.wait_probability == pytest.approx(0.1739, rel=0.01)
    _, summary = run(sc)
    seen = measured(summary, "db", sc)
    assert seen is not None and seen.wait_probability is not None and seen.mean_wait is not None
    assert seen.wait_probability == pytest.approx(p.wait_probability, rel=0.12)
    assert seen.mean_wait == pytest.approx(p.mean_wait, rel=0.15)


def test_the_faults_that_move_the_measured_rate_are_named() -> None:
    # The cold cache's crash sends the database up to ten times its load: the run measures
    # far more than the warm prediction, and the caveat says why.
    cold = predict(example("cold-cache.yaml"), "db")
    assert cold is not None and not cold.exact
    assert any("cache's warm hit ratio" in c and "60–65 s" in c for c in cold.caveats)
    search = predict(example("bulkheads.yaml"), "search")
    assert search is not None
    assert any("latency +3s on search" in c for c in search.caveats)
    # Round robin keeps sending the slow app3 its third: app1's share does not move…
    app1 = predict(example("load-balancer.yaml"), "app1")
    assert app1 is not None and any("round robin" in c for c in app1.caveats)
    assert not any("move their share" in c for c in app1.caveats)
    # …least outstanding does move it.
    lo = example("load-balancer.yaml")
    lo = lo.model_copy(update={"nodes": {**lo.nodes, "lb": lo.nodes["lb"].model_copy(
        update={"strategy": "least_outstanding"})}})  # fmt: skip
    moved = predict(lo, "app1")
    assert moved is not None and any("move their share here" in c for c in moved.caveats)


def test_the_slow_and_the_dead_instance_show_in_the_measured_run() -> None:
    # With its faults the example still sends app1 its third (round robin): as predicted.
    sc = example("load-balancer.yaml", duration=130.0)
    p = predict(sc, "app1")
    _, summary = run(sc)
    seen = measured(summary, "app1", sc)
    assert p is not None and seen is not None
    assert seen.arrival_rate == pytest.approx(p.arrival_rate, rel=0.04)
    cold = example("cold-cache.yaml")
    _, summary = run(cold)
    seen = measured(summary, "db", cold)
    assert seen is not None and seen.arrival_rate > 1.5 * 100  # the herd, named above


MESSAGES = """
murphy: 1
name: messages
seed: 3
duration: 80s
warmup: 10s
nodes:
  users: {kind: client, rate: 80/s, calls: [{to: api}]}
  api:
    kind: service
    workers: 4
    service_time: {dist: exponential, mean: 2ms}
    publishes: [{to: bus, queue: events, probability: 50%}]
  bus: {kind: broker, queues: {events: {}}}
  worker:
    kind: consumer
    broker: bus
    queue: events
    workers: 4
    processing_time: {dist: exponential, mean: 5ms}
    calls: [{to: db}]
  db:
    kind: database
    workers: 2
    service_time: {dist: exponential, mean: 20ms}
"""


def test_a_consumers_calls_carry_the_rate_its_publishers_send() -> None:
    sc = scenario(MESSAGES)
    p = predict(sc, "db")
    assert p is not None and p.arrival_rate == pytest.approx(40.0)  # half of 80/s published
    assert any("consumer worker" in c for c in p.caveats)
    _, summary = run(sc)
    seen = measured(summary, "db", sc)
    assert seen is not None and seen.arrival_rate == pytest.approx(40.0, rel=0.05)
    # A consumer slower than its publishers processes what it can: its backlog grows.
    slow = scenario(MESSAGES.replace("mean: 5ms", "mean: 200ms"))
    capped = predict(slow, "db")
    assert capped is not None and capped.arrival_rate == pytest.approx(20.0)
    assert any("cannot keep up" in c for c in capped.caveats)


def test_a_node_nobody_reaches_is_no_exact_prediction() -> None:
    sc = scenario(MESSAGES.replace("calls: [{to: db}]", "calls: []"))
    p = predict(sc, "db")
    assert p is not None and p.arrival_rate == 0 and not p.exact
    assert "no client's requests reach it" in p.caveats


def test_a_huge_bounded_queue_past_full_load_fills_and_turns_the_rest_away() -> None:
    p = predict(one(rate="120/s", workers=2, queue=10_000_000), "server")  # ρ = 1.2
    assert p is not None and p.stable and not p.exact and p.model == "M/M/c/K"
    assert p.blocking == pytest.approx(1 - 1 / 1.2)
    assert p.mean_queue == 10_000_000 and p.mean_wait == pytest.approx(10_000_000 / 100)
    assert "fills in about 5e+05 s" in p.caveats[0]
    assert not any("without bound" in c for c in p.caveats)


def test_measured_rates_divide_by_the_span_the_run_covered() -> None:
    sc = one(duration="400s")
    sim = Simulation(sc, seed=1)
    sim.run(until=120.0)  # stopped early: 100 s after the warm-up
    summary = summarize(sim)
    seen = measured(summary, "server", sc)
    assert seen is not None
    assert seen.arrival_rate == pytest.approx(summary["nodes"]["server"]["arrivals"] / 100.0)
    assert seen.arrival_rate == pytest.approx(90.0, rel=0.05)
