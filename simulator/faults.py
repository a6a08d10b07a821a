"""The fault catalogue on a timeline: each fault starts, lasts, and ends, per target.

Overlapping faults on one node combine (latencies add and multiply, the worst
error rate and capacity win), so the node's state is recomputed from the set of
active faults whenever one starts or ends. A crash ends with a restart after
the node's boot time; it comes back cold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import cast

import simpy

from simulator.components.client import Client
from simulator.components.service import Server
from simulator.scenario import Fault, Scenario

__all__ = ["FaultSchedule", "active_faults"]


def active_faults(scenario: Scenario, now: float) -> list[int]:
    """Indices of the scenario's faults whose window contains ``now``."""
    return [
        i
        for i, fault in enumerate(scenario.faults)
        if fault.window(scenario.duration)[0] <= now < fault.window(scenario.duration)[1]
    ]


class FaultSchedule:
    """Starts and ends every fault of a scenario at its time, on its target."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        servers: dict[str, Server],
        clients: dict[str, Client],
    ):
        self.env, self.scenario, self.servers = env, scenario, servers
        self.active: dict[str, set[int]] = defaultdict(set)
        self.log: list[tuple[float, str, int]] = []
        surges: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for i, fault in enumerate(scenario.faults):
            start, end = fault.window(scenario.duration)
            if fault.kind == "surge":
                surges[fault.target].append((start, end, fault.multiply))
                continue
            self._at(start, self._begin, i)
            self._at(end, self._end, i)
        for name, client in clients.items():
            client.set_plan(scenario.duration, surges.get(name, []))

    def _at(self, when: float, action: Callable[[simpy.Event], None], index: int) -> None:
        if when < self.scenario.duration:
            self.env.timeout(max(0.0, when - self.env.now), index).callbacks.append(action)

    def _begin(self, event: simpy.Event) -> None:
        index = cast(int, event.value)  # the fault's index, given to the timeout in _at
        fault = self.scenario.faults[index]
        self.log.append((self.env.now, "start", index))
        self.active[fault.target].add(index)
        server = self.servers[fault.target]
        if fault.kind == "crash" and not server.down:
            server.crash()
        self._apply(fault.target)

    def _end(self, event: simpy.Event) -> None:
        index = cast(int, event.value)
        fault = self.scenario.faults[index]
        self.log.append((self.env.now, "end", index))
        self.active[fault.target].discard(index)
        if fault.kind == "crash" and not self._has(fault.target, "crash"):
            server = self.servers[fault.target]
            if server.boot_time > 0:
                self.env.timeout(server.boot_time, fault.target).callbacks.append(self._boot)
            else:
                server.restart()
        self._apply(fault.target)

    def _boot(self, event: simpy.Event) -> None:
        target = cast(str, event.value)  # the crashed node's name, given to the timeout in _end
        if not self._has(target, "crash"):
            self.servers[target].restart()

    def _has(self, target: str, kind: str) -> bool:
        return any(self.scenario.faults[i].kind == kind for i in self.active[target])

    def _apply(self, target: str) -> None:
        server = self.servers[target]
        faults: Iterable[Fault] = [self.scenario.faults[i] for i in sorted(self.active[target])]
        add, mul, error, capacity, partitioned = 0.0, 1.0, 0.0, 1.0, False
        for fault in faults:
            if fault.kind == "latency":
                add += fault.add
                mul *= fault.multiply
            elif fault.kind == "error":
                error = max(error, fault.rate)
            elif fault.kind == "throttle":
                capacity = min(capacity, fault.capacity)
            elif fault.kind == "partition":
                partitioned = True
        server.latency_add, server.latency_mul = add, mul
        server.fault_error_rate = error
        server.partitioned = partitioned
        server.set_capacity(capacity)
