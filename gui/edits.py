"""Pure scenario edits: each takes a Scenario and returns a new, validated one.

The document wraps these in undo commands. Nothing here imports Qt, and no
function mutates its input: unchanged parts are shared, changed parts are new
models, so an old Scenario kept by an undo command stays exactly as it was.
A path names a model inside the scenario: ``()`` is the scenario itself,
``("nodes", "api")`` a node, ``("nodes", "api", "calls", 0)`` a call,
``("nodes", "api", "calls", 0, "retry")`` a policy, ``("faults", 2)`` a fault.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from simulator.scenario import Call, Fault, Node, Scenario
from simulator.scenario_types import distribution_mean

Path = tuple[Any, ...]

NODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "client": {"rate": "100/s"},
    "service": {
        "workers": 10,
        "queue": 100,
        "service_time": {"dist": "exponential", "mean": "10ms"},
    },
    "database": {
        "workers": 10,
        "max_connections": 50,
        "service_time": {"dist": "lognormal", "median": "4ms", "p99": "40ms"},
    },
    "third_party": {"latency": {"dist": "lognormal", "median": "80ms", "p99": "800ms"}},
    "balancer": {"strategy": "round_robin"},
    "cache": {"hit_ratio": "80%", "latency": {"dist": "constant", "value": "1ms"}},
}
"""What a node dropped from the palette starts with: valid, and plausible."""

EXCLUSIVE_FIELDS: dict[str, tuple[str, ...]] = {"client": ("rate", "profile", "users")}
"""Fields of which a model takes exactly one: giving one clears the others."""

_NODE = TypeAdapter(Node)
_FAULT = TypeAdapter(Fault)


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
    group = EXCLUSIVE_FIELDS.get(getattr(model, "kind", ""), ())
    if raw is not None and field in group:
        changes.update({name: None for name in group if name != field})
    return replace_at(scenario, path, _validated(model, changes))


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
    used = set(scenario.nodes) | (taken or set())
    if stem not in used:
        return stem
    n = 2
    while f"{stem}_{n}" in used:
        n += 1
    return f"{stem}_{n}"


def add_node(
    scenario: Scenario, kind: str, pos: tuple[float, float], data: dict[str, Any] | None = None
) -> tuple[Scenario, str]:
    """A scenario with a new node of ``kind`` at ``pos``; returns it and the node's name."""
    name = unique_name(scenario, kind)
    node = _NODE.validate_python({"kind": kind, **(data or NODE_DEFAULTS[kind])})
    return _with_nodes(
        scenario, {**scenario.nodes, name: node}, {**scenario.layout, name: pos}
    ), name


def _with_nodes(
    scenario: Scenario, nodes: dict, layout: dict, faults: list | None = None
) -> Scenario:
    update: dict[str, Any] = {"nodes": nodes, "layout": layout}
    if faults is not None:
        update["faults"] = faults
    return scenario.model_copy(update=update)


def remove_nodes(scenario: Scenario, names: set[str]) -> Scenario:
    """Remove nodes with the calls into them, the faults on them and their positions."""
    nodes = {}
    for name, node in scenario.nodes.items():
        if name in names:
            continue
        calls = [c for c in node.calls if c.to not in names]
        nodes[name] = (
            node if len(calls) == len(node.calls) else node.model_copy(update={"calls": calls})
        )
    if not nodes:
        raise EditError("a scenario needs at least one node")
    layout = {k: v for k, v in scenario.layout.items() if k not in names}
    faults = [f for f in scenario.faults if f.target not in names]
    return _with_nodes(scenario, nodes, layout, faults)


def rename_node(scenario: Scenario, old: str, new: str) -> Scenario:
    """Rename a node everywhere it is named: calls, faults and layout."""
    from simulator.scenario import NAME_RE

    if new == old:
        return scenario
    if not NAME_RE.match(new):
        raise EditError("node names are letters, digits, _ . - (at most 64)", "name")
    if new in scenario.nodes:
        raise EditError(f"there is already a node called {new!r}", "name")

    def fix(node: Any) -> Any:
        calls = [c.model_copy(update={"to": new}) if c.to == old else c for c in node.calls]
        return node.model_copy(update={"calls": calls})

    nodes = {(new if k == old else k): fix(v) for k, v in scenario.nodes.items()}
    layout = {(new if k == old else k): v for k, v in scenario.layout.items()}
    faults = [
        f.model_copy(update={"target": new}) if f.target == old else f for f in scenario.faults
    ]
    return _with_nodes(scenario, nodes, layout, faults)


def add_call(scenario: Scenario, source: str, target: str) -> Scenario:
    """A new call ``source -> target`` with no policies."""
    node = scenario.nodes[source]
    calls = [*node.calls, Call(to=target)]
    return replace_at(scenario, ("nodes", source), node.model_copy(update={"calls": calls}))


def remove_calls(scenario: Scenario, calls: set[tuple[str, int]]) -> Scenario:
    """Remove calls given as ``(source, index)``."""
    for source in {s for s, _ in calls}:
        node = scenario.nodes[source]
        kept = [c for i, c in enumerate(node.calls) if (source, i) not in calls]
        scenario = replace_at(scenario, ("nodes", source), node.model_copy(update={"calls": kept}))
    return scenario


def move_nodes(scenario: Scenario, positions: dict[str, tuple[float, float]]) -> Scenario:
    """New positions for some nodes (rounded to whole pixels, as people would write them)."""
    layout = dict(scenario.layout)
    for name, (x, y) in positions.items():
        layout[name] = (float(round(x)), float(round(y)))
    return scenario.model_copy(update={"layout": layout})


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


def paste_nodes(
    scenario: Scenario, nodes: dict[str, Any], layout: dict[str, Any], offset: float = 40.0
) -> tuple[Scenario, list[str]]:
    """Add copies of ``nodes`` (file spelling) under fresh names; calls among them follow."""
    names: dict[str, str] = {}
    for name in nodes:
        names[name] = unique_name(scenario, name, set(names.values()))
    new_nodes = dict(scenario.nodes)
    new_layout = dict(scenario.layout)
    for name, data in nodes.items():
        calls = [
            {**c, "to": names.get(c["to"], c["to"])}
            for c in data.get("calls", [])
            if c["to"] in names or c["to"] in new_nodes
        ]
        new_nodes[names[name]] = _NODE.validate_python({**data, "calls": calls})
        x, y = layout.get(name, (0.0, 0.0))
        new_layout[names[name]] = (float(x) + offset, float(y) + offset)
    return _with_nodes(scenario, new_nodes, new_layout), list(names.values())
