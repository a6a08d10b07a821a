"""Circuit breaker: resilience4j's state machine, its windows, and the simple form."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.policies import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from simulator.scenario_policies import Breaker


def breaker(**kw: Any) -> CircuitBreaker:
    return CircuitBreaker(Breaker(**kw))


def call(b: CircuitBreaker, now: float, outcome: str = "ok", duration: float = 0.01) -> bool:
    """Try a call at ``now``; if permitted, record its outcome at once."""
    if not b.try_acquire(now):
        return False
    b.record(now, outcome, duration)
    return True


def test_count_window_opens_only_once_min_calls_are_in() -> None:
    b = breaker(window_calls=10, min_calls=5, failure_rate=0.5)
    for i in range(4):
        call(b, i, "error")
    assert b.state == CLOSED  # 100% failures, but only 4 calls
    call(b, 4, "error")
    assert b.state == OPEN
    assert b.transitions == [(4, CLOSED, OPEN)]
    assert b.opens == 1


def test_count_window_rate_threshold_is_inclusive() -> None:
    b = breaker(window_calls=10, min_calls=10, failure_rate=0.3)
    for i in range(7):
        call(b, i, "ok")
    for i in range(2):
        call(b, 7 + i, "error")
    assert b.state == CLOSED
    call(b, 9, "timeout")
    assert b.state == OPEN  # exactly 30%


def test_count_window_slides() -> None:
    b = breaker(window_calls=4, min_calls=4, failure_rate=0.75)
    for outcome in ["error", "error", "ok", "ok", "ok", "error", "error"]:
        call(b, 0, outcome)
    assert b.state == CLOSED  # the last four: ok ok error error = 50%
    call(b, 0, "error")
    assert b.state == OPEN


def test_min_calls_capped_at_count_window() -> None:
    b = breaker(window_calls=3, min_calls=100)
    for _ in range(3):
        call(b, 0, "error")
    assert b.state == OPEN


def test_only_recorded_outcomes_are_failures() -> None:
    b = breaker(window_calls=2, min_calls=2, record_on=["timeout"])
    call(b, 0, "error")
    call(b, 0, "rejected")
    assert b.state == CLOSED
    call(b, 0, "timeout")
    assert b.state == OPEN


def test_time_window_forgets_old_calls() -> None:
    b = breaker(window=10.0, min_calls=3, failure_rate=0.5)
    call(b, 0.0, "error")
    call(b, 1.0, "error")
    assert b.stats(1.0) == (2, 2, 0)
    call(b, 20.0, "error")  # the first two aged out: one call in the window
    assert b.state == CLOSED
    assert b.stats(20.0) == (1, 1, 0)
    call(b, 21.0, "ok")
    call(b, 22.0, "error")
    assert b.state == OPEN


def test_slow_calls_open_the_breaker() -> None:
    b = breaker(window_calls=4, min_calls=4, slow_call_duration=1.0, slow_call_rate=0.5)
    call(b, 0, "ok", 0.1)
    call(b, 0, "ok", 0.2)
    call(b, 0, "ok", 1.0)
    assert b.state == CLOSED
    call(b, 0, "ok", 5.0)
    assert b.state == OPEN
    assert b.stats(0) == (0, 0, 0)  # window discarded


def test_no_slow_calls_without_a_slow_duration() -> None:
    b = breaker(window_calls=2, min_calls=2, slow_call_rate=0.0, failure_rate=0.0)
    call(b, 0, "ok", 100.0)
    call(b, 0, "ok", 100.0)
    assert b.state == CLOSED  # zero thresholds mean "on the first one", not "always"
    call(b, 0, "error")
    assert b.state == OPEN


def tripped(**kw: Any) -> CircuitBreaker:
    kw = {"window_calls": 2, "min_calls": 2, "open_for": 10.0, "half_open_calls": 3} | kw
    b = breaker(**kw)
    call(b, 0, "error")
    call(b, 0, "error")
    assert b.state == OPEN
    return b


def test_open_rejects_until_open_for_then_half_opens() -> None:
    b = tripped()
    assert not b.try_acquire(5.0)
    assert not b.try_acquire(9.999)
    assert b.rejected == 2
    assert b.state == OPEN
    assert b.try_acquire(10.0)
    assert b.state == HALF_OPEN
    assert b.transitions[-1] == (10.0, OPEN, HALF_OPEN)


def test_half_open_permits_exactly_half_open_calls() -> None:
    b = tripped(half_open_calls=3)
    assert [b.try_acquire(10.0) for _ in range(5)] == [True, True, True, False, False]
    b.record(10.5, "ok", 0.1)
    assert not b.try_acquire(10.6)  # permits are per trial, not returned by a record
    b.record(10.7, "ok", 0.1)
    assert b.state == HALF_OPEN
    b.record(10.8, "ok", 0.1)
    assert b.state == CLOSED
    assert b.stats(10.8) == (0, 0, 0)
    assert b.try_acquire(10.9)


def test_half_open_failures_reopen() -> None:
    b = tripped(half_open_calls=2, failure_rate=0.5)
    assert b.try_acquire(10.0)
    assert b.try_acquire(10.0)
    b.record(11.0, "ok", 0.1)
    b.record(12.0, "error", 0.1)
    assert b.state == OPEN
    assert b.opens == 2
    assert not b.try_acquire(21.9)
    assert b.try_acquire(22.0)
    assert [t[1:] for t in b.transitions] == [
        (CLOSED, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, OPEN),
        (OPEN, HALF_OPEN),
    ]


def test_outcomes_recorded_while_open_are_ignored() -> None:
    b = tripped()
    b.record(1.0, "ok", 0.1)
    b.record(1.0, "error", 0.1)
    assert b.state == OPEN
    assert b.try_acquire(10.0)
    assert b.state == HALF_OPEN


def test_time_open_counts_only_the_open_state() -> None:
    b = tripped(open_for=10.0)  # opened at 0
    assert b.time_open(4.0) == 4.0
    assert b.try_acquire(12.0)  # open until the lazy move at 12
    assert b.time_open(50.0) == 12.0
    for _ in range(2):
        b.try_acquire(13.0)
        b.record(13.0, "error", 0.1)
    b.record(13.0, "error", 0.1)
    assert b.state == OPEN
    assert b.time_open(15.0) == 14.0


def test_simple_form_n_failures_within_t() -> None:
    b = breaker(failures=3, within=10.0, min_calls=1000, failure_rate=1.0)
    call(b, 0.0, "error")
    call(b, 5.0, "error")
    for i in range(50):
        call(b, 5.0 + i * 0.01, "ok")
    assert b.state == CLOSED
    call(b, 10.0, "error")
    assert b.state == OPEN


def test_simple_form_spread_failures_do_not_open() -> None:
    b = breaker(failures=3, within=10.0)
    for t in [0.0, 6.0, 12.0, 18.0, 24.0]:
        call(b, t, "error")
    assert b.state == CLOSED


def test_simple_form_half_open_then_close() -> None:
    b = breaker(failures=1, within=1.0, open_for=5.0, half_open_calls=1)
    call(b, 0.0, "error")
    assert b.state == OPEN
    assert call(b, 5.0, "ok")
    assert b.state == CLOSED
    call(b, 6.0, "error")
    assert b.state == OPEN


# -- properties over random call histories ---------------------------------------------

configs = st.fixed_dictionaries(
    {
        "window_calls": st.integers(1, 8),
        "min_calls": st.integers(1, 10),
        "failure_rate": st.sampled_from([0.0, 0.25, 0.5, 1.0]),
        "slow_call_duration": st.sampled_from([None, 0.5]),
        "slow_call_rate": st.sampled_from([0.5, 1.0]),
        "open_for": st.sampled_from([0.0, 1.0, 3.0]),
        "half_open_calls": st.integers(1, 4),
    },
    optional={
        "window": st.sampled_from([2.0, 5.0]),
        "failures": st.integers(1, 4),
        "within": st.sampled_from([1.0, 4.0]),
    },
)

steps = st.lists(
    st.tuples(
        st.sampled_from(["acquire", "finish"]),
        st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0, 2.5]),  # time step
        st.integers(0, 100),  # which in-flight call finishes
        st.sampled_from(["ok", "ok", "error", "timeout", "rejected"]),
        st.sampled_from([0.1, 1.0]),  # duration
    ),
    min_size=20,
    max_size=200,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(kw=configs, history=steps)
def test_state_machine_properties(kw: dict[str, Any], history: list) -> None:
    config = Breaker(**kw)
    b = CircuitBreaker(config)
    now = 0.0
    in_flight: list[float] = []  # start times of permitted calls not yet recorded
    recorded_since_close: list[tuple[float, bool]] = []
    trial_permits = 0
    refusals = 0
    opened_at = 0.0
    n_transitions = 0
    for op, dt, pick, outcome, duration in history:
        now += dt
        before = b.state
        if op == "acquire":
            granted = b.try_acquire(now)
            if before == CLOSED:
                assert granted
            elif before == OPEN:
                # Rejects exactly while open and not yet waited out.
                assert granted == (now >= opened_at + config.open_for)
            if b.state == HALF_OPEN and before != HALF_OPEN:
                trial_permits = 0
            if b.state == HALF_OPEN and granted:
                trial_permits += 1
                assert trial_permits <= config.half_open_calls
            if granted:
                in_flight.append(now)
            else:
                refusals += 1
        elif in_flight:
            in_flight.pop(pick % len(in_flight))
            b.record(now, outcome, duration)
            if before == CLOSED:
                recorded_since_close.append((now, outcome in config.record_on))

        new = b.transitions[n_transitions:]
        n_transitions = len(b.transitions)
        for t, src, dst in new:
            assert t == now
            assert (src, dst) in {
                (CLOSED, OPEN),
                (OPEN, HALF_OPEN),
                (HALF_OPEN, OPEN),
                (HALF_OPEN, CLOSED),
            }
            if (src, dst) == (CLOSED, OPEN):
                assert_enough_evidence(config, now, recorded_since_close)
            if dst == OPEN:
                opened_at = now
            if dst == CLOSED:
                recorded_since_close = []
        assert len(new) <= 2
        assert b.state == (b.transitions[-1][2] if b.transitions else CLOSED)
        assert 0.0 <= b.time_open(now) <= now + 1e-9
    assert b.rejected == refusals
    assert b.opens == sum(dst == OPEN for _, _, dst in b.transitions)
    chain = [CLOSED] + [dst for _, _, dst in b.transitions]
    assert all(src == chain[i] for i, (_, src, _) in enumerate(b.transitions))


def assert_enough_evidence(config: Breaker, now: float, since_close: list) -> None:
    """A closed breaker opens only on a full enough window (or N failures within T)."""
    if config.failures is not None:
        failures = [t for t, failed in since_close if failed and t >= now - config.within]
        assert len(failures) >= config.failures
    elif config.window is not None:
        in_window = [t for t, _ in since_close if t > now - config.window - 1e-9]
        assert len(in_window) >= config.min_calls
    else:
        assert len(since_close) >= min(config.min_calls, config.window_calls)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(half_open_calls=st.integers(1, 6), attempts=st.integers(1, 20))
def test_half_open_never_exceeds_permits_concurrently(half_open_calls: int, attempts: int):
    b = tripped(half_open_calls=half_open_calls)
    granted = sum(b.try_acquire(10.0 + i * 0.01) for i in range(attempts))
    assert granted == min(attempts, half_open_calls)
    assert b.state == HALF_OPEN


def test_zero_open_for_half_opens_at_once() -> None:
    b = tripped(open_for=0.0)
    assert b.try_acquire(0.0)
    assert b.state == HALF_OPEN


@pytest.mark.parametrize("window", [None, 60.0])
def test_reset_window_after_closing(window: float | None) -> None:
    b = tripped(window=window, half_open_calls=1)
    assert call(b, 10.0, "ok")
    assert b.state == CLOSED
    call(b, 10.5, "error")
    assert b.state == CLOSED  # one failure in a fresh window: below min_calls
