"""A form for one model of the scenario, generated from its schema, nested for its policies.

Nested models (a call's policies, a relay's publish, a consumer's dedupe store)
get a group each; a dict of models (a broker's queues) gets a group per entry
with its name, a Remove button, and an Add button below.

Every editor commits through the document (one undo command per edit). A value
the schema refuses is not applied: its message appears under the field, the
text stays so it can be corrected, and the scenario is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from PySide6.QtCore import Signal
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gui.document import ScenarioDocument
from gui.edits import EditError, Path, get_at, switch_distribution
from gui.inspector.fields import FieldSpec, doc_line, field_text, model_specs, not_for_kind

NONE_CHOICE = "(none)"
RELAY_PUBLISH_HIDDEN = {"after_commit_to", "only_for"}
"""A relay's publish sends outbox rows: no request routes, no transaction of its own."""


class LongTextEdit(QPlainTextEdit):
    """A multi-line text box that commits when it loses focus, like a line edit on Enter."""

    editing_finished = Signal()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.editing_finished.emit()


class ModelForm(QWidget):
    """Editors for the model at ``path``; ``prefix`` names its fields for focus and tests."""

    def __init__(self, document: ScenarioDocument, path: Path, prefix: str = "", parent=None):
        super().__init__(parent)
        self.document, self.path, self.prefix = document, path, prefix
        self.model = get_at(document.scenario, path)
        self.errors: dict[str, QLabel] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        hidden = RELAY_PUBLISH_HIDDEN if path[-1:] == ("publish",) else set()
        hidden = hidden | not_for_kind(self.model)  # a limiter shows its kind's knobs only
        for spec in model_specs(type(self.model)):
            if spec.name not in hidden:
                self._add_row(layout, spec)

    def _add_row(self, layout: QFormLayout, spec: FieldSpec) -> None:
        if spec.kind in ("model", "union"):
            layout.addRow(self._group(spec))
            return
        if spec.kind == "entries":
            layout.addRow(self._entries(spec))
            return
        editor = self._editor(spec)
        editor.setObjectName(f"field:{self.prefix}{spec.name}")
        editor.setToolTip(spec.description)
        error = QLabel()
        error.setObjectName(f"error:{self.prefix}{spec.name}")
        error.setWordWrap(True)
        error.setStyleSheet("color: #d32f2f;")
        error.hide()
        self.errors[spec.name] = error
        cell = QWidget()
        cell.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        box = QVBoxLayout(cell)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(editor)
        box.addWidget(error)
        label = QLabel(spec.label)
        label.setToolTip(spec.description)
        layout.addRow(label, cell)

    # -- committing ----------------------------------------------------------------------

    def commit(self, name: str, raw: Any) -> bool:
        """Apply one edit through the document; on refusal show why and change nothing."""
        try:
            self.document.set_field(self.path, name, raw)
        except EditError as exc:
            self.show_error(name, exc.message)
            return False
        self.show_error(name, "")
        return True

    def show_error(self, name: str, message: str) -> None:
        label = self.errors.get(name)
        if label is not None:
            label.setText(message)
            label.setVisible(bool(message))

    # -- editors by kind -----------------------------------------------------------------

    def _editor(self, spec: FieldSpec) -> QWidget:
        value = field_text(self.model, spec.name)
        makers: dict[str, Callable[[FieldSpec, Any], QWidget]] = {
            "bool": self._bool_editor,
            "choice": self._choice_editor,
            "node": self._node_editor,
            "queue": self._queue_editor,
            "multi": self._multi_editor,
            "longtext": self._longtext_editor,
            "yaml": self._yaml_editor,
        }
        return makers.get(spec.kind, self._text_editor)(spec, value)

    def _text_editor(self, spec: FieldSpec, value: Any) -> QWidget:
        shown = "" if value is None else str(value)
        edit = QLineEdit(shown)
        edit.setPlaceholderText(spec.hint or ("none" if spec.optional else ""))
        if spec.optional and spec.hint:
            edit.setPlaceholderText(f"none ({spec.hint})")

        def finished() -> None:
            text = edit.text().strip()
            if text != shown:
                self.commit(spec.name, None if text == "" and spec.optional else text)

        edit.editingFinished.connect(finished)
        return edit

    def _yaml_editor(self, spec: FieldSpec, value: Any) -> QWidget:
        shown = "" if value is None else yaml.safe_dump(value, default_flow_style=True).strip()
        edit = QLineEdit(shown)
        edit.setPlaceholderText(spec.hint)

        def finished() -> None:
            text = edit.text().strip()
            if text == shown:
                return
            try:
                raw = yaml.safe_load(text) if text else None
            except yaml.YAMLError as exc:
                self.show_error(spec.name, f"not YAML: {exc}")
                return
            self.commit(spec.name, raw)

        edit.editingFinished.connect(finished)
        return edit

    def _longtext_editor(self, spec: FieldSpec, value: Any) -> QWidget:
        edit = LongTextEdit(value or "")
        edit.setFixedHeight(72 if self.path else 110)

        def finished() -> None:
            if edit.toPlainText() != (value or ""):
                self.commit(spec.name, edit.toPlainText())

        edit.editing_finished.connect(finished)
        return edit

    def _bool_editor(self, spec: FieldSpec, value: Any) -> QWidget:
        box = QCheckBox()
        box.setChecked(bool(value))
        box.toggled.connect(lambda on: self.commit(spec.name, on))
        return box

    def _choice_editor(self, spec: FieldSpec, value: Any) -> QWidget:
        return self._combo(spec, [str(c) for c in spec.choices], value)

    def _node_editor(self, spec: FieldSpec, value: Any) -> QWidget:
        nodes = self.document.scenario.nodes
        kinds = spec.node_kinds
        names = [n for n, node in nodes.items() if kinds is None or node.kind in kinds]
        return self._combo(spec, names, value)

    def _queue_editor(self, spec: FieldSpec, value: Any) -> QWidget:
        broker = self.document.scenario.nodes.get(getattr(self.model, spec.tag, ""))
        return self._combo(spec, list(getattr(broker, "queues", {})), value)

    def _combo(self, spec: FieldSpec, choices: list[str], value: Any) -> QComboBox:
        combo = QComboBox()
        if spec.optional:
            choices = [NONE_CHOICE, *choices]
        shown = NONE_CHOICE if value is None and spec.optional else str(value)
        combo.addItems(choices)
        if shown not in choices:
            combo.addItem(shown)
        combo.setCurrentText(shown)

        def picked(text: str) -> None:
            self.commit(spec.name, None if spec.optional and text == NONE_CHOICE else text)

        combo.currentTextChanged.connect(picked)
        return combo

    def _multi_editor(self, spec: FieldSpec, value: Any) -> QWidget:
        cell = QWidget()
        grid = QGridLayout(cell)
        grid.setContentsMargins(0, 0, 0, 0)
        boxes = {}
        for i, choice in enumerate(spec.choices):
            box = QCheckBox(str(choice).replace("_", " "))
            box.setChecked(choice in (value or []))
            boxes[choice] = box
            grid.addWidget(box, i // 2, i % 2)

        def toggled() -> None:
            self.commit(spec.name, [c for c, b in boxes.items() if b.isChecked()])

        for box in boxes.values():
            box.toggled.connect(toggled)
        return cell

    # -- nested policies and distributions -----------------------------------------------

    def _group(self, spec: FieldSpec) -> QGroupBox:
        value = getattr(self.model, spec.name)
        group = QGroupBox(spec.label)
        group.setObjectName(f"group:{self.prefix}{spec.name}")
        group.setToolTip(spec.description or doc_line(type(value)))
        box = QVBoxLayout(group)
        if spec.kind == "model" and spec.optional:
            group.setCheckable(True)
            group.setChecked(value is not None)
            group.toggled.connect(lambda on: self.commit(spec.name, {} if on else None))
        if spec.kind == "union":
            box.addWidget(self._union_picker(spec, value))
        error = QLabel()
        error.setStyleSheet("color: #d32f2f;")
        error.setObjectName(f"error:{self.prefix}{spec.name}")
        error.hide()
        self.errors[spec.name] = error
        box.addWidget(error)
        if value is None:
            group.setFlat(True)
            box.setContentsMargins(0, 0, 0, 0)
        else:
            nested = ModelForm(self.document, (*self.path, spec.name), f"{self.prefix}{spec.name}.")
            box.addWidget(nested)
        return group

    # -- a dict of models: a broker's queues ----------------------------------------------

    def _entries(self, spec: FieldSpec) -> QGroupBox:
        entries = getattr(self.model, spec.name)
        group = QGroupBox(spec.label)
        group.setObjectName(f"group:{self.prefix}{spec.name}")
        group.setToolTip(spec.description)
        box = QVBoxLayout(group)
        for key in entries:
            box.addWidget(self._entry(spec, key, len(entries) > 1))
        error = QLabel()
        error.setStyleSheet("color: #d32f2f;")
        error.setObjectName(f"error:{self.prefix}{spec.name}")
        error.setWordWrap(True)
        error.hide()
        self.errors[spec.name] = error
        box.addWidget(error)
        add = QPushButton(f"Add {spec.tag}")
        add.setObjectName(f"add:{self.prefix}{spec.name}")
        add.clicked.connect(lambda: self._add_entry(spec))
        box.addWidget(add)
        return group

    def _entry(self, spec: FieldSpec, key: str, removable: bool) -> QGroupBox:
        name = f"{self.prefix}{spec.name}.{key}"
        group = QGroupBox(f"{spec.tag} {key}")
        group.setObjectName(f"group:{name}")
        column = QVBoxLayout(group)
        row = QHBoxLayout()
        edit = QLineEdit(key)
        edit.setObjectName(f"field:{name}.name")
        edit.setToolTip(f"the {spec.tag}'s name; publishes and consumers naming it follow")
        remove = QPushButton("Remove")
        remove.setObjectName(f"remove:{name}")
        remove.setEnabled(removable)
        remove.setToolTip(f"remove this {spec.tag}" if removable else f"the last {spec.tag} stays")
        row.addWidget(QLabel("name"))
        row.addWidget(edit, 1)
        row.addWidget(remove)
        column.addLayout(row)
        nested = ModelForm(self.document, (*self.path, spec.name, key), f"{name}.")
        column.addWidget(nested)

        def renamed() -> None:
            new = edit.text().strip()
            if new != key:
                self._entry_edit(spec, lambda: self.document.rename_entry(
                    self.path, spec.name, key, new))  # fmt: skip

        edit.editingFinished.connect(renamed)
        remove.clicked.connect(lambda: self._entry_edit(
            spec, lambda: self.document.remove_entry(self.path, spec.name, key)))  # fmt: skip
        return group

    def _add_entry(self, spec: FieldSpec) -> None:
        self._entry_edit(spec, lambda: self.document.add_entry(self.path, spec.name, spec.tag))

    def _entry_edit(self, spec: FieldSpec, edit: Callable[[], Any]) -> bool:
        try:
            edit()
        except EditError as exc:
            self.show_error(spec.name, exc.message)
            return False
        self.show_error(spec.name, "")
        return True

    def _union_picker(self, spec: FieldSpec, value: Any) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(f"field:{self.prefix}{spec.name}.{spec.tag}")
        choices = ([NONE_CHOICE] if spec.optional else []) + list(spec.models)
        combo.addItems(choices)
        combo.setCurrentText(NONE_CHOICE if value is None else getattr(value, spec.tag))

        def picked(text: str) -> None:
            raw = None if text == NONE_CHOICE else switch_distribution(value, text)
            self.commit(spec.name, raw)

        combo.currentTextChanged.connect(picked)
        return combo
