"""Every question the app asks the user, behind one object that tests replace.

The real ``Dialogs`` shows modal Qt dialogs; tests pass a scripted stand-in so
nothing blocks and every question asked can be asserted.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

FILTER = "Murphy scenarios (*.yaml *.yml);;All files (*)"


class Dialogs:
    """Modal dialogs parented to the main window."""

    def __init__(self, parent: QWidget | None = None):
        self.parent = parent

    def error(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Critical, title, title, parent=self.parent)
        box.setInformativeText(text)
        box.exec()

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
