"""Outlier detection: Envoy's ejection state machine, host by host and sweep by sweep."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.policies.outlier import (
    CONSECUTIVE_5XX,
    CONSECUTIVE_GATEWAY_FAILURE,
    FAILURE_5XX,
    FAILURE_PERCENTAGE,
    GATEWAY_FAILURE,
    OK,
    SUCCESS_RATE,
    OutlierDetector,
    classify,
)
from simulator.scenario_policies import OutlierDetection


class FixedRng:
    """Uniform draws from a list, cycled; counts how many were asked for."""

    def __init__(self, *values: float) -> None:
        self.values, self.draws = values or (0.5,), 0

    def random(self) -> float:
        value = self.values[self.draws % len(self.values)]
        self.draws += 1
        return value

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()


def detector(hosts: int = 10, rng: Any = None, **kw: Any) -> OutlierDetector:
    return OutlierDetector(OutlierDetection(**kw), hosts, rng or FixedRng())


def fail(d: OutlierDetector, host: int, times: int, now: float = 0.0, result: int = FAILURE_5XX):
    for _ in range(times):
        d.record(host, result, now)


def test_outcomes_map_onto_envoys_classes() -> None:
    assert classify("ok", False) == OK
    assert classify("fallback", False) == OK
    assert classify("rate_limited", False) == OK  # a 429 is not a 5xx
    assert classify("error", False) == FAILURE_5XX  # the host ran and failed: a 500
    assert classify("error", True) == GATEWAY_FAILURE  # refused or reset: a 503
    for outcome in ("timeout", "rejected", "shed"):
        assert classify(outcome, False) == GATEWAY_FAILURE


def test_consecutive_5xx_ejects_on_the_fifth_failure_in_a_row() -> None:
    d = detector()
    fail(d, 3, 4)
    assert not d.ejected[3]
    d.record(3, FAILURE_5XX, 1.0)
    assert d.ejected[3] and d.active == 1
    assert d.detected[CONSECUTIVE_5XX] == d.enforced[CONSECUTIVE_5XX] == 1


def test_a_success_resets_the_run() -> None:
    d = detector()
    fail(d, 0, 4)
    d.record(0, OK, 0.0)
    fail(d, 0, 4)
    assert not d.ejected[0]
    d.record(0, FAILURE_5XX, 0.0)
    assert d.ejected[0]


def test_gateway_failures_count_as_5xx_too_but_eject_only_if_enforced() -> None:
    d = detector(consecutive_gateway_failure=3, consecutive_5xx=100)
    fail(d, 0, 3, result=GATEWAY_FAILURE)
    assert d.detected[CONSECUTIVE_GATEWAY_FAILURE] == 1
    assert not d.ejected[0]  # enforcing_consecutive_gateway_failure is 0% by default
    enforced = detector(consecutive_gateway_failure=3, enforcing_consecutive_gateway_failure=1.0)
    fail(enforced, 0, 3, result=GATEWAY_FAILURE)
    assert enforced.ejected[0] and enforced.enforced[CONSECUTIVE_GATEWAY_FAILURE] == 1


def test_a_plain_5xx_breaks_a_run_of_gateway_failures() -> None:
    d = detector(
        consecutive_gateway_failure=3, enforcing_consecutive_gateway_failure=1.0,
        consecutive_5xx=100,
    )  # fmt: skip
    fail(d, 0, 2, result=GATEWAY_FAILURE)
    d.record(0, FAILURE_5XX, 0.0)
    fail(d, 0, 2, result=GATEWAY_FAILURE)
    assert not d.ejected[0] and d.detected[CONSECUTIVE_GATEWAY_FAILURE] == 0
    d.record(0, GATEWAY_FAILURE, 0.0)
    assert d.ejected[0]


def test_enforcement_is_a_draw_only_between_0_and_100_percent() -> None:
    rng = FixedRng(0.7, 0.2)
    d = detector(rng=rng, enforcing_consecutive_5xx=0.5)
    fail(d, 0, 5)
    assert not d.ejected[0] and rng.draws == 1  # 0.7: not enforced; the run restarts
    fail(d, 0, 5)
    assert d.ejected[0] and rng.draws == 2  # 0.2 < 50%
    sure = FixedRng()
    fail(detector(rng=sure), 0, 5)
    assert sure.draws == 0


def test_max_ejection_percent_caps_ejections_unless_one_host_always_goes() -> None:
    d = detector(hosts=5, always_eject_one_host=True)  # 10%: even one of five is 20%
    fail(d, 0, 5)
    assert d.ejected[0]  # always_eject_one_host
    fail(d, 1, 5)
    assert not d.ejected[1] and d.overflow == 1
    strict = detector(hosts=5)  # Envoy's default (since 1.31): the share holds
    fail(strict, 0, 5)
    assert not strict.ejected[0] and strict.overflow == 1


def test_max_ejection_percent_counts_the_share_after_the_ejection() -> None:
    d = detector(hosts=4, max_ejection_percent=0.5)
    for host in range(4):
        fail(d, host, 5)
    assert d.ejected == [True, True, False, False]  # 3 of 4 would be 75%


def test_an_ejected_host_is_not_detected_again_until_it_returns() -> None:
    d = detector(hosts=2, max_ejection_percent=1.0)
    fail(d, 0, 5)
    fail(d, 0, 20)  # in panic the balancer may still send it requests
    assert d.detected[CONSECUTIVE_5XX] == 1 and d.ejections(0) == 1


def test_the_host_returns_at_the_first_sweep_after_its_time() -> None:
    d = detector(interval=10.0, base_ejection_time=30.0)
    fail(d, 0, 5, now=3.0)
    for t in (10.0, 20.0, 30.0):
        d.sweep(t)
        assert d.ejected[0], t  # 27 s out at the sweep at 30 s
    d.sweep(40.0)
    assert not d.ejected[0] and d.active == 0 and d.returns == 1


def test_ejection_time_grows_with_ejections_in_a_row_up_to_the_cap() -> None:
    d = detector(interval=10.0, base_ejection_time=30.0, max_ejection_time=70.0)
    out = []
    now = 0.0
    for _ in range(5):
        fail(d, 0, 5, now=now)
        start = now
        while d.ejected[0]:
            now += 10.0
            d.sweep(now)
        out.append(now - start)
    assert out == [30.0, 60.0, 70.0, 70.0, 70.0]  # base × 1, × 2, then capped
    assert d.backoff(0) == 4  # stops growing once backoff × base ≥ max + base (120 ≥ 100)


def test_the_multiplier_decays_by_one_per_healthy_interval() -> None:
    d = detector(interval=10.0, base_ejection_time=30.0)
    fail(d, 0, 5, now=0.0)
    d.sweep(10.0), d.sweep(20.0), d.sweep(30.0)
    assert not d.ejected[0] and d.backoff(0) == 1
    d.sweep(40.0)
    assert d.backoff(0) == 0  # back for a whole interval
    fail(d, 0, 5, now=41.0)
    assert d.ejection_time(0) == 30.0  # base again, not twice base


def test_success_rate_ejects_the_host_far_below_the_others() -> None:
    d = detector(hosts=5, interval=10.0, success_rate_request_volume=100, max_ejection_percent=0.2)
    for host in range(5):
        for i in range(200):
            good = host != 2 or i % 2 == 0  # host 2 succeeds half the time
            d.record(host, OK if good else FAILURE_5XX, 1.0)
            if not good:
                d.record(host, OK, 1.0)  # break the run: only the rate may find it
    d.sweep(10.0)
    assert d.ejected == [False, False, True, False, False]
    assert d.enforced[SUCCESS_RATE] == 1


def test_success_rate_needs_enough_hosts_with_enough_volume() -> None:
    d = detector(hosts=5, success_rate_request_volume=100)
    for host in range(5):
        volume = 99 if host == 4 else 200  # only four hosts qualify
        for i in range(volume):
            d.record(host, OK if host != 2 or i % 3 else FAILURE_5XX, 1.0)
    d.sweep(10.0)
    assert d.active == 0 and d.detected[SUCCESS_RATE] == 0


def test_success_rate_judges_the_interval_that_just_closed() -> None:
    d = detector(hosts=5, max_ejection_percent=0.2)
    d.sweep(10.0)  # nothing yet
    for host in range(5):
        for i in range(200):
            d.record(host, OK if host != 1 or i % 4 else FAILURE_5XX, 12.0)
    assert d.active == 0  # judged only at the sweep
    d.sweep(20.0)
    assert d.ejected[1]
    d.sweep(30.0)  # the next interval is empty: nothing new
    assert d.detected[SUCCESS_RATE] == 1


def test_failure_percentage_ejects_above_its_threshold_when_enforced() -> None:
    kw = {
        "failure_percentage_threshold": 0.5,
        "failure_percentage_request_volume": 10,
        "max_ejection_percent": 0.2,
    }
    for enforcing, ejected in ((0.0, False), (1.0, True)):
        d = detector(hosts=5, enforcing_failure_percentage=enforcing, **kw)
        for host in range(5):
            for i in range(20):
                bad = host == 0 and i % 5 != 0  # 80% failures, never five in a row
                d.record(host, FAILURE_5XX if bad else OK, 1.0)
        d.sweep(10.0)
        assert d.detected[FAILURE_PERCENTAGE] == 1
        assert d.ejected[0] is ejected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from([OK, FAILURE_5XX, GATEWAY_FAILURE])),
        max_size=300,
    ),
    st.floats(0.0, 1.0),
    st.integers(1, 6),
)
def test_books_hold_under_any_sequence(results: list, share: float, threshold: int) -> None:
    d = detector(
        hosts=6, max_ejection_percent=share, consecutive_5xx=threshold, interval=1.0,
        base_ejection_time=2.0, enforcing_consecutive_gateway_failure=0.5,
        success_rate_request_volume=3, failure_percentage_request_volume=3,
        enforcing_failure_percentage=1.0, rng=FixedRng(0.3, 0.8),
    )  # fmt: skip
    now = 0.0
    for step, (host, result) in enumerate(results):
        d.record(host, result, now)
        if step % 7 == 6:
            now += 1.0
            d.sweep(now)
        assert d.problems() == []
        limit = max(1, int(share * 6 + 1e-9))
        assert d.active <= limit


def test_max_ejection_time_below_base_is_refused() -> None:
    with pytest.raises(ValueError, match="max_ejection_time"):
        OutlierDetection(base_ejection_time=60.0, max_ejection_time=30.0)


def test_the_multiplier_steps_down_before_the_sweep_judges_rates() -> None:
    """Envoy's sweep runs checkHostForUneject for every host (a host back since the last sweep
    loses one multiplier step) before its success-rate and failure-percentage checks, so a
    host re-ejected by them right after its return is out for base x 1, not x 2."""
    d = detector(hosts=3, interval=10.0, base_ejection_time=30.0, max_ejection_percent=1.0,
                 enforcing_failure_percentage=1.0, failure_percentage_minimum_hosts=1,
                 failure_percentage_request_volume=1)  # fmt: skip
    fail(d, 0, 5, now=1.0)  # consecutive 5xx: out for 30 s, multiplier 1
    for t in (10.0, 20.0, 30.0, 40.0):
        d.sweep(t)
    assert not d.ejected[0] and d.backoff(0) == 1  # back at the sweep at 40 s
    fail(d, 0, 2, now=45.0)  # fails all of the next interval (2 of 2: failure percentage)
    d.sweep(50.0)
    assert d.ejected[0] and d.enforced["failure_percentage"] == 1
    assert d.ejection_time(0) == 30.0 and d.backoff(0) == 1  # stepped down to 0, then up


def test_reset_starts_afresh_and_keeps_the_books() -> None:
    d = detector(hosts=3, interval=10.0, base_ejection_time=30.0, max_ejection_percent=1.0)
    fail(d, 0, 5, now=1.0)
    fail(d, 1, 4, now=1.0)
    d.reset(5.0)
    assert d.ejected == [False, False, False] and d.active == 0 and d.backoff(0) == 0
    assert d.ejections(0) == 1 and d.returns == 1 and d.problems() == []
    fail(d, 1, 1, now=6.0)  # its run of four was forgotten: one failure is no detection
    assert not d.ejected[1]
