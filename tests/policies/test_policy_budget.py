"""Envoy retry budget: min concurrency, the percentage cap, bookkeeping errors."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.policies import RetryBudget
from simulator.scenario_policies import RetryBudget as RetryBudgetConfig


def budget(percent: float = 0.2, min_concurrency: int = 3) -> RetryBudget:
    return RetryBudget(RetryBudgetConfig(percent=percent, min_concurrency=min_concurrency))


def grant_all(b: RetryBudget) -> int:
    granted = 0
    while b.may_retry():
        b.retry_started()
        granted += 1
    return granted


def test_min_concurrency_without_traffic() -> None:
    b = budget(min_concurrency=3)
    assert grant_all(b) == 3
    assert b.denied == 1


def test_percent_of_requests_in_flight() -> None:
    b = budget(percent=0.2, min_concurrency=3)
    for _ in range(100):
        b.request_started()
    # Retries count as requests in flight too: r < 0.2·(100 + r) ⇔ r < 25.
    assert grant_all(b) == 25
    b.retry_finished()
    assert b.may_retry()
    b.retry_started()
    assert not b.may_retry()


def test_budget_shrinks_as_requests_finish() -> None:
    b = budget(percent=0.5, min_concurrency=0)
    for _ in range(10):
        b.request_started()
    assert grant_all(b) == 10  # granted while r < 0.5·(10 + r) ⇔ r < 10
    for _ in range(10):
        b.request_finished()
    assert not b.may_retry()
    for _ in range(10):
        b.retry_finished()
    assert b.active_retries == 0
    assert not b.may_retry()  # zero min concurrency and nothing in flight


def test_unmatched_finish_raises() -> None:
    b = budget()
    with pytest.raises(RuntimeError):
        b.request_finished()
    with pytest.raises(RuntimeError):
        b.retry_finished()


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    percent=st.sampled_from([0.0, 0.1, 0.2, 0.5, 1.0]),
    min_concurrency=st.integers(0, 5),
    ops=st.lists(st.sampled_from(["req+", "req-", "retry+", "retry-"]), max_size=120),
)
def test_grants_follow_envoy_formula(percent: float, min_concurrency: int, ops: list[str]):
    b = budget(percent, min_concurrency)
    denied = 0
    for op in ops:
        requests, retries = b.active_requests, b.active_retries
        if op == "req+":
            b.request_started()
        elif op == "req-" and requests:
            b.request_finished()
        elif op == "retry-" and retries:
            b.retry_finished()
        elif op == "retry+":
            allowed = retries < max(min_concurrency, percent * (requests + retries))
            assert b.may_retry() == allowed
            if allowed:
                b.retry_started()
            else:
                denied += 1
        # Never more retries in flight than the budget admits on its own terms.
        if percent < 1.0 and b.active_requests == requests:
            in_budget = max(min_concurrency, math.ceil(percent * requests / (1 - percent)))
            assert b.active_retries <= max(in_budget, retries)
    assert b.denied == denied
