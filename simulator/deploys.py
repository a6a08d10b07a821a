"""Versions and deploys: a service switches traffic from its running version to a new one.

A service that some deploy targets is built as a ``VersionedServer``; every other
service stays a plain ``Server`` and pays nothing. Versions are numbered: 0 is
the version the service starts with, deploy ``i`` of the scenario ships version
``i + 1``. At any instant the server routes each arriving job to one of two
versions, ``old`` or ``new``, with probability ``share`` for the new one (one
draw per arrival from the stream ``(service, "version")``, whatever the share,
so two runs that differ only in a rollback see the same draws).

A version is bad while a ``bad_deploy`` fault for it is active; the jobs routed to
it then fail (``bad_version``), are slowed, are refused at once (a crash loop,
``crash_loop``, which also takes the version's share of the workers, rounded down, and
never the workers the old version's accepted jobs need to drain), or leak
memory in proportion to its share. Jobs keep the version they were routed to
until they finish: moving traffic back drains a version, it never loses its work.

A ``DeploySchedule`` drives each deploy's strategy with SimPy processes (deploys
are rare: no hot path) and rolls a deploy back when one of its alert rules fires
(it subscribes to ``sim.alerts``, the run's alert monitor).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from simulator.alerting import target_nodes
from simulator.components.base import Job, capacity_of
from simulator.components.service import Server
from simulator.fault_kinds import Conditions
from simulator.randomness import RandomStream
from simulator.scenario_deploys import (
    BlueGreenDeploy,
    CanaryDeploy,
    RollingDeploy,
    deploy_of_fault,
)

if TYPE_CHECKING:
    from simulator.engine import Simulation
    from simulator.scenario import Scenario

__all__ = [
    "DeploySchedule",
    "RollingState",
    "VersionedServer",
    "deploy_routes",
    "fault_version",
    "rollback_text",
    "versioned",
]

_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


class VersionedServer(Server):
    """A server that runs two versions at once, split by a traffic share."""

    def __init__(self, *args: Any, version_rng: RandomStream, bad_rng: RandomStream, **kw: Any):
        super().__init__(*args, **kw)
        self.version_rng, self.bad_rng = version_rng, bad_rng
        self.old_version = self.new_version = 0
        self.share = 0.0  # of arrivals routed to new_version
        self.serving = 1.0  # share of the workers in service (a rolling batch out: less)
        self.bad: dict[int, Any] = {}  # version -> its active bad_deploy fault
        self.job_version: dict[Job, int] = {}  # every job queued or in service, by version
        self.routed: dict[int, int] = {}  # arrivals routed to each version
        self._conditions = Conditions()

    # -- routing -------------------------------------------------------------------------------

    def share_of(self, version: int) -> float:
        """The share of arrivals routed to ``version`` now."""
        share = 0.0
        if version == self.new_version:
            share += self.share
        if version == self.old_version:
            share += 1.0 - self.share
        return share

    def route(self, old: int, new: int, share: float, serving: float = 1.0) -> None:
        """From now on, ``share`` of arrivals go to ``new``, the rest to ``old``."""
        self.old_version, self.new_version = old, new
        self.share, self.serving = share, serving
        self.apply_conditions(self._conditions)

    def set_bad(self, version: int, fault: Any | None) -> None:
        """A ``bad_deploy`` fault for ``version`` starts (``fault``) or ends (None)."""
        if fault is None:
            self.bad.pop(version, None)
        else:
            self.bad[version] = fault
        self.apply_conditions(self._conditions)

    def submit(self, job: Job) -> None:
        version = self.new_version if self.version_rng.random() < self.share else self.old_version
        self.routed[version] = self.routed.get(version, 0) + 1
        bad = self.bad.get(version) if self.bad else None
        if bad is not None and bad.crash_loop and not (self.down or self.unusual):
            self.stats.arrivals += 1
            return self._refuse(job, "error", "crash_loop")
        accepted = self.stats.accepted
        self.job_version[job] = version
        super().submit(job)
        if self.stats.accepted == accepted:
            self.job_version.pop(job, None)  # turned away: never queued nor served

    # -- a bad version's service ---------------------------------------------------------------

    def _start(self, job: Job, now: float) -> None:
        bad = self.bad.get(self.job_version.get(job, -1)) if self.bad else None
        if bad is None:
            return super()._start(job, now)
        add, mul = self.latency_add, self.latency_mul
        self.latency_add, self.latency_mul = add + bad.add, mul * bad.multiply
        try:
            super()._start(job, now)
        finally:
            self.latency_add, self.latency_mul = add, mul

    def _after_service(self, wake: Any) -> None:
        job: Job = wake.value
        if self.bad and job.epoch == self.epoch:
            bad = self.bad.get(self.job_version.get(job, -1))
            if bad is not None and bad.error_rate > 0 and self.bad_rng.random() < bad.error_rate:
                return self._finish(job, "error", "bad_version")
        super()._after_service(wake)

    def _finish(self, job: Job, outcome: str, error_kind: str | None) -> None:
        self.job_version.pop(job, None)
        super()._finish(job, outcome, error_kind)

    def _expire(self, job: Job, now: float) -> None:
        self.job_version.pop(job, None)
        super()._expire(job, now)

    def crash(self) -> None:
        for job in list(self.in_service) + list(self.queue):
            self.job_version.pop(job, None)
        super().crash()

    # -- conditions ----------------------------------------------------------------------------

    def apply_conditions(self, conditions: Conditions) -> None:
        """The faults' conditions, with the versions' own: workers out, crash loops, leaks."""
        self._conditions = conditions
        capacity, leak = conditions.capacity * self.serving, conditions.leak_mb_per_s
        crashing = 0.0
        for version, bad in self.bad.items():
            share = self.share_of(version)
            if bad.crash_loop:
                crashing += share
            leak += bad.leak_mb_per_s * share
        if crashing > 0.0 and 0 < self.workers < math.inf:
            capacity = self._crash_loop_capacity(capacity, min(crashing, 1.0))
        if capacity != conditions.capacity or leak != conditions.leak_mb_per_s:
            conditions = dataclasses.replace(conditions, capacity=capacity, leak_mb_per_s=leak)
        super().apply_conditions(conditions)

    def _crash_loop_capacity(self, factor: float, share: float) -> float:
        """The capacity factor left when ``share`` of the traffic goes to a crash-looping version.

        The refusal at arrival already models the lost share, so the version's instances
        only take their own workers: ``floor(workers x share)`` of them (rounding toward
        keeping capacity, so a 5% canary on one worker keeps it). When that leaves no
        worker, the old version's jobs already accepted still drain: as many workers as
        there are such jobs stay (nothing new is accepted, so that is never more work).
        """
        workers = capacity_of(self.workers, factor)
        left = workers - math.floor(workers * share + 1e-9)
        if left < 1:
            left = min(workers, len(self.in_service) + len(self.queue))
        return left / self.workers

    # -- readers -------------------------------------------------------------------------------

    def own_snapshot(self) -> dict[str, Any]:
        return {**super().own_snapshot(), "version": self.old_version,
                "new_version": self.new_version, "new_share": self.share}  # fmt: skip

    def own_summary(self, now: float) -> dict[str, Any]:
        routed = {str(v): n for v, n in sorted(self.routed.items())}
        return {**super().own_summary(now), "versions": routed}

    def own_problems(self) -> list[str]:
        """Jobs by version are the jobs present; arrivals by version add up to arrivals."""
        out = super().own_problems()
        present = len(self.in_service) + len(self.queue)
        if len(self.job_version) != present or any(
            job not in self.job_version for job in self.in_service
        ):
            out.append(f"{len(self.job_version)} jobs with a version, {present} present")
        if sum(self.routed.values()) != self.stats.arrivals:
            out.append(f"{sum(self.routed.values())} arrivals routed to a version of "
                       f"{self.stats.arrivals}")  # fmt: skip
        if not (0.0 <= self.share <= 1.0 and 0.0 <= self.serving <= 1.0):
            out.append(f"share {self.share}, serving {self.serving} outside [0, 1]")
        return out


_VERSIONED: dict[type[Server], type[Server]] = {Server: VersionedServer}


def versioned(cls: type[Server]) -> type[Server]:
    """``cls`` that runs versions (a watched process may run them too)."""
    if cls not in _VERSIONED:
        _VERSIONED[cls] = type(f"Versioned{cls.__name__}", (VersionedServer, cls), {})
    return _VERSIONED[cls]


def fault_version(scenario: Scenario, fault: Any) -> int:
    """The version a ``bad_deploy`` fault spoils: the one its deploy ships."""
    index = deploy_of_fault(scenario, fault)
    assert index is not None  # the scenario check refuses a bad_deploy outside a deploy
    return index + 1


def deploy_routes(scenario: Scenario, target: str) -> list[str]:
    """The clients whose requests reach ``target`` through synchronous calls."""
    out = []
    for name, node in scenario.nodes.items():
        if node.kind != "client":
            continue
        seen, todo = {name}, [name]
        while todo:
            for call in scenario.nodes[todo.pop()].calls:
                if call.to not in seen:
                    seen.add(call.to)
                    todo.append(call.to)
        if target in seen:
            out.append(name)
    return out


class RollingState:
    """Instances of a rolling deploy: serving the old version, out (draining, booting), or
    serving the new one. Pure bookkeeping, so its steps can be tested without a run."""

    def __init__(self, instances: int, batch: int):
        self.instances, self.batch = instances, batch
        self.old, self.out, self.new = instances, 0, 0

    def take_out(self, from_new: bool = False) -> int:
        """The next batch leaves service (drained: it takes no new requests)."""
        if from_new:
            count = min(self.batch, self.new)
            self.new -= count
        else:
            count = min(self.batch, self.old)
            self.old -= count
        self.out += count
        return count

    def boot(self, to_new: bool) -> None:
        """The batch out has booted and serves its version."""
        if to_new:
            self.new += self.out
        else:
            self.old += self.out
        self.out = 0

    @property
    def share(self) -> float:
        """Share of the arrivals the new version's instances get."""
        serving = self.old + self.new
        return self.new / serving if serving else 0.0

    @property
    def serving(self) -> float:
        """Share of the instances in service."""
        return (self.old + self.new) / self.instances

    def problems(self) -> list[str]:
        if (
            self.old + self.out + self.new != self.instances
            or min(self.old, self.out, self.new) < 0
        ):
            return [f"rolling: {self.old} old + {self.out} out + {self.new} new "
                    f"!= {self.instances} instances"]  # fmt: skip
        return []


def _failed_total(sim: Simulation, routes: list[str]) -> int:
    total = 0
    for name in routes:
        outcomes = sim.clients[name].stats.outcomes_total
        total += sum(outcomes.values()) - outcomes["ok"] - outcomes["fallback"]
    return total


class _Deploy:
    """One deploy's progress and rollback."""

    def __init__(self, schedule: DeploySchedule, index: int, spec: Any):
        self.schedule, self.index, self.spec = schedule, index, spec
        self.sim = schedule.sim
        self.env = schedule.sim.env
        self.server: VersionedServer = schedule.sim.servers[spec.target]  # type: ignore[assignment]
        self.routes = deploy_routes(self.sim.scenario, spec.target)
        self.version = index + 1
        self.old = 0
        self.started_s: float | None = None
        self.completed_s: float | None = None
        self.rollback_s: float | None = None
        self.rollback_end_s: float | None = None
        self.rollback_alert: dict[str, Any] | None = None
        self.superseded_s: float | None = None  # a newer deploy of the service started
        self._failed_at_start = 0
        self._failed_at_end: int | None = None
        self.rolling = (
            RollingState(spec.instances, spec.batch) if isinstance(spec, RollingDeploy) else None
        )
        self.process: simpy.Process | None = None
        self.back: simpy.Process | None = None
        if spec.at < self.sim.horizon:
            self.env.timeout(spec.at).callbacks.append(self._start)

    # -- forward -------------------------------------------------------------------------------

    def _start(self, _event: simpy.Event) -> None:
        self.started_s = self.env.now
        self.old = self.server.new_version if self.server.share >= 1.0 else self.server.old_version
        for earlier in self.schedule.deploys[: self.index]:
            if earlier.spec.target == self.spec.target and earlier.started_s is not None:
                if earlier.process is not None and earlier.process.is_alive:
                    self.old = earlier.version  # it completes at this very instant
                earlier.supersede()
        self._failed_at_start = _failed_total(self.sim, self.routes)
        self.process = self.env.process(self._forward())

    def _route(self, old: int, new: int, share: float, serving: float = 1.0) -> None:
        """Route the service's traffic, unless a newer deploy of it owns the routing (one
        that starts at the very instant this one completes comes first)."""
        if self.superseded_s is None:
            self.server.route(old, new, share, serving)

    def _forward(self) -> Generator[simpy.Event, Any, None]:
        spec = self.spec
        try:
            if isinstance(spec, BlueGreenDeploy):
                self._route(self.old, self.version, 1.0)
                yield self.env.timeout(spec.keep_old)
            elif isinstance(spec, CanaryDeploy):
                for step in spec.steps:
                    self._route(self.old, self.version, step.share)
                    yield self.env.timeout(step.hold)
                self._route(self.old, self.version, 1.0)
            else:
                yield from self._roll(to_new=True)
        except simpy.Interrupt:
            return
        self.completed_s = self.env.now
        self._route(self.version, self.version, 0.0)  # the old pool is gone
        self._failed_at_end = _failed_total(self.sim, self.routes)

    def _roll(self, to_new: bool) -> Generator[simpy.Event, Any, None]:
        """Batches leave service, boot the version, and come back, until all run it."""
        state, spec = self.rolling, self.spec
        assert state is not None
        while (state.old if to_new else state.new) > 0 or state.out > 0:
            if state.out == 0:
                state.take_out(from_new=not to_new)
            self._route(self.old, self.version, state.share, state.serving)
            yield self.env.timeout(spec.boot_time)
            state.boot(to_new)
            self._route(self.old, self.version, state.share, state.serving)

    # -- rollback ------------------------------------------------------------------------------

    def watching(self, now: float) -> bool:
        """Whether an alert now would roll this deploy back."""
        rollback = self.spec.rollback
        if rollback is None or self.started_s is None or self.rollback_s is not None:
            return False
        if self.superseded_s is not None:
            return False
        return self.completed_s is None or now <= self.completed_s + rollback.watch

    def triggers(self, firing: Any) -> bool:
        """Whether ``firing`` is one of this deploy's rules, on something the service touches."""
        rollback = self.spec.rollback
        # A condition that held before the deploy began is not the new version's doing: only
        # one that began in the bucket holding the deploy's start, or later, counts.
        started = self.started_s
        if started is None or firing.since_s <= started - self.sim.scenario.bucket + 1e-9:
            return False
        if rollback.alerts is not None:
            if firing.rule not in rollback.alerts:
                return False
        elif _SEVERITY_RANK.get(firing.severity, -1) < _SEVERITY_RANK[rollback.severity]:
            return False
        return _touches(firing.target, self.spec.target, self.routes)

    def roll_back(self, firing: Any) -> None:
        now = self.env.now
        self.rollback_s = now
        self.rollback_alert = {"rule": firing.rule, "target": firing.target,
                               "fired_s": firing.fired_s}  # fmt: skip
        if self.process is not None and self.process.is_alive:
            self.process.interrupt("rollback")
        self.back = self.env.process(self._back())

    def supersede(self) -> None:
        """A newer deploy of the same service has started: it owns the service's routing
        from now on, so this one stops watching and a rollback under way stops short."""
        if self.superseded_s is not None:
            return
        self.superseded_s = self.env.now
        if self.back is not None and self.back.is_alive:
            self.back.interrupt("superseded")
            self._failed_at_end = _failed_total(self.sim, self.routes)

    def _back(self) -> Generator[simpy.Event, Any, None]:
        spec = self.spec
        try:
            if isinstance(spec, RollingDeploy):
                yield from self._roll(to_new=False)
            elif self.completed_s is not None:  # the old pool is gone: boot it again first
                yield self.env.timeout(self.server.boot_time)
            # Jobs already routed to the new version keep it until they finish: a drain.
        except simpy.Interrupt:
            return  # superseded: the newer deploy routes the traffic
        self._route(self.old, self.old, 0.0)
        self.rollback_end_s = self.env.now
        self._failed_at_end = _failed_total(self.sim, self.routes)

    # -- readers -------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        spec = self.spec
        ended = self._failed_at_end
        if ended is None and self.started_s is not None:
            ended = _failed_total(self.sim, self.routes)
        out = {
            "target": spec.target,
            "strategy": spec.strategy,
            "started_s": self.started_s,
            "completed_s": self.completed_s,
            "rolled_back": self.rollback_s is not None,
            "rollback_alert": self.rollback_alert,
            "time_to_rollback_s": None
            if self.rollback_s is None or self.started_s is None
            else round(self.rollback_s - self.started_s, 6),
            "rollback_completed_s": self.rollback_end_s,
            "requests_failed": 0 if ended is None else ended - self._failed_at_start,
        }
        if self.superseded_s is not None:
            out["superseded_s"] = self.superseded_s
        return out


def rollback_text(entry: dict[str, Any]) -> str:
    """'after 30 s, by error-rate on route users' / 'no' / 'no rollback' for one JSON entry."""
    if not entry["rolled_back"]:
        return "no"
    alert = entry["rollback_alert"] or {}
    return (f"after {entry['time_to_rollback_s']:g} s, by {alert.get('rule', '?')} on "
            f"{alert.get('target', '?')}")  # fmt: skip


def _touches(target: str, service: str, routes: list[str]) -> bool:
    """Whether an alert's target ("node api", "route checkout", "call api->db") concerns the
    service or a route through it; a target of another shape always does."""
    kind, _, name = target.partition(" ")
    if kind == "route":
        return name in routes
    if kind in ("node", "call", "pool"):
        return service in target_nodes(target)
    return True


class DeploySchedule:
    """Runs every deploy of a scenario and rolls them back on their alerts."""

    def __init__(self, sim: Simulation):
        self.sim = sim
        self.deploys = [_Deploy(self, i, spec) for i, spec in enumerate(sim.scenario.deploys)]
        alerts = getattr(sim, "alerts", None)
        if alerts is not None and any(d.spec.rollback is not None for d in self.deploys):
            alerts.subscribe(self._on_alert)

    def _on_alert(self, firing: Any) -> None:
        now = self.sim.env.now
        for deploy in self.deploys:
            if deploy.watching(now) and deploy.triggers(firing):
                deploy.roll_back(firing)

    def summary(self) -> list[dict[str, Any]]:
        """The JSON ``deploys`` list, in the scenario's order."""
        return [deploy.summary() for deploy in self.deploys]

    def problems(self) -> list[str]:
        out = []
        for deploy in self.deploys:
            if deploy.rolling is not None:
                out += [f"deploy {deploy.index}: {p}" for p in deploy.rolling.problems()]
        return out
