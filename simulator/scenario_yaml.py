"""Safe YAML with positions: the data of a scenario file and the line of every field.

A scenario file is untrusted, so reading it is bounded at every step before any
cost is paid:

- composing counts nodes and nesting as it goes (PyYAML's composer recurses, so a
  file of 1,000 ``[`` would otherwise end in RecursionError);
- explicit tags are limited to the plain JSON-like ones (``!!str``, ``!!int``...):
  a scenario has no use for ``!!python``, ``!!timestamp``, ``!!binary`` or ``!!set``;
- before constructing, one iterative pass over the composed graph counts nodes
  and depth as aliases would expand them (alias bombs, recursive anchors) and
  finds duplicate keys (merge keys ``<<`` are not duplicates: explicit keys win);
- any exception raised while constructing a value (PyYAML raises KeyError for
  ``!!bool maybe``) becomes a YamlError at the node's line and field path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import MappingStartEvent, NodeEvent, SequenceStartEvent

__all__ = [
    "MAX_DEPTH",
    "Located",
    "YamlError",
    "compose_located",
    "line_of",
    "one_line",
    "short_repr",
]

MAX_DEPTH = 64
"""Deepest nesting of lists and mappings accepted; a scenario needs fewer than ten."""

_CORE = "tag:yaml.org,2002:"
_MERGE = _CORE + "merge"
_ALLOWED_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "seq", "map")}
_TAG_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "null": "null",
    "str": "a string",
}


def one_line(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters with line breaks and controls escaped.

    Error messages echo parts of untrusted input; one problem must stay one line.
    """
    cut = text[:limit]
    out = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in cut)
    return out + ("..." if len(text) > limit else "")


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)`` of at most about ``limit`` characters, on one line.

    Strings and ints are cut before ``repr`` so a megabyte value costs nothing.
    """
    if isinstance(value, str) and len(value) > limit:
        return one_line(repr(value[:limit]), limit + 10) + f"... ({len(value)} characters)"
    if isinstance(value, int) and value.bit_length() > 200:
        return f"<an integer of {value.bit_length()} bits>"
    return one_line(repr(value), limit)


class YamlError(ValueError):
    """A file that is not acceptable YAML; ``line`` is 1-based, ``loc`` the field path."""

    def __init__(self, message: str, line: int | None = None, loc: tuple[Any, ...] = ()):
        super().__init__(message)
        self.line = line
        self.loc = loc


@dataclass
class Located:
    """A YAML value with its 1-based line and, for collections, its located children."""

    value: Any
    line: int
    children: dict[Any, Located] = field(default_factory=dict)

    def child(self, key: Any) -> Located | None:
        return self.children.get(key)


def line_of(root: Located | None, path: tuple[Any, ...]) -> int | None:
    """The line of the deepest part of ``path`` that exists in the file."""
    if root is None:
        return None
    node, line = root, root.line
    for part in path:
        child = node.child(part)
        if child is None:
            break
        node, line = child, child.line
    return line


def _line(node: yaml.Node | yaml.Event) -> int:
    mark = node.start_mark
    return mark.line + 1 if mark is not None else 1


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


class _Loader(yaml.SafeLoader):
    """SafeLoader bounded while it composes, and precise about where construction fails."""

    def __init__(self, text: str, node_limit: int):
        super().__init__(text)
        self.node_limit = node_limit
        self.composed = 0
        self.path: list[Any] = []
        self.root: yaml.Node | None = None

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        part = index.value if isinstance(index, yaml.ScalarNode) else index
        self.path.append(part)
        try:
            event = self.peek_event()
            if isinstance(event, NodeEvent) and not isinstance(event, yaml.AliasEvent):
                self._check_event(event)
            node = super().compose_node(parent, index)
            assert node is not None  # the composer returns a node for every node event
            return node
        finally:
            self.path.pop()

    def _check_event(self, event: NodeEvent) -> None:
        loc = tuple(p for p in self.path[1:] if p is not None)
        self.composed += 1
        if self.composed > self.node_limit:
            raise YamlError(f"file has more than {self.node_limit} YAML nodes", _line(event), loc)
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in _ALLOWED_TAGS:
            raise YamlError(
                f"the tag {one_line(_tag_name(tag), 60)} is not allowed in a scenario "
                "(plain values, lists and mappings only)",
                _line(event),
                loc,
            )
        # Every enclosing compose frame is a list or a mapping: the path is the depth.
        if isinstance(event, SequenceStartEvent | MappingStartEvent) and len(self.path) > MAX_DEPTH:
            raise YamlError(f"nested more than {MAX_DEPTH} levels deep", _line(event), loc)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            # Always deep: every child is built inside this wrapper, so a failure anywhere
            # is reported at its own node (nesting is bounded, so recursion is too).
            return super().construct_object(node, deep=True)
        except YamlError:
            raise
        except Exception as exc:  # any failure of PyYAML's constructors, whatever its type
            raise self._construction_error(node, exc) from None

    def _construction_error(self, node: yaml.Node, exc: Exception) -> YamlError:
        mark = getattr(exc, "problem_mark", None) or node.start_mark
        loc = _path_to(self.root, node) if self.root is not None else ()
        if isinstance(exc, yaml.MarkedYAMLError):
            return YamlError(f"not valid YAML: {one_line(str(exc.problem))}", mark.line + 1, loc)
        word = _TAG_WORDS.get(node.tag[len(_CORE) :], _tag_name(node.tag))
        kind = getattr(node, "id", "node")
        value = node.value if isinstance(node, yaml.ScalarNode) else f"a {kind}"
        message = f"cannot read {short_repr(value)} as {word}"
        if isinstance(exc, ValueError) and str(exc):
            message += f" ({one_line(str(exc), 80)})"
        return YamlError(message, mark.line + 1, loc)


def _path_to(root: yaml.Node, target: yaml.Node) -> tuple[Any, ...]:
    """The field path of ``target`` under ``root`` (found iteratively; used for errors only)."""
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                part = key.value if isinstance(key, yaml.ScalarNode) else "?"
                stack.extend(((key, path), (value, (*path, part))))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))
    return ()


def compose_located(text: str, node_limit: int) -> Located | None:
    """Parse ``text`` safely into a Located tree, or raise YamlError with a line."""
    try:
        loader = _Loader(text, node_limit)  # the reader checks every character here
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(0, exc.position)) + 1
        raise YamlError(
            f"not valid YAML: character {exc.character:#x} is not allowed", line
        ) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        loader.root = node
        _check_graph(loader, node, node_limit)
        value = loader.construct_document(node)
        return _Walker(loader, node_limit).walk(node, value)
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(f"not valid YAML: {one_line(str(exc.problem or exc))}", line) from None
    except Exception as exc:  # a reader/scanner failure outside any node
        raise YamlError(f"not valid YAML: {one_line(str(exc) or type(exc).__name__)}", 1) from None
    finally:
        loader.dispose()


def _check_graph(loader: _Loader, root: yaml.Node, limit: int) -> None:
    """Count nodes and depth as aliases expand them, and find duplicate keys, iteratively."""
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    seen, checked = 0, set()
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > limit:
            raise YamlError(
                f"file expands to more than {limit} YAML nodes (alias bomb?)",
                _line(node),
                _path_to(root, node),
            )
        if depth > MAX_DEPTH and isinstance(node, yaml.CollectionNode):
            raise YamlError(
                f"nested more than {MAX_DEPTH} levels deep (through aliases)",
                _line(node),
                _path_to(root, node),
            )
        if isinstance(node, yaml.MappingNode):
            if id(node) not in checked:
                checked.add(id(node))
                _check_keys(loader, root, node)
            stack.extend((value, depth + 1) for _key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)


def _check_keys(loader: _Loader, root: yaml.Node, node: yaml.MappingNode) -> None:
    """Keys are plain values and none is written twice (a merge key ``<<`` may repeat)."""
    keys: set[Any] = set()
    for key_node, _value in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise YamlError(
                "mapping keys must be plain values", _line(key_node), _path_to(root, node)
            )
        if key_node.tag == _MERGE:
            continue
        key = loader.construct_object(key_node)
        try:
            duplicate = key in keys
            keys.add(key)
        except TypeError:  # pragma: no cover - scalars are hashable
            duplicate = False
        if duplicate:
            loc = (*_path_to(root, node), key)
            raise YamlError(f"duplicate key {short_repr(key)}", _line(key_node), loc)


class _Walker:
    """Pairs constructed data with node lines; recursion is bounded by MAX_DEPTH."""

    def __init__(self, loader: _Loader, limit: int):
        self.loader = loader
        self.limit = limit
        self.seen = 0

    def walk(self, node: yaml.Node, value: Any) -> Located:
        self.seen += 1
        if self.seen > self.limit:
            raise YamlError(
                f"file has more than {self.limit} YAML nodes (alias bomb?)", _line(node)
            )
        located = Located(value, _line(node))
        if isinstance(node, yaml.MappingNode) and isinstance(value, dict):
            # After merging, node.value lists merged pairs first: the explicit key, last, wins.
            latest: dict[Any, yaml.Node] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE:
                    latest[self.loader.construct_object(key_node)] = value_node
            for key, value_node in latest.items():
                if key in value:
                    located.children[key] = self.walk(value_node, value[key])
        elif isinstance(node, yaml.SequenceNode) and isinstance(value, list):
            for i, item in enumerate(node.value):
                located.children[i] = self.walk(item, value[i])
        return located
