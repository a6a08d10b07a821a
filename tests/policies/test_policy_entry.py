"""Fallback freshness, token bucket and max-in-flight shedding, bucketed windows."""

from __future__ import annotations

import pytest

from simulator.policies import FallbackPolicy, MaxInFlight, TokenBucket, make_limiter
from simulator.policies._window import SlidingCounts
from simulator.scenario_policies import Fallback, Limiter


def test_default_fallback_always_answers() -> None:
    f = FallbackPolicy(Fallback(kind="default"))
    assert f.answer(0.0)
    assert f.answer(1e9)
    assert f.served == 2


def test_fail_fallback_never_answers() -> None:
    f = FallbackPolicy(Fallback(kind="fail"))
    f.record_success(1.0)
    assert not f.answer(1.0)
    assert (f.served, f.stale_refusals) == (0, 0)


def test_cached_fallback_only_while_fresh() -> None:
    f = FallbackPolicy(Fallback(kind="cached", max_age=10.0))
    assert not f.answer(0.0)  # nothing cached yet
    f.record_success(5.0)
    assert f.answer(15.0)
    assert not f.answer(15.5)
    f.record_success(20.0)
    assert f.answer(21.0)
    assert (f.served, f.stale_refusals) == (2, 2)


def test_token_bucket_starts_full_then_sheds() -> None:
    b = TokenBucket(Limiter(kind="token_bucket", rate=10.0, burst=5))
    assert [b.allow(0.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert b.shed == 2
    assert b.allow(0.1)  # one token back after 1/rate
    assert not b.allow(0.1)
    b.release()  # a no-op
    assert b.tokens == pytest.approx(0.0)


def test_token_bucket_long_run_rate() -> None:
    rate, burst, seconds, offered = 50.0, 20, 200.0, 400.0
    b = TokenBucket(Limiter(kind="token_bucket", rate=rate, burst=burst))
    n = int(seconds * offered)
    admitted = sum(b.allow(i / offered) for i in range(n))
    assert admitted == pytest.approx(rate * seconds + burst, abs=2)
    assert b.admitted + b.shed == n


def test_token_bucket_caps_at_burst() -> None:
    b = TokenBucket(Limiter(kind="token_bucket", rate=100.0, burst=3))
    b.allow(0.0)
    assert sum(b.allow(100.0) for _ in range(10)) == 3


def test_max_in_flight() -> None:
    m = make_limiter(Limiter(kind="max_in_flight", max_in_flight=2))
    assert isinstance(m, MaxInFlight)
    assert [m.allow(0.0) for _ in range(3)] == [True, True, False]
    m.release()
    assert m.allow(1.0)
    assert (m.shed, m.in_flight, m.max_seen) == (1, 2, 2)
    m.release()
    m.release()
    with pytest.raises(RuntimeError):
        m.release()


def test_make_limiter_builds_a_bucket() -> None:
    assert isinstance(make_limiter(Limiter()), TokenBucket)


def test_sliding_counts_bounded_and_exact_at_bucket_edges() -> None:
    w = SlidingCounts(100.0, fields=1)
    assert (w.buckets, w.width) == (100, 1.0)
    for i in range(10_000):
        w.add(i * 0.1, 1)
    assert len(w) <= w.buckets
    assert w.totals(999.9) == (1000,)  # buckets 900..999 hold ten events each
    assert w.totals(2000.0) == (0,)


@pytest.mark.parametrize(("window", "buckets"), [(0.5, 10), (2.5, 10), (120.0, 120), (1e6, 1000)])
def test_sliding_counts_bucket_count(window: float, buckets: int) -> None:
    w = SlidingCounts(window, fields=2)
    assert w.buckets == buckets
    assert w.width * w.buckets == pytest.approx(window)
