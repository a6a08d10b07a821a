"""One comparison running on a background thread, which Cancel can stop. Qt-free.

``run_comparison`` submits every replication to an executor up front and waits
for them. ``ComparisonJob`` hands it a ``CancellableExecutor``: after Cancel it
refuses further submits (a serial executor runs each task at submit, so that is
between replications), cancels the tasks still queued in a process pool and
terminates the runs in progress, so the thread ends in moments and the
dialog's Run button comes back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any

from simulator.compare import Comparison, comparison_table, run_comparison
from simulator.scenario import Scenario
from simulator.sweep import open_executor


class Cancelled(Exception):
    """The user cancelled the comparison."""


class CancellableExecutor(Executor):
    """Passes tasks to ``inner`` until ``cancel()``; then refuses them and stops the rest."""

    def __init__(self, inner: Executor):
        self.inner = inner
        self.cancelled = threading.Event()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self.cancelled.is_set():
            raise Cancelled
        return self.inner.submit(fn, *args, **kwargs)

    def cancel(self) -> None:
        self.cancelled.set()
        pool = self.inner
        if isinstance(pool, ProcessPoolExecutor):
            # The pool's own shutdown waits for running tasks; a comparison can take
            # minutes, so its workers are terminated (Python 3.14 has terminate_workers()).
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()


class ComparisonJob:
    """``run_comparison`` on a daemon thread; poll ``progress``, ``running`` and the outcome."""

    def __init__(
        self,
        scenario: Scenario,
        varies: list[tuple[str, list[str]]],
        replications: int,
        executor: Any = None,
    ):
        self.scenario, self.varies, self.replications = scenario, varies, replications
        self.executor = executor
        self.progress = (0, max(1, len(varies[0][1]) * replications) if varies else 1)
        self.comparison: Comparison | None = None
        self.rows: list[dict[str, Any]] = []
        self.error: str | None = None
        self.cancelled = False
        self._cancel = threading.Event()
        self._wrapped: CancellableExecutor | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, daemon=True, name="murphy-compare")

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def cancel(self) -> None:
        """Stop as soon as possible; ``running`` turns False when the thread has ended."""
        with self._lock:
            self._cancel.set()
            if self._wrapped is not None:
                self._wrapped.cancel()

    def _work(self) -> None:
        try:
            with open_executor(self.executor) as inner:
                with self._lock:
                    self._wrapped = CancellableExecutor(inner)
                    if self._cancel.is_set():
                        self._wrapped.cancel()
                self.comparison = run_comparison(
                    self.scenario, self.varies, self.replications,
                    executor=self._wrapped, progress=self._on_progress,
                )  # fmt: skip
            self.rows = comparison_table(self.comparison)
        except Exception as exc:  # shown in the dialog; the app carries on
            if self._cancel.is_set():
                self.cancelled, self.comparison = True, None
            else:
                self.error = f"{type(exc).__name__}: {exc}"

    def _on_progress(self, done: int, total: int) -> None:
        self.progress = (done, total)  # read by the GUI thread's timer
