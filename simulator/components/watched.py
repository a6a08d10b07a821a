"""A serving process that can die of its own accord: OOM kills and liveness restarts.

A service or database that declares ``memory:`` or ``liveness:`` is built as a
``WatchedServer``; every other node stays a plain ``Server`` and pays nothing.

Memory used = base + per_request x busy + per_queued x queued + leaked, where
``leaked`` grows linearly at the summed rate of the active ``memory_leak``
faults and goes back to zero only when the process restarts. Between events
only the leak moves memory, so the instant it crosses the limit is known in
closed form: the server keeps one timer at that instant, moved earlier when
memory rises (a request accepted or queued) and re-armed when it fires early
(memory fell meanwhile). An OOM kill therefore happens at the exact crossing,
not at the next tick. A rise past the limit by a request kills at once.

A kill (OOM or liveness) has crash semantics (``Server.crash``: in-flight and
queued work lost, counted as errors ``oom`` or ``liveness``) and the process
comes back after its ``boot_time``, unless a crash fault holds it down: then
the crash fault's end restarts it, once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from simulator._simpy import Wake, wake_after
from simulator.components.base import Job
from simulator.components.service import Server
from simulator.metrics import PeakRollup, Rollup, Series

if TYPE_CHECKING:
    from simulator.fault_kinds import Conditions
    from simulator.scenario_nodes import Liveness, Memory

__all__ = ["LivenessProbe", "MemoryModel", "WatchedServer", "watched"]

RESTART_CAUSES = ("oom", "liveness", "crash")
"""Why a watched process restarted: killed for memory, by its probe, or by a crash fault."""


class MemoryModel:
    """One process's memory as a function of its load and of time (no SimPy: unit-testable)."""

    __slots__ = ("base", "leaked", "limit", "per_queued", "per_request", "rate", "since")

    def __init__(self, spec: Memory):
        self.limit, self.base = spec.limit_mb, spec.base_mb
        self.per_request, self.per_queued = spec.per_request_mb, spec.per_queued_mb
        self.leaked = 0.0  # leaked by time ``since``
        self.since = 0.0
        self.rate = 0.0  # MB/s, from the active leak faults

    def static(self, busy: float, queued: int) -> float:
        """What the process holds for its load, leak aside."""
        return self.base + self.per_request * busy + self.per_queued * queued

    def used(self, now: float, busy: float, queued: int) -> float:
        return self.static(busy, queued) + self.leaked + self.rate * (now - self.since)

    def set_rate(self, now: float, rate: float) -> None:
        """The leak changes rate at ``now``; what leaked so far stays."""
        self.leaked += self.rate * (now - self.since)
        self.since, self.rate = now, rate

    def restarted(self, now: float) -> None:
        """A new process: nothing leaked yet (the leak, if still active, starts again)."""
        self.leaked, self.since = 0.0, now

    def crossing(self, busy: float, queued: int) -> float:
        """When the leak takes memory to the limit if the load stays as it is (inf: never)."""
        if self.rate <= 0.0:
            return math.inf
        return self.since + (self.limit - self.static(busy, queued) - self.leaked) / self.rate


class LivenessProbe:
    """Counts probe results; says when consecutive failures reach the threshold."""

    __slots__ = ("consecutive", "failures", "interval", "probes", "threshold", "timeout")

    def __init__(self, spec: Liveness):
        self.interval, self.timeout = spec.interval, spec.timeout
        self.threshold = spec.failure_threshold
        self.consecutive = 0
        self.failures = 0
        self.probes = 0

    def sent(self) -> None:
        self.probes += 1

    def passed(self) -> None:
        self.consecutive = 0

    def failed(self) -> bool:
        """Record a failure; True when the process should be restarted now."""
        self.failures += 1
        self.consecutive += 1
        if self.consecutive >= self.threshold:
            self.consecutive = 0
            return True
        return False

    def restarted(self) -> None:
        self.consecutive = 0


class WatchedServer(Server):
    """A ``Server`` with a memory model, a liveness probe, or both."""

    def __init__(
        self,
        *args: Any,
        memory: Memory | None,
        liveness: Liveness | None,
        memory_series: Series | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.memory = MemoryModel(memory) if memory is not None else None
        self.probe = LivenessProbe(liveness) if liveness is not None else None
        self.oom_kills = 0
        self.liveness_kills = 0
        self.restarts = dict.fromkeys(RESTART_CAUSES, 0)
        self.peak_memory = 0.0
        self._down_cause = "crash"
        self._held_down = False  # a crash fault is active: only its end may restart the node
        self._boot_token = 0  # bumped when a crash fault takes over: a pending kill's boot is void
        self._oom_at = math.inf  # when the armed OOM timer fires (inf: none armed)
        self._probe_id = 0
        # A probe is waiting: how many jobs must have left the queue before it is served.
        self._probe_ahead: int | None = None
        self._dequeued = 0  # jobs that have left the queue (started or expired), ever
        self._memory_rollup: PeakRollup | None = None
        if self.memory is not None and memory_series is not None:
            self._memory_rollup = PeakRollup(memory_series, "memory_mb", self.memory_mb)
        if self.memory is not None:
            self.peak_memory = self.memory.base
        if self.probe is not None:
            wake_after(self.env, self.probe.interval, self._send_probe, self.epoch)

    # -- memory --------------------------------------------------------------------------------

    def memory_mb(self, now: float) -> float:
        """Memory in use now (0 while down: the process is gone)."""
        if self.memory is None or self.down:
            return 0.0
        return self.memory.used(now, self.busy, len(self.queue))

    def _note(self, value: float) -> None:
        if value > self.peak_memory:
            self.peak_memory = value
        if self._memory_rollup is not None:
            self._memory_rollup.note(value)

    def _memory_rose(self, now: float) -> None:
        memory = self.memory
        if memory is None or self.down:
            return
        used = memory.used(now, self.busy, len(self.queue))
        self._note(used)
        if used > memory.limit:
            self._kill("oom")
        elif memory.rate > 0.0:
            at = memory.crossing(self.busy, len(self.queue))
            if at < self._oom_at:
                self._arm(now, at)

    def _arm(self, now: float, at: float) -> None:
        self._oom_at = at
        if math.isfinite(at):
            wake_after(self.env, max(0.0, at - now), self._on_oom_timer, (self.epoch, at))

    def _on_oom_timer(self, wake: Wake) -> None:
        epoch, at = wake.value
        memory = self.memory
        if epoch != self.epoch or at != self._oom_at or self.down or memory is None:
            return  # superseded: moved earlier, re-armed, or the process died meanwhile
        now = self.env.clock
        at = memory.crossing(self.busy, len(self.queue))
        if at - now <= 1e-9 * max(1.0, now):
            self._note(memory.limit)
            self._kill("oom")
        else:  # memory fell since it was armed: the crossing is later now
            self._arm(now, at)

    def _set_leak(self, rate: float) -> None:
        memory = self.memory
        if memory is None or rate == memory.rate:
            return
        now = self.env.clock
        if not self.down:
            self._note(memory.used(now, self.busy, len(self.queue)))
        memory.set_rate(now, rate)
        self._oom_at = math.inf
        if not self.down:
            self._arm(now, memory.crossing(self.busy, len(self.queue)))

    # -- the hot path, hooked only here ----------------------------------------------------------

    def submit(self, job: Job) -> None:
        super().submit(job)
        if self.memory is not None:
            self._memory_rose(self.env.clock)

    def _start_waiting(self, now: float) -> None:
        before = len(self.queue)
        super()._start_waiting(now)
        self._dequeued += before - len(self.queue)
        ahead = self._probe_ahead
        if ahead is not None and self._dequeued >= ahead and self.busy < self.capacity:
            self._probe_passed()
        if self.memory is not None:
            self._memory_rose(now)

    def _finish(self, job: Job, outcome: str, error_kind: str | None) -> None:
        if self.memory is not None and self.memory.rate > 0.0:  # the leak peaks before a fall
            self._note(self.memory.used(self.env.clock, self.busy, len(self.queue)))
        if self._probe_ahead is not None and self._dequeued >= self._probe_ahead:
            self._probe_passed()  # the worker this job frees serves the probe first, at once
        super()._finish(job, outcome, error_kind)

    # -- liveness ------------------------------------------------------------------------------

    def _send_probe(self, wake: Wake) -> None:
        probe = self.probe
        if probe is None or wake.value != self.epoch or self.down:
            return  # the process this probe loop watched has died; its restart starts another
        if self._probe_ahead is not None:  # timeout == interval: its timer has not run yet
            self._probe_ahead = None
            if probe.failed():
                return self._kill("liveness")
        wake_after(self.env, probe.interval, self._send_probe, self.epoch)
        probe.sent()
        if self.busy < self.capacity and not self.queue:
            probe.passed()
            return
        self._probe_id += 1
        self._probe_ahead = self._dequeued + len(self.queue)
        wake_after(self.env, probe.timeout, self._probe_timed_out, self._probe_id)

    def _probe_passed(self) -> None:
        self._probe_ahead = None
        if self.probe is not None:
            self.probe.passed()

    def _probe_timed_out(self, wake: Wake) -> None:
        if wake.value != self._probe_id or self._probe_ahead is None or self.probe is None:
            return
        self._probe_ahead = None
        if self.probe.failed():
            self._kill("liveness")

    # -- dying and coming back -------------------------------------------------------------------

    def _kill(self, cause: str) -> None:
        """Killed by the OOM killer or restarted by its probe: a crash, then a boot."""
        if cause == "oom":
            self.oom_kills += 1
        else:
            self.liveness_kills += 1
        self.lost_error = cause
        try:
            self.crash()
        finally:
            self.lost_error = "crash"
        self._boot_token += 1
        wake_after(self.env, self.boot_time, self._boot, self._boot_token)

    def _boot(self, wake: Wake) -> None:
        if wake.value == self._boot_token and not self._held_down and self.down:
            self.restart()

    def crash(self) -> None:
        now = self.env.clock
        if self.memory is not None and not self.down and self.memory.rate > 0.0:
            self._note(self.memory.used(now, self.busy, len(self.queue)))
        self._down_cause = self.lost_error
        self._probe_ahead = None
        self._oom_at = math.inf
        super().crash()

    def restart(self) -> None:
        if not self.down:
            return
        self.restarts[self._down_cause] += 1
        super().restart()
        now = self.env.clock
        if self.memory is not None:
            self.memory.restarted(now)
            self._memory_rose(now)  # arms the leak's timer afresh
        if self.probe is not None:
            self.probe.restarted()
            wake_after(self.env, self.probe.interval, self._send_probe, self.epoch)

    def apply_conditions(self, conditions: Conditions) -> None:
        if conditions.crashed and not self._held_down:
            self._boot_token += 1  # a crash fault takes over: its end restarts the node
            if self.down:
                self._down_cause = "crash"
        self._held_down = conditions.crashed
        super().apply_conditions(conditions)
        self._set_leak(conditions.leak_mb_per_s)

    # -- what readers see ----------------------------------------------------------------------

    def extra_rollups(self) -> list[Rollup]:
        mine = [] if self._memory_rollup is None else [self._memory_rollup]
        return super().extra_rollups() + mine

    def own_series(self) -> dict[str, Series]:
        if self._memory_rollup is None:
            return super().own_series()
        return {**super().own_series(), f"node.{self.name}": self._memory_rollup.series}

    def own_summary(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {"restarts": dict(self.restarts)}
        if self.memory is not None:
            out["limit_mb"] = self.memory.limit
            out["peak_memory_pct"] = round(100.0 * self.peak_memory / self.memory.limit, 6)
            out["oom_kills"] = self.oom_kills
        if self.probe is not None:
            out["liveness_probes"] = self.probe.probes
            out["liveness_failures"] = self.probe.failures
        return out

    def own_problems(self) -> list[str]:
        """A process alive over its limit, or restarted more often than it was killed."""
        out = []
        memory = self.memory
        if memory is not None and not self.down:
            used = self.memory_mb(self.env.clock)
            if used > memory.limit * (1 + 1e-9):
                out.append(f"alive at {used:g} MB, over its limit of {memory.limit:g} MB")
        for cause, kills in (("oom", self.oom_kills), ("liveness", self.liveness_kills)):
            if self.restarts[cause] > kills:
                out.append(f"{self.restarts[cause]} {cause} restarts after {kills} kills")
        if self.probe is not None and self.probe.failures > self.probe.probes:
            out.append(f"{self.probe.failures} probe failures of {self.probe.probes} probes")
        return out

    def own_snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.memory is not None:
            out["memory_mb"] = round(self.memory_mb(self.env.clock), 6)
            out["memory_limit_mb"] = self.memory.limit
        return out


_WATCHED: dict[type[Server], type[Server]] = {Server: WatchedServer}


def watched(cls: type[Server]) -> type[Server]:
    """``cls`` with a watched process: a database that tracks its writes may also leak.

    Every hook of both is cooperative (``super()``), so the combined class runs the
    watch first and the kind's own bookkeeping after it.
    """
    if cls not in _WATCHED:
        _WATCHED[cls] = type(f"Watched{cls.__name__}", (WatchedServer, cls), {})
    return _WATCHED[cls]
