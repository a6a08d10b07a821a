"""Spring Boot's reading of configuration: relaxed names, durations, flattened keys.

Spring binds ``slidingWindowSize``, ``sliding-window-size`` and
``sliding_window_size`` to the same property, and a YAML key may hold dots
(``resilience4j.circuitbreaker:``). A ``Duration`` is ``10s``, ``500ms``, an
ISO-8601 ``PT10S`` or a bare number of milliseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from simulator.scenario_yaml import Located, short_repr

__all__ = ["Entry", "flatten", "parse_spring_duration", "relaxed"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIMPLE = re.compile(r"^\s*([+-]?\d{1,15}(?:\.\d{1,9})?)\s*(ns|us|ms|s|m|h|d)?\s*$", re.I)
_ISO = re.compile(
    r"^\s*([+-])?P(?:(\d{1,9})D)?(?:T(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,12}(?:\.\d{1,9})?)S)?)?\s*$",
    re.I,
)


def relaxed(name: str) -> str:
    """Spring's uniform form of a property name: lower case, no dashes or underscores."""
    return name.replace("-", "").replace("_", "").lower()


def parse_spring_duration(raw: Any) -> float:
    """Seconds from a Spring ``Duration`` value, or ValueError saying what was expected.

    Spring reads negative durations; no resilience4j setting accepts one, so they are
    refused here.
    """
    seconds = _seconds(raw)
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError(f"a duration must be zero or more, got {short_repr(raw)}")
    return seconds


def _seconds(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"expected a duration like 500ms, 10s or PT10S, got {short_repr(raw)}")
    if isinstance(raw, int | float):
        return float(raw) / 1000.0  # Spring's default unit for Duration is milliseconds
    if isinstance(raw, str):
        match = _SIMPLE.match(raw)
        if match:
            unit = (match.group(2) or "ms").lower()
            return float(match.group(1)) * _UNITS[unit]
        iso = _ISO.match(raw)
        if iso and any(iso.group(i) for i in range(2, 6)):
            days, hours, minutes, seconds = (float(iso.group(i) or 0) for i in range(2, 6))
            total = days * 86400 + hours * 3600 + minutes * 60 + seconds
            return -total if iso.group(1) == "-" else total
    raise ValueError(f"expected a duration like 500ms, 10s or PT10S, got {short_repr(raw)}")


@dataclass(frozen=True)
class Entry:
    """One leaf of the configuration: its key parts as written, value and line."""

    parts: tuple[str, ...]
    value: Any
    line: int

    @property
    def path(self) -> str:
        return ".".join(self.parts)


def _split(key: Any) -> list[str]:
    """A YAML key's parts: dots separate, except inside Spring's ``[a.b]`` brackets."""
    text = str(key)
    parts = re.findall(r"\[[^\]]*\]|[^.\[\]]+", text)
    return [p[1:-1] if p.startswith("[") else p for p in parts] or [text]


def flatten(root: Located) -> list[Entry]:
    """Every leaf (a scalar, or a list of scalars) under ``root``, in file order."""
    out: list[Entry] = []
    stack: list[tuple[tuple[str, ...], Located]] = [((), root)]
    while stack:
        prefix, node = stack.pop()
        if isinstance(node.value, dict) and node.children:
            for key in reversed(list(node.children)):
                stack.append(((*prefix, *_split(key)), node.children[key]))
        elif isinstance(node.value, list) and any(isinstance(x, dict | list) for x in node.value):
            for index in reversed(list(node.children)):
                stack.append(((*prefix, str(index)), node.children[index]))
        else:
            out.append(Entry(prefix, node.value, node.line))
    return out
