"""Thousands of callers waiting on one slot of a crashed dependency: no nesting per waiter.

When the slot's holder fails, every waiter is granted in turn and its call is refused
at once (the callee is down), which releases the slot again. The engine used to make
each of those grants, and each zero-delay retry, inside the previous one: one stack
frame chain per waiter, ``RecursionError`` past about a thousand. These runs are made
under a recursion limit barely above the test's own depth, so any nesting that grows
with the number of waiters (or of attempts) fails them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from engine_helpers import scenario

from simulator.analysis import summarize
from simulator.engine import Simulation

WAITERS = 10_000
HEADROOM = 150  # frames the engine may use above the test: enough for a few call hops


def stack_depth() -> int:
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


@contextmanager
def shallow_stack() -> Iterator[None]:
    """Lower the recursion limit to just above where we stand, and restore it after."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(stack_depth() + HEADROOM)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def crowd(policy: str, users: int = WAITERS, retry: str = "", crash_at: str = "2s") -> str:
    """``users`` requests at 1 s, all for db's one slot; db holds it 100 s, crashes at 2 s.

    The api has a worker per user, so every request reaches the call edge and all
    but the first wait on the edge's single slot. At 2 s the holder's call is lost in
    the crash and the waiters pour through, each refused by the crashed db.
    """
    return f"""
murphy: 1
name: crowd on one slot
seed: 5
duration: 2.5s
nodes:
  users:
    kind: client
    users: {users}
    think_time: {{dist: constant, value: 1s}}
    calls: [{{to: api}}]
  api:
    kind: service
    workers: {users}
    queue: 0
    service_time: {{dist: constant, value: 1ms}}
    calls: [{{to: db, {policy} {retry}}}]
  db:
    kind: database
    workers: 1
    queue: 0
    service_time: {{dist: constant, value: 100s}}
faults:
  - {{kind: crash, target: db, at: {crash_at}, for: 10s}}
"""


POOL = "pool: {size: 1, overflow: 0, acquire_timeout: 60s},"
SEMAPHORE = "bulkhead: {kind: semaphore, max_concurrent: 1, max_wait: 60s},"
POOL_BULKHEAD = f"bulkhead: {{kind: pool, max_concurrent: 1, queue: {WAITERS}}},"


def run_shallow(text: str) -> tuple[Simulation, dict]:
    sim = Simulation(scenario(text))
    with shallow_stack():
        sim.run_to_end()
    return sim, summarize(sim)


def assert_each_request_ended_once(sim: Simulation, out: dict, users: int) -> None:
    assert sim.check_invariants() == []
    assert out["invariants"] == []
    stats = sim.clients["users"].stats
    assert stats.started_total == users
    assert sum(stats.outcomes_total.values()) == users  # one outcome each, none in flight
    assert sim.clients["users"].in_flight == 0


@pytest.mark.parametrize(
    "policy", [POOL, SEMAPHORE, POOL_BULKHEAD], ids=["pool", "semaphore", "pool_bulkhead"]
)
def test_waiters_refused_one_after_another_do_not_nest(policy: str) -> None:
    sim, out = run_shallow(crowd(policy))
    assert_each_request_ended_once(sim, out, WAITERS)
    edge = sim.sites["api->db"].stats
    # The holder was lost in the crash, every waiter was granted and refused in turn.
    assert edge.attempts == WAITERS
    assert edge.attempt_outcomes == {"error": WAITERS}
    assert out["nodes"]["db"]["errors"] == {"crash": 1, "refused": WAITERS - 1}


def test_immediate_retries_through_a_bulkhead_do_not_nest() -> None:
    attempts = 3
    retry = f"retry: {{strategy: immediate, attempts: {attempts}}}"
    sim, out = run_shallow(crowd(SEMAPHORE, retry=retry))
    assert_each_request_ended_once(sim, out, WAITERS)
    edge = sim.sites["api->db"].stats
    # Every request used up its attempts against the crashed db (the first one's
    # first attempt was the one lost in the crash).
    assert edge.attempts == WAITERS * attempts
    assert edge.retries == WAITERS * (attempts - 1)
    assert edge.outcomes == {"error": WAITERS}


def test_a_hundred_immediate_retries_per_request_do_not_nest() -> None:
    """The longest retry chain the schema allows, for a crowd behind one bulkhead slot."""
    users, attempts = 300, 100
    retry = f"retry: {{strategy: immediate, attempts: {attempts}}}"
    sim, out = run_shallow(crowd(SEMAPHORE, users=users, retry=retry))
    assert_each_request_ended_once(sim, out, users)
    edge = sim.sites["api->db"].stats
    assert edge.attempts == users * attempts
    assert edge.outcomes == {"error": users}


def test_immediate_retries_into_a_crashed_node_without_gates() -> None:
    """No bulkhead or pool at all: a request's 100 refused attempts run one after another."""
    users, attempts = 50, 100
    retry = f"retry: {{strategy: immediate, attempts: {attempts}}}"
    # db is down before anyone calls: at 1 s and again at 2 s, every attempt is refused.
    sim, out = run_shallow(crowd("", users=users, retry=retry, crash_at="0.5s"))
    assert_each_request_ended_once(sim, out, 2 * users)
    edge = sim.sites["api->db"].stats
    assert edge.attempts == 2 * users * attempts
    assert out["nodes"]["db"]["errors"] == {"refused": 2 * users * attempts}
