"""The hedge's shared state: its delay (fixed or a windowed percentile) and its budget."""

from __future__ import annotations

import pytest

from simulator.policies import HedgePolicy
from simulator.policies.hedge import BUDGET_WINDOW, REFRESH
from simulator.scenario_policies import HEDGE_MIN_SAMPLES, HEDGE_WINDOW, Hedge


def policy(**fields: object) -> HedgePolicy:
    return HedgePolicy(Hedge.model_validate(fields))


def test_without_a_delay_a_hedge_waits_the_95th_percentile() -> None:
    assert Hedge.model_validate({}).percentile == pytest.approx(0.95)
    assert Hedge.model_validate({"delay": None, "percentile": None}).percentile == 0.95
    assert Hedge.model_validate({"delay": "20ms"}).percentile is None


def test_a_fixed_delay_is_known_from_the_start() -> None:
    p = policy(delay="50ms")
    assert p.delay() == pytest.approx(0.05)
    p.observe(9.0)  # observations do not move a fixed delay
    assert p.delay() == pytest.approx(0.05)


def test_a_percentile_delay_waits_for_enough_latencies() -> None:
    p = policy(percentile="90%")
    for i in range(HEDGE_MIN_SAMPLES - 1):
        p.observe(i / 1000)
        assert p.delay() is None  # no hedge on a cold call
    p.observe((HEDGE_MIN_SAMPLES - 1) / 1000)
    # nearest rank over 0..99 ms: the 90th of 100 samples is 89 ms
    assert p.delay() == pytest.approx(0.089)


def test_a_percentile_delay_is_recomputed_every_refresh_samples() -> None:
    p = policy(percentile="75%")
    for _ in range(HEDGE_MIN_SAMPLES):
        p.observe(0.010)
    assert p.delay() == pytest.approx(0.010)
    for _ in range(REFRESH - 1):
        p.observe(1.0)
    assert p.delay() == pytest.approx(0.010)  # not yet recomputed
    p.observe(1.0)
    assert p.delay() == pytest.approx(1.0)  # half of the window is 1 s now: its p75 too


def test_the_window_forgets_the_oldest_latencies() -> None:
    p = policy(percentile="99%")
    for _ in range(HEDGE_WINDOW):
        p.observe(5.0)
    assert p.delay() == pytest.approx(5.0)
    for _ in range(HEDGE_WINDOW):
        p.observe(0.020)
    assert p.delay() == pytest.approx(0.020)  # every slow sample has left the ring


def test_the_budget_is_a_share_of_the_requests_in_the_window() -> None:
    p = policy(delay="10ms", budget="10%")
    assert not p.may_hedge(0.0)  # no request yet: no hedge
    for _ in range(100):
        p.request_started(0.0)
    granted = sum(p.may_hedge(0.0) for _ in range(50))
    assert granted == 10
    assert (p.sent, p.denied) == (10, 41)  # the refusal before any request counts too


def test_the_budget_window_slides() -> None:
    p = policy(delay="10ms", budget="50%")
    for _ in range(10):
        p.request_started(0.0)
    assert sum(p.may_hedge(0.0) for _ in range(10)) == 5
    # Past the window the old requests and hedges are forgotten together.
    later = BUDGET_WINDOW + 1.0
    assert not p.may_hedge(later)
    for _ in range(4):
        p.request_started(later)
    assert sum(p.may_hedge(later) for _ in range(10)) == 2


def test_a_full_budget_never_refuses() -> None:
    p = policy(delay="10ms", budget="100%")
    assert all(p.may_hedge(0.0) for _ in range(1000))
    assert p.denied == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"delay": "10ms", "percentile": "95%"}, "not both"),
        ({"delay": "0s"}, "must be positive"),
        ({"percentile": "100%"}, "between 0% and 100%"),
        ({"delay": "10ms", "budget": "0%"}, "remove the hedge"),
        ({"delay": "10ms", "max_hedges": 0}, "greater than or equal to 1"),
    ],
)
def test_the_schema_says_what_to_fix(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Hedge.model_validate(fields)
