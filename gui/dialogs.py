"""Every question the app asks the user, behind one object that tests replace.

The real ``Dialogs`` shows modal Qt dialogs; tests pass a scripted stand-in so
nothing blocks and every question asked can be asserted.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QStyle,
    QVBoxLayout,
    QWidget,
)

FILTER = "Murphy scenarios (*.yaml *.yml);;All files (*)"


def error_box(title: str, text: str, parent: QWidget | None = None) -> QDialog:
    """An error as a resizable dialog wide enough for a file's problems, one per line.

    A QMessageBox wraps long lines into a narrow column; here the text is selectable (to copy
    into a report) and scrolls when a file has many problems."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    icon = QLabel()
    size = dialog.style().pixelMetric(QStyle.PixelMetric.PM_MessageBoxIconSize)
    icon.setPixmap(
        dialog.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical).pixmap(size)
    )
    heading = QLabel(f"<b>{escape(title)}</b>")
    body = QPlainTextEdit(text)
    body.setObjectName("error:text")
    body.setReadOnly(True)
    body.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
    buttons.accepted.connect(dialog.accept)
    top = QHBoxLayout()
    top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
    top.addWidget(heading, 1)
    column = QVBoxLayout(dialog)
    column.addLayout(top)
    column.addWidget(body, 1)
    column.addWidget(buttons)
    metrics = body.fontMetrics()
    lines = text.splitlines() or [""]
    widest = max(metrics.horizontalAdvance(line) for line in lines)
    screen = (parent.screen() if parent is not None else dialog.screen()).availableGeometry()
    width = min(max(640, widest + 80), int(screen.width() * 0.9))
    height = min(max(220, metrics.lineSpacing() * (len(lines) + 2) + 120),
                 int(screen.height() * 0.8))  # fmt: skip
    dialog.resize(width, height)
    return dialog


class Dialogs:
    """Modal dialogs parented to the main window."""

    def __init__(self, parent: QWidget | None = None):
        self.parent = parent

    def error(self, title: str, text: str) -> None:
        error_box(title, text, self.parent).exec()

    def ask_save_changes(self, name: str) -> str:
        """'save', 'discard' or 'cancel'."""
        buttons = (
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        answer = QMessageBox.question(
            self.parent,
            "Unsaved changes",
            f"Save the changes to {name}?",
            buttons,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return "save"
        if answer == QMessageBox.StandardButton.Discard:
            return "discard"
        return "cancel"

    def ask_recover(self, original: str, saved_at: str) -> bool:
        answer = QMessageBox.question(
            self.parent,
            "Recover unsaved work",
            f"Murphy found unsaved changes to {original} from {saved_at}, kept when the app "
            "last stopped unexpectedly.\n\nRecover them?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def open_path(self, directory: Path) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open scenario", str(directory), FILTER)
        return Path(path) if path else None

    def save_path(self, suggested: Path) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, "Save scenario", str(suggested), FILTER)
        return Path(path) if path else None
