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

from PySide6.QtCore import QTimer

__all__ = ["JobDialogMixin"]

POLL_MS = 100


class JobDialogMixin:
    """Mixed into a ``QDialog`` with ``run_button``, ``cancel_button``, ``progress``,
    ``status``, a ``done`` signal and ``_enable_exports``; ``JOB_WORK`` names what the
    job's progress counts ("simulations") and ``JOB_NAME`` what fails ("comparison")."""

    JOB_WORK = "simulations"
    JOB_NAME = "run"

    job: Any = None
    error: str | None = None
    cancelled: bool = False
    # Provided by the dialog this is mixed into.
    run_button: Any
    cancel_button: Any
    progress: Any
    status: Any
    done: Any

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

    def _saved(self, write: Callable[[], list[Path]]) -> list[Path] | None:
        """Run ``write``; say where the files went, or why they could not be written."""
        try:
            paths = write()
        except (OSError, ValueError) as exc:
            self.status.setText(f"Could not save: {exc}")
            return None
        self.status.setText("Saved " + ", ".join(p.name for p in paths) + f" in {paths[0].parent}")
        return paths
