"""The connection pool's lifecycle, without SimPy: grants, opens, recycling, pings, leaks.

The engine's side (paying the times, the target's incarnation, the database's
limit) is tested through scenarios in ``tests/test_pool_lifecycle.py``.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_fake_scheduler import FakeScheduler

from simulator.policies import ConnectionPool
from simulator.policies.pool import OPEN, PING, RECYCLE, STALE, USE, Connection, WaitTimes
from simulator.scenario_policies import Pool


def pool(sched: FakeScheduler, **kw: Any) -> ConnectionPool:
    return ConnectionPool(Pool(**kw), sched.schedule, sched.cancel, clock=lambda: sched.now)


class Caller:
    """Takes a slot, then the connection it was granted or a new one (as calls.py does)."""

    def __init__(self, p: ConnectionPool, sched: FakeScheduler, epoch: int = 0) -> None:
        self.p, self.sched, self.epoch = p, sched, epoch
        self.conn: Connection | None = None
        self.fresh: bool | None = None
        self.rejected = False
        p.acquire(self._granted, self._rejected)

    def _granted(self) -> None:
        self.conn = self.p.granted
        self.fresh = self.conn is None
        if self.conn is None:
            self.conn = self.p.open(self.sched.now, self.epoch)

    def _rejected(self) -> None:
        self.rejected = True

    def back(self) -> None:
        assert self.conn is not None
        conn, self.conn = self.conn, None
        self.p.checkin(conn)


def test_pool_opens_lazily_and_keeps_max_size_idle(sched: FakeScheduler) -> None:
    p = pool(sched, max_size=2, overflow=1, acquire_timeout=1.0)
    callers = [Caller(p, sched) for _ in range(3)]
    assert [c.fresh for c in callers] == [True, True, True]
    assert (p.opened, p.in_use, p.open_connections) == (3, 3, 3)
    for c in callers:
        c.back()
    assert (p.idle, p.closed, p.open_connections) == (2, 1, 2)  # the overflow one closed
    again = [Caller(p, sched) for _ in range(3)]
    assert [c.fresh for c in again] == [False, False, True]
    assert p.opened == 4 and p.problems() == []


def test_size_is_the_old_name_of_max_size() -> None:
    assert Pool.model_validate({"size": 7}).max_size == 7
    assert "max_size" in Pool(size=7).model_dump(by_alias=True)


def test_hand_off_reuses_the_connection_and_a_waiter_times_out(sched: FakeScheduler) -> None:
    p = pool(sched, max_size=1, overflow=0, acquire_timeout=5.0)
    a = Caller(p, sched)
    b = Caller(p, sched)
    c = Caller(p, sched)
    assert p.waiting == 2 and p.exhausted_at == 0.0
    sched.run_until(1.0)
    a.back()
    assert b.fresh is False and p.opened == 1
    sched.run_until(6.0)
    assert c.rejected and (p.timeouts, p.max_in_use) == (1, 1)
    assert p.waits.count == 3  # a at once, b after 1 s, c gave up after 5 s
    assert p.waits.p99() > 4.9


def test_zero_timeout_fails_at_once_and_marks_exhaustion(sched: FakeScheduler) -> None:
    p = pool(sched, max_size=1, overflow=0, acquire_timeout=0.0)
    sched.run_until(3.0)
    Caller(p, sched)
    b = Caller(p, sched)
    assert b.rejected and p.timeouts == 1 and p.exhausted_at == 3.0


def test_plan_recycles_old_connections_and_detects_stale_ones(sched: FakeScheduler) -> None:
    plain = pool(sched, recycle=3600.0)
    young, old = Connection(0.0, 0), Connection(-4000.0, 0)
    assert plain.plan(None, 0.0, 0) is OPEN
    assert plain.plan(young, 10.0, 0) is USE
    assert plain.plan(old, 10.0, 0) is RECYCLE
    assert plain.plan(young, 10.0, 1) is STALE  # the database restarted since it was opened
    pinging = pool(sched, pre_ping=True)
    assert pinging.plan(young, 10.0, 1) is PING and pinging.plan(young, 10.0, 0) is PING


def test_recycle_and_drop_close_the_connection_out(sched: FakeScheduler) -> None:
    p = pool(sched, max_size=2, overflow=0, recycle=60.0)
    a = Caller(p, sched)
    a.back()
    sched.run_until(100.0)
    b = Caller(p, sched)
    assert b.fresh is False and p.plan(b.conn, sched.now, 0) is RECYCLE
    p.recycle_out(b.conn)  # type: ignore[arg-type]
    b.conn = p.open(sched.now, 0)
    assert (p.recycled, p.closed, p.opened) == (1, 1, 2)
    b.back()
    assert p.problems() == []


def test_a_dead_connection_is_discarded_and_its_slot_freed(sched: FakeScheduler) -> None:
    closed: list[Connection] = []
    p = ConnectionPool(Pool(max_size=1, overflow=0), sched.schedule, sched.cancel,
                       clock=lambda: sched.now, on_close=closed.append)  # fmt: skip
    a = Caller(p, sched)
    b = Caller(p, sched)  # waits
    conn = a.conn
    p.discard(conn)  # type: ignore[arg-type]
    assert closed == [conn]
    assert b.fresh is True  # the waiter had to open its own
    assert (p.opened, p.closed, p.in_use) == (2, 1, 1) and p.problems() == []


def test_min_size_opens_ahead_and_a_leak_drains_the_pool(sched: FakeScheduler) -> None:
    p = pool(sched, min_size=2, max_size=2, overflow=1, acquire_timeout=0.0)
    for _ in range(p.min_size):
        p.open_idle(0.0, 0)
    assert (p.idle, p.opened) == (2, 2)
    for expected in (1, 2, 3):
        c = Caller(p, sched)
        assert not c.rejected
        p.leak(c.conn)  # type: ignore[arg-type]
        assert p.leaking == expected
    assert Caller(p, sched).rejected  # every slot is leaked
    assert p.exhausted_at == 0.0 and p.leaked == 3 and p.problems() == []
    p.close_idle()  # the owner restarts: the leaked connections die and their slots return
    assert (p.in_use, p.leaking, p.closed, p.leaked) == (0, 0, 3, 3)
    assert not Caller(p, sched).rejected and p.problems() == []


def test_after_its_owner_crashed_the_pool_connects_afresh(sched: FakeScheduler) -> None:
    p = pool(sched, max_size=2, overflow=0, acquire_timeout=1.0)
    a, b = Caller(p, sched), Caller(p, sched)
    a.back()  # one idle, one still out with a call of the soon-lost work
    p.close_idle()  # the owner crashes
    assert (p.idle, p.in_use, p.generation) == (0, 1, 1)
    p.discard(b.conn)  # type: ignore[arg-type]  # the call comes back: its connection is gone
    assert (p.idle, p.in_use, p.closed) == (0, 0, 2)
    assert Caller(p, sched).fresh is True  # cold: a new connection, paid for
    assert p.problems() == []


def test_levels_integrate_over_time(sched: FakeScheduler) -> None:
    p = pool(sched, max_size=1, overflow=0, acquire_timeout=10.0)
    a = Caller(p, sched)
    Caller(p, sched)  # waits from 0 to 4
    sched.run_until(4.0)
    a.back()
    sched.run_until(10.0)
    p._tick()
    assert p.in_use_area == 10.0  # one slot in use throughout
    assert p.waiting_area == 4.0 and p.idle_area == 0.0


def test_wait_percentile_counts_immediate_grants_as_zero() -> None:
    waits = WaitTimes()
    for _ in range(99):
        waits.record(0.0)
    waits.record(5.0)
    assert waits.p99() == 0.0  # the 99th of 100 waits is an immediate grant
    waits.record(5.0)
    assert waits.p99() == pytest.approx(5.0, rel=0.02)
    assert math.isnan(WaitTimes().p99())


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.integers(0, 2),
    st.integers(1, 2),
    st.lists(st.tuples(st.sampled_from("aaccdlkw"), st.integers(0, 20)), min_size=3, max_size=60),
)
def test_pool_books_balance_whatever_happens(max_size: int, overflow: int, ops: list) -> None:
    """Acquire, give back, discard, leak, owner crash, time passing: the books always balance."""
    sched = FakeScheduler()
    p = pool(sched, max_size=max_size, overflow=overflow, acquire_timeout=2.0)
    holders: list[Caller] = []
    for op, n in ops:
        held = [c for c in holders if c.conn is not None]
        if op == "a":
            holders.append(Caller(p, sched))
        elif op in "cdl" and held:
            c = held[n % len(held)]
            conn, c.conn = c.conn, None
            {"c": p.checkin, "d": p.discard, "l": p.leak}[op](conn)  # type: ignore[arg-type]
        elif op == "k":
            p.close_idle()
            for c in held:  # the owner's lost work gives its connections back, dead
                conn, c.conn = c.conn, None
                p.discard(conn)  # type: ignore[arg-type]
        elif op == "w":
            sched.run_until(sched.now + n / 10)
        assert p.problems() == []
        assert p.in_use == sum(c.conn is not None for c in holders) + p.leaking
    sched.run_until(sched.now + 10.0)
    assert p.problems() == [] and p.waiting == 0
    assert p.opened == p.closed + p.open_connections
