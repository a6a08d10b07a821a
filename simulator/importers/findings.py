"""What an import found: the fields it sets, and a finding for every key it read.

Nothing is dropped silently: a key is *set* (with the Murphy field it became),
left to a *default* of the source tool (named, with its value), *not modelled*
(understood, with why Murphy cannot represent it), or *unknown* (not a key the
tool has: a typo, or a newer version).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from simulator.scenario import LIMITS, ScenarioError, read_scenario_text
from simulator.scenario_yaml import Located, YamlError, compose_located, one_line

__all__ = [
    "CannotImport",
    "Finding",
    "ImportResult",
    "Kind",
    "read_documents",
]

Kind = Literal["set", "default", "not_modelled", "unknown", "note"]
KINDS: tuple[Kind, ...] = ("unknown", "not_modelled", "set", "default", "note")
"""The order of the report: what needs the user's eye first."""
KIND_TITLES = {
    "set": "set",
    "default": "defaults used",
    "not_modelled": "not modelled",
    "unknown": "unknown fields",
    "note": "notes",
}


class CannotImport(ValueError):
    """The file cannot be imported as asked; the message says what to do."""


@dataclass(frozen=True)
class Finding:
    """One key of the source file (or one decision): its dotted path, line and what became of it."""

    kind: Kind
    path: str
    message: str
    line: int | None = None

    def text(self) -> str:
        where = f"{self.path}" + (f" (line {self.line})" if self.line else "")
        return f"{where}: {self.message}" if self.path else self.message


@dataclass
class ImportResult:
    """The Murphy fields to set, and every finding; ``call``/``balancer`` map field to value,
    ``backends`` what goes on each of the balancer's calls (Envoy's per-host settings).

    A value of None clears the field (an Envoy route with no retry policy does not retry).
    """

    source: str
    call: dict[str, Any] = field(default_factory=dict)
    balancer: dict[str, Any] = field(default_factory=dict)
    backends: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def add(self, kind: Kind, path: str, message: str, line: int | None = None) -> None:
        self.findings.append(Finding(kind, path, message, line))

    def of(self, kind: Kind) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def lines(self) -> list[str]:
        """The report as plain lines, grouped by kind (for the terminal and the app)."""
        counts = [f"{len(self.of(k))} {KIND_TITLES[k]}" for k in KINDS if self.of(k)]
        out: list[str] = [", ".join(counts)]
        for kind in KINDS:
            found = self.of(kind)
            if found:
                out.append(f"{KIND_TITLES[kind]} ({len(found)}):")
                out.extend(f"  {f.text()}" for f in found)
        return out


def read_documents(path: str) -> list[Located]:
    """The YAML (or JSON) documents of a configuration file, bounded like a scenario file.

    A Spring ``application.yml`` may hold several documents separated by ``---``;
    each is composed on its own (lines stay those of the whole file).
    """
    try:
        text = read_scenario_text(path)
    except ScenarioError as exc:
        raise CannotImport(str(exc)) from None
    docs: list[Located] = []
    start = 0
    for chunk in re.split(r"(?m)^---[ \t]*(?:#.*)?$", text):
        try:
            root = compose_located(chunk, LIMITS["yaml_nodes"])
        except YamlError as exc:
            line = (exc.line or 1) + start
            raise CannotImport(f"{path}:{line}: {one_line(str(exc))}") from None
        if root is not None:
            _shift(root, start)
            docs.append(root)
        start += chunk.count("\n")
    if not docs:
        raise CannotImport(f"{path}: the file is empty")
    return docs


def _shift(node: Located, lines: int) -> None:
    stack = [node]
    while stack:
        item = stack.pop()
        item.line += lines
        stack.extend(item.children.values())
