"""Writing an import onto a scenario: one call's policies, one balancer's settings.

The result replaces each policy it names whole (an imported retry is that tool's
retry, not a blend with the call's own), and is written into the scenario's own
text through the round-trip writer, so the user's comments and spellings stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from simulator.importers.findings import CannotImport, ImportResult
from simulator.scenario import (
    Scenario,
    ScenarioError,
    parse_scenario,
    scenario_to_data,
    validate_data,
)
from simulator.scenario_nodes import Balancer, call_edge_names
from simulator.scenario_roundtrip import SavedText, saved_text

__all__ = [
    "ImportTarget",
    "Imported",
    "apply_result",
    "describe_target",
    "import_into_text",
    "import_settings",
    "resolve_target",
]


@dataclass(frozen=True)
class ImportTarget:
    """Where an import goes: a call named by its edge (``api->db``, ``api->db#1``), a balancer."""

    call: tuple[str, int] | None = None
    balancer: str | None = None

    def edge(self, scenario: Scenario) -> str:
        if self.call is None:
            return ""
        node, index = self.call
        return call_edge_names(node, scenario.nodes[node].calls)[index]


def resolve_target(scenario: Scenario, call: str | None, balancer: str | None) -> ImportTarget:
    """The call and balancer named on the command line (or in the app), checked.

    A call to a balancer takes the balancer too, unless another one is named: the
    balancer is the Envoy cluster the call goes through.
    """
    if call is None and balancer is None:
        raise CannotImport("name a target: --call 'CALLER->CALLEE' or --balancer NAME")
    where: tuple[str, int] | None = None
    if call is not None:
        where = _find_call(scenario, call)
        target = scenario.nodes[where[0]].calls[where[1]].to
        if balancer is None and isinstance(scenario.nodes[target], Balancer):
            balancer = target
    if balancer is not None and not isinstance(scenario.nodes.get(balancer), Balancer):
        balancers = [n for n, node in scenario.nodes.items() if isinstance(node, Balancer)]
        listed = ", ".join(balancers) or "none"
        raise CannotImport(f"no balancer {balancer!r} in the scenario (balancers: {listed})")
    return ImportTarget(where, balancer)


def _find_call(scenario: Scenario, edge: str) -> tuple[str, int]:
    caller = edge.split("->", 1)[0].strip()
    if edge.rstrip().endswith("-") and "->" not in edge:
        raise CannotImport(
            f"no call {edge!r}: the shell took '>' as a redirection; quote it: --call 'api->db'"
        )
    if "->" not in edge or caller not in scenario.nodes:
        raise CannotImport(f"no call {edge!r}: name it CALLER->CALLEE, e.g. --call 'api->db'")
    names = call_edge_names(caller, scenario.nodes[caller].calls)
    wanted = edge.replace(" ", "")
    if wanted in names:
        return caller, names.index(wanted)
    listed = ", ".join(names) or "none"
    raise CannotImport(f"{caller} makes no call {edge!r} (its calls: {listed})")


def apply_result(
    scenario: Scenario, result: ImportResult, target: ImportTarget
) -> tuple[Scenario, list[str]]:
    """``scenario`` with the import applied, and what it replaced (one line each)."""
    changes: list[str] = []
    if result.call and target.call is not None:
        name, index = target.call
        node = scenario.nodes[name]
        call = node.calls[index]
        edge = target.edge(scenario)
        new_call = _updated(call, result.call, edge, changes)
        calls = [*node.calls[:index], new_call, *node.calls[index + 1 :]]
        scenario = _with_node(scenario, name, node.model_copy(update={"calls": calls}))
    if result.balancer and target.balancer is not None:
        node = scenario.nodes[target.balancer]
        new_node = _updated(node, result.balancer, target.balancer, changes)
        scenario = _with_node(scenario, target.balancer, new_node)
    if result.backends and target.balancer is not None:
        node = scenario.nodes[target.balancer]
        edges = call_edge_names(target.balancer, node.calls)
        calls = [
            _updated(call, result.backends, edge, changes)
            for call, edge in zip(node.calls, edges, strict=True)
        ]
        scenario = _with_node(scenario, target.balancer, node.model_copy(update={"calls": calls}))
    try:
        checked = validate_data(scenario_to_data(scenario))
    except ScenarioError as exc:
        raise CannotImport(f"the imported settings leave the scenario invalid: {exc}") from None
    return checked, changes


def _updated(model: BaseModel, fields: dict[str, Any], where: str, changes: list[str]) -> Any:
    data = {name: getattr(model, name) for name in type(model).model_fields}
    data.update(fields)
    try:
        new = type(model).model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(x) for x in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        raise CannotImport(f"{where}: the imported {loc} is not valid: {message}") from None
    for key in fields:
        old = getattr(model, key)
        if old is not None and old != getattr(new, key):
            shown = model.model_dump(mode="json", include={key}, exclude_defaults=True).get(key)
            changes.append(f"{where}: {key} replaced (it was {_short(old, shown)})")
    return new


def _short(value: Any, shown: Any) -> str:
    if isinstance(value, BaseModel):
        data = value.model_dump(mode="json", exclude_defaults=True)
        return ", ".join(f"{k} {v}" for k, v in data.items()) or "the defaults"
    return str(shown if shown is not None else value)


def _with_node(scenario: Scenario, name: str, node: Any) -> Scenario:
    return scenario.model_copy(update={"nodes": {**scenario.nodes, name: node}})


def import_into_text(
    text: str, result: ImportResult, target: ImportTarget
) -> tuple[SavedText, Scenario, list[str]]:
    """The scenario text with the import written in, keeping what the user wrote."""
    try:
        scenario = parse_scenario(text)
    except ScenarioError as exc:
        raise CannotImport(str(exc)) from None
    updated, changes = apply_result(scenario, result, target)
    return saved_text(updated, text), updated, changes


@dataclass(frozen=True)
class Imported:
    """One import done in memory: what was read, the scenario it makes, what it replaced."""

    result: ImportResult
    target: ImportTarget
    scenario: Scenario
    changes: list[str]


def import_settings(
    scenario: Scenario,
    source: str,
    path: str,
    *,
    call: str | None = None,
    balancer: str | None = None,
    instance: str | None = None,
    cluster: str | None = None,
    route: str | None = None,
    processors: int = 4,
) -> Imported:
    """Read ``path`` as ``source`` ("resilience4j" or "envoy") onto ``scenario``'s target.

    The one sequence the command line and the app share; raises CannotImport with a
    message for the user.
    """
    from simulator.importers.envoy import read_envoy
    from simulator.importers.resilience4j import read_resilience4j

    target = resolve_target(scenario, call, balancer)
    if source == "resilience4j":
        if not instance:
            raise CannotImport("name the resilience4j instance to import")
        if target.call is None:
            raise CannotImport("resilience4j settings go onto a call: name one")
        result = read_resilience4j(path, instance, processors, call or "the call")
    elif source == "envoy":
        result = read_envoy(
            path,
            cluster or None,
            route or None,
            call=target.call is not None,
            balancer=target.balancer is not None,
        )
    else:
        raise CannotImport(f"unknown source {source!r}: resilience4j or envoy")
    updated, changes = apply_result(scenario, result, target)
    return Imported(result, target, updated, changes)


def describe_target(scenario: Scenario, target: ImportTarget) -> str:
    """The imported call and balancer as the scenario file now spells them (for the report)."""
    shown: dict[str, Any] = {}
    if target.call is not None:
        node, index = target.call
        call = scenario.nodes[node].calls[index]
        shown[target.edge(scenario)] = call.model_dump(mode="json", exclude_defaults=True)
    if target.balancer is not None:
        balancer = scenario.nodes[target.balancer]
        data = balancer.model_dump(mode="json", exclude_defaults=True, exclude={"calls"})
        shown[target.balancer] = data
    body = yaml.safe_dump(shown, sort_keys=False, default_flow_style=None, width=100)
    return "now:\n" + "\n".join(f"  {line}" for line in body.splitlines())
