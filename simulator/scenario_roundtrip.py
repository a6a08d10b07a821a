"""Save an edited scenario into the text it was loaded from, keeping what the user wrote.

A hand-written scenario has comments, an order of keys, quoting, flow or block
style and spellings of values (``10 s``, ``0.5s``) that the app's plain dump
(``dump_scenario``) would lose. Here the original text is parsed with
ruamel.yaml's round-trip mode and only what changed is written into it:

- the *difference* is taken between the original scenario and the edited one,
  both in the file's spelling (``scenario_to_data``), so a value the user did
  not change keeps its spelling even where the app would spell it otherwise;
- changed values are set in place, removed keys and list items deleted, new
  keys put after their predecessor, new nodes, calls and faults written in the
  style of their neighbours; a node renamed keeps its place and comments;
- comment lines that ruamel attaches to the end of the entry *above* the ones
  they describe are moved so they stay above the entry they were above.

The file is untrusted: it is first loaded by the scenario loader (bounded, safe
tags only), and files that use anchors, aliases or explicit tags, which an edit
in place could change in several places at once, are written with the plain
dump instead. The result is loaded back and compared with the edited scenario
on every save; if it would load to anything else, the plain dump is written and
``SavedText.reason`` says why. A file never loads differently from what the
user saw.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString, ScalarString
from ruamel.yaml.tokens import CommentToken

from simulator.atomic_write import write_atomically
from simulator.scenario import (
    Scenario,
    ScenarioError,
    dump_scenario,
    parse_scenario,
    scenario_to_data,
)

__all__ = ["CannotKeep", "SavedText", "patched_text", "save_scenario_keeping", "saved_text"]

_WIDTH = 1 << 16
"""Never fold a long line: the user's line breaks are theirs."""

_MISSING = object()

_Owner = tuple[Any, Any] | None
"""The collection holding a value and its key there (None for the document)."""


@dataclass(frozen=True)
class SavedText:
    """The text to write, and whether it kept the original's comments and layout.

    ``reason`` says, when the plain dump was used for a document that had an
    original text, why (for the status bar).
    """

    text: str
    kept: bool
    reason: str = ""


def saved_text(edited: Scenario, original: str | None) -> SavedText:
    """The text that saves ``edited``: ``original`` with the edits applied where it can be.

    Without an original (a new document) this is ``dump_scenario``.
    """
    if original is None:
        return SavedText(dump_scenario(edited), kept=False)
    try:
        text = patched_text(original, edited)
    except CannotKeep as exc:
        return SavedText(dump_scenario(edited), kept=False, reason=str(exc))
    try:
        same = _loaded(text) == edited
    except ScenarioError:
        same = False
    if not same:
        reason = "keeping the file's comments would have changed what it says"
        return SavedText(dump_scenario(edited), kept=False, reason=reason)
    return SavedText(text, kept=True)


@lru_cache(maxsize=4)
def _loaded(text: str) -> Scenario:
    """The scenario loader's reading of ``text``; remembered, because the text a save
    checks is the original of the next save (Scenario is not changed in place: the app
    replaces it on every edit)."""
    return parse_scenario(text)


def save_scenario_keeping(
    scenario: Scenario, path: str | os.PathLike[str], original: str | None
) -> SavedText:
    """Write ``scenario`` to ``path`` as ``saved_text`` says, atomically (``save_scenario``'s
    way: a crash mid-save leaves the old file); returns what was written."""
    saved = saved_text(scenario, original)
    write_atomically(path, saved.text)
    return saved


class CannotKeep(Exception):
    """The original cannot be edited in place; the message says why."""


def patched_text(original: str, edited: Scenario) -> str:
    """``original`` with the difference between what it says and ``edited`` applied.

    Raises ``CannotKeep`` if the original does not load or uses YAML features an edit
    in place could not honour. The result is not checked here (``saved_text`` does).
    """
    try:
        before = _loaded(original)  # the bounded, safe loader decides first
    except ScenarioError:
        raise CannotKeep("the file it was opened from no longer loads") from None
    old, new = scenario_to_data(before), scenario_to_data(edited)
    if old == new:
        return original  # nothing to change: not even ruamel's idea of the layout
    _refuse_shared_nodes(original)
    try:
        reader = YAML(typ="rt")
        reader.preserve_quotes = True
        root = reader.load(original)
    except YAMLError as exc:
        raise CannotKeep(f"ruamel.yaml cannot read it: {exc}") from None
    if not isinstance(root, CommentedMap):
        raise CannotKeep("the file is not a mapping")
    mapping, sequence, offset = _indents(root)
    _patch_value(root, old, new, _Context(_styles(root)), None)
    writer = YAML(typ="rt")
    writer.width = _WIDTH
    writer.brace_single_entry_mapping_in_flow_sequence = True  # [{to: api}] stays so
    writer.indent(mapping=mapping, sequence=sequence, offset=offset)
    writer.representer.add_representer(type(None), _represent_null)
    writer.representer.add_representer(str, _represent_str)
    out = io.StringIO()
    writer.dump(root, out)
    return _restore_untouched(original, out.getvalue(), root)


def _indents(root: CommentedMap) -> tuple[int, int, int]:
    """How the file indents (ruamel's mapping, sequence and offset), read from where its
    first nested block mapping and block list stand under their keys; 2, 4, 2 (the
    examples' style) where it has none."""
    mapping: int | None = None
    sequence: tuple[int, int] | None = None
    queue: list[CommentedMap | CommentedSeq] = [root]
    while queue and (mapping is None or sequence is None):
        parent = queue.pop(0)
        if parent.fa.flow_style():
            continue
        keys = parent.keys() if isinstance(parent, CommentedMap) else range(len(parent))
        for key in keys:
            child = parent[key]
            if not isinstance(child, CommentedMap | CommentedSeq) or child.fa.flow_style():
                continue
            queue.append(child)
            if not isinstance(parent, CommentedMap) or not child:
                continue
            column = parent.lc.key(key)[1]
            if isinstance(child, CommentedMap) and mapping is None:
                mapping = child.lc.col - column
            elif isinstance(child, CommentedSeq) and sequence is None:
                sequence = (child.lc.item(0)[1] - column, child.lc.col - column)
    mapping = mapping if mapping and mapping > 0 else 2
    items, dash = sequence if sequence and sequence[0] > sequence[1] >= 0 else (4, 2)
    return mapping, items, dash


_RESOLVER = yaml.resolver.Resolver()


def _represent_str(representer: Any, data: str) -> Any:
    """A new string quoted where the scenario loader (YAML 1.1) would read it plain as
    something else: a node renamed ``on`` or ``yes`` (plain in ruamel's YAML 1.2)."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, data, (True, False))
    if tag != "tag:yaml.org,2002:str":
        return representer.represent_scalar("tag:yaml.org,2002:str", data, style="'")
    return representer.represent_str(data)


def _represent_null(representer: Any, data: None) -> Any:
    """``null`` as people write it (ruamel writes nothing)."""
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


_SPACE = re.compile(r"\s+")


_MAX_TRIES = 32
"""Runs put back one at a time at most (each costs a parse of the whole text)."""


def _restore_untouched(original: str, written: str, data: Any) -> str:
    """Put back the user's own lines wherever ruamel wrote the same data differently.

    ruamel writes a flow mapping folded by hand over two lines on one; where a run of
    the original's lines and the run that replaced it differ only in white space and
    load to the same data, the original's run is kept: all at once if that holds, else
    run by run.
    ``data`` is what was written."""
    before, after = original.splitlines(keepends=True), written.splitlines(keepends=True)
    ops = SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    runs = [op[1:] for op in reversed(ops) if op[0] == "replace"]
    same = [r for r in runs if _bare(before[r[0] : r[1]]) == _bare(after[r[2] : r[3]])]
    kept: list[tuple[int, int, int, int]] = []
    if same:
        try:
            target = yaml.safe_load(written)
        except yaml.YAMLError:
            target = data  # ruamel wrote something it cannot read back (a known bug of its
            # emitter after a comment above a list's first item): the user's lines may mend it
        if _says(_put_back(before, after, same), target):
            kept = same
        else:
            kept = [r for r in same[:_MAX_TRIES] if _says(_put_back(before, after, [r]), target)]
    gapped = list(after)
    for i1, i2, j1, j2 in runs:
        if (i1, i2, j1, j2) not in kept and i2 - i1 == j2 - j1:
            pairs = zip(before[i1:i2], after[j1:j2], strict=True)
            gapped[j1:j2] = [_keep_gap(o, w) for o, w in pairs]
    lines = _put_back(before, gapped, kept)  # line counts change only here, last run first
    return "".join(lines)


def _put_back(
    before: list[str], after: list[str], runs: list[tuple[int, int, int, int]]
) -> list[str]:
    """``after`` with the runs (last first) replaced by the original's lines."""
    lines = list(after)
    for i1, i2, j1, j2 in runs:
        lines[j1:j2] = before[i1:i2]
    return lines


def _says(lines: list[str], target: Any) -> bool:
    try:
        return bool(yaml.safe_load("".join(lines)) == target)
    except yaml.YAMLError:
        return False


_GAP = re.compile(r"^(.*?\S)(\s+)(#.*)$", re.DOTALL)


def _keep_gap(original: str, written: str) -> str:
    """An end-of-line comment pushed right by a longer value (ruamel leaves one space)
    keeps the space the user left before it."""
    was, now = _GAP.match(original), _GAP.match(written)
    if was and now and was.group(3) == now.group(3) and len(now.group(2)) < len(was.group(2)):
        return now.group(1) + was.group(2) + now.group(3)
    return written


def _bare(lines: list[str]) -> str:
    """Lines without their white space: the same for a run ruamel only laid out anew."""
    return _SPACE.sub("", "".join(lines))


def _refuse_shared_nodes(text: str) -> None:
    """Anchors, aliases and explicit tags: one edit could show in several places."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise CannotKeep("the file uses anchors and aliases")
        if getattr(event, "tag", None) not in (None, "!"):
            raise CannotKeep("the file uses explicit tags")


# -- the difference, applied in place ------------------------------------------------------


_NAMED = frozenset({"nodes", "layout", "queues"})
"""The mappings whose keys are names the user gives (and the app renames); every other
mapping's keys are the schema's fields, which are never renamed."""


@dataclass
class _Context:
    """What one save knows across the tree: how the file writes each key, and the keys
    renamed so far (nodes come before faults and layout, so a call or a fault that names a
    renamed node is known to be the same one)."""

    styles: dict[str, Any]
    renames: dict[str, str] = field(default_factory=dict)


def _patch_value(node: Any, old: Any, new: Any, ctx: _Context, owner: _Owner) -> Any:
    """``node`` (ruamel data that says ``old``) changed to say ``new``; returns the value
    to put in its place (``node`` itself when it was changed in place)."""
    if old is not _MISSING and _same(old, new):
        return node
    if isinstance(new, dict) and isinstance(old, dict) and isinstance(node, CommentedMap):
        _patch_map(node, old, new, ctx, owner)
        return node
    if (
        isinstance(new, list)
        and isinstance(old, list)
        and isinstance(node, CommentedSeq)
        and len(node) == len(old)
        and not all(_is_scalar(x) for x in new)
    ):
        _patch_seq(node, old, new, ctx, owner)
        return node
    return _fresh(new, node)


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same type: ``1`` and ``True`` are different things to write."""
    return a == b and type(a) is type(b)


def _is_scalar(x: Any) -> bool:
    return not isinstance(x, dict | list)


def _patch_map(
    node: CommentedMap,
    old: dict[str, Any],
    new: dict[str, Any],
    ctx: _Context,
    owner: _Owner,
) -> None:
    removed = [k for k in old if k not in new]
    added = [k for k in new if k not in old]
    old = dict(old)
    named = owner is not None and owner[1] in _NAMED
    for r, a in _renames(old, new, removed, added, ctx.renames) if named else []:
        if r in node and a not in node:
            _rename_key(node, r, a)
        old[a] = old.pop(r)
        removed.remove(r)
        ctx.renames[r] = a
    for key in removed:
        if key in node:
            _delete(node, key, owner)
    for key, value in new.items():
        if key in node:
            was = old.get(key, _MISSING)
            _assign(node, key, _patch_value(node[key], was, value, ctx, (node, key)))
        else:
            like = _template_for_key(node, key, value, ctx.styles)
            _insert_map(node, key, _fresh(value, like), new)


def _renames(
    old: dict[str, Any],
    new: dict[str, Any],
    removed: list[str],
    added: list[str],
    known: dict[str, str],
) -> list[tuple[str, str]]:
    """Keys that are one key renamed. A node renamed in the app keeps its place in every
    mapping (nodes, layout), so a key gone and a key come after the same kept key are the
    same: the one already known renamed (layout, after nodes), else the one unchanged but
    for its name, else the likest (``_likeness``), in order."""
    gone, came = _by_anchor(old, removed, new), _by_anchor(new, added, old)
    pairs = []
    for anchor, keys in gone.items():
        rs, adds = list(keys), list(came.get(anchor, []))
        for match in (
            lambda r, a: known.get(r) == a,
            lambda r, a: old[r] == new[a],
        ):
            for r, a in [(r, a) for r in rs for a in adds if match(r, a)]:
                if r in rs and a in adds:
                    pairs.append((r, a))
                    rs.remove(r)
                    adds.remove(a)
        start = 0
        for r in rs:  # edited as well as renamed: the likest, at least half the same
            scores = [(_likeness(old[r], new[a]), -i) for i, a in enumerate(adds) if i >= start]
            if scores and max(scores)[0] >= 0.5:
                index = -max(scores)[1]
                pairs.append((r, adds[index]))
                start = index + 1
    return pairs


def _likeness(was: Any, now: Any) -> float:
    """How much of a node stayed: 0 for another kind, else the share of its fields that
    are the same (a node deleted and another added in one save share little but a kind)."""
    if not isinstance(was, dict) or not isinstance(now, dict) or was.get("kind") != now.get("kind"):
        return 0.0
    same = sum(1 for k, v in was.items() if now.get(k, _MISSING) == v)
    return same / max(len(was), len(now))


def _by_anchor(data: dict[str, Any], keys: list[str], other: dict[str, Any]) -> dict[Any, list]:
    """``keys`` grouped by the nearest key before each that is also in ``other``."""
    groups: dict[Any, list[str]] = {}
    anchor: Any = None
    wanted = set(keys)
    for key in data:
        if key in wanted:
            groups.setdefault(anchor, []).append(key)
        elif key in other:
            anchor = key
    return groups


def _patch_seq(
    node: CommentedSeq, old: list[Any], new: list[Any], ctx: _Context, owner: _Owner
) -> None:
    originals = list(node)
    renamed = [_renamed(x, ctx.renames) for x in old]
    ops = SequenceMatcher(None, _keyed(renamed), _keyed(new), autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(ops):
        if tag == "equal":  # equal but for the nodes renamed
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                node[i] = _patch_value(node[i], old[i], new[j], ctx, (node, i))
            continue
        paired = 0
        while (
            tag == "replace"
            and paired < min(i2 - i1, j2 - j1)
            and _alike(old[i1 + paired], new[j1 + paired], ctx.renames)
        ):
            paired += 1
        for k in range(paired):
            at = i1 + k
            node[at] = _patch_value(node[at], old[at], new[j1 + k], ctx, (node, at))
        for k, j in enumerate(range(j1 + paired, j2)):  # after the items they replace,
            # so the lines below those move onto them
            _insert_seq(node, i2 + k, _fresh(new[j], _like(originals, new[j])))
        for i in reversed(range(i1 + paired, i2)):
            _delete(node, i, owner)


def _alike(was: Any, now: Any, renames: dict[str, str]) -> bool:
    """One list item edited, rather than one removed and another added: of the same kind,
    to the same node and on the same target (after the renames of this save)."""
    if not _same_kind(was, now):
        return False
    for key in ("to", "target"):
        if key in was and renames.get(was[key], was[key]) != now.get(key):
            return False
    return True


def _renamed(item: Any, renames: dict[str, str]) -> Any:
    """A call or fault as it reads once the nodes renamed in this save have their new names."""
    if not isinstance(item, dict) or not renames:
        return item
    return {k: renames.get(v, v) if k in ("to", "target") else v for k, v in item.items()}


def _same_kind(was: Any, now: Any) -> bool:
    return isinstance(was, dict) and isinstance(now, dict) and was.get("kind") == now.get("kind")


def _like(items: list[Any], value: Any) -> Any:
    """The item a new one should look like: the last of the same kind, else the last."""
    same = [x for x in items if _same_kind(x, value)]
    return (same or items or [None])[-1]


def _keyed(items: list[Any]) -> list[str]:
    return [json.dumps(x, sort_keys=True) for x in items]


# -- values in the style of their neighbours ----------------------------------------------


def _fresh(value: Any, template: Any) -> Any:
    """``value`` as ruamel data styled like ``template`` (the value it replaces, or a
    neighbour): flow or block, the quoting of strings."""
    if isinstance(value, dict):
        out = CommentedMap()
        for key, item in value.items():
            like = template.get(key) if isinstance(template, dict) else None
            out[key] = _fresh(item, like)
        _set_flow(out, template, default=False)
        return out
    if isinstance(value, list):
        like = template[0] if isinstance(template, list) and template else None
        seq = CommentedSeq(_fresh(item, like) for item in value)
        short = len(value) <= 4 and all(_is_scalar(x) for x in value)
        _set_flow(seq, template, default=short)
        return seq
    if isinstance(value, str):
        if isinstance(template, ScalarString) and ("\n" in value) == ("\n" in template):
            return type(template)(value)
        return LiteralScalarString(value) if "\n" in value else value
    return value


def _set_flow(data: CommentedMap | CommentedSeq, template: Any, default: bool) -> None:
    flow = template.fa.flow_style() if hasattr(template, "fa") else default
    if flow:
        data.fa.set_flow_style()
    else:
        data.fa.set_block_style()


def _styles(data: Any) -> dict[str, Any]:
    """The first collection under each key in the file: how the user writes that key."""
    found: dict[str, Any] = {}
    stack = [data]
    while stack:
        item = stack.pop(0)
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, value in pairs:
            if isinstance(value, dict | list):
                if isinstance(key, str):
                    found.setdefault(key, value)
                stack.append(value)
    return found


def _template_for_key(node: CommentedMap, key: str, value: Any, styles: dict[str, Any]) -> Any:
    """What a new entry should look like: a node like a sibling of its kind; any other
    collection like the same key elsewhere in the file."""
    if isinstance(value, dict) and "kind" in value:
        siblings = [v for v in node.values() if isinstance(v, dict) and "kind" in v]
        same = [v for v in siblings if v.get("kind") == value["kind"]]
        if same or siblings:
            return (same or siblings)[-1]
    return styles.get(key)


# -- comments: ruamel keeps the lines above an entry at the end of the entry before ---------


def _chain(parent: CommentedMap | CommentedSeq, key: Any) -> list[tuple[Any, Any]]:
    """The entries that end where ``parent[key]`` ends: it, and while its value is a block
    collection, that collection's last entry (recursively). The last holds the comment
    after its line; the collections passed through hold the comments after their end."""
    chain = [(parent, key)]
    value = parent[key]
    while isinstance(value, CommentedMap | CommentedSeq) and value and not value.fa.flow_style():
        last = next(reversed(value)) if isinstance(value, CommentedMap) else len(value) - 1
        chain.append((value, last))
        value = value[last]
    return chain


def _slot(parent: CommentedMap | CommentedSeq, key: Any) -> tuple[Any, Any]:
    """Where the comment after ``parent[key]``'s last line lives."""
    return _chain(parent, key)[-1]


def _text(token: CommentToken) -> str:
    """A comment token of whole lines as text (ruamel keeps their indentation apart)."""
    value = token.value
    return " " * (token.column or 0) + value if value.startswith("#") else value


def _position(parent: Any) -> int:
    return 2 if isinstance(parent, CommentedMap) else 0


def _tail(parent: Any, key: Any) -> tuple[str, str]:
    """The comment after an entry as (end-of-line comment, the lines that follow)."""
    entry = parent.ca.items.get(key)
    token = entry[_position(parent)] if entry else None
    if not isinstance(token, CommentToken):
        return "", ""
    eol, _, rest = token.value.partition("\n")
    return eol, rest


def _set_tail(parent: Any, key: Any, eol: str, rest: str) -> None:
    pos = _position(parent)
    entry = parent.ca.items.get(key)
    token = entry[pos] if entry else None
    if not eol and not rest:
        if entry:
            entry[pos] = None
        return
    if parent.fa.flow_style():
        return  # a flow collection has no lines between its entries
    value = f"{eol}\n{rest}"
    if isinstance(token, CommentToken):
        token.value = value
        return
    entry = parent.ca.items.setdefault(key, [None] * 4)
    entry[pos] = CommentToken(value, CommentMark(0), None)


def _take_tail(parent: Any, key: Any) -> str:
    """Remove and return the lines after an entry and before the next: those ruamel keeps
    after its last line, and those after the end of collections that end with it."""
    chain = _chain(parent, key)
    where, at = chain[-1]
    eol, rest = _tail(where, at)
    _set_tail(where, at, eol, "")
    for collection, _ in reversed(chain[1:]):
        rest += "".join(_text(t) for t in collection.ca.end or [])
        collection.ca.end = []
    return rest


def _give_tail(parent: Any, key: Any, rest: str) -> None:
    where, at = _slot(parent, key)
    eol, _ = _tail(where, at)
    _set_tail(where, at, eol, rest)


def _keys(node: CommentedMap | CommentedSeq) -> list[Any]:
    return list(node) if isinstance(node, CommentedMap) else list(range(len(node)))


def _delete(node: CommentedMap | CommentedSeq, key: Any, owner: _Owner) -> None:
    """Delete an entry with its comments; the lines that stood above the next entry stay
    above it (the lines above the deleted one, its header, go with it)."""
    keys = _keys(node)
    index = keys.index(key)
    rest = _take_tail(node, key)
    if index > 0:
        _take_tail(node, keys[index - 1])  # the deleted entry's header goes with it
        _give_tail(node, keys[index - 1], rest)
    if isinstance(node, CommentedMap):
        node.ca.items.pop(key, None)
    del node[key]
    if index == 0 and rest and len(node):
        _prepend_header(node, rest, owner)


def _prepend_header(node: CommentedMap | CommentedSeq, rest: str, owner: _Owner) -> None:
    """Lines that stood above the entry after a deleted first one: above the new first.

    ruamel reads them from the owner's entry for this collection when it has one, else
    from the collection itself."""
    token = CommentToken(rest, CommentMark(0), None)
    if owner is not None and owner[1] in owner[0].ca.items:
        entry = owner[0].ca.items[owner[1]]
        entry[3] = [*(entry[3] or []), token]
        if node.ca.comment is not None:
            node.ca.comment[1] = entry[3]
        return
    if node.ca.comment is None:
        node.ca.comment = [None, []]
    node.ca.comment[1] = [*(node.ca.comment[1] or []), token]


def _assign(node: CommentedMap, key: str, value: Any) -> None:
    if value is node[key]:
        return
    rest = _take_tail(node, key)
    node[key] = value
    _give_tail(node, key, rest)


def _insert_map(node: CommentedMap, key: str, value: Any, order: dict[str, Any]) -> None:
    """Insert after the nearest key that comes before it in ``order`` and is in the file."""
    wanted = list(order)
    before = [k for k in wanted[: wanted.index(key)] if k in node]
    index = list(node).index(before[-1]) + 1 if before else 0
    if before:
        rest = _take_tail(node, before[-1])
        node.insert(index, key, value)
        _give_tail(node, key, rest)
    else:
        node.insert(index, key, value)


def _insert_seq(node: CommentedSeq, index: int, value: Any) -> None:
    if index == 0:
        node.insert(0, value)
        return
    rest = _take_tail(node, index - 1)
    node.insert(index, value)
    _give_tail(node, index, rest)


def _rename_key(node: CommentedMap, old: str, new: str) -> None:
    """Rename in place: the entry keeps its position and its comments."""
    index = list(node).index(old)
    value = node[old]
    comments = node.ca.items.pop(old, None)
    del node[old]
    node.insert(index, new, value)
    if comments is not None:
        node.ca.items[new] = comments
