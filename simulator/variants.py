"""Variants of a scenario: set any field by its path, and grids of such settings.

A path names a field the way the scenario file spells it: ``duration``,
``faults[0].add``, ``nodes.api.calls[0].retry.strategy``. Node names may
contain dots; the longest existing name wins, or quote it:
``nodes["api.v2"].workers``. Values are YAML scalars (``250ms``, ``3``, ``50%``,
``true``). ``none``/``null`` removes an optional policy (``...breaker=null``).
Paths joined by ``+`` are set together to one value
(``nodes.gw.calls[0].bulkhead+nodes.gw.calls[1].bulkhead=null``).

Setting a field inside a policy that is absent creates the policy with its
defaults (``...retry.budget.percent=10%`` adds a retry and a budget). The result
is validated as a whole file would be, and any problem is reported against the
path given.

>>> grid = variant_grid(scenario, [("nodes.api.calls[0].retry.strategy", ["none", "immediate"])])
>>> [v.label for v in grid]
['strategy=none', 'strategy=immediate']
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from simulator.scenario import FAULT_KINDS, NODE_KINDS, Scenario, ScenarioError, check_scenario
from simulator.scenario_yaml import YamlError, compose_located, one_line, short_repr

__all__ = [
    "OverrideError",
    "Variant",
    "apply_override",
    "apply_overrides",
    "parse_path",
    "parse_vary",
    "variant_grid",
]

NULL_WORDS = {"none", "null", "~"}
MAX_PATH = 1_000  # characters of a field path
MAX_VALUE = 1_000  # characters of one value
MAX_VARIANTS = 10_000  # combinations of a grid
_TOKEN = re.compile(
    r"""\.?(?:(?P<name>[^.\[\]"']+)|\[(?P<index>-?\d+)\]|\[(?P<q>["'])(?P<key>.*?)(?P=q)\])"""
)


class OverrideError(ValueError):
    """A path or value that cannot be applied; the message names the path."""


@dataclass(frozen=True)
class Variant:
    """One point of a grid: its label, the settings that made it, and the scenario."""

    label: str
    overrides: dict[str, str] = field(default_factory=dict)
    scenario: Scenario | None = None


def parse_path(path: str) -> list[str | int]:
    """Split ``nodes.api.calls[0].retry`` into ``['nodes', 'api', 'calls', 0, 'retry']``."""
    if len(path) > MAX_PATH:
        raise OverrideError(f"{short_repr(path)}: a path is at most {MAX_PATH} characters")
    parts: list[str | int] = []
    pos = 0
    text = path.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise OverrideError(f"{path}: cannot read the path at {short_repr(text[pos:])}")
        if match["index"] is not None:
            parts.append(int(match["index"]))
        else:
            parts.append(match["name"] if match["name"] is not None else match["key"])
        pos = match.end()
    if not parts:
        raise OverrideError("an empty path names no field")
    return parts


def _join_key(data: dict[str, Any], parts: list[str | int], i: int) -> tuple[str, int]:
    """The key at ``parts[i]``: the longest dotted run of parts that names an existing key."""
    best = (str(parts[i]), i)
    name = str(parts[i])
    for j in range(i + 1, len(parts)):
        part = parts[j]
        if not isinstance(part, str):
            break
        name += "." + part
        if name in data:
            best = (name, j)
    return best


def _set(data: dict[str, Any], parts: list[str | int], value: Any, path: str) -> None:
    here: Any = data
    i = 0
    while True:
        part = parts[i]
        if isinstance(here, list):
            if not isinstance(part, int):
                raise OverrideError(f"{path}: {part!r} is a list; use an index like [0]")
            if not -len(here) <= part < len(here):
                raise OverrideError(f"{path}: index {part} is out of range (there are {len(here)})")
            key: str | int = part
        elif isinstance(here, dict):
            if isinstance(part, int):
                raise OverrideError(f"{path}: [{part}] indexes something that is not a list")
            key, i = _join_key(here, parts, i)
            if key not in here and here is data.get("nodes"):
                raise OverrideError(f"{path}: there is no node named {key!r}")
        else:
            raise OverrideError(f"{path}: {parts[i - 1]!r} is a value, not a section")
        if i == len(parts) - 1:
            here[key] = value
            return
        child = here.get(key) if isinstance(here, dict) else here[key]
        if child is None:
            if value is None:
                return  # removing a policy inside one that is absent: nothing to do
            if isinstance(parts[i + 1], int):
                raise OverrideError(f"{path}: there is no list at {key!r}")
            child = here[key] = {}  # an absent optional section: created with its defaults
        here, i = child, i + 1


def _validation_text(exc: ValidationError) -> str:
    out = []
    for error in exc.errors()[:5]:
        tags = (*NODE_KINDS, *FAULT_KINDS)
        loc = "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}"
            for p in error["loc"]
            if p not in tags and not str(p).startswith(("function-", "tuple["))
        ).lstrip(".")
        out.append(f"{loc}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(out)


def _validate(data: dict[str, Any]) -> Scenario:
    scenario = Scenario.model_validate(data)
    check_scenario(scenario)
    return scenario


def apply_override(scenario: Scenario, path: str, raw_value: str) -> Scenario:
    """A new Scenario with the field at ``path`` set to the YAML scalar ``raw_value``.

    Raises OverrideError naming the path if the path does not exist in the schema
    or the value does not validate.
    """
    if "+" in path:  # several fields set to one value together (names never contain "+")
        for one in path.split("+"):
            scenario = apply_override(scenario, one.strip(), raw_value)
        return scenario
    parts = parse_path(path)
    text = str(raw_value).strip()
    shown = f"{one_line(path, 100)}={one_line(text, 60)}"
    if len(text) > MAX_VALUE:
        raise OverrideError(f"{shown}: a value is at most {MAX_VALUE} characters")
    try:  # the file loader's YAML: same tags, nesting and error handling as a file
        located = compose_located(text, 100) if text else None
    except YamlError as exc:
        raise OverrideError(f"{shown}: not a YAML value ({exc})") from None
    value = located.value if located is not None else ""
    if isinstance(value, dict | list):
        raise OverrideError(f"{shown}: give one value (a scalar), not a structure")
    # "none" is a word for "no policy" and also a retry strategy; try the null first.
    candidates = [None, text] if text.lower() in NULL_WORDS else [value]
    base = scenario.model_dump(mode="json", by_alias=True)
    problem = ""
    for candidate in candidates:
        data = copy.deepcopy(base)
        _set(data, parts, candidate, path)
        try:
            return _validate(data)
        except ValidationError as exc:
            problem = _validation_text(exc)
        except ScenarioError as exc:
            problem = "; ".join(f"{p.path}: {p.message}" for p in exc.problems)
    raise OverrideError(f"{shown}: {one_line(problem, 400)}")


def apply_overrides(scenario: Scenario, overrides: dict[str, str]) -> Scenario:
    for path, value in overrides.items():
        scenario = apply_override(scenario, path, value)
    return scenario


def parse_vary(text: str) -> tuple[str, list[str]]:
    """``FIELD=V1,V2`` into ``(FIELD, [V1, V2])``."""
    path, sep, values = text.partition("=")
    if not sep or not path.strip():
        raise OverrideError(f"{text!r}: expected FIELD=VALUE1,VALUE2,...")
    items = [v.strip() for v in values.split(",")]
    if not items or any(v == "" for v in items):
        raise OverrideError(f"{text!r}: empty value in the list")
    return path.strip(), items


def _short_names(paths: Sequence[str]) -> list[str]:
    shorts = []
    for path in paths:
        last = [p for p in parse_path(path.split("+")[0]) if isinstance(p, str)]
        shorts.append(last[-1] if last else path)
    return [s if shorts.count(s) == 1 else p for s, p in zip(shorts, paths, strict=True)]


def variant_grid(scenario: Scenario, varies: Sequence[tuple[str, Sequence[str]]]) -> list[Variant]:
    """Every combination of the varied values, validated; no ``varies``: the scenario itself."""
    if not varies:
        return [Variant("baseline", {}, scenario)]
    count = 1
    for _path, values in varies:
        count *= len(values)
    if count > MAX_VARIANTS:
        raise OverrideError(f"{count} combinations; a grid has at most {MAX_VARIANTS}")
    paths = [path for path, _ in varies]
    shorts = _short_names(paths)
    out = []
    for combo in itertools.product(*(values for _, values in varies)):
        overrides = dict(zip(paths, combo, strict=True))
        label = ", ".join(f"{s}={v}" for s, v in zip(shorts, combo, strict=True))
        out.append(Variant(label, overrides, apply_overrides(scenario, overrides)))
    return out
