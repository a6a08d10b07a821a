"""The engine against queueing theory: closed forms, averaged over seeded replications.

Each check averages a few independent replications (fixed seeds, so the test is
deterministic) of a few hundred thousand customers; the tolerance is 3%.
"""

from __future__ import annotations

import math

import pytest
from engine_helpers import run, scenario

from simulator.analysis import erlang_b, mmc_wait


def single_queue(rate: float, service: str, workers: int, queue: str, duration: float) -> str:
    return f"""
murphy: 1
name: queue
duration: {duration}s
warmup: 50s
nodes:
  source:
    kind: client
    rate: {rate}/s
    calls: [{{to: server}}]
  server:
    kind: service
    workers: {workers}
    queue: {queue}
    service_time: {service}
"""


def replicated(text: str, seeds: range) -> list[dict]:
    sc = scenario(text)
    return [run(sc, seed=s)[1]["nodes"]["server"] for s in seeds]


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_mm1_wait_and_sojourn_match_closed_form() -> None:
    lam, mu = 80.0, 100.0
    nodes = replicated(
        single_queue(lam, "{dist: exponential, mean: 10ms}", 1, "null", 2500), range(4)
    )
    wq = mean([n["mean_queue_wait_ms"] for n in nodes]) / 1000
    w = mean([n["mean_sojourn_ms"] for n in nodes]) / 1000
    assert wq == pytest.approx((lam / mu) / (mu - lam), rel=0.03)
    assert w == pytest.approx(1 / (mu - lam), rel=0.03)
    assert mean([n["utilization"] for n in nodes]) == pytest.approx(0.8, rel=0.01)


def test_mmc_with_eight_workers_matches_erlang_c() -> None:
    lam, mean_service, c = 640.0, 0.010, 8
    nodes = replicated(
        single_queue(lam, "{dist: exponential, mean: 10ms}", c, "null", 300), range(3)
    )
    wq = mean([n["mean_queue_wait_ms"] for n in nodes]) / 1000
    w = mean([n["mean_sojourn_ms"] for n in nodes]) / 1000
    expected_wq = mmc_wait(lam, mean_service, c)
    assert wq == pytest.approx(expected_wq, rel=0.03)
    assert w == pytest.approx(expected_wq + mean_service, rel=0.03)


def test_md1_matches_pollaczek_khinchine() -> None:
    lam, mu = 80.0, 100.0
    rho = lam / mu
    nodes = replicated(
        single_queue(lam, "{dist: constant, value: 10ms}", 1, "null", 1500), range(3)
    )
    wq = mean([n["mean_queue_wait_ms"] for n in nodes]) / 1000
    assert wq == pytest.approx(rho / (2 * mu * (1 - rho)), rel=0.03)


def test_no_waiting_room_blocks_as_erlang_b() -> None:
    # Erlang B is insensitive to the service distribution; lognormal checks that too.
    lam, c = 800.0, 10
    service = "{dist: exponential, mean: 10ms}"
    nodes = replicated(single_queue(lam, service, c, "0", 200), range(3))
    blocked = sum(n["rejected"] for n in nodes) / sum(n["arrivals"] for n in nodes)
    assert blocked == pytest.approx(erlang_b(c, lam * 0.010), rel=0.03)


def test_littles_law_holds_at_every_node() -> None:
    _sim, out = run(
        scenario(single_queue(640, "{dist: lognormal, median: 8ms, p99: 60ms}", 8, "50", 300))
    )
    node = out["nodes"]["server"]
    span = out["duration_s"] - out["warmup_s"]
    throughput = node["accepted"] / span
    assert node["mean_in_system"] == pytest.approx(
        throughput * node["mean_sojourn_ms"] / 1000, rel=0.02
    )


def test_histogram_percentiles_within_one_percent() -> None:
    import numpy as np

    from simulator.metrics import LogHistogram

    values = np.random.default_rng(3).lognormal(mean=-4, sigma=1.2, size=200_000)
    hist = LogHistogram()
    for v in values.tolist():
        hist.record(v)
    for q in (50, 90, 99, 99.9):
        exact = float(np.percentile(values, q, method="inverted_cdf"))
        assert math.isclose(hist.percentile(q), exact, rel_tol=0.01), q
