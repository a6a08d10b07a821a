"""What editor each schema field needs, read from the pydantic models (no Qt here).

A new field in ``simulator/scenario*.py`` shows up in the inspector by itself: the
kind of editor follows from its annotation, the tooltip from its description.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from gui.kinds import KINDS
from simulator.scenario import NODE_KINDS, Call, Publish
from simulator.units import format_duration, format_percent, format_rate

SKIPPED = {"calls", "publishes", "nodes", "faults", "deploys", "layout", "murphy"}
"""Shown elsewhere: calls and publishes are edges, nodes and faults have their own views."""

NODE_REFERENCES = {"to", "target", "database", "broker", "outbox", "after_commit_to"}
QUEUE_OWNERS = ("to", "broker")
"""A ``queue`` field names a queue of the broker in the first of these fields its model has."""
HIDDEN: dict[type[BaseModel], set[str]] = {Publish: {"fallback", "outbox"}}
"""Fields a model inherits but refuses (a publish has no fallback and writes no outbox)."""
ENTRY_STEMS = {"queues": "queue"}
"""What one entry of a dict field is called (the name a new one starts from)."""
YAML_HINTS = {
    "rules": "YAML, e.g. [{name: error-rate, window: 1min, for: 5s}, {name: pool, enabled: false}]"
}
"""Examples for YAML fields whose generic one would mislead (the alert rules)."""
UNIT_HINTS = {
    format_duration: "e.g. 250ms, 2s",
    format_rate: "e.g. 400/s",
    format_percent: "e.g. 50%",
}


@dataclass
class FieldSpec:
    """How to edit one field: ``kind`` is bool, choice, node, queue, model, union, entries,
    multi, yaml or text. A ``node`` field lists the nodes of ``node_kinds`` (None: any); a
    ``queue`` field the queues of the broker named by the model's field ``tag``; ``entries``
    is a dict of models (a broker's queues) edited one entry at a time."""

    name: str
    label: str
    kind: str
    optional: bool
    description: str = ""
    hint: str = ""
    choices: list[Any] = field(default_factory=list)
    models: dict[str, type[BaseModel]] = field(default_factory=dict)
    tag: str = ""
    node_kinds: tuple[str, ...] | None = None


def _strip_annotated(ann: Any) -> tuple[Any, list[Any]]:
    metadata: list[Any] = []
    while get_origin(ann) is Annotated:
        args = get_args(ann)
        ann, metadata = args[0], metadata + list(args[1:])
    return ann, metadata


def _strip_optional(ann: Any) -> tuple[Any, bool]:
    if get_origin(ann) in (Union, types.UnionType):
        args = [a for a in get_args(ann) if a is not type(None)]
        if len(args) < len(get_args(ann)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True  # noqa: UP007
    return ann, False


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _single_literal(ann: Any) -> bool:
    return get_origin(ann) is Literal and len(get_args(ann)) == 1


def _hint(metadata: list[Any]) -> str:
    for item in metadata:
        func = getattr(item, "func", None)
        if func in UNIT_HINTS:
            return UNIT_HINTS[func]
    return ""


def _union_models(ann: Any) -> tuple[str, dict[str, type[BaseModel]]] | None:
    """For a tagged union of models: the tag field and {tag value: model}."""
    if get_origin(ann) not in (Union, types.UnionType):
        return None
    members = get_args(ann)
    if not all(_is_model(m) for m in members):
        return None
    for tag in members[0].model_fields:
        if all(_single_literal(m.model_fields.get(tag, FieldInfo()).annotation) for m in members):
            return tag, {get_args(m.model_fields[tag].annotation)[0]: m for m in members}
    return None


def plain(text: str) -> str:
    """A docstring or description as a user reads it: without the double backquotes the
    source puts around code."""
    return re.sub(r"``(.+?)``", r"\1", text)


def doc_line(model: type) -> str:
    """The first line of a model's docstring, in plain words (a header, a tooltip)."""
    return plain((model.__doc__ or "").strip().split("\n")[0])


def field_spec(name: str, info: FieldInfo) -> FieldSpec | None:
    """The editor for one field, or None when it is not edited here."""
    if name in SKIPPED:
        return None
    ann, metadata = _strip_annotated(info.annotation)
    ann, optional = _strip_optional(ann)
    ann, more = _strip_annotated(ann)
    metadata += more + list(info.metadata)
    label = (info.alias or name).replace("_", " ")
    spec = FieldSpec(name, label, "text", optional, plain(info.description or ""), _hint(metadata))
    if _single_literal(ann):
        return None
    if ann is bool:
        spec.kind = "bool"
    elif get_origin(ann) is Literal:
        spec.kind, spec.choices = "choice", list(get_args(ann))
    elif name in NODE_REFERENCES and ann is str:
        spec.kind = "node"
    elif _is_model(ann):
        spec.kind, spec.models = "model", {"": ann}
    elif (union := _union_models(ann)) is not None:
        spec.kind, (spec.tag, spec.models) = "union", union
    elif get_origin(ann) is dict and _is_model(get_args(ann)[1]):
        spec.kind, spec.models = "entries", {"": get_args(ann)[1]}
        spec.tag = ENTRY_STEMS.get(name, "entry")
    elif get_origin(ann) is list and get_origin(get_args(ann)[0]) is Literal:
        spec.kind, spec.choices = "multi", list(get_args(get_args(ann)[0]))
    elif get_origin(ann) is list and get_args(ann)[0] is str:
        spec.kind, spec.hint = "yaml", "YAML list of names, e.g. [web, mobile]"
    elif get_origin(ann) in (list, dict):
        spec.kind, spec.hint = "yaml", YAML_HINTS.get(name, "YAML, e.g. [{at: 0s, rate: 100/s}]")
    elif name == "description":
        spec.kind = "longtext"
    return spec


def model_specs(cls: type[BaseModel]) -> list[FieldSpec]:
    """Editors for every field of ``cls``, in schema order."""
    hidden = set().union(*(names for base, names in HIDDEN.items() if issubclass(cls, base)))
    out = []
    for name, info in cls.model_fields.items():
        spec = field_spec(name, info) if name not in hidden else None
        if spec is None:
            continue
        if spec.kind == "node":
            spec.node_kinds = reference_kinds(cls, name)
        elif name == "queue" and spec.kind == "text" and (owner := _queue_owner(cls)):
            spec.kind, spec.tag = "queue", owner
        out.append(spec)
    return _queue_after_its_broker(out)


def not_for_kind(model: BaseModel) -> set[str]:
    """Fields of ``model`` its ``kind`` does not read, for a model that says which kind reads
    which (``KIND_FIELDS``: a limiter's rate is a token bucket's, min_limit an adaptive one's)."""
    by_kind: dict[str, tuple[str, ...]] | None = getattr(type(model), "KIND_FIELDS", None)
    if not by_kind:
        return set()
    used = set(by_kind.get(getattr(model, "kind", ""), ()))
    return {name for names in by_kind.values() for name in names} - used


def _queue_after_its_broker(specs: list[FieldSpec]) -> list[FieldSpec]:
    """A publish's queue is read with its broker (``to``), not after every policy."""
    queue = next((s for s in specs if s.kind == "queue"), None)
    if queue is None:
        return specs
    rest = [s for s in specs if s is not queue]
    at = next((i + 1 for i, s in enumerate(rest) if s.name == queue.tag), len(rest))
    return [*rest[:at], queue, *rest[at:]]


def reference_kinds(cls: type[BaseModel], name: str) -> tuple[str, ...] | None:
    """The node kinds a reference field of ``cls`` may name (None: any node)."""
    if name == "to" and issubclass(cls, Publish):
        return ("broker",)
    if name == "to" and issubclass(cls, Call):
        return tuple(k for k in NODE_KINDS if KINDS[k].accepts == "call")
    if name == "target":
        targets = getattr(cls, "targets", None)
        return targets if targets is not None else tuple(k for k in NODE_KINDS if k != "client")
    return {"database": ("database",), "after_commit_to": ("database",), "broker": ("broker",),
            "outbox": ("relay",)}.get(name)  # fmt: skip


def _queue_owner(cls: type[BaseModel]) -> str:
    if issubclass(cls, Publish):
        return "to"
    return next((f for f in QUEUE_OWNERS if f in cls.model_fields and f != "to"), "")


def field_text(model: BaseModel, name: str) -> Any:
    """The field's value in the file's spelling (``"250ms"``), via the model's own serializer."""
    return model.model_dump(mode="json", include={name})[name]
