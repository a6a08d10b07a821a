"""A server whose entry limit adapts to latency: ``limiter: {kind: aimd | vegas | gradient2}``.

Only a service or database with an adaptive limiter is built as an
``AdaptiveServer`` (a ``Server`` mixin, like ``WatchedServer``); every other node
keeps the plain entry path and pays nothing.

The limiter sits where the static ones do (``Server.submit``: after the crash and
partition checks, before the connection limit and the queue) and counts a request
from its admission until it leaves the node, queued or in service, as the
server-side limiter of Netflix's concurrency-limits measures it. When an admitted
request leaves, the rule gets one sample (``policies/concurrency.py``):

- ``rtt``: from admission to the reply (the node's whole latency, its queue and its
  downstream calls included);
- ``in_flight``: the requests inside when it was admitted, itself included;
- ``dropped``: the request ran out of time. That is what the library's gRPC server
  interceptor reports as a drop (``DEADLINE_EXCEEDED``): it expired in the queue or
  finished after its caller's propagated deadline, or it failed because a downstream
  call timed out (``dependency_timeout``). Any other answer, errors included, is a
  plain sample. Without deadline propagation the node cannot know its caller gave
  up: only the latency speaks (and AIMD's own ``timeout``).

A request its caller cancelled (a hedge's loser, ``Server.cancel``) gives no sample
either, wherever it ends: the library's gRPC interceptor ignores a client's cancel
(``onCancel`` -> ``onIgnore``), it is no drop. Work lost in a crash gives no sample
(``onIgnore`` too), and the restarted
process's limiter starts again from ``initial_limit``.
"""

from __future__ import annotations

import copy
from typing import Any

from simulator.components.base import Job, was_cancelled
from simulator.components.service import Server
from simulator.metrics import Rollup, Series
from simulator.policies.concurrency import AdaptiveLimiter

__all__ = ["AdaptiveServer", "adaptive"]


class AdaptiveServer(Server):
    """A ``Server`` whose ``limiter`` is an ``AdaptiveLimiter`` fed by its requests' latency."""

    limiter: AdaptiveLimiter

    def __init__(self, *args: Any, limit_series: Series, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # The requests inside at each admitted job's admission, until it leaves.
        self._entered: dict[Job, int] = {}
        limiter = self.limiter
        self._limit_rollup = Rollup(limit_series, {"limit": limiter.area_until}, levels=("limit",))

    # -- the hot path, hooked only here ----------------------------------------------------------

    def submit(self, job: Job) -> None:
        accepted = self.stats.accepted
        super().submit(job)
        # Accepted (queued or started) and not lost at once (an OOM kill on arrival).
        if self.stats.accepted != accepted and job.epoch == self.epoch and not self.down:
            self._entered[job] = self.limiter.entry_in_flight

    def _finish(self, job: Job, outcome: str, error_kind: str | None) -> None:
        entered = self._entered.pop(job, None)
        if entered is not None:
            now = self.env.clock
            # A cancel passes the deadline: only then is the (unset) mark worth reading.
            if not (job.deadline <= now and was_cancelled(job)):
                dropped = error_kind == "dependency_timeout" or now > job.deadline
                self.limiter.sample(now, now - job.t_arrive, entered, dropped)
        super()._finish(job, outcome, error_kind)

    def _expire(self, job: Job, now: float) -> None:
        entered = self._entered.pop(job, None)
        if entered is not None and not was_cancelled(job):
            self.limiter.sample(now, now - job.t_arrive, entered, True)
        super()._expire(job, now)

    def crash(self) -> None:
        super().crash()
        self._entered.clear()  # every request inside was lost: no sample (onIgnore)

    def restart(self) -> None:
        was_down = self.down
        super().restart()
        if was_down and not self.down:
            self.limiter.restart(self.env.clock)

    # -- what readers see ----------------------------------------------------------------------

    def extra_rollups(self) -> list[Rollup]:
        return [*super().extra_rollups(), self._limit_rollup]

    def own_series(self) -> dict[str, Series]:
        out = super().own_series()
        prefix, mine = f"node.{self.name}", self._limit_rollup.series
        if prefix in out:  # a watched node's memory shares the prefix: one series of both
            merged = copy.copy(out[prefix])
            merged.data = {**out[prefix].data, **mine.data}
            mine = merged
        return {**out, prefix: mine}

    def own_summary(self, now: float) -> dict[str, Any]:
        limiter = self.limiter
        return {
            **super().own_summary(now),
            "limit": {
                "algorithm": limiter.config.kind,
                "initial": limiter.initial,
                "final": limiter.limit,
                "min": limiter.lowest,
                "max": limiter.highest,
                "samples": limiter.samples,
                "drops": limiter.drops,
            },
        }

    def own_snapshot(self) -> dict[str, Any]:
        limiter = self.limiter
        return {**super().own_snapshot(), "limit": limiter.limit,
                "limit_in_flight": limiter.in_flight}  # fmt: skip

    def own_problems(self) -> list[str]:
        """The limiter's count of requests inside against the node's own."""
        out = super().own_problems()
        limiter = self.limiter
        inside = len(self.in_service) + len(self.queue)
        if limiter.in_flight != inside:
            out.append(f"limiter counts {limiter.in_flight} inside, the node {inside}")
        if len(self._entered) != limiter.in_flight:
            out.append(f"{len(self._entered)} admissions remembered, {limiter.in_flight} inside")
        if limiter.admitted - limiter.samples < limiter.in_flight:
            out.append(f"{limiter.samples} samples of {limiter.admitted} admitted, "
                       f"{limiter.in_flight} still inside")  # fmt: skip
        if not limiter.lowest <= limiter.limit <= limiter.highest:
            out.append(f"limit {limiter.limit} outside its range {limiter.lowest}-"
                       f"{limiter.highest}")  # fmt: skip
        return out


_ADAPTIVE: dict[type[Server], type[Server]] = {Server: AdaptiveServer}


def adaptive(cls: type[Server]) -> type[Server]:
    """``cls`` with an adaptive entry limit; every hook is cooperative (``super()``), so a
    watched, versioned or tracked database keeps its own bookkeeping."""
    if cls not in _ADAPTIVE:
        _ADAPTIVE[cls] = type(f"Adaptive{cls.__name__}", (AdaptiveServer, cls), {})
    return _ADAPTIVE[cls]
