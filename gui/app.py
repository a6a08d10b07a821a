"""The Qt application: Fusion style with the system palette (so dark mode follows the system)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow


def create_app(argv: list[str] | None = None) -> QApplication:
    """The one QApplication, named so QSettings and the recovery folder have a home."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName("Murphy")
    app.setApplicationName("Murphy")
    app.setStyle("Fusion")
    return app  # type: ignore[return-value]


def run(path: Path | None) -> int:
    """Open the main window on ``path`` (after offering back any crash recovery) and run."""
    app = create_app()
    window = MainWindow()
    recovered = window.files.offer_recovery()
    if not recovered and path is not None:
        window.files.open(path)
    window.show()
    window.canvas_view.fit()
    return app.exec()
