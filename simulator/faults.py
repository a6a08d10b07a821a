"""The fault catalogue on a timeline: each fault starts, lasts, and ends, per target.

What a fault does is its kind's effect (``fault_kinds.FAULT_EFFECTS``); this
module only keeps time: it opens and closes each fault's window, ticks the
faults that grow while they last, and keeps the set of faults active on each
node so that overlapping faults combine (``reapply`` folds a node's conditions
from all of them). A crash ends with a restart after the node's boot time; it
comes back cold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, cast

import simpy

from simulator.components.client import Client
from simulator.components.service import Server
from simulator.fault_kinds import CONDITION_FOLDS, FAULT_EFFECTS, Conditions
from simulator.scenario import Scenario

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
        self.env, self.scenario, self.servers, self.clients = env, scenario, servers, clients
        self.active: dict[str, set[int]] = defaultdict(set)
        self.log: list[tuple[float, str, int]] = []
        self.surges: dict[str, list[tuple[float, float, float]]] = {}
        for i, fault in enumerate(scenario.faults):
            effect = FAULT_EFFECTS[fault.kind]
            if not effect.timed:
                effect.plan(self, i, fault)
                continue
            start, end = fault.window(scenario.duration)
            self._at(start, self._begin, i)
            self._at(end, self._end, i)
        for name, client in clients.items():
            client.set_plan(scenario.duration, self.surges.get(name, []))

    def _at(self, when: float, action: Callable[[simpy.Event], None], index: int) -> None:
        if when < self.scenario.duration:
            self.env.timeout(max(0.0, when - self.env.now), index).callbacks.append(action)

    def after(self, delay: float, action: Callable[[FaultSchedule, Any], None], arg: Any) -> None:
        """Call ``action(self, arg)`` in ``delay`` seconds (an effect's own timer)."""
        self.env.timeout(delay, arg).callbacks.append(lambda event: action(self, event.value))

    def _begin(self, event: simpy.Event) -> None:
        index = cast(int, event.value)  # the fault's index, given to the timeout in _at
        fault = self.scenario.faults[index]
        self.log.append((self.env.now, "start", index))
        self.active[fault.target].add(index)
        effect = FAULT_EFFECTS[fault.kind]
        effect.start(self, index, fault)
        if effect.tick_every is not None:
            self.after(effect.tick_every, self._tick, index)

    def _tick(self, _schedule: FaultSchedule, index: int) -> None:
        fault = self.scenario.faults[index]
        if index not in self.active[fault.target]:
            return  # the window has closed
        effect = FAULT_EFFECTS[fault.kind]
        effect.tick(self, index, fault)
        if effect.tick_every is not None:
            self.after(effect.tick_every, self._tick, index)

    def _end(self, event: simpy.Event) -> None:
        index = cast(int, event.value)
        fault = self.scenario.faults[index]
        self.log.append((self.env.now, "end", index))
        self.active[fault.target].discard(index)
        FAULT_EFFECTS[fault.kind].stop(self, index, fault)

    def has(self, target: str, kind: str) -> bool:
        """Whether a fault of ``kind`` is active on ``target`` now."""
        return any(self.scenario.faults[i].kind == kind for i in self.active[target])

    def reapply(self, target: str) -> None:
        """Fold the target's conditions from every fault active on it, and apply them."""
        conditions = Conditions()
        for i in sorted(self.active[target]):
            fault = self.scenario.faults[i]
            CONDITION_FOLDS[fault.kind](conditions, fault)
        self.servers[target].apply_conditions(conditions)
