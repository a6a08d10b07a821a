"""The app's side of each node kind, in one place: how it looks, starts and goes live. Qt-free.

One ``GuiKind`` per node kind: its palette label and hint, accent colour, the
fields a node dropped from the palette starts with, the one-line summary drawn
on the canvas node, which edges it takes and sends, and which live badges the
run overlay puts on it. The icon is ``assets/icons/<kind>.svg`` (loaded as Qt
objects by ``gui.icons``). The engine's side of a kind is
``simulator/components/kind.py``; ``tests/gui/test_kinds_registry.py`` checks
that every kind of the schema has an entry here and that its defaults validate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from simulator.scenario import Scenario
from simulator.scenario_types import distribution_mean
from simulator.units import format_rate

ICON_DIR = Path(__file__).resolve().parent.parent / "assets" / "icons"

Badge = Literal["route", "load", "depth", "outbox", "lag"]
"""Live badges: ``route`` a client's answered and failing share, ``load`` busy workers and
queue, ``depth`` a broker's messages held, ``outbox`` a relay's pending rows, ``lag`` the age
of a consumer's oldest unacknowledged message."""


EDGE_KINDS = ("call", "publish", "relay", "outbox", "consume")
"""The kinds of edge on the canvas, as the first part of their selection keys: a call or
publish ``(kind, source, index)``; a relay's publish and outbox read, and a consumer's
subscription, ``(kind, node)`` (drawn by that node's own fields)."""


class NeedsOtherNodes(ValueError):
    """A node of this kind cannot be valid in this scenario yet; the message says what to add."""


Defaults = Callable[[Scenario, tuple[str, ...]], dict[str, Any]]


@dataclass(frozen=True)
class GuiKind:
    """How the app shows and starts one node kind."""

    kind: str
    label: str
    hint: str
    """The palette tooltip: what the kind does, in one sentence."""
    colour: str
    """The accent on the canvas node (its border and side bar)."""
    defaults: Defaults
    """``defaults(scenario, preferred)``: valid fields for a new node (``preferred`` names are
    tried first when the kind needs another node, e.g. the selected broker). Raises
    ``NeedsOtherNodes`` when the scenario lacks what the kind needs."""
    summary: Callable[[Any], str]
    """The few numbers drawn under the node's name."""
    badges: tuple[Badge, ...]
    accepts: Literal["call", "publish", ""] = "call"
    """What a connection dragged onto this kind makes: a call, a publish, or nothing."""
    sends: bool = True
    """Whether the node has a port to drag calls and publishes from."""

    @property
    def icon(self) -> Path:
        return icon_path(self.kind)


def icon_path(kind: str) -> Path:
    return ICON_DIR / f"{kind}.svg"


# -- summaries ----------------------------------------------------------------------------------


def short_duration(seconds: float) -> str:
    """About two significant figures, never an exponent: a label, not a value to copy."""
    for unit, scale in (("µs", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        value = seconds / scale
        if value < 1000 or unit == "s":
            return f"{value:.0f}{unit}" if value >= 10 else f"{value:.2g}{unit}"
    return f"{seconds}s"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("s" if n != 1 else "")


def _client(node: Any) -> str:
    if node.rate is not None:
        return f"{format_rate(node.rate)} open loop"
    if node.profile:
        return f"profile, peak {format_rate(node.peak_rate())}"
    return f"{node.users} users"


def _mean(dist: Any) -> str:
    return short_duration(distribution_mean(dist))


def _workers(node: Any) -> str:
    return f"{_plural(node.workers, 'worker')} · {_mean(node.service_time)}"


def _balancer(node: Any) -> str:
    return f"{node.strategy.replace('_', ' ')} · {_plural(len(node.calls), 'backend')}"


def _cache(node: Any) -> str:
    return f"{node.hit_ratio:.0%} hits · {_mean(node.latency)}"


def _third_party(node: Any) -> str:
    if node.rate_limit is not None:  # the quota is what its callers run into: say it
        return f"external · {_mean(node.latency)} · {node.rate_limit:g}/s quota"
    return f"external · {_mean(node.latency)}"


def _broker(node: Any) -> str:
    names = list(node.queues)
    queues = f"queue {names[0]}" if len(names) == 1 else _plural(len(names), "queue")
    return f"{queues} · " + ("durable" if node.durable else "in memory")


def _relay(node: Any) -> str:
    if node.mode == "log_tailing":
        return f"tails {node.database} log"
    return f"polls {node.database} · {short_duration(node.interval)}"


def _consumer(node: Any) -> str:
    if node.dedupe is not None:  # the line is short: "4× 20ms · dedupe"
        return f"{node.workers}× {_mean(node.processing_time)} · dedupe"
    return f"{_plural(node.workers, 'worker')} · {_mean(node.processing_time)}"


# -- defaults -----------------------------------------------------------------------------------


def _fixed(data: dict[str, Any]) -> Defaults:
    def defaults(scenario: Scenario, preferred: tuple[str, ...] = ()) -> dict[str, Any]:
        return dict(data)

    return defaults


def first_of_kind(scenario: Scenario, kind: str, preferred: Iterable[str] = ()) -> str | None:
    """The first node of ``kind``: among ``preferred`` names first, then in document order."""
    for name in [*preferred, *scenario.nodes]:
        node = scenario.nodes.get(name)
        if node is not None and node.kind == kind:
            return name
    return None


def _queue_of(scenario: Scenario, broker: str) -> str:
    return next(iter(scenario.nodes[broker].queues))


def _needs(what: list[str], kind_text: str, why: str) -> NeedsOtherNodes:
    return NeedsOtherNodes(f"{kind_text} {why}: add {' and '.join(what)} first")


def _relay_defaults(scenario: Scenario, preferred: tuple[str, ...] = ()) -> dict[str, Any]:
    database = first_of_kind(scenario, "database", preferred)
    broker = first_of_kind(scenario, "broker", preferred)
    if database is None or broker is None:
        missing = [w for w, n in (("a database", database), ("a broker", broker)) if n is None]
        raise _needs(missing, "An outbox relay", "drains a database's outbox into a broker")
    publish = {"to": broker, "queue": _queue_of(scenario, broker), "timeout": "2s"}
    return {"database": database, "publish": publish, "interval": "500ms", "batch": 100}


def _consumer_defaults(scenario: Scenario, preferred: tuple[str, ...] = ()) -> dict[str, Any]:
    broker = first_of_kind(scenario, "broker", preferred)
    if broker is None:
        raise _needs(["a broker"], "A consumer", "takes messages from a broker's queue")
    return {
        "broker": broker,
        "queue": _queue_of(scenario, broker),
        "workers": 4,
        "processing_time": {"dist": "exponential", "mean": "10ms"},
    }


# -- the registry -------------------------------------------------------------------------------

_ENTRIES = (
    GuiKind(
        "client", "Client",
        "Sends requests: open loop (rate, profile) or closed loop (users + think time)",
        "#5b8def", _fixed({"rate": "100/s"}), _client, ("route",), accepts="",
    ),
    GuiKind(
        "service", "Service",
        "Workers and a bounded queue; a worker is held through its downstream calls",
        "#34a37a",
        _fixed({"workers": 10, "queue": 100,
                "service_time": {"dist": "exponential", "mean": "10ms"}}),
        _workers, ("load",),
    ),
    GuiKind(
        "database", "Database", "Stores data: connection limit, write checks", "#e08a2e",
        _fixed({"workers": 10, "max_connections": 50,
                "service_time": {"dist": "lognormal", "median": "4ms", "p99": "40ms"}}),
        _workers, ("load",),
    ),
    GuiKind(
        "third_party", "Third-party API", "An external API with given latency and errors",
        "#9a6bd6",
        _fixed({"latency": {"dist": "lognormal", "median": "80ms", "p99": "800ms"}}),
        _third_party, ("load",),
    ),
    GuiKind(
        "balancer", "Load balancer",
        "Sends each request to one backend: round robin, random or least outstanding",
        "#2a9bb5", _fixed({"strategy": "round_robin"}), _balancer, ("load",),
    ),
    GuiKind(
        "cache", "Cache",
        "Answers its hit ratio itself, calls the origin on a miss; comes back cold",
        "#c9497a", _fixed({"hit_ratio": "80%", "latency": {"dist": "constant", "value": "1ms"}}),
        _cache, ("load",),
    ),
    GuiKind(
        "broker", "Message broker",
        "Named queues with at-least-once delivery: connect a node to it to publish, "
        "add a consumer to read a queue",
        "#3aa6b9", _fixed({"queues": {"events": {}}}), _broker, ("depth",),
        accepts="publish", sends=False,
    ),
    GuiKind(
        "relay", "Outbox relay",
        "Reads the outbox rows a database transaction wrote and publishes them to a broker "
        "(needs a database and a broker)",
        "#7b8794", _relay_defaults, _relay, ("outbox",), accepts="", sends=False,
    ),
    GuiKind(
        "consumer", "Consumer",
        "A consumer group: workers take messages from a broker's queue, process, then "
        "acknowledge (needs a broker)",
        "#6f93c9", _consumer_defaults, _consumer, ("load", "lag"), accepts="",
    ),
)  # fmt: skip

KINDS: dict[str, GuiKind] = {entry.kind: entry for entry in _ENTRIES}
"""Every node kind's app entry, by kind."""


def gui_kind(kind: str) -> GuiKind:
    return KINDS[kind]


def label(kind: str) -> str:
    entry = KINDS.get(kind)
    return entry.label if entry is not None else kind.replace("_", " ")


def colour(kind: str) -> str:
    entry = KINDS.get(kind)
    return entry.colour if entry is not None else "#888888"


def defaults(kind: str, scenario: Scenario, preferred: Iterable[str] = ()) -> dict[str, Any]:
    """The fields a new ``kind`` node starts with in ``scenario``; raises NeedsOtherNodes."""
    return KINDS[kind].defaults(scenario, tuple(preferred))


def summary(node: Any) -> str:
    """The one line drawn on the canvas node."""
    entry = KINDS.get(node.kind)
    return entry.summary(node) if entry is not None else node.kind


def edge_targets(node: Any) -> set[str]:
    """Every node this node's edges point at or come from (calls, publishes, relay, consumer)."""
    names = {c.to for c in node.calls} | {p.to for p in node.publishes}
    if node.kind == "relay":
        names |= {node.database, node.publish.to}
    if node.kind == "consumer":
        names.add(node.broker)
    return names
