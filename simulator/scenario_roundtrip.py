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
- the file's line ending (LF, CRLF or CR) and a byte-order mark are kept.

The file is untrusted: it is first loaded by the scenario loader (bounded, safe
tags only), and files that use anchors, aliases or explicit tags, which an edit
in place could change in several places at once, are written with the plain
dump instead. The result is loaded back and compared with the edited scenario
on every save; if it would load to anything else, the plain dump is written and
``SavedText.reason`` says why. A file never loads differently from what the
user saw. A comment of the original missing from the text, not one of a deleted or
replaced entry, is never lost silently: ``kept`` is False and the reason names it.
"""

from __future__ import annotations

import bisect
import io
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer
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
    original text, why (for the status bar). ``lost`` names the comments of the
    original that the text kept in place could not keep although what they describe
    is still there: then ``kept`` is False and ``reason`` says which, never silently.
    """

    text: str
    kept: bool
    reason: str = ""
    lost: tuple[str, ...] = ()


def saved_text(edited: Scenario, original: str | None) -> SavedText:
    """The text that saves ``edited``: ``original`` with the edits applied where it can be.

    Without an original (a new document) this is ``dump_scenario``.
    """
    if original is None:
        return SavedText(dump_scenario(edited), kept=False)
    try:
        text, lost = _patch(original, edited)
    except CannotKeep as exc:
        return SavedText(dump_scenario(edited), kept=False, reason=str(exc))
    try:
        same = _loaded(text) == edited
    except ScenarioError:
        same = False
    if not same:
        reason = "keeping the file's comments would have changed what it says"
        return SavedText(dump_scenario(edited), kept=False, reason=reason)
    if lost:
        shown = ", ".join(repr(c) for c in lost[:3]) + (" …" if len(lost) > 3 else "")
        reason = f"{len(lost)} comment{'s' if len(lost) > 1 else ''} could not be kept: {shown}"
        return SavedText(text, kept=False, reason=reason, lost=tuple(lost))
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
    return _patch(original, edited)[0]


def _patch(original: str, edited: Scenario) -> tuple[str, list[str]]:
    """``patched_text``, and the comments of the original it lost that did not belong to
    an entry deleted (or replaced) by the edit."""
    try:
        before = _loaded(original)  # the bounded, safe loader decides first
    except ScenarioError:
        raise CannotKeep("the file it was opened from no longer loads") from None
    old, new = scenario_to_data(before), scenario_to_data(edited)
    if old == new:
        return original, []  # nothing to change: not even ruamel's idea of the layout
    _refuse_shared_nodes(original)
    bom = "\ufeff" if original.startswith("\ufeff") else ""
    ending = _line_ending(original)
    source = _BREAK.sub("\n", original[len(bom) :])  # ruamel and difflib see one kind of break
    try:
        reader = YAML(typ="rt")
        reader.preserve_quotes = True
        reader.Composer = _Composer
        root = reader.load(source)
    except YAMLError as exc:
        raise CannotKeep(f"ruamel.yaml cannot read it: {exc}") from None
    if not isinstance(root, CommentedMap):
        raise CannotKeep("the file is not a mapping")
    mapping, sequence, offset = _indents(root)
    owners = _Owners(root)
    _patch_value(root, old, new, _Context(_styles(root), owners), None)
    writer = YAML(typ="rt")
    writer.width = _WIDTH
    writer.brace_single_entry_mapping_in_flow_sequence = True  # [{to: api}] stays so
    writer.indent(mapping=mapping, sequence=sequence, offset=offset)
    writer.representer.add_representer(type(None), _represent_null)
    writer.representer.add_representer(str, _represent_str)
    out = io.StringIO()
    writer.dump(root, out)
    text = _restore_untouched(source, out.getvalue(), root)
    lost = owners.lost(source, text)
    return bom + (text if ending == "\n" else text.replace("\n", ending)), lost


_BREAK = re.compile(r"\r\n?")


def _line_ending(text: str) -> str:
    """The file's line ending: that of its first line (all lines are written with it)."""
    found = re.search(r"\r\n|\r|\n", text)
    return found.group() if found else "\n"


class _Composer(Composer):
    """ruamel.yaml's composer, but a flow collection keeps the comment lines above it.

    ruamel (0.19) replaces a flow mapping's or list's comments with those after its
    end, so a list item ``{...}  # note`` lost the lines above it (``# the second``);
    here the lines above are kept where ruamel reads them (the entry's comment before).
    """

    def compose_mapping_node(self, anchor: Any) -> Any:
        above = self.parser.peek_event().comment
        return _keep_above(super().compose_mapping_node(anchor), above)

    def compose_sequence_node(self, anchor: Any) -> Any:
        above = self.parser.peek_event().comment
        return _keep_above(super().compose_sequence_node(anchor), above)


def _keep_above(node: Any, above: Any) -> Any:
    lines = above[1] if above and len(above) > 1 else None
    if not node.flow_style or not lines or node.comment is above:
        return node
    if node.comment is None:
        node.comment = [None, lines]
    elif node.comment[1] is None:
        node.comment[1] = lines
    elif node.comment[1] is not lines:
        node.comment[1] = [*lines, *node.comment[1]]
    return node


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
    """What one save knows across the tree: how the file writes each key, where the
    original's entries stood (``_Owners``), and the keys renamed so far, per namespace
    (nodes come before faults and layout, so a call or a fault that names a renamed node
    is known to be the same one; a broker's queue renamed ``orders`` says nothing of a
    node called ``orders``)."""

    styles: dict[str, Any]
    owners: _Owners
    renames: dict[str, dict[str, str]] = field(default_factory=dict)

    def names(self, namespace: str) -> dict[str, str]:
        """The renames of one namespace: ``nodes`` (also the layout's keys and the
        ``to`` and ``target`` of calls and faults) or ``queues``."""
        return self.renames.setdefault(namespace, {})


def _namespace(owner: _Owner) -> str:
    """The namespace of a named mapping's keys: the layout's keys are node names."""
    key = owner[1] if owner is not None else None
    return "nodes" if key == "layout" else str(key)


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
    known = ctx.names(_namespace(owner)) if named else {}
    for r, a in _renames(old, new, removed, added, known) if named else []:
        if r in node and a not in node:
            _rename_key(node, r, a)
        old[a] = old.pop(r)
        removed.remove(r)
        known[r] = a
    for key in removed:
        if key in node:
            _delete(node, key, owner, ctx)
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
    renamed = [_renamed(x, ctx.names("nodes")) for x in old]
    ops = SequenceMatcher(None, _keyed(renamed), _keyed(new), autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(ops):
        if tag == "equal":  # equal but for the nodes renamed
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                node[i] = _patch_value(node[i], old[i], new[j], ctx, (node, i))
            continue
        for unit in reversed(_units(renamed[i1:i2], new[j1:j2])):
            a1, a2, b1, b2 = (i1 + unit[0], i1 + unit[1], j1 + unit[2], j1 + unit[3])
            if unit[4]:  # one item edited: changed in place, its comments and style kept
                node[a1] = _patch_value(node[a1], old[a1], new[b1], ctx, (node, a1))
                continue
            paired = min(a2 - a1, b2 - b1)
            for k in range(paired):  # one item replaced by another: in its place, under
                # the lines above it; what was said after it, on its own lines, goes
                like = node[a1 + k] if _same_kind(old[a1 + k], new[b1 + k]) else None
                value = _fresh(new[b1 + k], like or _like(originals, new[b1 + k]))
                _replace_item(node, a1 + k, value, ctx)
            for k, j in enumerate(range(b1 + paired, b2)):  # after the items they replace,
                # so the lines below those move onto them
                _insert_seq(node, a2 + k, _fresh(new[j], _like(originals, new[j])))
            for i in reversed(range(a1 + paired, a2)):
                _delete(node, i, owner, ctx)


_MAX_ALIGN = 10_000
"""Pairs of items compared at most to align one changed run of a list; beyond, by position."""


def _units(was: list[Any], now: list[Any]) -> list[tuple[int, int, int, int, bool]]:
    """A changed run of a list (its items' targets renamed already) as the items edited in
    place and the runs between them: ``(i1, i2, j1, j2, edited)``. A run of as many items
    as replace it is taken item by item (a swap of two calls' targets edits both where they
    stand); else as many items as can be, in order, are taken as edited (``_alike``)."""
    if len(was) == len(now):
        pairs = enumerate(zip(was, now, strict=True))
        return [(k, k + 1, k, k + 1, _alike(a, b)) for k, (a, b) in pairs]
    if len(was) * len(now) > _MAX_ALIGN:
        return [(0, len(was), 0, len(now), False)]
    best = [[0] * (len(now) + 1) for _ in range(len(was) + 1)]  # most alike in order from i, j
    for i in reversed(range(len(was))):
        for j in reversed(range(len(now))):
            both = best[i + 1][j + 1] + 1 if _alike(was[i], now[j]) else 0
            best[i][j] = max(best[i + 1][j], best[i][j + 1], both)
    units: list[tuple[int, int, int, int, bool]] = []
    i = j = gi = gj = 0
    while i < len(was) and j < len(now):
        if best[i][j] == best[i + 1][j + 1] + 1 and _alike(was[i], now[j]):
            if (gi, gj) != (i, j):
                units.append((gi, i, gj, j, False))
            units.append((i, i + 1, j, j + 1, True))
            i, j = i + 1, j + 1
            gi, gj = i, j
        elif best[i + 1][j] >= best[i][j + 1]:
            i += 1
        else:
            j += 1
    if (gi, gj) != (len(was), len(now)):
        units.append((gi, len(was), gj, len(now), False))
    return units


def _alike(was: Any, now: Any) -> bool:
    """One list item edited, rather than one removed and another added: of the same kind,
    and to the same node and on the same target (once this save's renames are applied) or
    else at least half the same (a call retargeted, its timeout kept)."""
    if not _same_kind(was, now):
        return False
    if all(was.get(key) == now.get(key) for key in ("to", "target")):
        return True
    return _likeness(was, now) >= 0.5


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


def _delete(node: CommentedMap | CommentedSeq, key: Any, owner: _Owner, ctx: _Context) -> None:
    """Delete an entry with its comments; the lines that stood above the next entry stay
    above it (the lines above the deleted one, its header, go with it)."""
    ctx.owners.gone(node, key)
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


def _replace_item(node: CommentedSeq, index: int, value: Any, ctx: _Context) -> None:
    """Put another item in an item's place: the lines above it stay above the new one, as
    do those below it (the next item's); its end-of-line comment, about it, goes."""
    ctx.owners.gone(node, index)
    rest = _take_tail(node, index)
    if _slot(node, index)[0] is node:
        _set_tail(node, index, "", "")
    node[index] = value
    _give_tail(node, index, rest)


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


# -- no comment lost silently --------------------------------------------------------------


class _Owners:
    """Where every entry of the original stood, and which of them the edit deleted, to
    tell the comments that went with their entry from those that were lost."""

    def __init__(self, root: CommentedMap) -> None:
        self.lines: list[int] = []  # sorted: the line of each entry, in the order below
        self.entries: list[tuple[int, int, int, int]] = []  # line, depth, column, parent
        self.index: dict[tuple[int, Any], int] = {}  # (id of collection, key) -> entry
        self.deleted: set[int] = set()
        self._alive: list[Any] = []  # the collections, so that no id is reused meanwhile
        found: list[tuple[int, int, int, int, tuple[int, Any]]] = []
        stack: list[tuple[Any, int, int]] = [(root, -1, 0)]
        while stack:
            collection, parent, depth = stack.pop()
            self._alive.append(collection)
            for key in _keys(collection):
                is_map = isinstance(collection, CommentedMap)
                try:
                    line, column = collection.lc.key(key) if is_map else collection.lc.item(key)
                except (KeyError, TypeError):
                    continue
                number = len(found)
                found.append((line, depth, column, parent, (id(collection), key)))
                value = collection[key]
                if isinstance(value, CommentedMap | CommentedSeq):
                    stack.append((value, number, depth + 1))
        order = sorted(range(len(found)), key=lambda n: found[n][:3])
        place = {n: k for k, n in enumerate(order)}
        for n in order:
            line, depth, column, parent, ident = found[n]
            self.entries.append((line, depth, column, place.get(parent, -1)))
            self.lines.append(line)
            self.index[ident] = place[n]

    def gone(self, collection: Any, key: Any) -> None:
        """The edit deleted (or replaced) ``collection[key]`` of the original."""
        number = self.index.get((id(collection), key))
        if number is not None:
            self.deleted.add(number)

    def _owner(self, line: int, column: int, alone: bool) -> int | None:
        """The entry a comment describes: a comment on lines of its own, the first entry
        below it; an end-of-line comment, the outermost entry begun on its line."""
        if alone:
            start = bisect.bisect_right(self.lines, line)
            if start == len(self.lines):
                return None
            line = self.lines[start]
        else:
            start = bisect.bisect_left(self.lines, line)
        candidates = [
            n
            for n in range(start, bisect.bisect_right(self.lines, line))
            if alone or self.entries[n][2] < column
        ]
        return min(candidates, key=lambda n: self.entries[n][1]) if candidates else None

    def _deleted(self, number: int | None) -> bool:
        while number is not None and number >= 0:
            if number in self.deleted:
                return True
            number = self.entries[number][3]
        return False

    def lost(self, original: str, written: str) -> list[str]:
        """The comments of ``original`` missing from ``written`` that did not go with an
        entry the edit deleted."""
        wanted = [
            text
            for line, column, alone, text in _comments(original)
            if not self._deleted(self._owner(line, column, alone))
        ]
        missing = Counter(wanted) - Counter(c[3] for c in _comments(written))
        lost = []
        for text in wanted:
            if missing[text] > 0:
                missing[text] -= 1
                lost.append(text)
        return lost


_COMMENT = re.compile(r"#[^\r\n]*")


@lru_cache(maxsize=4)
def _comments(text: str) -> tuple[tuple[int, int, bool, str], ...]:
    """Every comment of a YAML text: its line, column, whether it stands on a line of its
    own, and its text. They are what lies between the scanner's tokens (a ``#`` in a
    block scalar or a quoted string is no comment). Remembered: the text a save writes
    is the original of the next."""
    starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
    found = []
    previous = 0
    try:
        tokens = list(yaml.scan(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return ()
    for token in tokens:
        begin, end = token.start_mark.index, token.end_mark.index
        if begin > previous:
            for match in _COMMENT.finditer(text, previous, begin):
                at = match.start()
                line = bisect.bisect_right(starts, at) - 1
                alone = not text[starts[line] : at].strip()
                found.append((line, at - starts[line], alone, match.group().rstrip()))
        previous = max(previous, end)
    return tuple(found)
