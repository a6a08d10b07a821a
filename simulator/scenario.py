"""The scenario file: typed schema, units, YAML load and save, errors with line numbers.

The parts of the schema live beside it (``scenario_types``, ``scenario_policies``,
``scenario_nodes``, ``scenario_faults``); this module assembles them into the
``Scenario`` and owns reading, checking and writing files.

A scenario file is untrusted input. It is read with ``yaml.safe_load`` only,
size-limited before parsing, checked against a strict schema (unknown keys are
errors) and against cross-references (calls and faults must name real nodes).
Every problem is reported as ``file:line: field.path: message``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import yaml
from pydantic import Field, FiniteFloat, ValidationError, ValidationInfo, field_validator

from simulator.atomic_write import write_atomically
from simulator.scenario_alerts import Alerts, alert_problems
from simulator.scenario_deploys import DEPLOY_TAGS, MAX_DEPLOYS, Deploy, deploy_problems
from simulator.scenario_faults import FAULT_COLOURS, FAULT_KINDS, FAULT_SPECS, Fault
from simulator.scenario_limits import LIMITS, limit_problems
from simulator.scenario_messages import Broker, BrokerQueue, Consumer, Dedupe, Relay
from simulator.scenario_nodes import (
    Balancer,
    Cache,
    Call,
    Client,
    Database,
    ProfilePoint,
    Publish,
    Service,
    ThirdParty,
)
from simulator.scenario_types import DIST_KINDS, Duration, Strict
from simulator.scenario_yaml import Located, YamlError, compose_located, line_of, one_line
from simulator.zero_time import zero_time_problems

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

__all__ = [
    "FAULT_COLOURS",
    "FAULT_KINDS",
    "FAULT_SPECS",
    "LIMITS",
    "NODE_KINDS",
    "NODE_SPECS",
    "Balancer",
    "Broker",
    "BrokerQueue",
    "Cache",
    "Call",
    "Client",
    "Consumer",
    "Database",
    "Dedupe",
    "Fault",
    "Node",
    "ProfilePoint",
    "Publish",
    "Relay",
    "Scenario",
    "ScenarioError",
    "ScenarioProblem",
    "Service",
    "ThirdParty",
    "dump_scenario",
    "fault_target_problem",
    "format_loc",
    "load_scenario",
    "parse_scenario",
    "parse_with_lines",
    "read_scenario_text",
    "save_scenario",
    "validate_data",
]

Node = Annotated[
    Client | Service | Database | ThirdParty | Balancer | Cache | Broker | Relay | Consumer,
    Field(discriminator="kind"),
]
NODE_SPECS: dict[str, type[Any]] = {
    get_args(cls.model_fields["kind"].annotation)[0]: cls for cls in get_args(get_args(Node)[0])
}
"""Each node kind's spec class, by kind, in the order the palette lists them."""
NODE_KINDS = tuple(NODE_SPECS)

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


class Scenario(Strict):
    """A whole scenario: what runs, for how long, what breaks, and where it is drawn."""

    murphy: Literal[1] = Field(1, description="format version")
    name: str = Field(max_length=200)
    description: str = Field("", max_length=10_000)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    duration: Duration = Field(gt=0, description="simulated time; must be positive")
    warmup: Duration = Field(0.0, description="left out of steady-state figures")
    bucket: Duration = Field(1.0, gt=0, description="time-series resolution")
    nodes: dict[str, Node] = Field(min_length=1)
    faults: list[Fault] = Field(default_factory=list)
    deploys: list[Deploy] = Field(
        default_factory=list,
        max_length=MAX_DEPLOYS,
        description="new versions of services rolled out during the run (blue_green, canary, "
        "rolling), each with its automatic rollback",
    )
    alerts: Alerts = Field(
        default_factory=lambda: Alerts(defaults=True),
        description="the alert rule set: the catalogue's default rules, overridden or added to",
    )
    layout: dict[str, tuple[FiniteFloat, FiniteFloat]] = Field(default_factory=dict)

    @field_validator("warmup")
    @classmethod
    def _warmup_shorter(cls, warmup: float, info: ValidationInfo) -> float:
        """A warm-up as long as the run leaves nothing to measure: refuse it, not run empty."""
        duration = info.data.get("duration")
        if duration is not None and warmup >= duration:
            raise ValueError("the warm-up must be shorter than the duration")
        return warmup


class ScenarioProblem(Exception):
    """One problem in a scenario, with where it is; always printed on one line."""

    def __init__(self, path: str, message: str, line: int | None = None, source: str = ""):
        # Paths and messages echo untrusted text: escape line breaks and cut them short.
        path, message, source = one_line(path, 120), one_line(message, 300), one_line(source, 300)
        super().__init__(message)
        self.path, self.message, self.line, self.source = path, message, line, source

    def __str__(self) -> str:
        where = self.source or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


MAX_PROBLEMS = 20
"""Problems listed at most; a file wrong everywhere gets a count of the rest."""


class ScenarioError(Exception):
    """A scenario that cannot be used; ``problems`` says every reason found, with lines."""

    def __init__(self, problems: list[ScenarioProblem]):
        if len(problems) > MAX_PROBLEMS:
            rest = problems[MAX_PROBLEMS]
            more = f"{len(problems) - MAX_PROBLEMS} more problems not shown"
            problems = [*problems[:MAX_PROBLEMS], ScenarioProblem("", more, rest.line, rest.source)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _file_error(source: str, message: str) -> ScenarioError:
    """A problem with the file as a whole (size, type, encoding): reported at line 1."""
    return ScenarioError([ScenarioProblem("", message, 1, source)])


def format_loc(loc: tuple[Any, ...]) -> str:
    """A location as the messages spell it: ``nodes.api.calls[0].timeout``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _yaml_path(root: Located | None, loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], int | None]:
    """Map a pydantic error location onto the YAML tree, dropping union tags it added."""
    kept: list[Any] = []
    node = root
    for part in loc:
        child = node.child(part) if node is not None else None
        # A discriminated union adds its tag (e.g. "service") to the location.
        if child is None and node is not None and _is_union_tag(part):
            continue
        kept.append(part)
        node = child
    line = line_of(root, tuple(kept))
    return tuple(kept), line


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (
        part in NODE_KINDS + FAULT_KINDS + DIST_KINDS + DEPLOY_TAGS
        or part.startswith(("function-", "tuple["))
    )


def _message(error: ErrorDetails) -> str:
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if error["type"] == "extra_forbidden":
        msg = "unknown field (check its spelling; unknown keys are not ignored)"
    return msg


def _problems_from_validation(
    exc: ValidationError, root: Located | None, source: str
) -> list[ScenarioProblem]:
    out = []
    # Only the problems that will be shown are located: a file with 100,000 bad
    # entries must not cost 100,000 path lookups.
    for error in exc.errors(include_url=False, include_context=False)[: MAX_PROBLEMS + 1]:
        loc, line = _yaml_path(root, tuple(error["loc"]))
        out.append(ScenarioProblem(format_loc(loc), _message(error), line, source))
    return out


def reference_problems(scenario: Scenario) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Cross-references the schema cannot see: calls, faults and layout must name real nodes.

    Then, once every name resolves, the wiring as a whole: a loop of messages that can go
    round in no simulated time would never let a run end (``simulator.zero_time``).
    """
    found = False
    for problem in _cross_references(scenario):
        found = True
        yield problem
    if not found:
        yield from zero_time_problems(scenario)


def _cross_references(scenario: Scenario) -> Iterator[tuple[tuple[Any, ...], str]]:
    names = set(scenario.nodes)
    for name in scenario.nodes:
        if not NAME_RE.match(name):
            yield ("nodes", name), "node names are letters, digits, _ . - (at most 64)"
    for name, node in scenario.nodes.items():
        if len(node.calls) > LIMITS["calls_per_node"]:
            yield ("nodes", name, "calls"), f"more than {LIMITS['calls_per_node']} calls"
        for i, call in enumerate(node.calls):
            for client in call.only_for or ():
                if not isinstance(scenario.nodes.get(client), Client):
                    yield ("nodes", name, "calls", i, "only_for"), f"{client!r} is not a client"
            if call.to not in names:
                yield ("nodes", name, "calls", i, "to"), f"unknown node {call.to!r}"
            elif isinstance(scenario.nodes[call.to], Client):
                yield (
                    ("nodes", name, "calls", i, "to"),
                    f"{call.to!r} is a client: it takes no calls",
                )
            elif isinstance(scenario.nodes[call.to], Broker | Relay | Consumer):
                kind = scenario.nodes[call.to].kind
                how = "publish to it" if kind == "broker" else "it takes no calls"
                yield ("nodes", name, "calls", i, "to"), f"{call.to!r} is a {kind}: {how}"
            if call.outbox is not None:
                yield from _outbox_problems(scenario, ("nodes", name, "calls", i), call)
            if call.hedge is not None and call.to in {p.after_commit_to for p in node.publishes}:
                yield (
                    ("nodes", name, "calls", i, "hedge"),
                    "a dual-write transaction is a write: hedge reads only (remove the hedge)",
                )
            if call.validation and not isinstance(scenario.nodes.get(call.to), Database):
                yield (
                    ("nodes", name, "calls", i, "validation"),
                    "validation guards writes to a database: this call's target is not one",
                )
        for i, publish in enumerate(node.publishes):
            yield from _publish_problems(scenario, ("nodes", name, "publishes", i), publish)
        if isinstance(node, Relay):
            database = scenario.nodes.get(node.database)
            if not isinstance(database, Database):
                what = "unknown node" if database is None else f"a {database.kind}, not a database"
                yield ("nodes", name, "database"), f"{node.database!r}: {what}"
            yield from _publish_problems(scenario, ("nodes", name, "publish"), node.publish)
        if isinstance(node, Consumer):
            yield from _queue_problems(scenario, ("nodes", name), node.broker, node.queue)
    for i, fault in enumerate(scenario.faults):
        problem = fault_target_problem(scenario, fault.kind, fault.target)
        if problem is not None:
            yield ("faults", i, "target"), problem
    yield from deploy_problems(scenario)
    yield from alert_problems(scenario)
    for name in scenario.layout:
        if name not in names:
            yield ("layout", name), f"position for unknown node {name!r}"
    yield from limit_problems(scenario)


def fault_target_problem(scenario: Scenario, kind: str, target: str) -> str | None:
    """Why a fault of ``kind`` cannot target ``target`` (None: it can).

    The one rule for the file's check and the app's choice of a target alike.
    """
    spec = FAULT_SPECS[kind]
    node = scenario.nodes.get(target)
    if node is None:
        return f"unknown node {target!r}"
    if node.kind not in spec.targets if spec.targets is not None else isinstance(node, Client):
        return f"a {kind} fault needs {spec.target_text}"
    if kind == "corruption" and not _writes_to_database(scenario, target):
        return (f"{target!r} makes no write to a database: give one of its calls to a "
                "database writes: true (or target the node that writes)")  # fmt: skip
    if kind == "bad_deploy" and not any(d.target == target for d in scenario.deploys):
        return f"no deploy targets {target!r}: add a deploy of it first (deploys:)"
    if kind == "memory_leak" and _lacks_memory(node):
        return (f"{target!r} has no memory model: give it memory: (limit_mb, base_mb, ...) "
                "for a leak to fill")  # fmt: skip
    return None


def _writes_to_database(scenario: Scenario, name: str) -> bool:
    """Whether ``name`` makes a plain write call to a database (what a corruption fault spoils).

    A dual-write transaction or an outbox call is a messaging edge, not tracked for corruption.
    """
    node = scenario.nodes[name]
    return any(
        call.writes
        and call.outbox is None
        and isinstance(scenario.nodes.get(call.to), Database)
        and call.to not in {p.after_commit_to for p in node.publishes}
        for call in node.calls
    )


def _lacks_memory(node: Any) -> bool:
    """A leak needs a memory model to fill (the kinds it may target all have the field)."""
    return getattr(node, "memory", None) is None


def _publish_problems(
    scenario: Scenario, loc: tuple[Any, ...], publish: Publish
) -> Iterator[tuple[tuple[Any, ...], str]]:
    """A publish names a broker and one of its queues."""
    for client in publish.only_for or ():
        if not isinstance(scenario.nodes.get(client), Client):
            yield (*loc, "only_for"), f"{client!r} is not a client"
    if publish.after_commit_to is not None and loc[0] == "nodes":
        node = scenario.nodes[loc[1]]
        if not any(call.to == publish.after_commit_to for call in node.calls):
            yield (
                (*loc, "after_commit_to"),
                f"{loc[1]} makes no call to {publish.after_commit_to!r}",
            )
    yield from _queue_problems(scenario, loc, publish.to, publish.queue, broker_field="to")


def _queue_problems(
    scenario: Scenario, loc: tuple[Any, ...], broker: str, queue: str, broker_field: str = "broker"
) -> Iterator[tuple[tuple[Any, ...], str]]:
    node = scenario.nodes.get(broker)
    if node is None:
        yield (*loc, broker_field), f"unknown node {broker!r}"
    elif not isinstance(node, Broker):
        yield (*loc, broker_field), f"{broker!r} is a {node.kind}, not a broker"
    elif queue not in node.queues:
        known = ", ".join(sorted(node.queues))
        yield (*loc, "queue"), f"broker {broker!r} has no queue {queue!r} (it has: {known})"


def _outbox_problems(
    scenario: Scenario, loc: tuple[Any, ...], call: Call
) -> Iterator[tuple[tuple[Any, ...], str]]:
    """An outbox row is written in the transaction of a call to the relay's database."""
    relay = scenario.nodes.get(call.outbox or "")
    if not isinstance(relay, Relay):
        what = "unknown node" if relay is None else f"a {relay.kind}, not a relay"
        yield (*loc, "outbox"), f"{call.outbox!r}: {what}"
    elif relay.database != call.to:
        yield (
            (*loc, "outbox"),
            f"relay {call.outbox!r} drains the outbox on {relay.database!r}, "
            f"but this call goes to {call.to!r}",
        )


def check_scenario(scenario: Scenario, root: Located | None = None, source: str = "") -> None:
    """Raise ScenarioError if the scenario's cross-references or limits are broken."""
    problems = [
        ScenarioProblem(format_loc(loc), msg, line_of(root, loc), source)
        for loc, msg in reference_problems(scenario)
    ]
    if problems:
        raise ScenarioError(problems)


def parse_scenario(text: str, source: str = "<string>") -> Scenario:
    """A validated Scenario from YAML text, or ScenarioError naming every problem and line."""
    return parse_with_lines(text, source)[0]


def parse_with_lines(text: str, source: str = "<string>") -> tuple[Scenario, Located | None]:
    """``parse_scenario``, and the file's lines, to place later findings (``validate``)."""
    if len(text) > LIMITS["file_bytes"] or (
        len(text.encode("utf-8", "surrogatepass")) > LIMITS["file_bytes"]
    ):
        raise _file_error(source, f"file is larger than {LIMITS['file_bytes']} bytes")
    try:
        root = compose_located(text, LIMITS["yaml_nodes"])
    except YamlError as exc:
        problem = ScenarioProblem(format_loc(exc.loc), str(exc), exc.line or 1, source)
        raise ScenarioError([problem]) from None
    data = root.value if root is not None else None
    if not isinstance(data, dict):
        raise _file_error(source, "expected a mapping of scenario fields")
    return validate_data(data, root, source), root


def validate_data(data: Any, root: Located | None = None, source: str = "<scenario>") -> Scenario:
    """The one full check of scenario data: schema, cross-references, limits and memory.

    Files, command-line overrides and variants all come through here, so a value
    refused in a file is refused on the command line too.
    """
    _check_counts(data, root, source)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = _problems_from_validation(exc, root, source)
        problems += [
            ScenarioProblem(format_loc(loc), msg, line_of(root, loc), source)
            for loc, msg in _unknown_names(data)
        ]
        raise ScenarioError(problems) from None
    check_scenario(scenario, root, source)
    return scenario


def _unknown_names(data: Any) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Names that point at no node, read from raw data whose schema failed.

    So a file with a schema error and a misspelt node name gets both in one
    report; the full cross-reference check (``reference_problems``) needs a valid
    scenario and runs once the schema holds.
    """
    nodes = data.get("nodes") if isinstance(data, dict) else None
    if not isinstance(nodes, dict):
        return
    for name, node in nodes.items():
        for field in ("calls", "publishes"):
            edges = node.get(field) if isinstance(node, dict) else None
            for i, edge in enumerate(edges if isinstance(edges, list) else []):
                to = edge.get("to") if isinstance(edge, dict) else None
                if isinstance(to, str) and to not in nodes:
                    yield ("nodes", name, field, i, "to"), f"unknown node {to!r}"
    faults = data.get("faults")
    for i, fault in enumerate(faults if isinstance(faults, list) else []):
        target = fault.get("target") if isinstance(fault, dict) else None
        if isinstance(target, str) and target not in nodes:
            yield ("faults", i, "target"), f"unknown node {target!r}"


def _check_counts(data: Any, root: Located | None, source: str) -> None:
    """Too many nodes or faults are refused before the schema validates each of them."""
    for key in ("nodes", "faults"):
        items = data.get(key) if isinstance(data, dict) else None
        if isinstance(items, dict | list) and len(items) > LIMITS[key]:
            message = f"{len(items)} {key}; the limit is {LIMITS[key]}"
            raise ScenarioError([ScenarioProblem(key, message, line_of(root, (key,)), source)])


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario file; errors carry the file name and line."""
    return parse_scenario(read_scenario_text(path), str(path))


def read_scenario_text(path: str | os.PathLike[str]) -> str:
    """The text of a regular file of at most ``LIMITS["file_bytes"]`` bytes.

    A device (``/dev/zero`` has size 0 and never ends) or a FIFO (blocks forever) is
    refused: the type is checked before opening, the open does not block, the opened
    file is checked again (it may have been swapped), and reading stops one byte
    past the limit whatever the size claimed.
    """
    source, limit = str(path), LIMITS["file_bytes"]
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise _file_error(source, "not a regular file")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise _file_error(source, "not a regular file")
            data = handle.read(limit + 1)
    except OSError as exc:
        raise _file_error(source, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise _file_error(source, f"file is larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _file_error(source, f"not UTF-8 text (byte {exc.start})") from None


def scenario_to_data(scenario: Scenario) -> dict[str, Any]:
    """Plain data in the file's spelling (units as text), defaults left out."""
    data = scenario.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    data["murphy"] = 1
    data["name"] = scenario.name
    order = ["murphy", "name", "description", "seed", "duration", "warmup", "bucket"]
    head = {k: data.pop(k) for k in order if k in data}
    nodes = data.pop("nodes", {})
    head["nodes"] = {
        name: nodes.get(name, {"kind": node.kind}) for name, node in scenario.nodes.items()
    }
    head.update(data)
    if "layout" in head:
        head["layout"] = {k: [_number(x), _number(y)] for k, (x, y) in scenario.layout.items()}
    return _kind_first(head)


def _number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def _kind_first(data: Any) -> Any:
    """Put ``kind``/``dist`` first in every mapping: that is how people read a node."""
    if isinstance(data, dict):
        tags = [k for k in ("kind", "dist") if k in data]
        tail = [k for k in ("calls", "publishes") if k in data]
        rest = [k for k in data if k not in tags and k not in tail]
        return {k: _kind_first(data[k]) for k in tags + rest + tail}
    if isinstance(data, list):
        return [_kind_first(x) for x in data]
    return data


class _Dumper(yaml.SafeDumper):
    pass


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = len(data) <= 4 and all(isinstance(x, int | float | str) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)


def dump_scenario(scenario: Scenario) -> str:
    """YAML text that loads back to an equal Scenario."""
    return yaml.dump(
        scenario_to_data(scenario), Dumper=_Dumper, sort_keys=False, allow_unicode=True
    )


def save_scenario(scenario: Scenario, path: str | os.PathLike[str]) -> None:
    """Write atomically: a crash mid-save leaves the old file, never half a file.

    The file keeps its mode, a symlink is written through to its target, and
    temporaries of earlier killed saves are removed (see ``atomic_write``).
    """
    write_atomically(path, dump_scenario(scenario))
