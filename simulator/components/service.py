"""A node that serves requests: workers, a bounded FIFO queue, then its downstream calls in order.

The same class models a ``service``, a ``database`` (plus a server-side connection
limit) and a ``third_party`` API (as many workers as there are calls, unless a
quota caps them). A worker is held from the start of service until the last
downstream call has answered: that is how a slow dependency drains its callers.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simulator._simpy import Environment, Wake, wake_after
from simulator.components.base import (
    NODE_SERIES,
    SUCCESS,
    Job,
    NodeStats,
    capacity_of,
    pending_of,
)
from simulator.components.kind import NodeKind, World
from simulator.metrics import Rollup, Series
from simulator.policies import TokenBucket, make_limiter
from simulator.randomness import RandomStream
from simulator.sampling import make_sampler
from simulator.scenario import Database, Service, ThirdParty
from simulator.scenario_policies import Limiter

if TYPE_CHECKING:
    from simulator.calls import CallSite
    from simulator.fault_kinds import Conditions
    from simulator.policies import Admission

__all__ = [
    "KINDS", "OWN_HOOKS", "ConnectionLedger", "LimitedDatabase", "RateLimitedApi", "Server",
    "build_service", "limited", "server_options",
]  # fmt: skip


class Server:
    """Serves jobs; replies ``ok``/``fallback``/``error``/``rejected``/``shed`` to the caller."""

    # The books of pooled connections against this server's connection limit: kept only
    # by a LimitedDatabase (a limited database some pool connects to).
    ledger: ConnectionLedger | None = None

    def __init__(
        self,
        env: Environment,
        name: str,
        *,
        workers: float,
        queue_limit: float,
        service_time: Callable[[], float],
        error_rate: float,
        stats: NodeStats,
        rng: RandomStream,
        route_rng: RandomStream,
        max_connections: float = math.inf,
        limiter: Admission | None = None,
        boot_time: float = 0.0,
    ):
        self.env, self.name, self.stats = env, name, stats
        self.workers, self.queue_limit = workers, queue_limit
        self.service_time, self.error_rate = service_time, error_rate
        self.max_connections, self.limiter, self.boot_time = max_connections, limiter, boot_time
        self._errors_rng, self.route_rng = rng, route_rng
        self.sites: list[CallSite] = []
        self.queue: deque[Job] = deque()
        # A dict, not a set: a crash answers the lost jobs in the order they started,
        # where a set would order them by memory address and break same-seed replay.
        self.in_service: dict[Job, None] = {}
        self.busy = 0
        self.epoch = 0
        # Fault state, recomputed by faults.py whenever a fault starts or ends.
        self.down = False
        self.partitioned = False
        self.latency_add = 0.0
        self.latency_mul = 1.0
        self.fault_error_rate = 0.0
        self.capacity = workers
        self.disk_full = False
        # Partitioned or disk full: what submit checks once before its usual path, so a
        # fault that acts at arrival costs nothing while no such fault is active.
        self.unusual = False
        # Every time the process was down: [crashed at, back at (None: still down), why]; the
        # report's recovery procedures read it. Appended only by crash/restart, which are rare.
        self.outages: list[list[Any]] = []

    # -- entry -------------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        """A job arrives. Crashed: refused at once. Partitioned: never heard of again."""
        now = self.env.clock
        stats = self.stats
        stats.arrivals += 1
        if self.unusual and self._unusual_arrival(job):
            return
        if self.down:
            return self._refuse(job, "error", "refused")
        if self.limiter is not None and not self.limiter.allow(now):
            stats.shed += 1
            return self._refuse(job, "shed", None)
        if len(self.queue) + self.busy >= self.max_connections and self._over_limit(job):
            return self._refuse(job, "rejected", "connections")
        job.t_arrive = now
        job.epoch = self.epoch
        if self.busy < self.capacity:
            stats.accepted += 1
            self._start(job, now)
        elif len(self.queue) < self.queue_limit:
            stats.accepted += 1
            self.queue.append(job)
            stats.queue.change(now, 1)
        else:
            self._refuse(job, "rejected", "queue_full")

    def _unusual_arrival(self, job: Job) -> bool:
        """Partitioned: never heard of again. Disk full: a write fails at once. True: handled."""
        if self.partitioned:
            self.stats.dropped += 1
            return True
        if self.disk_full and not self.down and getattr(job.reply_to, "writes", False):
            self._refuse(job, "error", "disk_full")  # call and publish sites say if they write
            return True
        return False

    def _over_limit(self, job: Job) -> bool:
        """Past ``max_connections`` (asked only once the queue and workers reach it)."""
        return True

    def _refuse(self, job: Job, outcome: str, kind: str | None) -> None:
        now = self.env.clock
        if outcome == "rejected":
            self.stats.rejected += 1
        if kind is not None and outcome == "error":
            self.stats.error(kind, now)
        if self.limiter is not None and kind in ("connections", "queue_full"):
            self.limiter.release()
        job.reply_to.on_reply(job, outcome)

    # -- service -----------------------------------------------------------------------------

    def _start(self, job: Job, now: float) -> None:
        stats = self.stats
        self.busy += 1
        busy = stats.busy  # TimeAverage.change(now, +1), inlined: once per request
        busy.area += busy.level * (now - busy.last)
        busy.last = now
        busy.level += 1
        if busy.level > busy.peak:
            busy.peak = busy.level
        stats.started += 1
        if now > job.t_arrive:
            stats.waited += 1
        stats.wait_sum += now - job.t_arrive
        self.in_service[job] = None
        delay = self.service_time() * self.latency_mul + self.latency_add
        wake_after(self.env, delay, self._after_service, job)

    def _after_service(self, wake: Wake) -> None:
        job: Job = wake.value
        if job.epoch != self.epoch:
            return  # lost in a crash; its caller was told at the time
        rate = self.error_rate if self.error_rate > self.fault_error_rate else self.fault_error_rate
        if rate > 0.0 and self._errors_rng.random() < rate:
            return self._finish(job, "error", "injected")
        self._next_call(job)

    def _next_call(self, job: Job) -> None:
        sites = self.sites
        while job.step < len(sites):
            site = sites[job.step]
            job.step += 1
            if site.only_for is not None and job.origin not in site.only_for:
                continue
            if site.probability >= 1.0 or self.route_rng.random() < site.probability:
                site.call(job, self._after_call)
                return
        self._finish(job, "fallback" if job.degraded else "ok", None)

    def _after_call(self, job: Job, outcome: str) -> None:
        if job.epoch != self.epoch:
            return
        if outcome in SUCCESS:
            if outcome == "fallback":
                job.degraded = True
            self._next_call(job)
        else:
            self._finish(job, "error", f"dependency_{outcome}")

    def _finish(self, job: Job, outcome: str, error_kind: str | None) -> None:
        now = self.env.clock
        stats = self.stats
        self.in_service.pop(job, None)
        self.busy -= 1
        busy = stats.busy  # TimeAverage.change(now, -1), inlined: once per request
        busy.area += busy.level * (now - busy.last)
        busy.last = now
        busy.level -= 1
        stats.answered += 1
        stats.sojourn_sum += now - job.t_arrive
        if self.limiter is not None:
            self.limiter.release()
        if outcome in SUCCESS:
            stats.completions += 1
        elif error_kind is not None:
            stats.error(error_kind, now)
        if self.dual_write:
            if pending_of(job) is not None:  # committed, but the event was never sent
                _abandon(job, "not_published", now)
            job.epoch = -1  # finished: a late commit for this job finds nobody to publish it
        if not self.partitioned:
            job.reply_to.on_reply(job, outcome)
        if self.queue:
            self._start_waiting(now)

    def _start_waiting(self, now: float) -> None:
        queue = self.queue
        while queue and self.busy < self.capacity:
            job = queue.popleft()
            self.stats.queue.change(now, -1)
            if job.deadline < now:
                self._expire(job, now)
                continue
            self._start(job, now)

    def cancel(self, job: Job, now: float) -> None:
        """The caller cancelled ``job`` (a hedge's loser): its propagated deadline passes now,
        so the job is dropped unserved if it is still queued (``_start_waiting``). Marked, so
        a node that learns from missed deadlines (an adaptive limit) can tell the two apart."""
        job.cancelled = True
        if job.deadline > now:
            job.deadline = now

    def _expire(self, job: Job, now: float) -> None:
        """A queued job past its propagated deadline is dropped unserved, and its caller told.

        The reply is gRPC's ``DEADLINE_EXCEEDED``: a ``timeout``. The caller that set the
        deadline has usually stopped listening already (its own timer fired), but a caller
        further down a chain, whose own call has no timeout and only passed the deadline
        on, is still waiting for it; unanswered, it would hold its worker forever.
        """
        self.stats.error("expired", now)
        if self.limiter is not None:
            self.limiter.release()
        if not self.partitioned:
            job.reply_to.on_reply(job, "timeout")

    # -- faults ------------------------------------------------------------------------------

    def apply_conditions(self, conditions: Conditions) -> None:
        """Take the state its active faults put it in (``faults.FaultSchedule.reapply``)."""
        self.latency_add, self.latency_mul = conditions.latency_add, conditions.latency_mul
        self.fault_error_rate = conditions.error_rate
        self.partitioned = conditions.partitioned
        self.disk_full = conditions.disk_full
        self.unusual = self.partitioned or self.disk_full
        self.set_capacity(conditions.capacity)

    def set_capacity(self, factor: float) -> None:
        self.capacity = capacity_of(self.workers, factor)
        self._start_waiting(self.env.clock)

    # -- what kinds with more state add (brokers, relays) ------------------------------------

    dual_write = False  # True: a publish announces this node's commits (engine.add_call)

    has_bucket_hook = False  # True: the engine calls on_bucket(now) at every bucket boundary

    def on_bucket(self, now: float) -> None:
        """Housekeeping at a bucket boundary (a broker's retention sweep)."""

    def extra_rollups(self) -> list[Rollup]:
        """Time series of the kind's own, filled like the node's (a broker's queues)."""
        return []

    def own_series(self) -> dict[str, Series]:
        """Those series by column prefix, for ``timeseries.time_series``."""
        return {}

    def own_summary(self, now: float) -> dict[str, Any]:
        """Fields of the node's own for ``nodes.<name>`` in the JSON (a watched process's)."""
        return {}

    def own_snapshot(self) -> dict[str, Any]:
        """Live fields of the node's own for ``Simulation.snapshot``."""
        return {}

    def own_problems(self) -> list[str]:
        """Bookkeeping problems of the node's own, for ``Simulation.check_invariants``."""
        return []

    lost_error = "crash"  # the error kind a crash counts for the work it loses (an OOM: "oom")

    def crash(self) -> None:
        """Lose all in-flight and queued work; callers get a connection reset (an error)."""
        now = self.env.clock
        if not self.down:
            self.outages.append([now, None, self.lost_error])
        self.down = True
        self.epoch += 1
        lost = list(self.in_service) + list(self.queue)
        self.stats.busy.change(now, -self.busy)
        self.stats.queue.change(now, -len(self.queue))
        self.busy = 0
        self.in_service.clear()
        self.queue.clear()
        for job in lost:
            if self.dual_write and pending_of(job) is not None:  # died between commit and publish
                _abandon(job, "publisher_crash", now)
            self.stats.error(self.lost_error, now)
            if self.limiter is not None:
                self.limiter.release()
            if not self.partitioned:
                job.reply_to.on_reply(job, "error")
        for site in self.sites:
            if site.pool is not None:  # its connections died with the process
                site.pool.close_idle()

    def restart(self) -> None:
        """Back after a crash: empty queue, idle workers; its pools reopen their ``min_size``."""
        if self.down and self.outages:
            self.outages[-1][1] = self.env.clock
        self.down = False
        for site in self.sites:
            if site.pool is not None:
                site.warm_pool()


class ConnectionLedger:
    """What counts against a database's ``max_connections`` once pools connect to it.

    Each pooled connection open against this incarnation counts one, idle or in
    use; each request from a caller without a pool counts one while it is queued
    or in service (the rule of a database no pool connects to); a request sent
    over a pooled connection adds nothing, its connection is already counted.
    """

    __slots__ = ("limit", "pooled", "pooled_in_system", "server")

    def __init__(self, server: Server, limit: int) -> None:
        self.server, self.limit = server, limit
        self.pooled = 0  # pooled connections open against the current incarnation
        self.pooled_in_system = 0  # requests sent over them, queued or in service

    def connections(self) -> int:
        server = self.server
        return len(server.queue) + server.busy - self.pooled_in_system + self.pooled

    def open(self) -> bool:
        """A pool opens a connection: False if the database refuses it (too many)."""
        if self.connections() >= self.limit:
            return False
        self.pooled += 1
        return True

    def close(self, conn: Any) -> None:
        """A pool closed ``conn``; one opened before the last crash was already gone."""
        if conn.epoch == self.server.epoch:
            self.pooled -= 1

    def problems(self, name: str) -> list[str]:
        server = self.server
        found = []
        if not 0 <= self.pooled_in_system <= server.busy + len(server.queue):
            found.append(f"{name}: {self.pooled_in_system} pooled requests present of "
                         f"{server.busy + len(server.queue)}")  # fmt: skip
        if self.pooled < 0 or self.connections() > self.limit:
            found.append(f"{name}: {self.connections()} connections ({self.pooled} pooled) "
                         f"past max_connections {self.limit}")  # fmt: skip
        return found


def _pooled(job: Job) -> bool:
    return getattr(job.reply_to, "pool", None) is not None


class LimitedDatabase(Server):
    """A database with a connection limit that some pool connects to: a ledger counts both.

    Built only for such a database, so every other server keeps the plain check of
    queued plus in service against ``max_connections``.
    """

    def __init__(self, *args: Any, max_connections: float, **kwargs: Any) -> None:
        # 0: every arrival reaches _over_limit, which asks the ledger.
        super().__init__(*args, max_connections=0, **kwargs)
        self.ledger = ConnectionLedger(self, int(max_connections))

    def _over_limit(self, job: Job) -> bool:
        ledger: ConnectionLedger = self.ledger  # type: ignore[assignment]
        if _pooled(job):
            ledger.pooled_in_system += 1  # taken back by _refuse if the queue is full
            return False
        return ledger.connections() >= ledger.limit

    def _refuse(self, job: Job, outcome: str, kind: str | None) -> None:
        if kind == "queue_full" and _pooled(job):
            self.ledger.pooled_in_system -= 1  # type: ignore[union-attr]
        super()._refuse(job, outcome, kind)

    def _finish(self, job: Job, outcome: str, error_kind: str | None) -> None:
        if _pooled(job):
            self.ledger.pooled_in_system -= 1  # type: ignore[union-attr]
        super()._finish(job, outcome, error_kind)

    def _expire(self, job: Job, now: float) -> None:
        if _pooled(job):
            self.ledger.pooled_in_system -= 1  # type: ignore[union-attr]
        super()._expire(job, now)

    def crash(self) -> None:
        """Every connection dies with the process, pooled ones included."""
        super().crash()
        ledger: ConnectionLedger = self.ledger  # type: ignore[assignment]
        ledger.pooled = ledger.pooled_in_system = 0


class RateLimitedApi(Server):
    """A third party with a rate quota: past it, a 429 at once (no worker, no queue).

    Its own class so that APIs without a quota pay nothing for it. The quota counts
    every request that reaches a running API, whatever happens to it next, as
    providers count them; the answer is the outcome ``rate_limited``, which a
    caller's retry may retry, and the API counts it in its errors (``rate_limited``).
    """

    def __init__(self, *args: Any, quota: TokenBucket, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.quota = quota

    def submit(self, job: Job) -> None:
        if self.unusual or self.down or self.quota.allow(self.env.clock):
            return super().submit(job)  # unreachable or crashed: that answer comes first
        now = self.env.clock
        self.stats.arrivals += 1
        self.stats.error("rate_limited", now)
        job.reply_to.on_reply(job, "rate_limited")


_LIMITED: dict[type[Server], type[Server]] = {Server: LimitedDatabase}


def limited(cls: type[Server]) -> type[Server]:
    """``cls`` with a connection ledger: a database pools connect to may also track its
    writes (every hook of both is cooperative, ``super()``)."""
    if cls not in _LIMITED:
        _LIMITED[cls] = type(f"Limited{cls.__name__}", (LimitedDatabase, cls), {})
    return _LIMITED[cls]


def _abandon(job: Job, fate: str, now: float) -> None:
    site, message = job.pending
    job.pending = None
    site.abandon(message, fate, now)


# -- registration ----------------------------------------------------------------------------


def server_options(world: World, name: str) -> dict[str, Any]:
    """The keywords every ``Server`` kind builds the same way: its stats and random streams."""
    return {
        "stats": NodeStats(world.series(NODE_SERIES)),
        "rng": world.stream(name, "errors"),
        "route_rng": world.stream(name, "route"),
    }


def _pooled_to(world: World, name: str) -> bool:
    """Whether some call to ``name`` goes through a connection pool."""
    return any(
        call.to == name and call.pool is not None
        for node in world.scenario.nodes.values()
        for call in getattr(node, "calls", ())
    )


def build_service(
    world: World, name: str, spec: Service | Database, cls: type[Server] = Server, **extra: Any
) -> Server:
    """A service or a database as ``cls`` (a database that tracks its writes is a subclass)."""
    if isinstance(spec, Database) and spec.max_connections:
        extra["max_connections"] = spec.max_connections
    if isinstance(spec, Database) and spec.max_connections and _pooled_to(world, name):
        cls = limited(cls)  # pools connect to it: a ledger counts their connections
    if isinstance(spec, Database) and spec.contention is not None:
        # Only a contended database checks its writes for conflicts (a subclass hooks them).
        from simulator.components.contended import contended
        from simulator.contention import CONTENTION_SERIES

        cls = contended(cls)
        extra.update(contention=spec.contention,
                     contention_series=world.series(CONTENTION_SERIES))  # fmt: skip
    if spec.memory is not None or spec.liveness is not None:
        # Only a node that declares memory or liveness pays for watching it: a subclass
        # hooks the hot path. Imported here because it subclasses Server.
        from simulator.components.watched import watched

        cls = watched(cls)
        extra.update(memory=spec.memory, liveness=spec.liveness)
        if spec.memory is not None:
            extra["memory_series"] = world.series(("memory_mb",))
    if any(deploy.target == name for deploy in world.scenario.deploys):
        # Only a service some deploy targets runs versions (a subclass hooks the hot path).
        from simulator.deploys import versioned

        cls = versioned(cls)
        extra.update(version_rng=world.stream(name, "version"),
                     bad_rng=world.stream(name, "bad_version"))  # fmt: skip
    limiter = make_limiter(spec.limiter) if spec.limiter and not spec.limiter.adaptive else None
    if spec.limiter is not None and spec.limiter.adaptive:
        # Only a node with an adaptive limit feeds it latency samples (a subclass hooks the
        # hot path). Imported here because it subclasses Server.
        from simulator.components.adaptive import adaptive

        cls = adaptive(cls)
        limiter = make_limiter(spec.limiter, world.stream(name, "limit_probe"))
        extra["limit_series"] = world.series(("limit",))
    return cls(
        world.env, name,
        workers=spec.workers,
        queue_limit=math.inf if spec.queue is None else spec.queue,
        service_time=make_sampler(spec.service_time, world.stream(name, "service")),
        error_rate=spec.error_rate,
        limiter=limiter,
        boot_time=spec.boot_time,
        **server_options(world, name), **extra,
    )  # fmt: skip


def _build_third_party(world: World, name: str, spec: ThirdParty) -> Server:
    options: dict[str, Any] = {
        "workers": float(spec.max_concurrent or math.inf), "queue_limit": 0,
        "service_time": make_sampler(spec.latency, world.stream(name, "service")),
        "error_rate": spec.error_rate, **server_options(world, name),
    }  # fmt: skip
    if spec.rate_limit is None:
        return Server(world.env, name, **options)
    quota = TokenBucket(Limiter.model_validate({"rate": spec.rate_limit, "burst": spec.rate_burst}))
    return RateLimitedApi(world.env, name, quota=quota, **options)


def _own_summary(server: Server, now: float) -> dict[str, Any]:
    return server.own_summary(now)


def _own_snapshot(server: Server) -> dict[str, Any]:
    return server.own_snapshot()


def _own_problems(name: str, server: Server) -> list[str]:
    return [f"{name}: {problem}" for problem in server.own_problems()]


OWN_HOOKS: dict[str, Any] = {
    "summary": _own_summary, "snapshot": _own_snapshot, "invariants": _own_problems,
}  # fmt: skip
"""The kind hooks that read a server's own fields (a watched process's memory and restarts)."""
KINDS = (
    NodeKind("service", build_service, **OWN_HOOKS),
    NodeKind("third_party", _build_third_party),
)
