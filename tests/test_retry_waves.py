"""Exponential backoff without jitter synchronises retries into waves; full jitter spreads them."""

from __future__ import annotations

import numpy as np
from engine_helpers import example, run

from simulator.timeseries import time_series
from simulator.variants import apply_override


def payments_load(strategy: str) -> tuple[np.ndarray, np.ndarray, dict]:
    scenario = apply_override(
        example("retry-waves.yaml"), "nodes.checkout.calls[0].retry.strategy", strategy
    )
    sim, out = run(scenario)
    columns = time_series(sim)
    per_second = columns["node.payments.arrivals"] / scenario.bucket
    return columns["time_s"], per_second, out


def test_plain_exponential_backoff_comes_back_in_waves_and_jitter_spreads_them() -> None:
    t, plain, plain_out = payments_load("exponential")
    _, jitter, jitter_out = payments_load("full_jitter")
    after = t >= 20.0  # the crash fails a queue full of calls at one instant
    assert plain[after].max() > 5 * jitter[after].max()
    # the waves land on the backoff schedule: 1 s and 3 s after the crash
    wave_times = t[after][plain[after] > 10 * np.median(plain)]
    assert any(abs(w - 21.0) < 0.2 for w in wave_times)
    assert any(abs(w - 23.0) < 0.2 for w in wave_times)
    # jitter does not retry less, it retries at different moments
    plain_attempts = plain_out["edges"]["checkout->payments"]["attempts"]
    assert jitter_out["edges"]["checkout->payments"]["attempts"] >= plain_attempts
    assert plain_out["invariants"] == jitter_out["invariants"] == []
