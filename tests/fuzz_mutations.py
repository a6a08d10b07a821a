"""Hostile scenario files made from good ones: the mutators shared by the fuzz test and tool.

Every case is a function of one ``random.Random``: the Hypothesis test
(``tests/test_fuzz_loader.py``) passes one it controls, so a failure shrinks and
replays; ``tools/fuzz.py`` passes ``Random(i)`` for case ``i``, so a crash is
reproduced by its number. Mutations are structure-aware (they edit the data of a
real example and write it back as YAML) and textual (truncation, duplicated
lines, tags, anchors), plus YAML-ish text from scratch.

This module imports nothing from ``simulator``: it describes inputs, not the loader.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

__all__ = ["EXAMPLES", "example_texts", "make_case", "mutate_data", "mutate_text", "random_text"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "scenarios").glob("*.yaml"))

_DEEP = 100  # deeper than the loader's limit of 64


def example_texts() -> list[tuple[str, str]]:
    """(name, text) of every example scenario."""
    return [(p.name, p.read_text(encoding="utf-8")) for p in EXAMPLES]


_TEXTS = example_texts()
_DATA = [yaml.safe_load(text) for _name, text in _TEXTS]


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def _hostile_value(rng: random.Random) -> Any:
    """A value of the wrong type, size or sign, or one at the edge of a float."""
    makers: list[Callable[[], Any]] = [
        lambda: None,
        lambda: 0,
        lambda: -1,
        lambda: -rng.random() * 1e6,
        lambda: 10 ** rng.randint(10, 400),
        lambda: 2**70,
        lambda: 1e308,
        lambda: math.inf,
        lambda: -math.inf,
        lambda: math.nan,
        lambda: True,
        lambda: [],
        lambda: {},
        lambda: "",
        lambda: "fast",
        lambda: "é😀\u2028\x85 ünïcödé\n second line",
        lambda: "x" * rng.choice((65, 1000, 20_000)),
        lambda: "1" * rng.choice((65, 20_000)) + rng.choice(("x", "s", "%", "/s", "ms")),
        lambda: "." + "1" * 5_000 + "e5%",
        lambda: rng.choice(("0s", "-5s", "1e999s", "0%", "100%", "101%", "0/s", "1e9/s", "nan%")),
        lambda: rng.choice(("1e-300s", "1e300s", "0.0000001ms", "99999999h", "1e6s", "0.001ms")),
        lambda: _nested(rng.choice((10, 70, _DEEP)), 1),
        lambda: [1] * rng.randint(2, 50),
        lambda: {"kind": rng.choice(("client", "service", "database", "balancer", "nope"))},
        lambda: rng.random(),
        lambda: rng.randint(-(2**64), 2**64),
    ]
    return rng.choice(makers)()


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.extend(_paths(value, (*prefix, i)))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def mutate_data(data: Any, rng: random.Random) -> Any:
    """One structural edit at a random place: delete, replace, rename, add, duplicate."""
    paths = [p for p in _paths(data) if p]
    if not paths:
        return _hostile_value(rng)
    path = rng.choice(paths)
    parent, last = _parent(data, path), path[-1]
    action = rng.randrange(8)
    if action == 0:
        del parent[last]
    elif action in (1, 2, 3):
        parent[last] = _hostile_value(rng)
    elif action == 4 and isinstance(parent, dict):
        parent[str(last) + rng.choice(("x", "_", "s", ""))] = parent.pop(last)
    elif action == 5 and isinstance(parent, dict):
        parent[rng.choice(("extra", "kind", "calls", "to", "rate", "<<"))] = _hostile_value(rng)
    elif action == 6 and isinstance(parent, list):
        parent.extend([copy.deepcopy(parent[last])] * rng.randint(1, 20))
    elif action == 7 and isinstance(parent[last], dict | list):
        parent[last] = list(parent[last].values()) if isinstance(parent[last], dict) else {}
    else:
        parent[last] = str(parent[last])
    return data


def _dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=200)
    except (yaml.YAMLError, RecursionError, ValueError):
        return repr(data)


_SNIPPETS = [
    "!!bool maybe", "!!timestamp x", "!!int abc", "!!float abc", "!!binary @@", "!!set {a}",
    "!!python/object/apply:os.system ['true']", "!!str", "!!map", "!!seq", "!foo", "!!omap [a]",
    "&a", "*a", "*undefined", "<<: *a", "<<: [*a, *a]", "{<<: *a, rate: 2/s}", "? [a]\n: 1",
    "[" * _DEEP, "{a: " * _DEEP, "- " * _DEEP, "'unterminated", '"\\x', "\t", "%YAML 1.1",
    "---", "...", "\ufeff", "\x00", "\x85", "\u2028", "1" * 5_000, "0x_", "1e999", ".nan",
    "~", "null", "key: value", ": :", "- - -", "{", "}", "]", "#", "|", ">", "@", "`",
]  # fmt: skip


def mutate_text(text: str, rng: random.Random) -> str:
    """One textual edit: cut, duplicate or delete a line, or insert a tag or a snippet."""
    lines = text.splitlines(keepends=True) or [""]
    action = rng.randrange(6)
    i = rng.randrange(len(lines))
    if action == 0:
        return text[: rng.randrange(len(text) + 1)]
    if action == 1:
        return "".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
    if action == 2:
        return "".join(lines[:i] + lines[i + 1 :])
    snippet = rng.choice(_SNIPPETS)
    line = lines[i]
    if action == 3 and ":" in line:
        head, _sep, _tail = line.partition(":")
        lines[i] = f"{head}: {snippet}\n"
    else:
        cut = rng.randrange(len(line) + 1)
        lines[i] = line[:cut] + snippet + line[cut:]
    return "".join(lines)


_TOKENS = [
    "name", "duration", "nodes", "kind", "client", "service", "calls", "to", "rate", "faults",
    "workers", "api", "db", "x", ":", ": ", "- ", "\n", "\n  ", "\n    ", " ", "[", "]", "{", "}",
    ",", "&a ", "*a", "!!int ", "!!str ", "!!bool ", "<<: ", "'", '"', "#", "? ", "|", "10s",
    "250ms", "50%", "400/s", "0", "-1", "1e999", ".inf", ".nan", "é", "\t", "---\n", "%TAG ",
]  # fmt: skip


def random_text(rng: random.Random) -> str:
    """YAML-ish text from scratch: scenario words, punctuation, tags, anchors."""
    return "".join(rng.choice(_TOKENS) for _ in range(rng.randint(0, 120)))


def make_case(rng: random.Random) -> str:
    """One hostile scenario text: a mutated example (most cases) or random text."""
    roll = rng.random()
    if roll < 0.1:
        return random_text(rng)
    index = rng.randrange(len(_TEXTS))
    if roll < 0.35:
        text = _TEXTS[index][1]
        for _ in range(rng.randint(1, 3)):
            text = mutate_text(text, rng)
        return text
    data = copy.deepcopy(_DATA[index])
    for _ in range(rng.randint(1, 4)):
        data = mutate_data(data, rng)
    text = _dump(data)
    if rng.random() < 0.2:
        text = mutate_text(text, rng)
    return text
