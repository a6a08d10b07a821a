"""Pure scenario edits: each takes a Scenario and returns a new, validated one.

The document wraps these in undo commands. Nothing here imports Qt, and no
function mutates its input: unchanged parts are shared, changed parts are new
models, so an old Scenario kept by an undo command stays exactly as it was.
A path names a model inside the scenario: ``()`` is the scenario itself,
``("nodes", "api")`` a node, ``("nodes", "api", "calls", 0)`` a call,
``("nodes", "api", "publishes", 0)`` a publish, ``("nodes", "api", "calls", 0, "retry")``
a policy, ``("nodes", "bus", "queues", "orders")`` a broker's queue, ``("faults", 2)`` a fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, get_args

from pydantic import BaseModel, TypeAdapter, ValidationError

from gui.kinds import KINDS, NeedsOtherNodes
from gui.kinds import defaults as kind_defaults
from simulator.scenario import (
    NAME_RE,
    Broker,
    Call,
    Consumer,
    Fault,
    Node,
    Publish,
    Relay,
    Scenario,
)
from simulator.scenario_deploys import Deploy, deploy_of_fault
from simulator.scenario_types import distribution_mean

Path = tuple[Any, ...]

EXCLUSIVE_FIELDS: dict[str, tuple[str, ...]] = {
    "client": ("rate", "profile", "users"),
    "Hedge": ("delay", "percentile"),
}
"""Fields of which a model takes exactly one: giving one clears the others (a model is named
by its ``kind``, or by its class if it has none)."""

_NODE = TypeAdapter(Node)
_FAULT = TypeAdapter(Fault)
_DEPLOY = TypeAdapter(Deploy)


class EditError(ValueError):
    """An edit that would leave the scenario invalid; ``field`` says which input was at fault."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


def get_at(scenario: Scenario, path: Path) -> Any:
    """The model (or value) at ``path``."""
    value: Any = scenario
    for part in path:
        value = value[part] if isinstance(value, dict | list) else getattr(value, part)
    return value


def replace_at(scenario: Scenario, path: Path, new: Any) -> Scenario:
    """A new scenario with the value at ``path`` replaced by ``new``."""
    if not path:
        return new
    parent = get_at(scenario, path[:-1])
    key = path[-1]
    if isinstance(parent, dict):
        updated: Any = {**parent, key: new}
    elif isinstance(parent, list):
        updated = [*parent[:key], new, *parent[key + 1 :]]
    else:
        updated = parent.model_copy(update={key: new})
    return replace_at(scenario, path[:-1], updated)


def _validated(model: BaseModel, changes: dict[str, Any]) -> BaseModel:
    """``model`` with ``changes`` applied and checked by its own schema and validators."""
    data = {name: getattr(model, name) for name in type(model).model_fields}
    data.update(changes)
    try:
        return type(model).model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        raise EditError(message, field) from None


def set_field(scenario: Scenario, path: Path, field: str, raw: Any) -> Scenario:
    """Set one field of the model at ``path`` from what a person typed (``"250ms"``)."""
    model = get_at(scenario, path)
    changes = {field: raw}
    group = EXCLUSIVE_FIELDS.get(getattr(model, "kind", None) or type(model).__name__, ())
    if raw is not None and field in group:
        changes.update({name: None for name in group if name != field})
    _follow_broker(scenario, model, changes)
    return replace_at(scenario, path, _validated(model, changes))


def _follow_broker(scenario: Scenario, model: BaseModel, changes: dict[str, Any]) -> None:
    """A publish or consumer moved to another broker takes that broker's first queue,
    unless the queue it names is there too."""
    field = "to" if isinstance(model, Publish) else "broker" if isinstance(model, Consumer) else ""
    if not field or field not in changes or "queue" in changes:
        return
    broker = scenario.nodes.get(changes[field])
    if isinstance(broker, Broker) and model.queue not in broker.queues:  # type: ignore[attr-defined]
        changes["queue"] = next(iter(broker.queues))


def switch_distribution(dist: BaseModel | None, kind: str) -> dict[str, Any]:
    """Data for a distribution of another ``kind`` with about the same mean."""
    from simulator.scenario_types import Constant, Exponential, LogNormal, Uniform

    mean = distribution_mean(dist) if dist is not None else 0.01
    classes = {"exponential": Exponential, "constant": Constant, "uniform": Uniform}
    cls = classes.get(kind, LogNormal)
    data: dict[str, Any] = {"dist": kind}
    for name, info in cls.model_fields.items():
        if name != "dist" and info.is_required():
            data[name] = mean
    if kind == "lognormal":
        data["p99"] = mean * 10
    if kind == "uniform":
        data["high"] = mean * 2
    return data


def unique_name(scenario: Scenario, stem: str, taken: set[str] | None = None) -> str:
    """``stem`` or ``stem_2``, ``stem_3``… whichever is free."""
    return _free(stem, set(scenario.nodes) | (taken or set()))


def _free(stem: str, used: Iterable[str]) -> str:
    used = set(used)
    if stem not in used:
        return stem
    n = 2
    while f"{stem}_{n}" in used:
        n += 1
    return f"{stem}_{n}"


# -- nodes ------------------------------------------------------------------------------------


def add_node(
    scenario: Scenario,
    kind: str,
    pos: tuple[float, float],
    data: dict[str, Any] | None = None,
    preferred: Iterable[str] = (),
) -> tuple[Scenario, str]:
    """A scenario with a new node of ``kind`` at ``pos``; returns it and the node's name.

    Without ``data`` the node gets its kind's defaults; a kind that needs other
    nodes (a relay, a consumer) takes them from ``preferred`` names first, then the
    first fitting node, and raises EditError saying what to add when there is none.
    """
    if data is None:
        try:
            data = kind_defaults(kind, scenario, preferred)
        except NeedsOtherNodes as exc:
            raise EditError(str(exc)) from None
    name = unique_name(scenario, kind)
    node = _NODE.validate_python({"kind": kind, **data})
    return _with_nodes(
        scenario, {**scenario.nodes, name: node}, {**scenario.layout, name: whole(*pos)}
    ), name


def _with_nodes(
    scenario: Scenario, nodes: dict, layout: dict, faults: list | None = None
) -> Scenario:
    update: dict[str, Any] = {"nodes": nodes, "layout": layout}
    if faults is not None:
        update["faults"] = faults
    return scenario.model_copy(update=update)


def _needs(node: Any) -> set[str]:
    """What this node cannot work without: a relay's database and broker, a consumer's broker."""
    if isinstance(node, Relay):
        return {node.database, node.publish.to}
    if isinstance(node, Consumer):
        return {node.broker}
    return set()


def dependents(scenario: Scenario, names: set[str]) -> set[str]:
    """``names`` and, transitively, the relays and consumers that need one of them."""
    out = set(names)
    grew = True
    while grew:
        grew = False
        for name, node in scenario.nodes.items():
            if name not in out and _needs(node) & out:
                out.add(name)
                grew = True
    return out


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _rewire_call(call: Call, rename: dict[str, str], gone: set[str]) -> Call:
    update: dict[str, Any] = {}
    if call.to in rename:
        update["to"] = rename[call.to]
    if call.outbox is not None and call.outbox in gone:
        update["outbox"] = None
    elif call.outbox is not None and call.outbox in rename:
        update["outbox"] = rename[call.outbox]
    after = getattr(call, "after_commit_to", None)  # a publish's dual write names a database
    if after is not None and after in gone:
        update["after_commit_to"] = None
    elif after is not None and after in rename:
        update["after_commit_to"] = rename[after]
    if call.only_for and any(c in rename for c in call.only_for):
        update["only_for"] = [rename.get(c, c) for c in call.only_for]
    return call.model_copy(update=update) if update else call


def _rewire(node: Any, rename: dict[str, str], gone: set[str]) -> Any:
    """``node`` with references renamed and its calls and publishes into ``gone`` dropped."""
    calls = [_rewire_call(c, rename, gone) for c in node.calls if c.to not in gone]
    publishes = [_rewire_call(p, rename, gone) for p in node.publishes if p.to not in gone]
    update: dict[str, Any] = {}
    if not _same(calls, node.calls):
        update["calls"] = calls
    if not _same(publishes, node.publishes):
        update["publishes"] = publishes
    if isinstance(node, Relay):
        if node.database in rename:
            update["database"] = rename[node.database]
        publish = _rewire_call(node.publish, rename, gone)
        if publish is not node.publish:
            update["publish"] = publish
    if isinstance(node, Consumer) and node.broker in rename:
        update["broker"] = rename[node.broker]
    return node.model_copy(update=update) if update else node


def remove_nodes(scenario: Scenario, names: set[str]) -> Scenario:
    """Remove nodes with the calls and publishes into them, the faults on them, their
    positions, and the relays and consumers that need them (``dependents``)."""
    names = dependents(scenario, names)
    nodes = {n: _rewire(v, {}, names) for n, v in scenario.nodes.items() if n not in names}
    if not nodes:
        raise EditError("a scenario needs at least one node")
    layout = {k: v for k, v in scenario.layout.items() if k not in names}
    faults = [f for f in scenario.faults if f.target not in names]
    deploys = [d for d in scenario.deploys if d.target not in names]
    return _with_nodes(scenario, nodes, layout, faults).model_copy(update={"deploys": deploys})


def rename_node(scenario: Scenario, old: str, new: str) -> Scenario:
    """Rename a node everywhere it is named: calls, publishes, relays, consumers, faults, layout."""
    if new == old:
        return scenario
    if not NAME_RE.match(new):
        raise EditError("node names are letters, digits, _ . - (at most 64)", "name")
    if new in scenario.nodes:
        raise EditError(f"there is already a node called {new!r}", "name")
    rename = {old: new}
    nodes = {rename.get(k, k): _rewire(v, rename, set()) for k, v in scenario.nodes.items()}
    layout = {rename.get(k, k): v for k, v in scenario.layout.items()}
    faults = [
        f.model_copy(update={"target": new}) if f.target == old else f for f in scenario.faults
    ]
    deploys = [
        d.model_copy(update={"target": new}) if d.target == old else d for d in scenario.deploys
    ]
    return _with_nodes(scenario, nodes, layout, faults).model_copy(update={"deploys": deploys})


# -- calls and publishes -------------------------------------------------------------------------


def _sender(scenario: Scenario, source: str, what: str) -> Any:
    node = scenario.nodes[source]
    if not KINDS[node.kind].sends:
        raise EditError(f"{source} is a {node.kind}: it sends no {what}")
    return node


def add_call(scenario: Scenario, source: str, target: str) -> Scenario:
    """A new call ``source -> target`` with no policies."""
    node = _sender(scenario, source, "calls")
    calls = [*node.calls, Call(to=target)]
    return replace_at(scenario, ("nodes", source), node.model_copy(update={"calls": calls}))


def add_publish(scenario: Scenario, source: str, broker: str, queue: str | None = None) -> Scenario:
    """A new publish from ``source`` to ``broker``'s ``queue`` (default: its first queue)."""
    node = _sender(scenario, source, "publishes")
    target = scenario.nodes[broker]
    if not isinstance(target, Broker):
        raise EditError(f"{broker} is a {target.kind}, not a broker: publishes go to a broker")
    queue = queue if queue is not None else next(iter(target.queues))
    if queue not in target.queues:
        raise EditError(f"broker {broker} has no queue {queue!r}")
    publishes = [*node.publishes, Publish(to=broker, queue=queue)]
    return replace_at(scenario, ("nodes", source), node.model_copy(update={"publishes": publishes}))


def remove_edges(
    scenario: Scenario,
    calls: set[tuple[str, int]],
    publishes: set[tuple[str, int]] | None = None,
) -> Scenario:
    """Remove calls and publishes given as ``(source, index)``."""
    publishes = publishes or set()
    for source in {s for s, _ in calls} | {s for s, _ in publishes}:
        node = scenario.nodes[source]
        update = {
            "calls": [c for i, c in enumerate(node.calls) if (source, i) not in calls],
            "publishes": [p for i, p in enumerate(node.publishes) if (source, i) not in publishes],
        }
        scenario = replace_at(scenario, ("nodes", source), node.model_copy(update=update))
    return scenario


def remove_calls(scenario: Scenario, calls: set[tuple[str, int]]) -> Scenario:
    """Remove calls given as ``(source, index)``."""
    return remove_edges(scenario, calls)


def move_nodes(scenario: Scenario, positions: dict[str, tuple[float, float]]) -> Scenario:
    """New positions for some nodes (rounded to whole pixels, as people would write them)."""
    layout = dict(scenario.layout)
    for name, (x, y) in positions.items():
        layout[name] = whole(x, y)
    return scenario.model_copy(update={"layout": layout})


def whole(x: float, y: float) -> tuple[float, float]:
    """A position in whole pixels: the canvas's arithmetic gives ``245.20000000000005``, which
    nobody wants to read in their file."""
    return float(round(x)), float(round(y))


# -- named entries (a broker's queues) -----------------------------------------------------------


def _entries(scenario: Scenario, path: Path, field: str) -> tuple[BaseModel, dict, type]:
    model = get_at(scenario, path)
    entries = getattr(model, field)
    annotation = type(model).model_fields[field].annotation
    value_type = get_args(annotation)[1]
    return model, entries, value_type


def _queue_users(scenario: Scenario, broker: str, queue: str) -> list[str]:
    users = []
    for name, node in scenario.nodes.items():
        publishes = [*node.publishes, *([node.publish] if isinstance(node, Relay) else [])]
        if any(p.to == broker and p.queue == queue for p in publishes) or (
            isinstance(node, Consumer) and node.broker == broker and node.queue == queue
        ):
            users.append(name)
    return users


def add_entry(scenario: Scenario, path: Path, field: str, stem: str) -> tuple[Scenario, str]:
    """A new entry with default settings in the dict ``field`` of the model at ``path``."""
    model, entries, value_type = _entries(scenario, path, field)
    key = _free(stem, entries)
    updated = model.model_copy(update={field: {**entries, key: value_type()}})
    return replace_at(scenario, path, updated), key


def rename_entry(scenario: Scenario, path: Path, field: str, old: str, new: str) -> Scenario:
    """Rename an entry in place; a broker's queue is renamed in every publish and consumer too."""
    model, entries, _ = _entries(scenario, path, field)
    if new == old:
        return scenario
    if not NAME_RE.match(new):
        raise EditError("names are letters, digits, _ . - (at most 64)", field)
    if new in entries:
        raise EditError(f"there is already one called {new!r}", field)
    renamed = {(new if k == old else k): v for k, v in entries.items()}
    scenario = replace_at(scenario, path, model.model_copy(update={field: renamed}))
    if isinstance(model, Broker) and field == "queues":
        scenario = _rename_queue_users(scenario, path[-1], old, new)
    return scenario


def _rename_queue_users(scenario: Scenario, broker: str, old: str, new: str) -> Scenario:
    def fix(publish: Publish) -> Publish:
        if publish.to == broker and publish.queue == old:
            return publish.model_copy(update={"queue": new})
        return publish

    nodes = {}
    for name, node in scenario.nodes.items():
        update: dict[str, Any] = {}
        publishes = [fix(p) for p in node.publishes]
        if not _same(publishes, node.publishes):
            update["publishes"] = publishes
        if isinstance(node, Relay) and fix(node.publish) is not node.publish:
            update["publish"] = fix(node.publish)
        if isinstance(node, Consumer) and node.broker == broker and node.queue == old:
            update["queue"] = new
        nodes[name] = node.model_copy(update=update) if update else node
    return scenario.model_copy(update={"nodes": nodes})


def remove_entry(scenario: Scenario, path: Path, field: str, key: str) -> Scenario:
    """Remove an entry; a broker keeps at least one queue, and a queue in use stays."""
    model, entries, _ = _entries(scenario, path, field)
    if isinstance(model, Broker) and field == "queues":
        if len(entries) <= 1:
            raise EditError("a broker needs at least one queue", field)
        users = _queue_users(scenario, path[-1], key)
        if users:
            raise EditError(
                f"queue {key} is used by {', '.join(users)}: point them at another queue first",
                field,
            )
    kept = {k: v for k, v in entries.items() if k != key}
    return replace_at(scenario, path, model.model_copy(update={field: kept}))


# -- faults ---------------------------------------------------------------------------------------


def add_fault(scenario: Scenario, data: dict[str, Any]) -> Scenario:
    """A scenario with one more fault, validated from ``data`` (file spelling)."""
    try:
        fault = _FAULT.validate_python(data)
    except ValidationError as exc:
        raise EditError(str(exc.errors()[0]["msg"])) from None
    return scenario.model_copy(update={"faults": [*scenario.faults, fault]})


def remove_faults(scenario: Scenario, indexes: set[int]) -> Scenario:
    faults = [f for i, f in enumerate(scenario.faults) if i not in indexes]
    return scenario.model_copy(update={"faults": faults})


def set_fault_window(scenario: Scenario, index: int, at: float, for_: float | None) -> Scenario:
    """Move or resize a fault's window."""
    fault = scenario.faults[index]
    return replace_at(scenario, ("faults", index), _validated(fault, {"at": at, "for_": for_}))


# -- deploys --------------------------------------------------------------------------------------


def add_deploy(scenario: Scenario, data: dict[str, Any]) -> Scenario:
    """A scenario with one more deploy, validated from ``data`` (file spelling)."""
    try:
        deploy = _DEPLOY.validate_python(data)
    except ValidationError as exc:
        raise EditError(str(exc.errors()[0]["msg"])) from None
    return scenario.model_copy(update={"deploys": [*scenario.deploys, deploy]})


def remove_deploys(scenario: Scenario, indexes: set[int]) -> Scenario:
    """Without those deploys, and without the bad_deploy faults that spoiled their versions."""
    kept = [d for i, d in enumerate(scenario.deploys) if i not in indexes]
    after = scenario.model_copy(update={"deploys": kept})
    faults = [
        f for f in scenario.faults
        if f.kind != "bad_deploy" or deploy_of_fault(after, f) is not None
    ]  # fmt: skip
    return after.model_copy(update={"faults": faults})


def set_deploy_at(scenario: Scenario, index: int, at: float) -> Scenario:
    """Move a deploy; the bad_deploy faults of its version move with it."""
    deploy = scenario.deploys[index]
    moved = _validated(deploy, {"at": at})
    faults = [
        f.model_copy(update={"at": max(0.0, f.at + at - deploy.at)})
        if f.kind == "bad_deploy" and deploy_of_fault(scenario, f) == index else f
        for f in scenario.faults
    ]  # fmt: skip
    return replace_at(scenario, ("deploys", index), moved).model_copy(update={"faults": faults})


# -- paste ---------------------------------------------------------------------------------------


def _pasted(data: dict[str, Any], names: dict[str, str], existing: set[str]) -> dict[str, Any]:
    """A copied node's data with references to copied nodes renamed; calls and publishes to
    nodes that are neither copied nor present are left out, as is an outbox to a missing relay."""

    def fix(call: dict[str, Any]) -> dict[str, Any]:
        call = {**call, "to": names.get(call["to"], call["to"])}
        for field in ("outbox", "after_commit_to"):
            named = call.get(field)
            if named is not None:
                if named in names:
                    call[field] = names[named]
                elif named not in existing:
                    call.pop(field)
        return call

    def kept(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [fix(c) for c in edges if c.get("to") in names or c.get("to") in existing]

    out = {
        **data,
        "calls": kept(data.get("calls", [])),
        "publishes": kept(data.get("publishes", [])),
    }
    for field in ("database", "broker"):
        if field in out:
            out[field] = names.get(out[field], out[field])
    if isinstance(out.get("publish"), dict):
        out["publish"] = fix(out["publish"])
    return out


def paste_nodes(
    scenario: Scenario, nodes: dict[str, Any], layout: dict[str, Any], offset: float = 40.0
) -> tuple[Scenario, list[str]]:
    """Add copies of ``nodes`` (file spelling) under fresh names; edges among them follow."""
    names: dict[str, str] = {}
    for name in nodes:
        names[name] = unique_name(scenario, name, set(names.values()))
    new_nodes = dict(scenario.nodes)
    new_layout = dict(scenario.layout)
    existing = set(scenario.nodes)
    for name, data in nodes.items():
        new_nodes[names[name]] = _NODE.validate_python(_pasted(data, names, existing))
        x, y = layout.get(name, (0.0, 0.0))
        new_layout[names[name]] = whole(float(x) + offset, float(y) + offset)
    return _with_nodes(scenario, new_nodes, new_layout), list(names.values())
