"""What each fault kind does to the running world: one effect object per kind.

The schedule (``faults.py``) calls an effect's ``start`` when a fault's window
opens and ``stop`` when it closes; a fault that grows while it lasts (a leak, a
filling disk) also sets ``tick_every`` and gets ``tick`` at that period. Faults
that only change a node's conditions (latency, errors, capacity, reachability,
message drops) share one effect, ``ConditionFault``: overlapping faults on a
node combine, so the node's conditions are folded afresh from every active
fault whenever one starts or ends.

How a kind looks (colour, label) and what it may target live on its schema class
in ``scenario_faults``, read by the plots and the app alike. A new fault kind is
that class plus one entry in ``FAULT_EFFECTS`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from simulator.faults import FaultSchedule

__all__ = ["FAULT_EFFECTS", "Conditions", "FaultEffect"]


@dataclass
class Conditions:
    """A serving node's state under its active faults; ``Server.apply_conditions`` takes it."""

    latency_add: float = 0.0
    latency_mul: float = 1.0
    error_rate: float = 0.0
    capacity: float = 1.0
    partitioned: bool = False
    drop_rate: float = 0.0  # brokers: share of publishes lost…
    drop_after_ack: bool = True  # …after the acknowledgement, or before it
    crashed: bool = False  # a crash fault holds it down: no other restart may revive it
    leak_mb_per_s: float = 0.0  # memory_leak faults, added up (nodes with a memory model)
    disk_full: bool = False  # writes fail at arrival (services and databases)


class FaultEffect(Protocol):
    """A fault kind's effect. ``timed`` False: the target is told its windows in advance."""

    timed: bool
    tick_every: float | None

    def plan(self, schedule: FaultSchedule, index: int, fault: Any) -> None: ...

    def start(self, schedule: FaultSchedule, index: int, fault: Any) -> None: ...

    def stop(self, schedule: FaultSchedule, index: int, fault: Any) -> None: ...

    def tick(self, schedule: FaultSchedule, index: int, fault: Any) -> None: ...


class _Effect:
    timed = True
    tick_every: float | None = None

    def plan(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        """Called once at the start of the run (used by effects that are not timed)."""

    def start(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        """The fault's window opens."""

    def stop(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        """The fault's window closes."""

    def tick(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        """Every ``tick_every`` seconds while the window is open."""


class ConditionFault(_Effect):
    """A fault that shapes the target's conditions; ``fold`` adds this fault to them."""

    def __init__(self, fold: Callable[[Conditions, Any], None]):
        self.fold = fold

    def start(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        schedule.reapply(fault.target)

    def stop(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        schedule.reapply(fault.target)


class Crash(_Effect):
    """Down at once, losing its work; back after its boot time once no crash is active."""

    def start(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        server = schedule.servers[fault.target]
        if not server.down:
            server.crash()
        schedule.reapply(fault.target)

    def stop(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        if not schedule.has(fault.target, "crash"):
            server = schedule.servers[fault.target]
            if server.boot_time > 0:
                schedule.after(server.boot_time, self._boot, fault.target)
            else:
                server.restart()
        schedule.reapply(fault.target)

    @staticmethod
    def _boot(schedule: FaultSchedule, target: str) -> None:
        if not schedule.has(target, "crash"):
            schedule.servers[target].restart()


class Surge(_Effect):
    """A client's arrivals are thinned against their peak, so it is told its surges up front."""

    timed = False

    def plan(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        start, end = fault.window(schedule.scenario.duration)
        schedule.surges.setdefault(fault.target, []).append((start, end, fault.multiply))


class Corruption(_Effect):
    """The target's tracked writes carry bad data at the worst active corruption fault's rate."""

    def start(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        self._apply(schedule, fault.target)

    def stop(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        self._apply(schedule, fault.target)

    @staticmethod
    def _apply(schedule: FaultSchedule, target: str) -> None:
        faults = [schedule.scenario.faults[i] for i in schedule.active[target]]
        rate = max((f.rate for f in faults if f.kind == "corruption"), default=0.0)
        node = schedule.servers.get(target) or schedule.clients[target]
        for site in node.sites:
            set_corruption = getattr(site, "set_corruption", None)  # a WriteCallSite
            if set_corruption is not None:
                set_corruption(rate)


class BadDeploy(_Effect):
    """The version a deploy ships serves badly; the server applies it to that version's jobs."""

    def start(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        self._apply(schedule, fault)

    def stop(self, schedule: FaultSchedule, index: int, fault: Any) -> None:
        self._apply(schedule, fault)

    @staticmethod
    def _apply(schedule: FaultSchedule, fault: Any) -> None:
        from simulator.deploys import fault_version  # it imports this module

        version = fault_version(schedule.scenario, fault)
        active = [
            schedule.scenario.faults[i]
            for i in sorted(schedule.active[fault.target])
            if schedule.scenario.faults[i].kind == "bad_deploy"
        ]
        mine = [f for f in active if fault_version(schedule.scenario, f) == version]
        server = schedule.servers[fault.target]
        server.set_bad(version, mine[-1] if mine else None)  # type: ignore[attr-defined]


def _latency(c: Conditions, fault: Any) -> None:
    c.latency_add += fault.add
    c.latency_mul *= fault.multiply


def _error(c: Conditions, fault: Any) -> None:
    c.error_rate = max(c.error_rate, fault.rate)


def _throttle(c: Conditions, fault: Any) -> None:
    c.capacity = min(c.capacity, fault.capacity)


def _partition(c: Conditions, fault: Any) -> None:
    c.partitioned = True


def _message_drop(c: Conditions, fault: Any) -> None:
    if fault.rate > c.drop_rate:  # the worst drop wins, with its own when
        c.drop_rate, c.drop_after_ack = fault.rate, fault.when == "after_ack"


def _memory_leak(c: Conditions, fault: Any) -> None:
    c.leak_mb_per_s += fault.mb_per_s


def _crashed(c: Conditions, fault: Any) -> None:
    """A crash acts through ``Server.crash``; the condition only says it holds the node down."""
    c.crashed = True


def _disk_full(c: Conditions, fault: Any) -> None:
    c.disk_full = True


def _no_condition(c: Conditions, fault: Any) -> None:
    """A fault that shapes no condition (a surge acts on its client)."""


FAULT_EFFECTS: dict[str, FaultEffect] = {
    "latency": ConditionFault(_latency),
    "error": ConditionFault(_error),
    "crash": Crash(),
    "partition": ConditionFault(_partition),
    "throttle": ConditionFault(_throttle),
    "surge": Surge(),
    "message_drop": ConditionFault(_message_drop),
    "corruption": Corruption(),
    "memory_leak": ConditionFault(_memory_leak),
    "disk_full": ConditionFault(_disk_full),
    "bad_deploy": BadDeploy(),
}
"""Each fault kind's effect, by kind; ``tests/test_kinds.py`` checks it matches the schema."""

CONDITION_FOLDS: dict[str, Callable[[Conditions, Any], None]] = {
    kind: effect.fold if isinstance(effect, ConditionFault) else _no_condition
    for kind, effect in FAULT_EFFECTS.items()
} | {"crash": _crashed}
