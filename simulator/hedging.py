"""A hedged call edge: after the hedge delay with no answer, another attempt goes out.

Built only for a call with ``hedge`` (``engine.add_call``), so every other call keeps
the plain ``CallSite`` path. One request may have several attempts in flight at
once, so the per-attempt state (held slot and connection, breaker permit, the
attempt's timer) is one ``_Attempt`` each, and the request's (``_Request``) holds
what they share: the retry sequence, the hedges sent, the backends tried.

The rules (documented in ``docs/architecture.md``, "Hedged requests"):

- The hedge timer runs from the start of the request's current try (its first
  attempt or a retry): after the delay, if nothing has answered, a hedge goes out
  (if the budget allows), and the next one a delay later, up to ``max_hedges`` per
  request. During a retry's backoff nothing is in flight, so nothing is hedged.
- The first success ends the request; the other attempts are closed at once (the
  caller stops listening, as after a timeout) and count as ``cancelled`` attempts.
  With ``cancel_loser`` and ``deadline_propagation`` their deadline passes now, so
  the callee drops them if still queued (through a balancer: at the backend too,
  when the balancer's call propagates deadlines).
- A failed attempt while others are in flight ends only itself; when the last one
  fails, the request's retry policy decides as for a plain call (a retry is a new
  try, hedged again), then its fallback. Retries count towards ``retry.attempts``;
  hedges do not.
- Through a balancer every attempt of the request (hedges and retries) carries
  the request's set of backends tried (``Job.avoid``); the balancer picks another
  if it can and adds its pick.
"""

from __future__ import annotations

import math
from typing import Any

from simulator._simpy import Wake, wake_after
from simulator.calls import CallSite, Done, EdgeStats, _CallState
from simulator.components.balancer import Balancer
from simulator.components.base import SUCCESS, Job, avoid_of
from simulator.policies import HedgePolicy
from simulator.scenario import Scenario

__all__ = ["HedgeStats", "HedgedCallSite", "LinkedCallSite", "cancelled_balancers"]

FIRST, RETRY, HEDGE, CANCELLED = 0, 1, 2, -1
_OBSERVED = frozenset(("ok", "fallback", "timeout"))
"""The answers whose latency feeds a percentile hedge delay (with superseded losers')."""


class HedgeStats(EdgeStats):
    """A hedged edge's counts: the plain ones, the hedges sent and the hedges that won."""

    COUNTERS = (*EdgeStats.COUNTERS, "hedges", "hedge_wins")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.hedges = self.hedge_wins = 0


class _Request:
    """One request's trip across a hedged edge: the attempts it has out and what they share."""

    __slots__ = (
        "armed", "done", "hedges", "live", "on_done", "parent", "seq", "t0", "tried", "tries",
    )  # fmt: skip

    def __init__(self, parent: Job, on_done: Done, seq: Any, now: float) -> None:
        self.parent, self.on_done, self.seq, self.t0 = parent, on_done, seq, now
        self.live: dict[_Attempt, None] = {}  # attempts in flight, in the order they started
        self.tries = 0  # the first attempt and retries sent (what retry.attempts bounds)
        self.hedges = 0
        self.armed = 0  # the hedge timer's generation: a timer of an older one is void
        self.tried: set[int] = set()  # backends tried behind a balancer (Job.avoid)
        self.done = False


class _Attempt(_CallState):
    """One attempt of a hedged request: a plain attempt's state plus its request and job."""

    __slots__ = ("job", "kind", "request")

    def __init__(self, request: _Request, kind: int, now: float) -> None:
        super().__init__(request.parent, request.on_done, request.seq, now)
        self.request, self.kind = request, kind
        self.job: Job | None = None  # the job sent, while it is out (cleared when it ends)


class HedgedCallSite(CallSite):
    """A call edge with a hedge: several attempts of one request may be in flight at once."""

    stats: HedgeStats

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        hedge = self.config.hedge
        assert hedge is not None  # built only for a call with a hedge
        self.hedging = HedgePolicy(hedge)
        self._cancels = hedge.cancel_loser and self._propagate
        self._via_balancer = isinstance(self.target, Balancer)
        if self._via_balancer:
            self.target.hedged = True  # type: ignore[attr-defined]
        self._plain = False  # every attempt's end is weighed against its siblings
        self.live: dict[_Request, None] = {}  # requests in flight (for the invariants)
        self.double_finishes = 0

    # -- a request and its attempts ------------------------------------------------------------

    def call(self, parent: Job, on_done: Done, message: Any = None) -> None:
        now = self.env.clock
        self.stats.requests += 1
        request = _Request(parent, on_done, self.backoff.sequence() if self.backoff else None, now)
        self.live[request] = None
        self.hedging.request_started(now)
        if self.budget is not None:
            self.budget.request_started()
        self._launch(request, FIRST, now)

    def _launch(self, request: _Request, kind: int, now: float) -> None:
        """Start one attempt of ``request``: its first, a retry, or a hedge."""
        self._attempt(self._prepare(request, kind, now), now)

    def _prepare(self, request: _Request, kind: int, now: float) -> _Attempt:
        """The books of a new attempt (counted in flight, the hedge timer armed for a try)."""
        state = _Attempt(request, kind, now)
        if kind == HEDGE:
            state.attempt = 0  # _attempt makes it 1: a hedge is not a retry
        else:
            state.attempt = request.tries  # _attempt adds one: above 1 it counts as a retry
            request.tries += 1
            self._arm(request, now)
        request.live[state] = None
        return state

    def _arm(self, request: _Request, now: float) -> None:
        """Start the hedge timer for the request's next hedge (if any is left and due)."""
        request.armed += 1
        delay = self.hedging.delay()
        if delay is None or request.hedges >= self.hedging.max_hedges:
            return
        wake_after(self.env, delay, self._hedge_due, (request, request.armed))

    def _hedge_due(self, wake: Wake) -> None:
        request, armed = wake.value
        if request.done or armed != request.armed or not request.live:
            return  # answered, a newer try re-armed it, or backing off: nothing to hedge
        now = self.env.clock
        if not self.hedging.may_hedge(now):
            return  # over budget: this try gets no more hedges
        request.hedges += 1
        self.stats.hedges += 1
        self._arm(request, now)
        self._launch(request, HEDGE, now)

    # -- the send and the end of an attempt ----------------------------------------------------

    def _send(self, state: _CallState) -> None:
        attempt: _Attempt = state  # type: ignore[assignment]
        if attempt.kind == CANCELLED:  # its request ended while it waited for a slot or a pool
            return self._release(attempt)
        request = attempt.request
        deadline = math.inf
        if self._propagate:
            deadline = min(request.parent.deadline, self.env.clock + self.timeout)
        job = Job(self, deadline, attempt, request.parent.origin)
        if self._via_balancer:
            job.avoid = request.tried
        attempt.job = job
        target = self.target
        unreachable = target.partitioned
        target.submit(job)
        if job.closed:
            return  # answered at once (refused, rejected, shed)
        wait = self.connect_timeout if unreachable else self.timeout
        if wait < math.inf:
            wake_after(self.env, wait, self._on_timer, job)

    def _attempt_done(self, state: _CallState, outcome: str) -> None:
        attempt: _Attempt = state  # type: ignore[assignment]
        if attempt.kind == CANCELLED:  # refused at a gate after its request ended
            return self._release(attempt)
        stats = self.stats
        stats.attempt_outcomes[outcome] = stats.attempt_outcomes.get(outcome, 0) + 1
        now = self.env.clock
        request = attempt.request
        del request.live[attempt]
        if attempt.job is not None:  # it was sent: its latency is the callee's (or the timeout)
            attempt.job = None
            # Finagle's window: answers and timeouts; a failure answered at once would pull
            # the delay down (refused, shed, an error), so it is left out.
            if outcome in _OBSERVED:
                self.hedging.observe(now - attempt.t_try)
        # Releasing the slot or connection may hand it at once to a sibling waiting for one,
        # which may be answered at once (shed, refused) and end the request itself: so the
        # winner's is released only once its siblings are marked cancelled (``_end``), and a
        # failure decides with the siblings it had before the release.
        last = not request.live
        success = outcome in SUCCESS
        self._settle(attempt, attempt.kind, outcome, now, release=not success)
        if success:
            if self.fallback is not None:
                self.fallback.record_success(now)
            if attempt.kind == HEDGE:
                stats.hedge_wins += 1
            return self._end(request, outcome, attempt)
        stats.failures += 1
        if not last:
            return  # a sibling is (or was, when the slot went to it) out: it decides
        request.armed += 1  # nothing in flight: no hedge until the next try
        if self._may_retry_request(request, outcome):
            if self.budget is not None:
                self.budget.retry_started()
            delay = request.seq.next_delay(self.rng)
            if delay > 0:
                wake_after(self.env, delay, self._after_backoff, request)
            else:  # trampolined, as a plain call's immediate retries are
                self._retry_now(self._prepare(request, RETRY, now), now)
            return
        if self.fallback is not None and self.fallback.answer(now):
            stats.fallbacks += 1
            return self._end(request, "fallback")
        self._end(request, outcome)

    def _settle(
        self, attempt: _Attempt, kind: int, outcome: str, now: float, release: bool = True
    ) -> None:
        """What every attempt's end records, whatever it means for its request."""
        if release and attempt.held:
            self._release(attempt)
        if attempt.permitted:  # every permitted attempt records an outcome (half-open waits)
            if outcome == "cancelled":  # nobody's failure nor success: the permit goes back
                self.breaker.release()  # type: ignore[union-attr]
            else:
                self.breaker.record(now, outcome, now - attempt.t_try)  # type: ignore[union-attr]
        if self.throttle is not None and outcome in ("ok", "fallback", "error"):
            self.throttle.record_accept(now)
        if self.budget is not None and kind == RETRY:
            self.budget.retry_finished()

    def _may_retry_request(self, request: _Request, outcome: str) -> bool:
        if request.tries >= self.max_attempts or not self.backoff.retryable(outcome):  # type: ignore[union-attr]
            return False
        return self.budget is None or self.budget.may_retry()

    def _after_backoff(self, wake: Wake) -> None:
        self._launch(wake.value, RETRY, self.env.clock)

    def _end(self, request: _Request, outcome: str, winner: _Attempt | None = None) -> None:
        """The request's answer: close the attempts still out, then finish it once."""
        if request.done:
            self.double_finishes += 1  # the invariants report it
            if winner is not None and winner.held:
                self._release(winner)
            return
        request.done = True
        request.armed += 1
        now = self.env.clock
        stats = self.stats
        # Marked first: a slot released below may be handed to a loser waiting for one.
        losers = [(attempt, attempt.kind) for attempt in request.live]
        request.live.clear()
        for attempt, _kind in losers:
            attempt.kind = CANCELLED
        for attempt, kind in losers:
            stats.attempt_outcomes["cancelled"] = stats.attempt_outcomes.get("cancelled", 0) + 1
            job = attempt.job
            if job is not None:
                # Superseded: it took at least this long (Finagle records it), so the window
                # keeps the slow attempts the hedges beat, not only the fast ones that won.
                self.hedging.observe(now - attempt.t_try)
                job.closed = True  # its answer, if it comes, is dropped
                attempt.job = None
                if self._cancels:  # the callee hears the deadline has passed
                    self.target.cancel(job, now)
            # One not sent yet may be mid-checkout (a ping, a connect): it keeps its slot and
            # connection until its chain reaches _send or _attempt_done, which release them.
            self._settle(attempt, kind, "cancelled", now, release=job is not None)
        if winner is not None and winner.held:  # its siblings are cancelled: safe to hand on
            self._release(winner)
        del self.live[request]
        stats.finished += 1
        stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1
        stats.latency.record(now - request.t0)
        if self.budget is not None:
            self.budget.request_finished()
        request.on_done(request.parent, outcome)

    # -- the books -----------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Each request ends once; every attempt sent ends in one outcome or is still out."""
        stats = self.stats
        found = []
        if self.double_finishes:
            found.append(f"{self.name}: {self.double_finishes} requests finished twice")
        if stats.requests != stats.finished + len(self.live):
            found.append(f"{self.name}: {stats.requests} requests != {stats.finished} finished + "
                         f"{len(self.live)} in flight")  # fmt: skip
        out = sum(len(request.live) for request in self.live)
        ended = sum(stats.attempt_outcomes.values())
        if stats.attempts != ended + out:
            found.append(f"{self.name}: {stats.attempts} attempts != {ended} ended + {out} out")
        if (
            stats.attempts != stats.requests + stats.retries + stats.hedges
            or not 0 <= stats.hedge_wins <= stats.hedges
        ):
            found.append(f"{self.name}: {stats.hedges} hedges, {stats.hedge_wins} won, "
                         f"{stats.attempts} attempts for {stats.requests} requests")  # fmt: skip
        return found


def cancelled_balancers(scenario: Scenario) -> set[str]:
    """The nodes a hedge's cancel may reach through: callees of a hedged call that cancels
    its losers and propagates its deadline (only balancers among them pass it on)."""
    return {
        call.to
        for spec in scenario.nodes.values()
        for call in spec.calls
        if call.hedge is not None and call.hedge.cancel_loser and call.deadline_propagation
    }


class LinkedCallSite(CallSite):
    """A balancer's backend call that a hedge's cancel must reach: it remembers the job it has
    out for each hedged request (``Job.avoid`` set), so ``Balancer.cancel`` can pass the
    cancel on. Built only for a propagating backend call of a balancer in
    ``cancelled_balancers``, so every other call keeps the plain path.
    """

    def __init__(self, *args: Any, balancer: Balancer) -> None:
        super().__init__(*args)
        self._out: dict[Job, Job] = {}  # the balancer's job -> the job sent for it
        self._balancer = balancer  # the caller, told of a cancel apart from any answer

    def job_of(self, parent: Job) -> Job | None:
        return self._out.get(parent)

    def abandon(self, job: Job, now: float) -> None:
        """The balancer's job for ``job`` was cancelled: the backend hears its deadline has
        passed, and the balancer stops waiting (a proxy resetting the upstream request)."""
        self.target.cancel(job, now)
        job.closed = True
        self._forget(job)
        self._attempt_done(job.state, "cancelled")

    def _attempt_done(self, state: _CallState, outcome: str) -> None:
        if outcome != "cancelled":
            return super()._attempt_done(state, outcome)
        # Neither a failure to retry nor one to fall back from: the caller is gone.
        stats = self.stats
        stats.attempt_outcomes[outcome] = stats.attempt_outcomes.get(outcome, 0) + 1
        now = self.env.clock
        if state.held:
            self._release(state)
        if state.permitted:  # not recorded, neither success nor failure: the permit goes back
            self.breaker.release()  # type: ignore[union-attr]
        if self.budget is not None and state.attempt > 1:
            self.budget.retry_finished()
        stats.finished += 1
        stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1
        stats.latency.record(now - state.t0)
        if self.budget is not None:
            self.budget.request_finished()
        self._balancer.after_cancel(state.parent)

    def _send(self, state: _CallState) -> None:
        parent = state.parent
        if parent.closed and avoid_of(parent) is not None:  # cancelled before it got here
            return self._attempt_done(state, "cancelled")
        deadline = min(parent.deadline, self.env.clock + self.timeout)  # always propagates
        job = Job(self, deadline, state, parent.origin)
        target = self.target
        unreachable = target.partitioned
        target.submit(job)
        if job.closed:
            return  # answered at once (refused, rejected, shed)
        if avoid_of(parent) is not None:
            self._out[parent] = job
        wait = self.connect_timeout if unreachable else self.timeout
        if wait < math.inf:
            wake_after(self.env, wait, self._on_timer, job)

    def on_reply(self, job: Job, outcome: str) -> None:
        self._forget(job)
        super().on_reply(job, outcome)

    def _on_timer(self, wake: Wake) -> None:
        self._forget(wake.value)
        super()._on_timer(wake)

    def _forget(self, job: Job) -> None:
        parent = job.state.parent
        if self._out.get(parent) is job:
            del self._out[parent]
