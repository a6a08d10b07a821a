"""Queueing theory beside the simulation: Erlang C's prediction for a node, and its caveats."""

from __future__ import annotations

import pytest
from engine_helpers import example, run, scenario

from simulator.analysis import erlang_b
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
