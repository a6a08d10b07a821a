"""The inspector: the selected node, call or fault, or the scenario's settings when none is.

It rebuilds its form in answer to the document's signals and to the selection,
once per event-loop turn however many signals arrive, and keeps the focused
field and the scroll position across rebuilds.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gui.document import ScenarioDocument
from gui.edits import EditError, Path
from gui.icons import KIND_LABELS, kind_icon
from gui.inspector.form import ModelForm
from gui.selection import Key, Selection


def path_of(key: Key | None) -> Path:
    """The scenario path a selection key edits."""
    if key is None:
        return ()
    if key[0] == "node":
        return ("nodes", key[1])
    if key[0] == "call":
        return ("nodes", key[1], "calls", key[2])
    return ("faults", key[1])


class InspectorPanel(QScrollArea):
    """Generated property editors for whatever is selected."""

    def __init__(self, document: ScenarioDocument, selection: Selection, parent=None):
        super().__init__(parent)
        self.document, self.selection = document, selection
        self.form: ModelForm | None = None
        self.setWidgetResizable(True)
        self.setMinimumWidth(340)
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
        """Build the form for the current selection, keeping focus and scroll position."""
        self._pending = False
        focused = self.focusWidget()
        focus_name = (
            focused.objectName() if focused is not None and self.isAncestorOf(focused) else ""
        )
        scroll = self.verticalScrollBar().value()
        content = QWidget()
        column = QVBoxLayout(content)
        self.form = None
        key = self._valid_key()
        column.addWidget(self._header(key))
        if len(self.selection.keys) > 1:
            column.addWidget(QLabel(f"{len(self.selection.keys)} items selected."))
        else:
            self.form = ModelForm(self.document, path_of(key))
            if key is not None and key[0] == "node":
                self.form.layout().insertRow(0, "name", self._name_cell(key[1]))
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
        if (
            key[0] == "call"
            and key[1] in scenario.nodes
            and key[2] < len(scenario.nodes[key[1]].calls)
        ):
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
            title, sub, icon = key[1], KIND_LABELS[kind], kind
            sub = f"{sub} — {(type(scenario.nodes[key[1]]).__doc__ or '').split(chr(10))[0]}"
        elif key[0] == "call":
            call = scenario.nodes[key[1]].calls[key[2]]
            title, sub, icon = f"{key[1]} → {call.to}", f"call #{key[2] + 1} of {key[1]}", None
        else:
            fault = scenario.faults[key[1]]
            title, sub, icon = f"{fault.kind} fault", (type(fault).__doc__ or "").strip(), None
        return _header_widget(title, sub, icon)

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
