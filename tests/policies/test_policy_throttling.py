"""SRE-book adaptive throttling: the formula, window expiry, bounded memory."""

from __future__ import annotations

import random

import pytest

from simulator.policies import AdaptiveThrottle
from simulator.scenario_policies import AdaptiveThrottling


class FixedRng:
    """A random stream that always returns ``value`` (or fails if used at all)."""

    def __init__(self, value: float | None) -> None:
        self.value = value

    def random(self) -> float:
        assert self.value is not None, "the random stream should not be consulted"
        return self.value

    def uniform(self, a: float, b: float) -> float:
        raise AssertionError("not used")


def throttle(k: float = 2.0, window: float = 120.0) -> AdaptiveThrottle:
    return AdaptiveThrottle(AdaptiveThrottling(k=k, window=window))


def load(t: AdaptiveThrottle, now: float, requests: int, accepts: int) -> None:
    never = FixedRng(0.999999)
    for i in range(requests):
        t.may_send(now, never)
        if i < accepts:
            t.record_accept(now)


def test_healthy_backend_never_throttles_nor_draws() -> None:
    t = throttle()
    untouched = FixedRng(None)
    for i in range(1000):
        assert t.may_send(i * 0.1, untouched)
        t.record_accept(i * 0.1)
    assert t.local_rejects == 0


@pytest.mark.parametrize(("k", "requests", "accepts"), [(2.0, 100, 10), (1.5, 50, 20), (2, 9, 5)])
def test_probability_matches_formula(k: float, requests: int, accepts: int) -> None:
    t = throttle(k=k)
    load(t, 1.0, requests, accepts)
    assert t.counts(1.0) == (requests, accepts)
    expected = max(0.0, (requests - k * accepts) / (requests + 1))
    assert t.rejection_probability(1.0) == pytest.approx(expected)
    if expected > 0:
        assert not t.may_send(1.0, FixedRng(expected - 1e-9))
        again = t.rejection_probability(1.0)  # the refused request counted too
        assert again == pytest.approx((requests + 1 - k * accepts) / (requests + 2))
        assert t.may_send(1.0, FixedRng(again + 1e-9))
    assert t.counts(1.0)[0] == requests + (2 if expected > 0 else 0)


def test_rejected_requests_still_count() -> None:
    t = throttle()
    load(t, 0.0, 10, 0)
    assert not t.may_send(0.0, FixedRng(0.0))
    assert t.counts(0.0) == (11, 0)
    assert t.local_rejects == 1


def test_reject_frequency_with_a_refusing_backend() -> None:
    """No accepts: the i-th request (0-based) is rejected with probability i/(i+1)."""
    t = throttle(window=1e6)
    rng = random.Random(7)
    n = 4000
    rejects = sum(not t.may_send(0.0, rng) for _ in range(n))
    expected = sum(i / (i + 1) for i in range(n))
    variance = sum((i / (i + 1)) * (1 / (i + 1)) for i in range(n))
    assert abs(rejects - expected) < 5 * variance**0.5
    assert t.local_rejects == rejects


def test_window_forgets_old_refusals() -> None:
    t = throttle(window=10.0)
    load(t, 0.0, 100, 0)
    assert t.rejection_probability(0.0) > 0.9
    assert t.rejection_probability(9.0) > 0.9
    assert t.rejection_probability(10.5) == 0.0
    assert t.counts(10.5) == (0, 0)


def test_accepts_bring_probability_down() -> None:
    t = throttle(k=2.0)
    load(t, 0.0, 100, 0)
    for _ in range(50):
        t.record_accept(1.0)
    assert t.rejection_probability(1.0) == 0.0


def test_memory_is_bounded() -> None:
    t = throttle(window=30.0)
    rng = random.Random(1)
    for i in range(20_000):
        now = i * 0.05
        t.may_send(now, rng)
        if i % 3:
            t.record_accept(now)
    assert len(t._counts) <= t._counts.buckets
