"""Bulkheads: event-driven FIFO hand-off and timed rejection (pools: test_policy_pool.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_fake_scheduler import FakeScheduler

from simulator.policies import Bulkhead
from simulator.scenario_policies import Bulkhead as BulkheadConfig


class Log:
    """Collects (time, caller, event) as callbacks fire."""

    def __init__(self, sched: FakeScheduler) -> None:
        self.sched = sched
        self.events: list[tuple[float, str, str]] = []

    def caller(self, name: str) -> tuple[Any, Any]:
        return (
            lambda: self.events.append((self.sched.now, name, "granted")),
            lambda: self.events.append((self.sched.now, name, "rejected")),
        )


def bulkhead(sched: FakeScheduler, **kw: Any) -> Bulkhead:
    return Bulkhead(BulkheadConfig(**kw), sched.schedule, sched.cancel)


def test_semaphore_without_wait_rejects_at_once(sched: FakeScheduler) -> None:
    b = bulkhead(sched, max_concurrent=2, max_wait=0.0)
    log = Log(sched)
    for name in "abc":
        b.acquire(*log.caller(name))
    assert log.events == [(0.0, "a", "granted"), (0.0, "b", "granted"), (0.0, "c", "rejected")]
    assert (b.in_use, b.waiting, b.rejected, b.max_in_use) == (2, 0, 1, 2)
    assert sched.pending == 0


def test_semaphore_fifo_hand_off_and_timed_rejection(sched: FakeScheduler) -> None:
    b = bulkhead(sched, max_concurrent=1, max_wait=1.0)
    log = Log(sched)
    b.acquire(*log.caller("a"))
    b.acquire(*log.caller("b"))
    sched.run_until(0.2)
    b.acquire(*log.caller("c"))
    assert b.waiting == 2
    sched.run_until(0.5)
    b.release()  # a leaves: b gets the slot at this very instant
    assert log.events[-1] == (0.5, "b", "granted")
    assert b.in_use == 1
    sched.run_until(1.2)  # c arrived at 0.2 and waits at most 1 s
    assert log.events[-1] == (1.2, "c", "rejected")
    sched.run_until(10.0)  # b's cancelled timer never fires
    assert [e[1:] for e in log.events] == [
        ("a", "granted"),
        ("b", "granted"),
        ("c", "rejected"),
    ]
    assert (b.rejected, b.timed_out, b.waiting, b.max_waiting) == (1, 1, 0, 2)
    b.release()
    assert b.in_use == 0


def test_pool_kind_queues_without_time_limit(sched: FakeScheduler) -> None:
    b = bulkhead(sched, kind="pool", max_concurrent=1, queue=2)
    log = Log(sched)
    for name in "abcd":
        b.acquire(*log.caller(name))
    assert log.events == [(0.0, "a", "granted"), (0.0, "d", "rejected")]
    assert sched.pending == 0  # nobody is on a timer
    sched.run_until(1000.0)
    b.release()
    b.release()
    assert [e[1] for e in log.events] == ["a", "d", "b", "c"]
    assert b.waiting == 0
    assert b.in_use == 1


def test_pool_kind_with_max_wait(sched: FakeScheduler) -> None:
    b = bulkhead(sched, kind="pool", max_concurrent=1, queue=5, max_wait=2.0)
    log = Log(sched)
    b.acquire(*log.caller("a"))
    b.acquire(*log.caller("b"))
    sched.run_until(3.0)
    assert log.events[-1] == (2.0, "b", "rejected")


def test_pool_kind_zero_queue_rejects_at_once(sched: FakeScheduler) -> None:
    b = bulkhead(sched, kind="pool", max_concurrent=1, queue=0)
    log = Log(sched)
    b.acquire(*log.caller("a"))
    b.acquire(*log.caller("b"))
    assert log.events[-1] == (0.0, "b", "rejected")


def test_release_without_grant_raises(sched: FakeScheduler) -> None:
    with pytest.raises(RuntimeError):
        bulkhead(sched).release()


def test_callbacks_may_reenter(sched: FakeScheduler) -> None:
    """A waiter granted by a release may release at once; the next waiter follows."""
    b = bulkhead(sched, max_concurrent=1, max_wait=5.0)
    order: list[str] = []

    def quick(name: str) -> Any:
        def granted() -> None:
            order.append(name)
            b.release()

        return granted

    b.acquire(lambda: order.append("a"), lambda: None)
    b.acquire(quick("b"), lambda: None)
    b.acquire(quick("c"), lambda: None)
    b.release()
    assert order == ["a", "b", "c"]
    assert (b.in_use, b.waiting) == (0, 0)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    capacity=st.integers(1, 3),
    max_wait=st.sampled_from([0.0, 0.5, 2.0]),
    ops=st.lists(st.tuples(st.booleans(), st.sampled_from([0.0, 0.1, 0.7])), max_size=60),
)
def test_semaphore_invariants(capacity: int, max_wait: float, ops: list) -> None:
    sched = FakeScheduler()
    b = bulkhead(sched, max_concurrent=capacity, max_wait=max_wait)
    arrived: dict[int, float] = {}
    grants: list[int] = []
    holding = 0
    resolved: dict[int, str] = {}

    def caller(i: int) -> tuple[Any, Any]:
        def granted() -> None:
            nonlocal holding
            assert i not in resolved
            resolved[i] = "granted"
            grants.append(i)
            holding += 1

        def rejected() -> None:
            assert i not in resolved
            resolved[i] = "rejected"
            assert sched.now == pytest.approx(arrived[i] + max_wait)

        return granted, rejected

    for i, (is_acquire, dt) in enumerate(ops):
        sched.run_until(sched.now + dt)
        if is_acquire:
            arrived[i] = sched.now
            b.acquire(*caller(i))
        elif holding:
            holding -= 1
            b.release()
        assert b.in_use == holding <= capacity
        assert b.waiting == len(arrived) - len(resolved)
        assert b.waiting == 0 or b.in_use == capacity
    waited = [i for i in grants if i in arrived]
    assert waited == sorted(waited)  # FIFO: grants in arrival order
    sched.run_until(sched.now + 10.0)
    assert len(resolved) == len(arrived)
    assert b.rejected == sum(r == "rejected" for r in resolved.values())
