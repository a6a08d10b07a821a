"""What a node kind registers, once, beside its component: how to build, read and check it.

Each component module ends with its ``NodeKind`` (or several: ``service.py``
registers service, database and third_party). The engine builds every node
through its kind, the summary and the live snapshot add the kind's own fields,
and ``check_invariants`` runs the kind's own checks, so a new kind is one module
plus its schema class, not an edit to each of those places. The kind's schema
class lives in the scenario layer (``scenario_nodes``, ``scenario_messages``),
which may not import the engine; the app's entry (icon, defaults, badges) lives
in ``gui/kinds.py``, which may not be imported here. ``tests/test_kinds.py``
checks that the three agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from simulator._simpy import Environment
from simulator.metrics import Series
from simulator.randomness import RandomStream

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = ["NodeKind", "World"]


class World(Protocol):
    """What a builder may use: the clock, the scenario, random streams, series, other nodes."""

    env: Environment
    scenario: Scenario
    seed: int

    def stream(self, component: str, purpose: str) -> RandomStream: ...

    def series(self, names: tuple[str, ...]) -> Series: ...

    def node(self, name: str) -> Any: ...

    def add_call(self, edge: str, call: Any) -> Any: ...

    def add_publish(self, edge: str, publish: Any, owner: Any, relayed: bool = False) -> Any: ...


@dataclass(frozen=True)
class NodeKind:
    """One kind of node, as the engine and the readers of a run know it.

    ``build(world, name, spec)`` makes the component. ``connect(world, name,
    component)`` runs once every node exists, for kinds that hold references to
    others (a relay's database, a consumer's broker). ``summary(component, now)``
    returns the kind's own fields for ``nodes.<name>`` in the JSON, after the
    common ones; ``snapshot(component)`` its own live fields; ``invariants(name,
    component)`` its own bookkeeping problems at the end of a run.
    """

    name: str
    build: Callable[[World, str, Any], Any]
    connect: Callable[[World, str, Any], None] | None = None
    summary: Callable[[Any, float], dict[str, Any]] | None = None
    snapshot: Callable[[Any], dict[str, Any]] | None = None
    invariants: Callable[[str, Any], list[str]] | None = None
