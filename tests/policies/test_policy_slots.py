"""Bulkhead and connection pool: event-driven FIFO hand-off and timed rejection."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_fake_scheduler import FakeScheduler

from simulator.policies import Bulkhead, ConnectionPool
from simulator.scenario_policies import Bulkhead as BulkheadConfig
from simulator.scenario_policies import Pool


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


def pool(sched: FakeScheduler, **kw: Any) -> ConnectionPool:
    return ConnectionPool(Pool(**kw), sched.schedule, sched.cancel)


def test_pool_opens_lazily_and_keeps_size_idle(sched: FakeScheduler) -> None:
    p = pool(sched, size=2, overflow=1, acquire_timeout=1.0)
    fresh: list[bool] = []
    for _ in range(3):
        p.acquire(lambda: fresh.append(p.needs_connect()), lambda: None)
    assert fresh == [True, True, True]
    assert (p.opened, p.in_use, p.open_connections) == (3, 3, 3)
    for _ in range(3):
        p.release()
    assert (p.idle, p.closed, p.open_connections) == (2, 1, 2)  # the overflow one closed
    p.acquire(lambda: fresh.append(p.needs_connect()), lambda: None)
    p.acquire(lambda: fresh.append(p.needs_connect()), lambda: None)
    p.acquire(lambda: fresh.append(p.needs_connect()), lambda: None)
    assert fresh[3:] == [False, False, True]
    assert p.opened == 4


def test_pool_hand_off_reuses_the_connection(sched: FakeScheduler) -> None:
    p = pool(sched, size=1, overflow=0, acquire_timeout=5.0)
    log = Log(sched)
    p.acquire(*log.caller("a"))
    p.acquire(lambda: log.events.append((sched.now, "b", str(p.needs_connect()))), lambda: None)
    p.acquire(*log.caller("c"))
    assert p.waiting == 2
    sched.run_until(1.0)
    p.release()
    assert log.events[-1] == (1.0, "b", "False")
    sched.run_until(6.0)
    assert log.events[-1] == (5.0, "c", "rejected")
    assert (p.timeouts, p.max_in_use, p.opened) == (1, 1, 1)


def test_pool_zero_timeout_fails_at_once(sched: FakeScheduler) -> None:
    p = pool(sched, size=1, overflow=0, acquire_timeout=0.0)
    log = Log(sched)
    p.acquire(*log.caller("a"))
    p.acquire(*log.caller("b"))
    assert log.events[-1] == (0.0, "b", "rejected")
    assert p.timeouts == 1


def test_pool_after_its_owner_crashed_connects_afresh(sched: FakeScheduler) -> None:
    p = pool(sched, size=2, overflow=0, acquire_timeout=1.0)
    for _ in range(2):
        p.acquire(lambda: None, lambda: None)
    p.release()  # one idle, one still out with a call of the soon-lost work
    p.close_idle()  # the owner crashes
    assert (p.idle, p.in_use) == (0, 1)
    p.release_dead()  # the call comes back: its slot frees, its connection is gone
    assert (p.idle, p.in_use, p.closed) == (0, 0, 2)
    fresh: list[bool] = []
    p.acquire(lambda: fresh.append(p.needs_connect()), lambda: None)
    assert fresh == [True]  # cold: a new connection, paid for
