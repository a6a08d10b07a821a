"""Safe YAML with positions: the data of a scenario file and the line of every field.

Only PyYAML's SafeLoader is used. The composed tree is walked once, with a cap on
the number of nodes visited, so alias bombs ("billion laughs") stop early, and
duplicate keys, which YAML would otherwise resolve silently, are errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["Located", "YamlError", "compose_located", "line_of"]


class YamlError(ValueError):
    """A file that is not acceptable YAML; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


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


class _Walker:
    def __init__(self, limit: int):
        self.limit = limit
        self.seen = 0

    def walk(self, node: yaml.Node, value: Any) -> Located:
        self.seen += 1
        if self.seen > self.limit:
            raise YamlError(
                f"file has more than {self.limit} YAML nodes (alias bomb?)",
                node.start_mark.line + 1,
            )
        located = Located(value, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode) and isinstance(value, dict):
            keys_seen: set[Any] = set()
            for key_node, value_node in node.value:
                key = _scalar_key(key_node)
                if key in keys_seen:
                    raise YamlError(f"duplicate key {key!r}", key_node.start_mark.line + 1)
                keys_seen.add(key)
                if key in value:
                    located.children[key] = self.walk(value_node, value[key])
        elif isinstance(node, yaml.SequenceNode) and isinstance(value, list):
            for i, item in enumerate(node.value):
                located.children[i] = self.walk(item, value[i])
        return located


def _scalar_key(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise YamlError("mapping keys must be plain values", node.start_mark.line + 1)
    return yaml.SafeLoader("").construct_object(node)


def compose_located(text: str, node_limit: int) -> Located | None:
    """Parse ``text`` safely into a Located tree, or raise YamlError with a line."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _count_nodes(node, node_limit)
            value = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlError(f"not valid YAML: {exc.problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"not valid YAML: {exc}") from None
    return _Walker(node_limit).walk(node, value)


def _count_nodes(root: yaml.Node, limit: int) -> None:
    """Count nodes as the data would expand them, before anything is constructed."""
    stack, seen = [root], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > limit:
            raise YamlError(
                f"file expands to more than {limit} YAML nodes (alias bomb?)",
                node.start_mark.line + 1,
            )
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
