"""The scenario file: typed schema, units, YAML load and save, errors with line numbers.

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
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from simulator.scenario_policies import (
    AdaptiveThrottling,
    Breaker,
    Bulkhead,
    Fallback,
    Limiter,
    Pool,
    Retry,
)
from simulator.scenario_types import Distribution, Duration, Percent, Rate, Strict
from simulator.scenario_yaml import Located, compose_located, line_of

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

__all__ = [
    "LIMITS",
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


class Call(Strict):
    """A synchronous call to another node, with the policies that guard it."""

    to: str = Field(description="name of the called node")
    probability: Percent = Field(1.0, description="share of requests that make this call")
    connect_timeout: Duration | None = Field(
        None, description="give up on an unreachable target after this long (none: never)"
    )
    timeout: Duration | None = Field(None, description="request timeout per attempt (none: wait)")
    retry: Retry | None = None
    adaptive_throttling: AdaptiveThrottling | None = None
    breaker: Breaker | None = None
    bulkhead: Bulkhead | None = None
    pool: Pool | None = None
    fallback: Fallback | None = None
    deadline_propagation: bool = Field(
        False, description="the callee drops work whose caller has already given up"
    )
    only_for: list[str] | None = Field(
        None,
        description="make this call only for requests that entered at these clients "
        "(a gateway's routes); none: for every request",
    )


class ProfilePoint(Strict):
    """One point of a client's rate profile; ``ramp`` interpolates from the previous point."""

    at: Duration
    rate: Rate
    ramp: bool = False


class _NodeBase(Strict):
    description: str = Field("", max_length=2_000)
    calls: list[Call] = Field(default_factory=list)


class Client(_NodeBase):
    """Where requests come from: open loop (``rate`` or ``profile``) or closed loop (``users``)."""

    kind: Literal["client"]
    rate: Rate | None = Field(None, description="open loop: Poisson arrivals at this rate")
    profile: list[ProfilePoint] | None = Field(None, description="open loop: rate over time")
    users: int | None = Field(None, ge=1, le=1_000_000, description="closed loop: user count")
    think_time: Distribution | None = Field(None, description="closed loop: pause between calls")

    @model_validator(mode="after")
    def _one_load_model(self) -> Client:
        given = [k for k in ("rate", "profile", "users") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a client needs exactly one of rate, profile or users")
        if self.profile is not None:
            times = [p.at for p in self.profile]
            if not times or times != sorted(times):
                raise ValueError("profile points must be in time order")
        return self

    def peak_rate(self) -> float:
        if self.rate is not None:
            return self.rate
        if self.profile:
            return max(p.rate for p in self.profile)
        return 0.0


class Service(_NodeBase):
    """Workers serving a bounded FIFO queue; each worker is held through downstream calls."""

    kind: Literal["service"]
    workers: int = Field(1, ge=1, le=1_000_000)
    queue: int | None = Field(100, ge=0, le=10_000_000, description="waiting room (null: no limit)")
    service_time: Distribution
    error_rate: Percent = Field(0.0, description="share of requests that fail on their own")
    limiter: Limiter | None = None
    boot_time: Duration = Field(0.0, description="time to come back after a crash ends")


class Database(Service):
    """A service with a server-side connection limit: requests past it are refused at once."""

    kind: Literal["database"]  # type: ignore[assignment]
    max_connections: int | None = Field(
        None, ge=1, le=1_000_000, description="connections in use (serving + queued) at most"
    )


class ThirdParty(_NodeBase):
    """An external API: its latency and errors are given, its capacity is not ours to see."""

    kind: Literal["third_party"]
    latency: Distribution
    error_rate: Percent = 0.0
    max_concurrent: int | None = Field(
        None, ge=1, le=1_000_000, description="quota on calls in flight; past it: rejected"
    )


Node = Annotated[Client | Service | Database | ThirdParty, Field(discriminator="kind")]
NODE_KINDS = ("client", "service", "database", "third_party")
FUTURE_KINDS = ("cache", "broker", "relay", "consumer", "balancer")


class _FaultBase(Strict):
    target: str
    at: Duration = 0.0
    for_: Duration | None = Field(None, alias="for", description="how long (none: to the end)")

    model_config = Strict.model_config | {"populate_by_name": True}

    def window(self, horizon: float) -> tuple[float, float]:
        end = horizon if self.for_ is None else min(horizon, self.at + self.for_)
        return self.at, end


class LatencyFault(_FaultBase):
    """Every request the target serves takes ``add`` longer and ``multiply`` times as long."""

    kind: Literal["latency"]
    add: Duration = 0.0
    multiply: float = Field(1.0, ge=0.0, le=1_000.0)


class ErrorFault(_FaultBase):
    kind: Literal["error"]
    rate: Percent = 1.0


class CrashFault(_FaultBase):
    """The target is down: it loses in-flight and queued work and refuses connections."""

    kind: Literal["crash"]


class PartitionFault(_FaultBase):
    """The target is unreachable: a black hole until the caller's connect timeout."""

    kind: Literal["partition"]


class ThrottleFault(_FaultBase):
    """The target keeps only ``capacity`` of its workers."""

    kind: Literal["throttle"]
    capacity: Percent = 0.5


class SurgeFault(_FaultBase):
    """A client's arrival rate is multiplied (traffic surge, abusive client)."""

    kind: Literal["surge"]
    multiply: float = Field(2.0, ge=0.0, le=1_000.0)


Fault = Annotated[
    LatencyFault | ErrorFault | CrashFault | PartitionFault | ThrottleFault | SurgeFault,
    Field(discriminator="kind"),
]
FAULT_KINDS = ("latency", "error", "crash", "partition", "throttle", "surge")


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
