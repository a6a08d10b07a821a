"""One call edge ``a -> b`` and everything that guards it: timeouts, retries, breaker, bulkhead.

A call runs as a chain of callbacks: throttle → breaker → bulkhead → pool (checkout:
open, recycle, ping or use a connection) → send → (reply | timeout) → record → retry
after backoff, fall back, or answer. The
caller's job waits (and so holds its worker) for the whole chain, backoff sleeps
included. A timeout only stops the caller listening: the callee keeps working
on the abandoned attempt, unless deadline propagation is on.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

import simpy

from simulator._simpy import Environment, Wake, wake_after
from simulator.components.base import SUCCESS, Job
from simulator.components.service import Server
from simulator.metrics import LogHistogram, Rollup, Series
from simulator.policies import (
    AdaptiveThrottle,
    Bulkhead,
    CircuitBreaker,
    ConnectionPool,
    FallbackPolicy,
    RetryBudget,
    RetrySequence,
    make_backoff,
)
from simulator.policies.pool import OPEN, PING, RECYCLE, STALE, USE, Connection, WaitTimes
from simulator.randomness import RandomStream
from simulator.scenario import Call
from simulator.scenario_policies import Bulkhead as BulkheadConfig

__all__ = ["POOL_SERIES", "CallSite", "EdgeStats", "PoolRecorder"]

Done = Callable[[Job, str], None]
EDGE_SERIES = ("requests", "attempts", "failures")
POOL_SERIES = ("in_use", "idle", "waiters", "acquire_wait_p99_ms")


class EdgeStats:
    """Per-edge counts: requests vs attempts is the amplification the edge adds."""

    COUNTERS: tuple[str, ...] = ("requests", "attempts", "retries", "fallbacks", "finished")

    def __init__(self, series: Series):
        self.series = series
        self.requests = self.attempts = self.retries = self.fallbacks = self.finished = 0
        self.failures = 0  # attempts that did not end in ok or fallback
        self.outcomes: dict[str, int] = {}
        self.attempt_outcomes: dict[str, int] = {}
        self.latency = LogHistogram()
        self.baseline: dict[str, int] = {}
        self.rollup = Rollup(
            series,
            {
                "requests": lambda _now: self.requests,
                "attempts": lambda _now: self.attempts,
                "failures": lambda _now: self.failures,
            },
        )

    def mark_warmup(self) -> None:
        self.baseline = {name: getattr(self, name) for name in self.COUNTERS}
        self.baseline.update({f"outcome:{k}": v for k, v in self.outcomes.items()})
        self.baseline.update({f"attempt:{k}": v for k, v in self.attempt_outcomes.items()})

    def since_warmup(self, name: str) -> int:
        return getattr(self, name) - self.baseline.get(name, 0)


class PoolRecorder:
    """A pool's time series: mean levels per bucket and the bucket's acquire wait p99.

    The levels are time integrals the pool keeps (``ConnectionPool._tick``), read
    like a node's ``busy``; the p99 is the pool's wait histogram of the bucket,
    emptied when the bucket closes (NaN for a bucket in which no acquire ended).
    """

    def __init__(self, series: Series, pool: ConnectionPool):
        self.series, self.pool = series, pool

        def level(area: str, now_level: Callable[[], int]) -> Callable[[float], float]:
            return lambda now: getattr(pool, area) + now_level() * (now - pool._last)

        self.levels = Rollup(
            series,
            {
                "in_use": level("in_use_area", lambda: pool.in_use),
                "idle": level("idle_area", lambda: pool.idle),
                "waiters": level("waiting_area", lambda: pool.waiting),
            },
            levels=("in_use", "idle", "waiters"),
        )

    def _write_p99(self) -> None:
        index = self.levels.open
        if index < self.series.size:
            self.series.data["acquire_wait_p99_ms"][index] = self.pool.bucket_waits.p99() * 1000

    def close(self, now: float) -> None:
        self._write_p99()
        self.pool.bucket_waits = WaitTimes()
        self.levels.close(now)

    def flush(self, now: float) -> None:
        self._write_p99()
        self.levels.flush(now)


class _CallState:
    """One request's trip across the edge: its attempts, backoff sequence and held resources."""

    # No reference back to the attempt's Job: without cycles, CPython frees a finished
    # request at once instead of leaving it to the cyclic garbage collector.
    message: Any  # what a publish carries (publishing.PublishSite); unset on calls

    __slots__ = (
        "attempt", "conn", "held", "message", "on_done", "parent", "permitted", "pool_gen", "seq",
        "t0", "t_try",
    )  # fmt: skip

    def __init__(self, parent: Job, on_done: Done, seq: RetrySequence | None, now: float):
        self.parent, self.on_done, self.seq = parent, on_done, seq
        self.t0 = self.t_try = now
        self.attempt = 0
        self.held = 0  # 1: bulkhead slot held, 2: pool connection held (bit flags)
        self.pool_gen = 0  # the pool's generation when the connection was granted
        self.conn: Connection | None = None  # the pooled connection the attempt holds
        self.permitted = False


class CallSite:
    """The caller's side of one call edge, shared by every request that crosses it."""

    def __init__(
        self,
        env: Environment,
        name: str,
        config: Call,
        target: Server,
        rng: RandomStream,
        stats: EdgeStats,
    ):
        self.env, self.name, self.config, self.target, self.rng = env, name, config, target, rng
        self.stats = stats
        self.probability = config.probability
        self.writes = config.writes  # a full disk at the callee fails this call's jobs at once
        self.only_for = frozenset(config.only_for) if config.only_for is not None else None
        self.timeout = config.timeout if config.timeout is not None else math.inf
        connect = config.connect_timeout if config.connect_timeout is not None else self.timeout
        self.connect_timeout = min(connect, self.timeout)
        self.backoff = make_backoff(config.retry) if config.retry else None
        self.max_attempts = self.backoff.max_attempts if self.backoff else 1
        self.budget = (
            RetryBudget(config.retry.budget) if config.retry and config.retry.budget else None
        )
        self.throttle = (
            AdaptiveThrottle(config.adaptive_throttling) if config.adaptive_throttling else None
        )
        self.breaker = CircuitBreaker(config.breaker) if config.breaker else None
        self.bulkhead = self._make_gate(config.bulkhead)
        self.pool_series: Series | None = None  # the pool's time series, once equipped
        self.pool_recorder: PoolRecorder | None = None
        self._leak_rng: RandomStream | None = None
        self.pool = self._make_pool() if config.pool else None
        self.fallback = FallbackPolicy(config.fallback) if config.fallback else None
        # Nothing stands between an attempt and the send: the common, fast path.
        self._ungated = self.throttle is self.breaker is self.bulkhead is self.pool is None
        self._propagate = config.deadline_propagation
        # …and nothing to record after a success either: no budget, no fallback cache.
        self._plain = self._ungated and self.budget is None and self.fallback is None
        self._retrying = False  # a zero-delay retry of this edge runs further up the stack
        self._backlog: deque[_CallState] = deque()  # zero-delay retries waiting for it

    def _make_gate(self, config: BulkheadConfig | None) -> Bulkhead | None:
        return Bulkhead(config, self._schedule, self._cancel) if config else None

    def _make_pool(self) -> ConnectionPool:
        """The pool, with ``min_size`` connections opened before the first request."""
        target = self.target
        # A database that counts its connections (components.service.ConnectionLedger)
        # hears of every pooled connection closed.
        ledger = target.ledger
        pool = ConnectionPool(
            self.config.pool,  # type: ignore[arg-type]
            self._schedule,
            self._cancel,
            clock=lambda: self.env.clock,
            on_close=ledger.close if ledger is not None else None,
        )
        self.pool = pool
        self.warm_pool()
        return pool

    def equip_pool(self, series: Series, leak_rng: RandomStream) -> None:
        """The pool's time series and its leak draws (a stream of its own: common numbers)."""
        pool = self.pool
        assert pool is not None
        self.pool_series = series
        self.pool_recorder = PoolRecorder(series, pool)
        self._leak_rng = leak_rng

    def warm_pool(self) -> None:
        """Open connections up to ``min_size`` (at start, and when the owner restarts)."""
        pool, target = self.pool, self.target
        if pool is None:
            return
        now = self.env.clock
        while pool.open_connections < pool.min_size and not target.down:
            if target.ledger is not None and not target.ledger.open():
                pool.refused_by_database += 1
                return
            pool.open_idle(now, target.epoch)

    # -- timers for the event-driven policies ------------------------------------------------

    def _schedule(self, delay: float, fn: Callable[[], None]) -> list[bool]:
        handle = [True]

        def fire(_ev: simpy.Event) -> None:
            if handle[0]:
                fn()

        self.env.timeout(delay).callbacks.append(fire)
        return handle

    @staticmethod
    def _cancel(handle: list[bool]) -> None:
        handle[0] = False

    # -- the call ----------------------------------------------------------------------------

    def call(self, parent: Job, on_done: Done, message: Any = None) -> None:
        """Start one request across the edge; ``on_done(parent, outcome)`` ends it.

        ``message`` is what a publish carries (``publishing.PublishSite``); a call has none.
        """
        now = self.env.clock  # SimPy's clock without the property call: the hot path
        stats = self.stats
        stats.requests += 1
        seq = self.backoff.sequence() if self.backoff else None
        state = _CallState(parent, on_done, seq, now)
        if message is not None:
            state.message = message
        if self.budget is not None:
            self.budget.request_started()
        self._attempt(state, now)

    def _attempt(self, state: _CallState, now: float) -> None:
        """One try across the edge at ``now`` (passed in: every caller has just read the clock)."""
        state.attempt += 1
        state.t_try = now
        state.permitted = False
        stats = self.stats
        stats.attempts += 1
        if state.attempt > 1:
            stats.retries += 1
        if self._ungated:
            return self._send(state)
        if self.throttle is not None and not self.throttle.may_send(now, self.rng):
            return self._attempt_done(state, "rejected")
        if self.breaker is not None:
            if not self.breaker.try_acquire(now):
                return self._attempt_done(state, "breaker_open")
            state.permitted = True
        if self.bulkhead is not None:
            self.bulkhead.acquire(lambda: self._with_slot(state), lambda: self._gate_refused(state))
        else:
            self._with_slot(state)

    def _gate_refused(self, state: _CallState) -> None:
        self._attempt_done(state, "rejected")

    def _with_slot(self, state: _CallState) -> None:
        if self.bulkhead is not None:
            state.held |= 1
        if self.pool is not None:
            self.pool.acquire(lambda: self._checkout(state), lambda: self._gate_refused(state))
        else:
            self._send(state)

    # -- the pool's checkout (reached only through the pool's grant, so there is a pool) ------

    def _checkout(self, state: _CallState) -> None:
        pool: ConnectionPool = self.pool  # type: ignore[assignment]
        state.held |= 2
        state.pool_gen = pool.generation
        conn = state.conn = pool.granted
        plan = pool.plan(conn, self.env.clock, self.target.epoch)
        if plan is USE:
            self._send(state)
        elif plan is OPEN:
            self._open(state)
        elif plan is PING:
            if pool.ping_time > 0:
                wake_after(self.env, pool.ping_time, self._after_ping, state)
            else:
                self._pinged(state)
        elif plan is RECYCLE:
            pool.recycle_out(conn)  # type: ignore[arg-type]
            state.conn = None
            self._open(state)
        else:  # STALE: the database restarted since; the first use finds the socket dead
            assert plan is STALE
            pool.stale_failures += 1
            self._attempt_done(state, "error")

    def _after_ping(self, wake: Wake) -> None:
        self._pinged(wake.value)

    def _pinged(self, state: _CallState) -> None:
        conn: Connection = state.conn  # type: ignore[assignment]
        if conn.epoch == self.target.epoch:
            return self._send(state)
        self.pool.drop_out(conn)  # type: ignore[union-attr]
        state.conn = None
        self._open(state)

    def _open(self, state: _CallState) -> None:
        """Open a connection for the attempt (it holds a slot without one), then send."""
        pool: ConnectionPool = self.pool  # type: ignore[assignment]
        target = self.target
        if target.down:  # nothing to connect to: the send is refused, as without a pool
            return self._send(state)
        if target.ledger is not None and not target.ledger.open():
            pool.refused_by_database += 1  # too many connections at the database
            return self._attempt_done(state, "error")
        state.conn = pool.open(self.env.clock, target.epoch)
        if pool.connect_time > 0:
            wake_after(self.env, pool.connect_time, self._connected, state)
        else:
            self._send(state)

    def _connected(self, wake: Wake) -> None:
        state: _CallState = wake.value
        conn: Connection = state.conn  # type: ignore[assignment]
        if conn.epoch != self.target.epoch:  # the database crashed while we connected
            self.pool.drop_out(conn)  # type: ignore[union-attr]
            state.conn = None
            return self._open(state)
        self._send(state)

    def _send(self, state: _CallState) -> None:
        deadline = math.inf
        if self._propagate:
            deadline = min(state.parent.deadline, self.env.clock + self.timeout)
        job = Job(self, deadline, state, state.parent.origin)
        target = self.target
        unreachable = target.partitioned
        target.submit(job)
        if job.closed:
            return  # answered at once (refused, rejected, shed)
        wait = self.connect_timeout if unreachable else self.timeout
        if wait < math.inf:
            wake_after(self.env, wait, self._on_timer, job)

    def on_reply(self, job: Job, outcome: str) -> None:
        if job.closed:
            return  # the caller gave up on this attempt; the callee's work was wasted
        job.closed = True
        self._attempt_done(job.state, outcome)

    def _on_timer(self, wake: Wake) -> None:
        job: Job = wake.value
        if job.closed:
            return
        job.closed = True
        self._attempt_done(job.state, "timeout")

    def _release(self, state: _CallState) -> None:
        # A held flag is set only when its policy exists (see _with_slot and _with_connection).
        if state.held & 2:
            self._checkin(state)
        if state.held & 1:
            self.bulkhead.release()  # type: ignore[union-attr]
        state.held = 0

    def _checkin(self, state: _CallState) -> None:
        pool: ConnectionPool = self.pool  # type: ignore[assignment]
        conn = state.conn
        state.conn = None
        if conn is None:
            pool.release_bare()
        elif state.pool_gen != pool.generation or conn.epoch != self.target.epoch:
            pool.discard(conn)  # its owner or its database restarted meanwhile: it is dead
        elif pool.leak_share > 0 and self._leak_rng.random() < pool.leak_share:  # type: ignore[union-attr]
            pool.leak(conn)
        else:
            pool.checkin(conn)

    def _attempt_done(self, state: _CallState, outcome: str) -> None:
        stats = self.stats
        stats.attempt_outcomes[outcome] = stats.attempt_outcomes.get(outcome, 0) + 1
        if self._plain and (outcome == "ok" or outcome == "fallback"):
            return self._finish(state, outcome)  # nothing to record, release or retry
        now = self.env.clock
        if state.held:
            self._release(state)
        if outcome not in SUCCESS:
            stats.failures += 1
        if state.permitted:  # set only after the breaker let the attempt go
            self.breaker.record(now, outcome, now - state.t_try)  # type: ignore[union-attr]
        if self.throttle is not None and outcome in ("ok", "fallback", "error"):
            self.throttle.record_accept(now)
        if self.budget is not None and state.attempt > 1:
            self.budget.retry_finished()
        if outcome in SUCCESS:
            if self.fallback is not None:
                self.fallback.record_success(now)
            return self._finish(state, outcome)
        if self._may_retry(state, outcome):
            if self.budget is not None:
                self.budget.retry_started()
            # _may_retry is True only under a backoff, so this request has a sequence.
            delay = state.seq.next_delay(self.rng)  # type: ignore[union-attr]
            if delay > 0:
                wake_after(self.env, delay, self._after_backoff, state)
            else:
                self._retry_now(state, now)
            return
        if self.fallback is not None and self.fallback.answer(now):
            stats.fallbacks += 1
            return self._finish(state, "fallback")
        self._finish(state, outcome)

    def _retry_now(self, state: _CallState, now: float) -> None:
        """A zero-delay retry, trampolined so immediate retries never nest.

        An attempt refused at once (crashed callee, full bulkhead) ends inside its own
        ``_attempt``; retrying it there would nest a frame chain per attempt, and
        through a bulkhead's hand-offs one per waiter as well. So the first zero-delay
        retry runs here, and any asked for while it runs (a deeper one of the same
        request, or another request's) waits in ``_backlog`` for the loop below. From a
        send refused at once back up to ``_attempt`` every step is a tail call, so the
        order of events is the one nesting gave; it differs only where a refused
        attempt's release handed a slot on inside that chain, the crowd-on-a-crashed-
        callee case that used to end in ``RecursionError``.
        """
        if self._retrying:
            self._backlog.append(state)
            return
        self._retrying = True
        try:
            self._attempt(state, now)
            backlog = self._backlog
            while backlog:  # all asked for at this same instant
                self._attempt(backlog.popleft(), now)
        finally:
            self._retrying = False

    def _may_retry(self, state: _CallState, outcome: str) -> bool:
        # Without a backoff max_attempts is 1, so the first test answers before the second runs.
        if state.attempt >= self.max_attempts or not self.backoff.retryable(outcome):  # type: ignore[union-attr]
            return False
        return self.budget is None or self.budget.may_retry()

    def _after_backoff(self, wake: Wake) -> None:
        self._attempt(wake.value, self.env.clock)

    def _finish(self, state: _CallState, outcome: str) -> None:
        now = self.env.clock
        stats = self.stats
        stats.finished += 1
        stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1
        stats.latency.record(now - state.t0)
        if self.budget is not None:
            self.budget.request_finished()
        state.on_done(state.parent, outcome)

    def job_of(self, parent: Job) -> Job | None:
        """The job this edge has out for ``parent``, if it keeps track (a balancer's backend
        call that a hedge's cancel must reach: ``hedging.LinkedCallSite``); else None."""
        return None

    def problems(self) -> list[str]:
        """Bookkeeping problems of the edge's own (a hedged edge's books), for the invariants."""
        return []

    # -- state for snapshots -----------------------------------------------------------------

    def breaker_state(self) -> str | None:
        return self.breaker.state if self.breaker is not None else None
