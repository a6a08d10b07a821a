"""File → Import Resilience Settings…: resilience4j or Envoy settings onto a call.

A thin view over ``simulator.importers``: the user picks a file, the instance
(or cluster) and the target call or balancer; the report (what is set, the
tool's defaults used, what is not modelled, unknown fields) is shown before
anything changes, and Apply pushes the result as one undoable edit.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.document import ScenarioDocument
from simulator.importers import (
    CannotImport,
    Imported,
    envoy_clusters,
    import_settings,
    resilience4j_instances,
)
from simulator.importers.apply import describe_target
from simulator.scenario_nodes import Balancer, call_edge_names

__all__ = ["ImportDialog"]

SOURCES = {
    "resilience4j": "resilience4j (Spring Boot application.yml)",
    "envoy": "Envoy (bootstrap, clusters or one cluster; YAML or JSON)",
}
_NONE = "(none)"


class ImportDialog(QDialog):
    """Choose a file and a target, read the report, apply."""

    def __init__(self, document: ScenarioDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Import Resilience Settings")
        self.document = document
        self.imported: Imported | None = None
        self.source = QComboBox(objectName="import:source")
        for key, label in SOURCES.items():
            self.source.addItem(label, key)
        self.path = QLineEdit(objectName="import:path")
        self.path.setPlaceholderText("a configuration file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.path, 1)
        file_row.addWidget(browse)
        self.name = QComboBox(objectName="import:name")
        self.name_label = QLabel("Instance")
        self.call = QComboBox(objectName="import:call")
        self.balancer = QComboBox(objectName="import:balancer")
        self._fill_targets()
        self.report = QPlainTextEdit(objectName="import:report")
        self.report.setReadOnly(True)
        self.report.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.report.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Apply | QDialogButtonBox.StandardButton.Cancel
        )
        self.apply_button = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.apply_button.setObjectName("import:apply")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self._on_apply)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Source", self.source)
        form.addRow("File", file_row)
        form.addRow(self.name_label, self.name)
        form.addRow("Onto the call", self.call)
        form.addRow("And the balancer", self.balancer)
        column = QVBoxLayout(self)
        column.addLayout(form)
        column.addWidget(QLabel("What the import does (nothing changes until Apply):"))
        column.addWidget(self.report, 1)
        column.addWidget(self.buttons)
        self._preview_timer = QTimer(self, singleShot=True, interval=150)
        self._preview_timer.timeout.connect(self.preview)
        self.source.currentIndexChanged.connect(self._on_file_changed)
        self.path.textChanged.connect(self._on_file_changed)
        for combo in (self.name, self.call, self.balancer):
            combo.currentIndexChanged.connect(self._preview_timer.start)
        self._call_chosen = False  # by the user: then the instance's name no longer picks it
        self.call.activated.connect(self._on_call_chosen)
        self.name.currentTextChanged.connect(self._on_name_changed)
        self.resize(900, 620)
        self._on_file_changed()

    # -- choices ----------------------------------------------------------------------------

    def _fill_targets(self) -> None:
        scenario = self.document.scenario
        self.call.addItem(_NONE, None)
        for name, node in scenario.nodes.items():
            for edge in call_edge_names(name, node.calls):
                self.call.addItem(edge, edge)
        self.balancer.addItem(_NONE, None)
        for name, node in scenario.nodes.items():
            if isinstance(node, Balancer):
                self.balancer.addItem(name, name)
        if self.call.count() > 1:
            self.call.setCurrentIndex(1)

    def _on_call_chosen(self) -> None:
        self._call_chosen = True

    def _on_name_changed(self, name: str) -> None:
        """An instance or cluster named like a node: the call to that node, unless chosen."""
        if self._call_chosen or not name:
            return
        for index in range(self.call.count()):
            edge = self.call.itemData(index)
            if isinstance(edge, str) and edge.split("->", 1)[1].split("#")[0] == name:
                self.call.setCurrentIndex(index)
                return

    def _on_browse(self) -> None:
        start = self.path.text() or str(Path.home())
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Configuration file", start, "YAML or JSON (*.yml *.yaml *.json);;All (*)"
        )
        if chosen:
            self.path.setText(chosen)

    def _on_file_changed(self) -> None:
        """A new file or source: list its instances (or clusters), then preview."""
        envoy = self.source.currentData() == "envoy"
        self.name_label.setText("Cluster" if envoy else "Instance")
        self.balancer.setEnabled(envoy)
        self.name.blockSignals(True)
        self.name.clear()
        path = self.path.text().strip()
        if path and Path(path).is_file():
            try:
                names = envoy_clusters(path) if envoy else resilience4j_instances(path)
            except Exception:
                names = []
            self.name.addItems(names)
        self.name.blockSignals(False)
        self._on_name_changed(self.name.currentText())
        self._preview_timer.start()

    # -- preview and apply ------------------------------------------------------------------

    def preview(self) -> None:
        """Import in memory and show the report; Apply only when it worked."""
        self._preview_timer.stop()
        self.imported = None
        self.apply_button.setEnabled(False)
        path = self.path.text().strip()
        if not path:
            self.report.setPlainText("Choose a configuration file.")
            return
        envoy = self.source.currentData() == "envoy"
        name = self.name.currentText() or None
        try:
            imported = import_settings(
                self.document.scenario,
                "envoy" if envoy else "resilience4j",
                path,
                call=self.call.currentData(),
                balancer=self.balancer.currentData() if envoy else None,
                instance=None if envoy else name,
                cluster=name if envoy else None,
            )
        except CannotImport as exc:
            self.report.setPlainText(f"Cannot import: {exc}")
            return
        except Exception as exc:
            self.report.setPlainText(
                f"Cannot import: an internal error ({type(exc).__name__}: {exc}); please report it"
            )
            return
        lines = imported.result.lines()
        lines += [f"replaced: {line}" for line in imported.changes]
        lines += describe_target(imported.scenario, imported.target).splitlines()
        if imported.scenario == self.document.scenario:
            lines.append("(the scenario already says all of this: nothing to apply)")
        self.report.setPlainText("\n".join(lines))
        self.imported = imported
        self.apply_button.setEnabled(imported.scenario != self.document.scenario)

    def _on_apply(self) -> None:
        if self.imported is None:
            return
        where = self.imported.target.edge(self.document.scenario) or self.imported.target.balancer
        text = f"Import {self.imported.result.source} settings onto {where}"
        self.document.import_settings(self.imported.scenario, text)
        self.accept()

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        """Return in the path field previews instead of closing the dialog."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.path.hasFocus():
            self.preview()
            return
        super().keyPressEvent(event)
