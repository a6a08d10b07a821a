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
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import Field, ValidationError

from simulator.scenario_faults import FAULT_KINDS, Fault
from simulator.scenario_nodes import (
    FUTURE_KINDS,
    NODE_KINDS,
    Balancer,
    Cache,
    Call,
    Client,
    Database,
    Node,
    ProfilePoint,
    Service,
    ThirdParty,
)
from simulator.scenario_types import Duration, Strict
from simulator.scenario_yaml import Located, compose_located, line_of

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

__all__ = [
    "FAULT_KINDS",
    "FUTURE_KINDS",
    "LIMITS",
    "NODE_KINDS",
    "Balancer",
    "Cache",
    "Call",
    "Client",
    "Database",
    "Fault",
    "Node",
    "ProfilePoint",
    "Scenario",
    "ScenarioError",
    "ScenarioProblem",
    "Service",
    "ThirdParty",
    "dump_scenario",
    "load_scenario",
    "parse_scenario",
    "save_scenario",
]

LIMITS = {
    "file_bytes": 1_000_000,
    "yaml_nodes": 200_000,
    "nodes": 500,
    "calls_per_node": 64,
    "faults": 1_000,
    "expected_requests": 500_000_000,
    "time_buckets": 1_000_000,
}
"""Ceilings that stop a hostile or mistaken file before it costs memory or hours."""

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


class Scenario(Strict):
    """A whole scenario: what runs, for how long, what breaks, and where it is drawn."""

    murphy: Literal[1] = Field(1, description="format version")
    name: str = Field(max_length=200)
    description: str = Field("", max_length=10_000)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    duration: Duration
    warmup: Duration = Field(0.0, description="left out of steady-state figures")
    bucket: Duration = Field(1.0, gt=0, description="time-series resolution")
    nodes: dict[str, Node] = Field(min_length=1)
    faults: list[Fault] = Field(default_factory=list)
    layout: dict[str, tuple[float, float]] = Field(default_factory=dict)


class ScenarioProblem(Exception):
    """One problem in a scenario, with where it is."""

    def __init__(self, path: str, message: str, line: int | None = None, source: str = ""):
        super().__init__(message)
        self.path, self.message, self.line, self.source = path, message, line, source

    def __str__(self) -> str:
        where = self.source or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(Exception):
    """A scenario that cannot be used; ``problems`` says every reason found, with lines."""

    def __init__(self, problems: list[ScenarioProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _format_loc(loc: tuple[Any, ...]) -> str:
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
        part in NODE_KINDS + FAULT_KINDS or part.startswith(("function-", "tuple["))
    )


def _message(error: ErrorDetails) -> str:
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if error["type"] == "extra_forbidden":
        msg = "unknown field (check its spelling; unknown keys are not ignored)"
    elif error["type"] == "union_tag_invalid":
        tag = error.get("input", {}).get("kind") if isinstance(error.get("input"), dict) else None
        if tag in FUTURE_KINDS:
            msg = f"kind {tag!r} is not modelled by the engine yet"
    return msg


def _problems_from_validation(
    exc: ValidationError, root: Located | None, source: str
) -> list[ScenarioProblem]:
    out = []
    for error in exc.errors():
        loc, line = _yaml_path(root, tuple(error["loc"]))
        out.append(ScenarioProblem(_format_loc(loc), _message(error), line, source))
    return out


def reference_problems(scenario: Scenario) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Cross-references the schema cannot see: calls, faults and layout must name real nodes."""
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
    for i, fault in enumerate(scenario.faults):
        if fault.target not in names:
            yield ("faults", i, "target"), f"unknown node {fault.target!r}"
        elif (fault.kind == "surge") != isinstance(scenario.nodes[fault.target], Client):
            what = "a client" if fault.kind == "surge" else "a node that serves requests"
            yield ("faults", i, "target"), f"a {fault.kind} fault needs {what}"
    for name in scenario.layout:
        if name not in names:
            yield ("layout", name), f"position for unknown node {name!r}"
    yield from _limit_problems(scenario)


def _limit_problems(scenario: Scenario) -> Iterator[tuple[tuple[Any, ...], str]]:
    if len(scenario.nodes) > LIMITS["nodes"]:
        yield ("nodes",), f"{len(scenario.nodes)} nodes; the limit is {LIMITS['nodes']}"
    if len(scenario.faults) > LIMITS["faults"]:
        yield ("faults",), f"{len(scenario.faults)} faults; the limit is {LIMITS['faults']}"
    if scenario.duration <= 0:
        yield ("duration",), "the duration must be positive"
    if scenario.warmup >= scenario.duration > 0:
        yield ("warmup",), "the warm-up must be shorter than the duration"
    if scenario.duration / scenario.bucket > LIMITS["time_buckets"]:
        yield ("bucket",), "too many time buckets; use a coarser bucket"
    peak = sum(n.peak_rate() for n in scenario.nodes.values() if isinstance(n, Client))
    surge = max((f.multiply for f in scenario.faults if f.kind == "surge"), default=1.0)
    if peak * max(1.0, surge) * scenario.duration > LIMITS["expected_requests"]:
        yield (
            ("duration",),
            (
                f"rate x duration is about {peak * scenario.duration:.3g} requests; "
                f"the limit is {LIMITS['expected_requests']:.0e}"
            ),
        )


def check_scenario(scenario: Scenario, root: Located | None = None, source: str = "") -> None:
    """Raise ScenarioError if the scenario's cross-references or limits are broken."""
    problems = [
        ScenarioProblem(_format_loc(loc), msg, line_of(root, loc), source)
        for loc, msg in reference_problems(scenario)
    ]
    if problems:
        raise ScenarioError(problems)


def parse_scenario(text: str, source: str = "<string>") -> Scenario:
    """A validated Scenario from YAML text, or ScenarioError naming every problem and line."""
    if len(text.encode("utf-8", "surrogatepass")) > LIMITS["file_bytes"]:
        raise ScenarioError(
            [ScenarioProblem("", f"file is larger than {LIMITS['file_bytes']} bytes", None, source)]
        )
    try:
        root = compose_located(text, LIMITS["yaml_nodes"])
    except ValueError as exc:
        line = getattr(exc, "line", None)
        raise ScenarioError([ScenarioProblem("", str(exc), line, source)]) from None
    data = root.value if root is not None else None
    if not isinstance(data, dict):
        raise ScenarioError(
            [ScenarioProblem("", "expected a mapping of scenario fields", 1, source)]
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_problems_from_validation(exc, root, source)) from None
    check_scenario(scenario, root, source)
    return scenario


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario file; errors carry the file name and line."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > LIMITS["file_bytes"]:
            raise ScenarioError(
                [
                    ScenarioProblem(
                        "", f"file is larger than {LIMITS['file_bytes']} bytes", None, str(path)
                    )
                ]
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([ScenarioProblem("", f"cannot read: {exc}", None, str(path))]) from None
    return parse_scenario(text, str(path))


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
        tail = [k for k in ("calls",) if k in data]
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
    """Write atomically: a crash mid-save leaves the old file, never half a file."""
    path = Path(path)
    text = dump_scenario(scenario)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
