"""What editor each schema field needs, read from the pydantic models (no Qt here).

A new field in ``simulator/scenario*.py`` shows up in the inspector by itself: the
kind of editor follows from its annotation, the tooltip from its description.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from simulator.units import format_duration, format_percent, format_rate

SKIPPED = {"calls", "nodes", "faults", "layout", "murphy"}
"""Shown elsewhere: calls are edges, nodes and faults have their own views."""

NODE_REFERENCES = {"to", "target"}
UNIT_HINTS = {
    format_duration: "e.g. 250ms, 2s",
    format_rate: "e.g. 400/s",
    format_percent: "e.g. 50%",
}


@dataclass
class FieldSpec:
    """How to edit one field: ``kind`` is bool, choice, node, model, union, multi, yaml or text."""

    name: str
    label: str
    kind: str
    optional: bool
    description: str = ""
    hint: str = ""
    choices: list[Any] = field(default_factory=list)
    models: dict[str, type[BaseModel]] = field(default_factory=dict)
    tag: str = ""


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


def field_spec(name: str, info: FieldInfo) -> FieldSpec | None:
    """The editor for one field, or None when it is not edited here."""
    if name in SKIPPED:
        return None
    ann, metadata = _strip_annotated(info.annotation)
    ann, optional = _strip_optional(ann)
    ann, more = _strip_annotated(ann)
    metadata += more + list(info.metadata)
    label = (info.alias or name).replace("_", " ")
    spec = FieldSpec(name, label, "text", optional, info.description or "", _hint(metadata))
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
    elif get_origin(ann) is list and get_origin(get_args(ann)[0]) is Literal:
        spec.kind, spec.choices = "multi", list(get_args(get_args(ann)[0]))
    elif get_origin(ann) in (list, dict):
        spec.kind, spec.hint = "yaml", "YAML, e.g. [{at: 0s, rate: 100/s}]"
    elif name == "description":
        spec.kind = "longtext"
    return spec


def model_specs(cls: type[BaseModel]) -> list[FieldSpec]:
    """Editors for every field of ``cls``, in schema order."""
    specs = (field_spec(name, info) for name, info in cls.model_fields.items())
    return [s for s in specs if s is not None]


def field_text(model: BaseModel, name: str) -> Any:
    """The field's value in the file's spelling (``"250ms"``), via the model's own serializer."""
    return model.model_dump(mode="json", include={name})[name]
