"""The adaptive concurrency limits' update rules (Netflix concurrency-limits) and admission."""

from __future__ import annotations

import random

import pytest

from simulator.policies.concurrency import (
    AdaptiveLimiter,
    AIMDLimit,
    ExpAverage,
    Gradient2Limit,
    VegasLimit,
    log10_root,
    make_rule,
)
from simulator.scenario_policies import Limiter


class FixedRng:
    """Vegas's probe jitter, pinned: ``uniform`` answers ``value``."""

    def __init__(self, value: float = 1.0) -> None:
        self.value = value

    def random(self) -> float:
        return 0.5

    def uniform(self, a: float, b: float) -> float:
        return self.value


def test_log10_root_as_the_library() -> None:
    assert [log10_root(n) for n in (0, 1, 9, 10, 99, 100, 999, 1000, 12345)] == [
        1, 1, 1, 1, 1, 2, 2, 3, 4,
    ]  # fmt: skip


# -- AIMD ---------------------------------------------------------------------------------------


def aimd(**kw: object) -> AIMDLimit:
    return AIMDLimit(Limiter.model_validate({"kind": "aimd", "min_limit": 1, **kw}))


def test_aimd_drop_backs_off_by_its_ratio() -> None:
    rule = aimd(initial_limit=100, backoff_ratio=0.75)
    assert rule.on_sample(0.0, 0.01, 100, True) == 75
    assert rule.on_sample(0.0, 0.01, 100, True) == 56  # truncated, as (int) in Java


def test_aimd_grows_by_one_only_when_half_in_use() -> None:
    rule = aimd(initial_limit=40)
    assert rule.on_sample(0.0, 0.01, 19, False) == 40  # under half used: no growth
    assert rule.on_sample(0.0, 0.01, 20, False) == 41
    assert rule.on_sample(0.0, 0.01, 41, False) == 42


def test_aimd_latency_past_its_timeout_is_a_drop() -> None:
    rule = aimd(initial_limit=50, timeout="1s")
    assert rule.on_sample(0.0, 0.999, 50, False) == 51
    assert rule.on_sample(0.0, 1.001, 50, False) == 45


def test_aimd_stays_within_its_bounds() -> None:
    rule = AIMDLimit(Limiter(kind="aimd", initial_limit=20, min_limit=10, max_limit=21))
    assert [rule.on_sample(0.0, 0.01, 30, False) for _ in range(3)] == [21, 21, 21]
    for _ in range(20):
        rule.on_sample(0.0, 0.01, 30, True)
    assert rule.limit == 10


# -- Vegas --------------------------------------------------------------------------------------


def vegas(**kw: object) -> VegasLimit:
    config = Limiter.model_validate({"kind": "vegas", "initial_limit": 50, **kw})
    return VegasLimit(config, FixedRng(1.0))


def test_vegas_first_sample_is_the_no_load_latency_and_changes_nothing() -> None:
    rule = vegas()
    assert rule.on_sample(0.0, 0.1, 50, False) == 50
    assert rule.rtt_noload == 0.1
    assert rule.on_sample(0.0, 0.05, 50, False) == 50  # a faster one: the new no-load
    assert rule.rtt_noload == 0.05


def test_vegas_grows_by_beta_without_queueing_and_shrinks_when_it_queues() -> None:
    rule = vegas()
    rule.on_sample(0.0, 0.1, 50, False)
    # No queue (latency at no-load): +beta = 6 x log10(50) = 6.
    assert rule.on_sample(0.0, 0.1, 50, False) == 56
    # Latency doubled: queue = ceil(56 x 0.5) = 28 > beta (6): shrink by log10 = 1.
    assert rule.on_sample(0.0, 0.2, 56, False) == 55
    # A small queue, between threshold and alpha (3): +log10. 55 x (1 - 0.1/0.104) = 2.1 -> 3
    # is not < alpha; 55 x (1 - 0.1/0.102) = 1.08 -> 2: grows by one.
    assert rule.on_sample(0.0, 0.102, 55, False) == 56


def test_vegas_holds_in_the_sweet_spot_and_when_app_limited() -> None:
    rule = vegas(alpha=3, beta=10)
    rule.on_sample(0.0, 0.1, 50, False)
    assert rule.on_sample(0.0, 0.1 / (1 - 5 / 50), 50, False) == 50  # queue 5: in [3, 10]
    assert rule.on_sample(0.0, 1.0, 24, False) == 50  # under half in use: nothing changes


def test_vegas_drop_shrinks() -> None:
    rule = vegas()
    rule.on_sample(0.0, 0.1, 50, False)
    assert rule.on_sample(0.0, 0.1, 50, True) == 49


def test_vegas_probe_forgets_the_no_load_latency() -> None:
    rule = vegas(initial_limit=2, probe_multiplier=3)  # probe every 1.0 x 3 x 2 = 6 samples
    rule.on_sample(0.0, 0.1, 0, False)
    for _ in range(4):
        rule.on_sample(0.0, 0.3, 0, False)  # app-limited: the limit holds at 2
    assert rule.rtt_noload == 0.1
    rule.on_sample(0.0, 0.3, 0, False)  # the sixth: a probe
    assert rule.rtt_noload == 0.3


def test_vegas_smoothing_and_ceiling() -> None:
    rule = vegas(smoothing=0.5, max_concurrency=52)
    rule.on_sample(0.0, 0.1, 50, False)
    assert rule.on_sample(0.0, 0.1, 50, False) == 51  # halfway to min(56, 52)


# -- Gradient2 ----------------------------------------------------------------------------------


def gradient2(**kw: object) -> Gradient2Limit:
    return Gradient2Limit(Limiter.model_validate({"kind": "gradient2", "min_limit": 1, **kw}))


def test_exp_average_warms_up_as_a_mean() -> None:
    avg = ExpAverage(window=9, warmup=2)
    assert avg.add(1.0) == 1.0
    assert avg.add(3.0) == 2.0
    assert avg.add(12.0) == pytest.approx(2.0 * 0.8 + 12.0 * 0.2)


def test_gradient2_grows_by_queue_size_while_latency_holds() -> None:
    rule = gradient2(initial_limit=50)
    for _ in range(5):
        rule.on_sample(0.0, 0.1, 50, False)
    # gradient 1 (capped): new = 50 + 4, smoothed by 0.2: +0.8 a sample.
    assert rule.estimate == pytest.approx(54.0)


def test_gradient2_shrinks_when_short_latency_outgrows_the_long() -> None:
    rule = gradient2(initial_limit=100, long_window=600)
    for _ in range(10):
        rule.on_sample(0.0, 0.1, 100, False)  # the long average's warm-up: 0.1
    before = rule.estimate
    rule.on_sample(0.0, 1.0, 100, False)  # 10x slower: gradient floor 0.5
    long_rtt = 0.1 * (1 - 2 / 601) + 1.0 * 2 / 601
    gradient = max(0.5, min(1.0, 1.5 * long_rtt / 1.0))
    assert rule.estimate == pytest.approx(before * 0.8 + (before * gradient + 4) * 0.2)
    assert rule.estimate < before


def test_gradient2_long_window_decides_how_long_an_overload_is_resisted() -> None:
    short, long = (
        gradient2(initial_limit=60, long_window=20),
        gradient2(initial_limit=60, long_window=2000),
    )
    for rule in (short, long):
        for _ in range(10):
            rule.on_sample(0.0, 0.05, 60, False)
        for _ in range(300):  # a sustained overload: latency 4x
            rule.on_sample(0.0, 0.2, int(rule.estimate), False)
    assert short.limit > 150  # the long average caught up: back to growing
    assert long.limit < 40  # still below its start: the baseline remembers


def test_gradient2_long_latency_decays_after_the_load() -> None:
    rule = gradient2(initial_limit=50)
    for _ in range(10):
        rule.on_sample(0.0, 1.0, 50, False)
    rule.on_sample(0.0, 0.1, 50, False)
    assert rule.long_rtt.value == pytest.approx((1.0 * (1 - 2 / 601) + 0.1 * 2 / 601) * 0.95)


def test_gradient2_app_limited_and_bounds() -> None:
    rule = gradient2(initial_limit=50, min_limit=30, max_concurrency=51)
    assert rule.on_sample(0.0, 0.1, 24, False) == 50  # under half in use
    for _ in range(10):
        rule.on_sample(0.0, 0.1, 50, False)
    assert rule.limit == 51
    for _ in range(200):
        rule.on_sample(0.0, 5.0, 50, False)
    assert rule.limit == 30


def test_zero_latency_samples_are_ignored() -> None:
    for rule in (vegas(), gradient2(initial_limit=50)):
        assert rule.on_sample(0.0, 0.0, 50, False) == 50


# -- admission ----------------------------------------------------------------------------------


def test_limiter_sheds_at_the_limit_and_keeps_books() -> None:
    limiter = AdaptiveLimiter(Limiter(kind="aimd", initial_limit=2, min_limit=1), FixedRng())
    assert [limiter.allow(0.0) for _ in range(3)] == [True, True, False]
    assert (limiter.in_flight, limiter.entry_in_flight, limiter.shed) == (2, 2, 1)
    limiter.sample(1.0, 0.5, 2, True)  # 2 x 0.9 -> 1
    limiter.release()
    assert limiter.limit == 1
    assert not limiter.allow(1.0)  # one still inside
    limiter.release()
    assert limiter.allow(2.0)
    assert (limiter.initial, limiter.lowest, limiter.highest, limiter.drops) == (2, 1, 2, 1)
    assert limiter.area_until(3.0) == pytest.approx(2 * 1.0 + 1 * 2.0)
    limiter.restart(3.0)
    assert limiter.limit == 2
    with pytest.raises(RuntimeError):
        AdaptiveLimiter(Limiter(kind="vegas"), FixedRng()).release()


def test_make_rule_refuses_a_static_kind() -> None:
    with pytest.raises(ValueError):
        make_rule(Limiter(kind="max_in_flight"), random.Random(1))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"kind": "aimd", "min_limit": 300}, "min_limit (300) is above max_limit (200)"),
        ({"kind": "gradient2", "min_limit": 300}, "above max_concurrency (200)"),
        ({"kind": "vegas", "alpha": 9, "beta": 3}, "alpha (9) is above beta (3)"),
        ({"kind": "aimd", "backoff_ratio": 0.3}, "greater than or equal to 0.5"),
    ],
)
def test_schema_says_what_to_fix(data: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Limiter.model_validate(data)
