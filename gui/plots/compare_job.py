"""One comparison running on a background thread, which Cancel can stop. Qt-free.

``run_comparison`` submits every replication to an executor up front and waits
for them. ``ComparisonJob`` hands it a ``CancellableExecutor``, which refuses
further submits as soon as Cancel is pressed (a serial executor runs each task
at submit, so that is between replications).

The default executor is a pool of its own, made to be killed: a dedicated
``loky.ProcessPoolExecutor`` (never the shared, reusable one). Cancel sets a
flag and returns at once; the job's watcher thread then shuts the pool down with
``kill_workers=True``, so the pool's manager kills every worker (and anything a
worker started) and fails the futures still pending, and the job's thread ends
in moments. The shutdown goes through the pool's own lock, the one ``submit``
holds while it starts the workers, so a worker cannot be started after the kill
and escape it, and the GUI thread never waits on that lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from simulator.compare import Comparison, comparison_table, judge, run_comparison
from simulator.compare_verdict import Judgement
from simulator.scenario import Scenario
from simulator.sweep import open_executor

WORKER_NICE = 10  # below the GUI: on a busy 2-core machine the app's event loop wins the CPU


class Cancelled(Exception):
    """The user cancelled the comparison."""


class CancellableExecutor(Executor):
    """Passes tasks to ``inner`` until ``cancel()``; then refuses them."""

    def __init__(self, inner: Executor, cancelled: threading.Event | None = None):
        self.inner = inner
        self.cancelled = cancelled or threading.Event()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self.cancelled.is_set():
            raise Cancelled
        return self.inner.submit(fn, *args, **kwargs)

    def cancel(self) -> None:
        self.cancelled.set()


def killable_pool(workers: int | None = None) -> Any:
    """A process pool of its own (not loky's shared one) whose shutdown can kill its workers."""
    from loky import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1,
        initializer=os.nice,  # each worker lowers its own priority as it starts
        initargs=(WORKER_NICE,),
    )


def kill_pool(pool: Any) -> None:
    """Shut ``pool`` down now: kill its workers, fail its pending futures. May block briefly."""
    pool.shutdown(wait=False, kill_workers=True)


class ComparisonJob:
    """``run_comparison`` on a daemon thread; poll ``progress``, ``running`` and the outcome.

    ``executor``: None or ``"local"`` for a killable process pool of the job's own;
    anything ``simulator.sweep.open_executor`` takes otherwise (``"serial"``, Dask,
    an Executor object: those stop between tasks, their running tasks are not killed).
    """

    def __init__(
        self,
        scenario: Scenario,
        varies: list[tuple[str, list[str]]],
        replications: int,
        executor: Any = None,
        workers: int | None = None,
    ):
        self.scenario, self.varies, self.replications = scenario, varies, replications
        self.executor = executor
        runs = max(1, len(varies[0][1]) * replications) if varies else 1
        self.workers = workers or min(os.cpu_count() or 1, runs)
        self.progress = (0, runs)
        self.comparison: Comparison | None = None
        self.rows: list[dict[str, Any]] = []
        self.judgement: Judgement | None = None
        self.error: str | None = None
        self.cancelled = False
        self._cancel = threading.Event()
        self._wrapped: CancellableExecutor | None = None
        self._pool: Any = None  # the killable pool, once the job's thread has made it
        self._killed = False
        self._lock = threading.Lock()  # never taken on the GUI thread
        self._wake = threading.Event()  # the watcher's: Cancel was pressed, or the job is over
        self._thread = threading.Thread(target=self._work, daemon=True, name="murphy-compare")
        self._watcher = threading.Thread(
            target=self._watch, daemon=True, name="murphy-compare-cancel"
        )

    def start(self) -> None:
        self._watcher.start()
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop as soon as possible, without blocking; ``running`` turns False when done.

        Safe from the GUI thread at any moment: before the pool exists, while its
        workers start, mid-run, or after the end.
        """
        self._cancel.set()
        self._wake.set()  # two flags: no lock to wait for, no thread to start

    def _watch(self) -> None:
        """The watcher thread: kills the pool when Cancel is pressed; ends with the job."""
        self._wake.wait()
        if self._cancel.is_set():
            self._kill()

    def _kill(self) -> None:
        """Kill the pool, if there is one yet (the pool's lock may make this wait a moment)."""
        with self._lock:
            pool = None if self._killed else self._pool
            self._killed |= pool is not None
        if pool is not None:
            kill_pool(pool)

    def _executor(self) -> AbstractContextManager[Any]:
        if self.executor not in (None, "local"):
            return open_executor(self.executor)
        pool = killable_pool(self.workers)
        with self._lock:
            self._pool = pool
            kill_now = self._cancel.is_set() and not self._killed
            self._killed |= kill_now
        if kill_now:  # cancelled while the pool was being made: the cancel thread missed it
            kill_pool(pool)
        return nullcontext(pool)

    def _work(self) -> None:
        """The thread's body, for every job: run ``_compute`` over a cancellable pool, then
        say how it ended (results, ``cancelled`` or ``error``); the pool always goes."""
        try:
            if self._cancel.is_set():
                raise Cancelled
            with self._executor() as inner:
                self._wrapped = CancellableExecutor(inner, self._cancel)
                self._compute(self._wrapped)
        except Exception as exc:  # shown in the dialog; the app carries on
            if self._cancel.is_set():
                self.cancelled = True
                self._discard()
            else:  # a ValueError is the user's input (a bad value): its message says enough
                self.error = str(exc) if isinstance(exc, ValueError) else (
                    f"{type(exc).__name__}: {exc}")  # fmt: skip
        finally:
            self._release_pool()
            self._wake.set()  # the watcher ends too

    def _compute(self, executor: Executor) -> None:
        """Run the experiment on ``executor`` and keep its results (a subclass: its own)."""
        self.comparison = run_comparison(
            self.scenario, self.varies, self.replications,
            executor=executor, progress=self._on_progress,
        )  # fmt: skip
        self.rows = comparison_table(self.comparison)
        self.judgement = judge(self.comparison, self.rows)

    def _discard(self) -> None:
        """Cancelled: no partial results are shown."""
        self.comparison = None

    def _release_pool(self) -> None:
        """The comparison is over: the pool's workers go (at once if cancelled)."""
        with self._lock:
            pool, killed = self._pool, self._killed
            self._killed = True
        if pool is None:
            return
        if killed or self._cancel.is_set():
            if not killed:
                kill_pool(pool)
            return
        pool.shutdown(wait=True)  # every task is done: the workers exit at their sentinel

    def _on_progress(self, done: int, total: int) -> None:
        self.progress = (done, total)  # read by the GUI thread's timer
