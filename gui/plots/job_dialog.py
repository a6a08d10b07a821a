"""What the compare, map and breaking-point dialogs share: one background job at a time.

Each dialog builds its own job (a ``ComparisonJob`` or a subclass: a thread over a
killable process pool), and its own widgets; this mixin starts the job, polls its
progress every 100 ms, cancels it (from Cancel, from closing the dialog, from the
app's shutdown) and, once it has ended, says how, then hands the finished job to
the dialog's ``_job_succeeded``. Saving goes through ``_saved``, which reports
where the files went or why they could not be written, never raising.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QProgressBar, QPushButton, QSpinBox

__all__ = ["JobDialogMixin"]

POLL_MS = 100


class JobDialogMixin:
    """Mixed into a ``QDialog`` with a ``status`` label, a ``done`` signal, ``start``,
    ``save_figure``, ``export`` and ``_enable_exports``; ``_job_controls`` builds the
    buttons and progress bar. ``JOB_WORK`` names what the job's progress counts
    ("simulations") and ``JOB_NAME`` what fails ("comparison")."""

    JOB_WORK = "simulations"
    JOB_NAME = "run"

    job: Any = None
    error: str | None = None
    cancelled: bool = False
    status: Any  # the dialog's own label
    done: Any  # the dialog's own signal

    def _job_controls(self, run_label: str, what: str, figure: str, stem: str) -> None:
        """Replications, Run, Cancel, Save figure, Export and the progress bar, wired:
        ``what`` the job stops ("comparison"), ``figure`` what is saved ("figure"),
        ``stem`` the exported files' name ("compare")."""
        self.replications = QSpinBox()
        self.replications.setRange(1, 50)
        self.replications.setValue(3)
        self.run_button = QPushButton(run_label)
        self.run_button.clicked.connect(self.start)  # type: ignore[attr-defined]
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(f"Stop the {what}: runs in progress are abandoned")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.figure_button = QPushButton("Save figure…")
        self.figure_button.setToolTip(f"The {figure} as PNG or SVG (by the file's suffix)")
        self.figure_button.clicked.connect(self.save_figure)  # type: ignore[attr-defined]
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(f"{stem}.png, .svg, .csv and .json into a folder")
        self.export_button.clicked.connect(self.export)  # type: ignore[attr-defined]
        self.progress = QProgressBar()

    def _init_job_polling(self) -> None:
        self._timer = QTimer(self)  # type: ignore[arg-type]
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_poll_timeout)

    def _launch(self, job: Any, message: str) -> None:
        """Start ``job`` and follow it; the dialog has reset its own results."""
        self.error, self.cancelled = None, False
        self.job = job
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._enable_exports()
        self.status.setText(message)
        job.start()
        self._timer.start()

    def cancel(self) -> None:
        """Stop the running job; the dialog says so when its thread has ended."""
        if self.job is None:
            return
        self.job.cancel()
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling…")

    @property
    def running(self) -> bool:
        return self.job is not None

    def _show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _on_poll_timeout(self) -> None:
        job = self.job
        if job is None:
            self._timer.stop()
            return
        done, total = job.progress
        self._show_progress(done, total)
        if job.running:
            return
        self.job = None
        self._timer.stop()
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.error, self.cancelled = job.error, job.cancelled
        if job.cancelled:
            self.status.setText(self._cancelled_text(done, total))
        elif job.error is not None:
            self.status.setText(f"The {self.JOB_NAME} failed: {job.error}")
        else:
            self._job_succeeded(job)
        self._job_ended(job)
        self._enable_exports()
        self.done.emit()

    def _cancelled_text(self, done: int, total: int) -> str:
        return f"Cancelled after {done} of {total} {self.JOB_WORK}."

    def _job_succeeded(self, job: Any) -> None:
        """Take the finished job's results and show them."""
        raise NotImplementedError

    def _job_ended(self, job: Any) -> None:
        """After any ending (done, failed or cancelled): nothing unless the dialog needs it."""

    def _enable_exports(self) -> None:
        raise NotImplementedError

    def closeEvent(self, event: Any) -> None:
        if self.job is not None:
            self.job.cancel()  # its runs would otherwise go on using the CPU for nothing
        super().closeEvent(event)  # type: ignore[misc]

    def _save_figure_as(
        self, title: str, name: str, figure: Callable[[], Figure], dpi: int
    ) -> Path | None:
        """Ask where, then save ``figure()``: PNG or SVG by the file's suffix (PNG if neither)."""
        path = self.save_path(title, name, "PNG (*.png);;SVG (*.svg)")  # type: ignore[attr-defined]
        if path is None:
            return None
        if path.suffix.lower() not in (".png", ".svg"):
            path = path.with_suffix(".png")
        drawn = figure()

        def write() -> list[Path]:
            drawn.savefig(path, dpi=dpi if path.suffix.lower() == ".png" else None)
            return [path]

        saved = self._saved(write)
        return saved[0] if saved else None

    def _export_to(self, title: str, write: Callable[[Path], list[Path]]) -> list[Path] | None:
        """Ask for a folder, then write the files into it."""
        folder = self.choose_directory(title)  # type: ignore[attr-defined]
        if folder is None:
            return None
        return self._saved(lambda: write(folder))

    def _saved(self, write: Callable[[], list[Path]]) -> list[Path] | None:
        """Run ``write``; say where the files went, or why they could not be written."""
        try:
            paths = write()
        except (OSError, ValueError) as exc:
            self.status.setText(f"Could not save: {exc}")
            return None
        self.status.setText("Saved " + ", ".join(p.name for p in paths) + f" in {paths[0].parent}")
        return paths
