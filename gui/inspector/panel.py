"""The inspector: the selected node, call, publish or fault, or the scenario's settings.

It rebuilds its form in answer to the document's signals and to the selection,
once per event-loop turn however many signals arrive, and keeps the focused
field and the scroll position across rebuilds.
"""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gui.document import ScenarioDocument
from gui.edits import EditError, Path
from gui.icons import kind_icon
from gui.inspector.fields import doc_line, plain
from gui.inspector.form import ModelForm
from gui.inspector.theory_view import theory_section
from gui.kinds import label as kind_label
from gui.selection import Key, Selection


def path_of(key: Key | None) -> Path:
    """The scenario path a selection key edits."""
    if key is None:
        return ()
    if key[0] == "node":
        return ("nodes", key[1])
    if key[0] == "call":
        return ("nodes", key[1], "calls", key[2])
    if key[0] == "publish":
        return ("nodes", key[1], "publishes", key[2])
    if key[0] == "relay":
        return ("nodes", key[1], "publish")
    if key[0] in ("outbox", "consume"):
        return ("nodes", key[1])  # drawn by the relay's or consumer's own fields
    if key[0] == "deploy":
        return ("deploys", key[1])
    return ("faults", key[1])


class InspectorPanel(QScrollArea):
    """Generated property editors for whatever is selected."""

    tune_requested = Signal(str, int)
    """A call's "Tune this call…" was clicked: its caller and index (the Run menu's dialog)."""

    def __init__(self, document: ScenarioDocument, selection: Selection, parent=None):
        super().__init__(parent)
        self.document, self.selection = document, selection
        self.form: ModelForm | None = None
        self.run: tuple[Any, dict[str, Any]] | None = None
        self.setWidgetResizable(True)
        self.setMinimumWidth(300)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._pending = False
        for signal in document.content_signals():
            signal.connect(self._on_document_changed)
        selection.changed.connect(self._on_document_changed)
        self.rebuild()

    def _on_document_changed(self, *args: object) -> None:
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.rebuild)

    def set_run(self, scenario: Any | None, summary: dict[str, Any] | None) -> None:
        """The last finished run (its scenario and summary), for the measured figures beside
        the theory's; None forgets it."""
        run = (scenario, summary) if scenario is not None and summary else None
        if run != self.run:
            self.run = run
            self._on_document_changed()

    @property
    def rebuild_pending(self) -> bool:
        """A change has been seen and the form not rebuilt for it yet (it will be, next tick)."""
        return self._pending

    def editor(self, name: str) -> QWidget | None:
        """The editor of a field (``"workers"``, ``"retry.attempts"``), for tests and focus."""
        return self.widget().findChild(QWidget, f"field:{name}") if self.widget() else None

    def error_text(self, name: str) -> str:
        label = self.widget().findChild(QLabel, f"error:{name}") if self.widget() else None
        return label.text() if label is not None and not label.isHidden() else ""

    def rebuild(self) -> None:
        """Build the form for the current selection, keeping focus and scroll position.

        Focus is given back only to a field that holds it now: ``focusWidget()`` remembers
        the last focused child even after the user clicked the canvas, and handing focus back
        to it would send the next keystroke into the newly selected node's field.
        """
        self._pending = False
        focused = QApplication.focusWidget()
        focus_name = (
            focused.objectName() if focused is not None and self.isAncestorOf(focused) else ""
        )
        scroll = self.verticalScrollBar().value()
        content = QWidget()
        column = QVBoxLayout(content)
        self.form = None
        key = self._valid_key()
        column.addWidget(self._header(key))
        if key is not None and key[0] == "call":
            column.addWidget(self._tune_button(key))
        if len(self.selection.keys) > 1:
            column.addWidget(QLabel(f"{len(self.selection.keys)} items selected."))
        else:
            self.form = ModelForm(self.document, path_of(key))
            if key is not None and key[0] == "node":
                self.form.layout().insertRow(0, "name", self._name_cell(key[1]))
                # Above the fields: short, and the reason to click a service after a run.
                theory = theory_section(self.document.scenario, key[1], self.run)
                if theory is not None:
                    column.addWidget(theory)
            column.addWidget(self.form)
        column.addStretch(1)
        old = self.takeWidget()
        self.setWidget(content)
        if old is not None:
            old.deleteLater()
        self.verticalScrollBar().setValue(scroll)
        if focus_name and (target := content.findChild(QWidget, focus_name)) is not None:
            target.setFocus()

    def _valid_key(self) -> Key | None:
        """The single selected thing, if it still exists in the scenario."""
        key = self.selection.single()
        scenario = self.document.scenario
        if key is None:
            return None
        if key[0] == "node" and key[1] in scenario.nodes:
            return key
        if key[0] == "deploy":
            return key if key[1] < len(scenario.deploys) else None
        node = scenario.nodes.get(key[1]) if key[0] != "fault" else None
        if key[0] in ("call", "publish") and node is not None:
            edges = node.calls if key[0] == "call" else node.publishes
            return key if key[2] < len(edges) else None
        if key[0] in ("relay", "outbox") and node is not None and node.kind == "relay":
            return key
        if key[0] == "consume" and node is not None and node.kind == "consumer":
            return key
        if key[0] == "fault" and key[1] < len(scenario.faults):
            return key
        return None

    def _header(self, key: Key | None) -> QWidget:
        scenario = self.document.scenario
        if key is None:
            title, sub, icon = "Scenario", "settings of the whole run", None
        elif key[0] == "node":
            kind = scenario.nodes[key[1]].kind
            title, sub, icon = key[1], kind_label(kind), kind
            sub = f"{sub} — {doc_line(type(scenario.nodes[key[1]]))}"
        elif key[0] == "call":
            call = scenario.nodes[key[1]].calls[key[2]]
            title, sub, icon = f"{key[1]} → {call.to}", f"call #{key[2] + 1} of {key[1]}", None
        elif key[0] in ("publish", "relay", "outbox", "consume"):
            title, sub, icon = _edge_header(scenario, key)
        elif key[0] == "deploy":
            deploy = scenario.deploys[key[1]]
            title, sub, icon = deploy.label(), plain((type(deploy).__doc__ or "").strip()), None
        else:
            fault = scenario.faults[key[1]]
            title, sub, icon = (
                f"{fault.kind} fault",
                plain((type(fault).__doc__ or "").strip()),
                None,
            )
        return _header_widget(title, sub, icon)

    def _tune_button(self, key: Key) -> QPushButton:
        button = QPushButton("Tune this call…")
        button.setObjectName("tune-call")
        button.setToolTip("Search its timeout, retries, budget and breaker for the best settings")
        button.clicked.connect(lambda: self.tune_requested.emit(key[1], key[2]))
        return button

    def _name_cell(self, name: str) -> QWidget:
        edit = QLineEdit(name)
        edit.setObjectName("field:name")
        error = QLabel()
        error.setObjectName("error:name")
        error.setStyleSheet("color: #d32f2f;")
        error.hide()

        def finished() -> None:
            new = edit.text().strip()
            if new == name:
                return
            try:
                self.document.rename_node(name, new)
            except EditError as exc:
                error.setText(exc.message)
                error.show()
                return
            self.selection.set([("node", new)])

        edit.editingFinished.connect(finished)
        cell = QWidget()
        box = QVBoxLayout(cell)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(edit)
        box.addWidget(error)
        return cell


def _header_widget(title: str, sub: str, icon: str | None) -> QWidget:
    header = QWidget()
    row = QHBoxLayout(header)
    row.setContentsMargins(0, 0, 0, 6)
    if icon is not None:
        picture = QLabel()
        picture.setPixmap(kind_icon(icon).pixmap(36, 36))
        row.addWidget(picture)
    text = QLabel(f"<b style='font-size:13pt'>{escape(title)}</b><br><span>{escape(sub)}</span>")
    text.setTextFormat(Qt.TextFormat.RichText)
    text.setWordWrap(True)
    row.addWidget(text, 1)
    return header


def _edge_header(scenario, key: Key) -> tuple[str, str, str | None]:
    """Title and subtitle for a message edge."""
    node = scenario.nodes[key[1]]
    if key[0] == "publish":
        publish = node.publishes[key[2]]
        return (f"{key[1]} → {publish.to}",
                f"publish #{key[2] + 1} of {key[1]}, to queue {publish.queue}: the publisher "
                "waits for the broker's acknowledgement only", None)  # fmt: skip
    if key[0] == "relay":
        return (f"{key[1]} → {node.publish.to}",
                f"how relay {key[1]} publishes the outbox rows (queue {node.publish.queue})",
                None)  # fmt: skip
    if key[0] == "outbox":
        return (
            f"{key[1]} → {node.database}",
            f"relay {key[1]} drains the outbox table of {node.database}",
            "relay",
        )
    return (
        f"{node.broker} → {key[1]}",
        f"consumer {key[1]} takes messages from queue {node.queue}",
        "consumer",
    )
