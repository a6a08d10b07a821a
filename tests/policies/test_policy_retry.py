"""Backoff strategies: exact values, jitter bounds, uniformity, per-request state."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.policies import RetrySequence, make_backoff
from simulator.scenario_policies import Retry

FAST = settings(max_examples=60, deadline=None, derandomize=True)
durations = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


def delays(strategy: str, n: int, seed: int = 0, **kw: float) -> list[float]:
    seq = make_backoff(Retry(strategy=strategy, attempts=n + 1, **kw)).sequence()
    rng = random.Random(seed)
    return [seq.next_delay(rng) for _ in range(n)]


def test_none_never_retries() -> None:
    backoff = make_backoff(Retry(strategy="none", attempts=5))
    assert backoff.max_attempts == 1


def test_attempts_count_the_first_try() -> None:
    assert make_backoff(Retry(strategy="fixed", attempts=4)).max_attempts == 4


def test_deterministic_strategies() -> None:
    assert delays("immediate", 3, base=0.5) == [0.0, 0.0, 0.0]
    assert delays("fixed", 3, base=0.5) == [0.5, 0.5, 0.5]
    assert delays("exponential", 6, base=0.1, cap=1.0) == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    )


def test_retryable_outcomes() -> None:
    backoff = make_backoff(Retry(retry_on=["timeout"]))
    assert backoff.retryable("timeout")
    assert not backoff.retryable("error")
    assert not backoff.retryable("ok")
    default = make_backoff(Retry())
    assert not default.retryable("breaker_open")
    assert {o for o in ("error", "timeout", "rejected") if default.retryable(o)} == {
        "error",
        "timeout",
        "rejected",
    }


def test_many_doublings_do_not_overflow() -> None:
    seq = make_backoff(Retry(strategy="exponential", base=1.0, cap=5.0)).sequence()
    seq.retries = 5000
    assert seq.next_delay(random.Random(0)) == 5.0


@FAST
@given(
    strategy=st.sampled_from(["full_jitter", "equal_jitter", "exponential"]),
    base=durations,
    cap=durations,
    n=st.integers(1, 40),
    seed=st.integers(0, 2**32),
)
def test_exponential_family_bounds(strategy: str, base: float, cap: float, n: int, seed: int):
    for i, d in enumerate(delays(strategy, n, seed, base=base, cap=cap)):
        v = min(cap, base * 2.0**i)
        assert 0.0 <= d <= cap
        assert d <= v * (1 + 1e-12)
        if strategy == "equal_jitter":
            assert d >= v / 2 * (1 - 1e-12)
        if strategy == "exponential":
            assert d == pytest.approx(v)


@FAST
@given(base=durations, cap=durations, n=st.integers(1, 40), seed=st.integers(0, 2**32))
def test_decorrelated_bounds(base: float, cap: float, n: int, seed: int) -> None:
    previous = base
    for d in delays("decorrelated_jitter", n, seed, base=base, cap=cap):
        assert 0.0 <= d <= cap
        if cap >= base:
            assert d >= base * (1 - 1e-12)
            assert d <= max(base, 3 * previous) * (1 + 1e-12)
        else:
            assert d == cap
        previous = d


def ks_uniform(sample: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic of ``sample`` against U(0, 1)."""
    x = np.sort(sample)
    n = len(x)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - x), np.max(x - (i - 1) / n)))


def ks_critical(n: int, alpha: float = 0.001) -> float:
    return math.sqrt(-math.log(alpha / 2) / 2) / math.sqrt(n)


def jitter_sample(strategy: str, retry_index: int, n: int) -> np.ndarray:
    """``n`` delays before retry ``retry_index`` from ``n`` independent requests."""
    backoff = make_backoff(Retry(strategy=strategy, attempts=10, base=0.25, cap=60.0))
    rng = random.Random(20240601)
    out = np.empty(n)
    for k in range(n):
        seq = backoff.sequence()
        for _ in range(retry_index):
            seq.next_delay(rng)
        out[k] = seq.next_delay(rng)
    return out


@pytest.mark.parametrize("retry_index", [0, 3])
def test_full_jitter_is_uniform_on_its_range(retry_index: int) -> None:
    v = 0.25 * 2**retry_index
    sample = jitter_sample("full_jitter", retry_index, 5000) / v
    assert ks_uniform(sample) < ks_critical(len(sample))


def test_equal_jitter_is_uniform_on_upper_half() -> None:
    v = 0.25 * 2**2
    sample = jitter_sample("equal_jitter", 2, 5000)
    assert ks_uniform((sample - v / 2) / (v / 2)) < ks_critical(len(sample))


def test_ks_check_has_power() -> None:
    """The same check rejects equal jitter read as if it were full jitter."""
    v = 0.25 * 2**2
    sample = jitter_sample("equal_jitter", 2, 5000) / v
    assert ks_uniform(sample) > ks_critical(len(sample))


def test_decorrelated_state_is_per_sequence() -> None:
    backoff = make_backoff(Retry(strategy="decorrelated_jitter", base=0.1, cap=100.0))
    seq_a = backoff.sequence()
    rng_a = random.Random(1)
    alone_a = [seq_a.next_delay(rng_a) for _ in range(8)]

    seq_a, seq_b = backoff.sequence(), backoff.sequence()
    rng_a, rng_b = random.Random(1), random.Random(2)
    interleaved_a = []
    for _ in range(8):
        interleaved_a.append(seq_a.next_delay(rng_a))
        seq_b.next_delay(rng_b)
    assert interleaved_a == alone_a

    fresh = backoff.sequence()
    assert isinstance(fresh, RetrySequence)
    assert 0.1 <= fresh.next_delay(random.Random(3)) <= 0.3


def test_multiplier_grows_each_backoff_by_it() -> None:
    """resilience4j's exponential backoff: 500 ms, then ×1.5 per retry, capped."""
    got = delays("exponential", 5, base=0.5, multiplier=1.5, cap=1.5)
    assert got == pytest.approx([0.5, 0.75, 1.125, 1.5, 1.5])
    assert delays("full_jitter", 50, seed=3, base=1.0, multiplier=3.0, cap=100.0)[0] <= 1.0


def test_randomized_fixed_wait_stays_within_its_factor_and_spreads() -> None:
    got = [d for s in range(30) for d in delays("fixed", 99, seed=s, base=1.0, randomization=0.5)]
    assert min(got) >= 0.5 and max(got) <= 1.5
    assert min(got) < 0.55 and max(got) > 1.45  # the whole range is used
    assert float(np.mean(got)) == pytest.approx(1.0, abs=0.03)


def test_randomized_exponential_caps_after_the_draw() -> None:
    """resilience4j draws within ± the factor of base·mⁿ and then caps: a capped wait
    can sit exactly at the cap, never above it."""
    got = [delays("exponential", 4, seed=s, base=1.0, multiplier=2.0, randomization=0.5,
                  cap=5.0) for s in range(300)]  # fmt: skip
    third = [d[2] for d in got]  # g = 4: U(2, 6), capped at 5
    assert min(third) >= 2.0 and max(third) == 5.0
    assert 0.15 < sum(x == 5.0 for x in third) / len(third) < 0.35  # P(U(2,6) > 5) = 1/4
    assert all(d[3] == 5.0 or d[3] >= 4.0 for d in got)  # g = 8: U(4, 12) capped


def test_unset_knobs_draw_nothing_more() -> None:
    """Common random numbers: a fixed or exponential wait without randomization leaves
    the stream untouched, as before the knob existed."""
    rng = random.Random(1)
    seq = make_backoff(Retry(strategy="exponential", attempts=4)).sequence()
    [seq.next_delay(rng) for _ in range(3)]
    assert rng.random() == random.Random(1).random()


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"strategy": "fixed", "multiplier": 1.5}, "multiplier"),
        ({"strategy": "decorrelated_jitter", "multiplier": 3.0}, "multiplier"),
        ({"strategy": "full_jitter", "randomization": 0.5}, "randomization"),
        ({"strategy": "exponential", "multiplier": 0.5}, "greater than or equal"),
    ],
)
def test_shape_knobs_only_where_they_mean_something(fields: dict[str, object], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        Retry.model_validate(fields)


def test_huge_multiplier_does_not_overflow() -> None:
    seq = make_backoff(Retry(strategy="exponential", multiplier=100.0, cap=7.0)).sequence()
    seq.retries = 400
    assert seq.next_delay(random.Random(0)) == 7.0
    randomized = make_backoff(
        Retry(strategy="exponential", multiplier=100.0, cap=7.0, randomization=0.3)
    ).sequence()
    randomized.retries = 400
    assert randomized.next_delay(random.Random(0)) == 7.0
