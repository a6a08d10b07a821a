"""Run > Failure-mode report…: ``murphy report --html`` on the open scenario, in the background.

The report runs the scenario and one paired baseline run per fault, which takes
seconds to minutes, so it runs as a child process (``QProcess``) on the scenario as
it stands in the editor (saved or not, written to a temporary file): the app stays
responsive, and a report that fails shows the command's own error message. It
writes ``NAME.md`` and ``NAME.html`` (the page with the plots) where the user chose.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

import simulator
from simulator.scenario import Scenario, dump_scenario

PACKAGE_ROOT = Path(simulator.__file__).resolve().parent.parent
"""Where ``python -m simulator.cli`` finds this very copy of the engine."""


def report_paths(target: Path) -> tuple[Path, Path]:
    """The Markdown and HTML files the report writes for a chosen ``target`` name."""
    return target.with_suffix(".md"), target.with_suffix(".html")


class ReportJob(QObject):
    """One ``murphy report --html -o TARGET`` in a child process; at most one at a time."""

    finished = Signal(list)  # [markdown path, html path]
    failed = Signal(str)  # what the command said

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.process: QProcess | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._target: Path | None = None

    @property
    def running(self) -> bool:
        return self.process is not None

    def start(self, scenario: Scenario, target: Path) -> None:
        """Write ``scenario`` to a temporary file and start the report on it."""
        if self.running:
            raise RuntimeError("a report is already running")
        self._folder = tempfile.TemporaryDirectory(prefix="murphy-report-")
        source = Path(self._folder.name) / "scenario.yaml"
        source.write_text(dump_scenario(scenario), encoding="utf-8")
        self._target = target
        process = QProcess(self)
        process.setWorkingDirectory(str(PACKAGE_ROOT))
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self.process = process
        args = ["-m", "simulator.cli", "report", str(source), "--html", "-o", str(target)]
        process.start(sys.executable, args)

    def cancel(self) -> None:
        """Stop a running report (the app is closing); nothing is reported."""
        process = self.process
        if process is None:
            return
        process.finished.disconnect(self._on_finished)
        process.errorOccurred.disconnect(self._on_error)
        process.kill()
        process.waitForFinished(3000)
        self._done()

    def _on_finished(self, code: int, _status: Any) -> None:
        process, target = self.process, self._target
        assert process is not None and target is not None
        error = bytes(process.readAllStandardError().data()).decode("utf-8", "replace")
        self._done()
        if code == 0:
            self.finished.emit(list(report_paths(target)))
        else:
            lines = [line for line in error.splitlines() if line.strip()]
            self.failed.emit("\n".join(lines[-20:]) or f"the report stopped with status {code}")

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._done()
            self.failed.emit(f"could not start {sys.executable}")

    def _done(self) -> None:
        if self.process is not None:
            self.process.deleteLater()
        self.process = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


class ReportCommand(QObject):
    """The menu action, its question (where to save) and what the status bar says."""

    def __init__(self, session: Any, menu: QMenu):
        super().__init__(session)
        self.session = session
        self.window = session.window
        self.job = ReportJob(self)
        self.action: QAction = menu.addAction("Failure-mode report…")
        self.action.setStatusTip(
            "Run the scenario with a paired baseline per fault and save the FMEA report "
            "as Markdown and HTML"
        )
        self.action.triggered.connect(lambda _checked=False: self.request())
        self.job.finished.connect(self._on_finished)
        self.job.failed.connect(self._on_failed)

    def request(self) -> Path | None:
        """Ask where, then start the report; the chosen name without its suffix."""
        if self.job.running:
            return None
        path = self.session.save_path(
            "Save failure-mode report (Markdown, with the HTML page beside it)",
            "report.md",
            "Markdown (*.md)",
        )
        if path is None:
            return None
        self.job.start(self.window.document.scenario, Path(path))
        self.action.setEnabled(False)
        self.window.statusBar().showMessage(
            "Failure-mode report: running the scenario and its paired baselines…"
        )
        return Path(path)

    def shutdown(self) -> None:
        self.job.cancel()

    def _on_finished(self, paths: list[Path]) -> None:
        self.action.setEnabled(True)
        names = " and ".join(str(p) for p in paths)
        self.window.statusBar().showMessage(f"Saved the failure-mode report: {names}", 10_000)

    def _on_failed(self, message: str) -> None:
        self.action.setEnabled(True)
        self.window.statusBar().clearMessage()
        self.window.dialogs.error("The failure-mode report failed", message)
