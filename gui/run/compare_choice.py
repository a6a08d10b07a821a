"""What Compare strategies opens on, and its warning when a variant would add a policy.

The dialog (``gui.plots.compare_dialog``) lists every call, publish and node and the fields to
vary; opened on the first call, ``retry.strategy``, it silently added a default retry to a call
that had none, and every strategy came out the same (issue 12, bug 4). Here: open on a target
that has the varied policy, and say so, before the run, when the chosen one does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from simulator.scenario import Scenario

if TYPE_CHECKING:
    from gui.plots.compare_dialog import CompareDialog

_STEP = re.compile(r"([A-Za-z_]\w*)(?:\[(\d+)\])?")


def model_at(scenario: Scenario, prefix: str) -> Any:
    """The model a dialog target names: ``nodes.api.calls[0]`` is api's first call."""
    value: Any = scenario
    for part in prefix.split("."):
        match = _STEP.fullmatch(part)
        if match is None or value is None:
            return None
        name, index = match.groups()
        value = value.get(name) if isinstance(value, dict) else getattr(value, name, None)
        if index is not None and value is not None:
            value = value[int(index)] if int(index) < len(value) else None
    return value


def missing_part(model: Any, field: str) -> str | None:
    """The first part of ``field`` (``retry`` of ``retry.strategy``) the model does not set."""
    value = model
    for part in field.split(".")[:-1]:
        value = getattr(value, part, None)
        if value is None:
            return part
    return None


def default_choice(
    scenario: Scenario, targets: list[tuple[str, str, bool]], fields: Iterable[str]
) -> tuple[int, str] | None:
    """The first (target index, field) whose policy the target has set, trying the fields in
    the dialog's order: on the retry storm, ``api → inventory``'s retry strategy."""
    for field in fields:
        for index, (_label, prefix, is_call) in enumerate(targets):
            model = model_at(scenario, prefix)
            if is_call and model is not None and missing_part(model, field) is None:
                return index, field
    return None


def warning(scenario: Scenario, label: str, prefix: str, field: str) -> str:
    """What to say before a run that would vary a policy the target does not have."""
    model = model_at(scenario, prefix)
    missing = missing_part(model, field) if model is not None else None
    if missing is None:
        return ""
    return (f"Note: {label} has no {missing} set. Each variant adds one with default settings "
            f"apart from {field}, so the results show a {missing} the scenario does not have. "
            f"Choose a call with a {missing} to compare what the scenario does.")  # fmt: skip


def guide(dialog: CompareDialog, scenario: Scenario, fields: Iterable[str]) -> None:
    """Open ``dialog`` on a target that has the varied policy; warn while one without is chosen."""
    targets = [
        (dialog.target_box.itemText(i), *dialog.target_box.itemData(i))
        for i in range(dialog.target_box.count())
    ]
    fields = list(fields)
    choice = default_choice(scenario, targets, fields)
    if choice is not None:
        dialog.target_box.setCurrentIndex(choice[0])
        dialog.field_box.setCurrentText(choice[1])
    plain = dialog.status.text()

    def update(*_args: object) -> None:
        if dialog.running:
            return
        data = dialog.target_box.currentData()
        text = ""
        if data is not None:
            label = dialog.target_box.currentText()
            text = warning(scenario, label, data[0], dialog.field_box.currentText().strip())
        dialog.status.setText(text or plain)
        dialog.status.setWordWrap(True)

    dialog.target_box.currentIndexChanged.connect(update)
    dialog.field_box.currentTextChanged.connect(update)
    update()
