"""Slots grant through a trampoline: a release inside a grant callback does not nest.

The engine's reason (a crowd of waiters refused one after another by a crashed
callee) is tested end to end in tests/test_engine_recursion.py; here the policy
alone, on the fake scheduler: FIFO order, bookkeeping and ``needs_connect`` stay
right when grants are queued instead of nested.
"""

from __future__ import annotations

import sys
from typing import Any

from policy_fake_scheduler import FakeScheduler

from simulator.policies import Bulkhead, ConnectionPool
from simulator.policies.pool import Connection
from simulator.scenario_policies import Bulkhead as BulkheadConfig
from simulator.scenario_policies import Pool

CROWD = 10_000


def test_a_crowd_released_at_once_is_granted_in_order_without_nesting(
    sched: FakeScheduler,
) -> None:
    b = Bulkhead(BulkheadConfig(max_concurrent=1, max_wait=5.0), sched.schedule, sched.cancel)
    order: list[int] = []

    def quick(i: int) -> Any:
        def granted() -> None:
            order.append(i)
            assert b.in_use == 1  # the slot is this caller's while its callback runs
            b.release()  # refused at once: gives the slot straight back

        return granted

    b.acquire(lambda: None, lambda: None)
    for i in range(CROWD):
        b.acquire(quick(i), lambda: None)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far below one frame per waiter
    try:
        b.release()
    finally:
        sys.setrecursionlimit(old)
    assert order == list(range(CROWD))
    assert (b.in_use, b.waiting) == (0, 0)
    sched.run_until(10.0)
    assert b.timed_out == 0  # every waiter's timer was cancelled when it got the slot


def test_a_release_inside_a_grant_runs_the_next_grant_after_the_callback(
    sched: FakeScheduler,
) -> None:
    """The next waiter's callback waits until the current one has returned."""
    b = Bulkhead(BulkheadConfig(max_concurrent=1, max_wait=5.0), sched.schedule, sched.cancel)
    events: list[str] = []

    def first() -> None:
        events.append("b granted")
        b.release()
        events.append("b done")

    b.acquire(lambda: None, lambda: None)
    b.acquire(first, lambda: None)
    b.acquire(lambda: events.append("c granted"), lambda: None)
    b.release()
    assert events == ["b granted", "b done", "c granted"]
    assert (b.in_use, b.waiting) == (1, 0)


def test_granted_describes_the_grant_whose_callback_runs(sched: FakeScheduler) -> None:
    """A queued hand-over gets the connection handed over even if a fresh one opened meanwhile."""
    p = ConnectionPool(Pool(max_size=0, overflow=2, acquire_timeout=5.0), sched.schedule,
                       sched.cancel, clock=lambda: sched.now)  # fmt: skip
    seen: list[tuple[str, bool]] = []
    held: dict[str, Connection] = {}

    def take(name: str) -> None:
        conn = p.granted
        seen.append((name, conn is None))
        held[name] = conn if conn is not None else p.open(sched.now, 0)

    def note(name: str) -> Any:
        return lambda: take(name)

    def b_granted() -> None:
        take("b")
        p.checkin(held.pop("b"))  # hands b's connection to c (queued: we are inside a grant)
        p.checkin(held.pop("a"))  # gives back a's: nobody waits, the pool (size 0) closes it
        p.acquire(note("d"), lambda: None)  # a free slot: d opens a new connection

    p.acquire(note("a"), lambda: None)
    p.acquire(note("x"), lambda: None)
    p.acquire(b_granted, lambda: None)
    p.acquire(note("c"), lambda: None)
    p.checkin(held.pop("x"))  # x's connection goes to b
    assert seen == [("a", True), ("x", True), ("b", False), ("d", True), ("c", False)]
    assert (p.in_use, p.waiting, p.opened) == (2, 0, 3)
    assert p.problems() == []
