"""Start, steer and listen to a simulation running in a child process, from the GUI thread.

The child is started with the "spawn" context and gets the (immutable) Scenario
pickled, so the run uses the document as it was at Run and shares nothing with the
editor; pickling it takes a millisecond where writing YAML took 20–50 ms on the GUI
thread for a 50-node drawing.
A QTimer drains the pipe on the GUI thread without ever blocking; several frames
arriving in one tick become one ``snapshot_ready``. Stop asks politely, then
terminates the process if it has not answered within ``STOP_GRACE`` seconds
(``stop_forced`` says which). While paused the child beats (``paused_at``,
``pause_beats``): it is alive, and its clock holds.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from gui.run.record import RunRecord
from gui.run.worker import lower_priority, run_worker
from simulator.scenario import Scenario

IDLE, STARTING, RUNNING, PAUSED, STOPPING = "idle", "starting", "running", "paused", "stopping"
ANALYSING, FINISHED, STOPPED, FAILED = "analysing", "finished", "stopped", "failed"
LIVE = frozenset({STARTING, RUNNING, PAUSED, STOPPING})
POLL_MS = 25
READ_BUDGET = 0.008  # wall seconds of unpickling per tick, at most; the rest waits a tick
STOP_GRACE = 0.3


class RunController(QObject):
    """One run at a time; its frames accumulate in ``record``."""

    state_changed = Signal(str)
    started = Signal()
    snapshot_ready = Signal(dict)
    finished = Signal(dict)
    analysing = Signal()
    blast_progress = Signal(int, int, str)  # i of n paired runs, the fault's label
    blast_ready = Signal(list)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None, *, blast: bool = True):
        super().__init__(parent)
        self.blast = blast
        self.state = IDLE
        self.record = RunRecord()
        self.error: str | None = None
        self.speed: float | None = None
        self.stop_requested_at: float | None = None
        self.stopped_after: float | None = None  # wall seconds from Stop to stopped
        self.stop_forced = False  # the child did not answer Stop in time: it was terminated
        self.paused_at: float | None = None  # the simulated time the child paused at
        self.pause_beats = 0  # heartbeats received from the paused child
        self._process: Any = None
        self._conn: Any = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_poll_timeout)
        self._grace = QTimer(self)  # Stop's patience with this run (never a later run's)
        self._grace.setSingleShot(True)
        self._grace.timeout.connect(self._on_stop_grace_timeout)

    @property
    def is_live(self) -> bool:
        return self.state in LIVE

    @property
    def pid(self) -> int | None:
        """The child process's id while there is one."""
        return self._process.pid if self._process is not None else None

    # -- commands --------------------------------------------------------------------------

    def start(self, scenario: Scenario, seed: int | None = None) -> None:
        """Run ``scenario`` (a snapshot: later edits to the document do not reach it)."""
        if self.is_live:
            raise RuntimeError("a run is already live")
        self._close()
        self.record = RunRecord()
        self.error = None
        self.stop_requested_at = self.stopped_after = self.paused_at = None
        self.stop_forced, self.pause_beats = False, 0
        ctx = multiprocessing.get_context("spawn")
        parent_end, child_end = ctx.Pipe(duplex=True)
        args = (child_end, scenario, seed, self.speed, self.blast)
        self._process = ctx.Process(target=run_worker, args=args, daemon=True, name="murphy-run")
        self._conn = parent_end
        self._set_state(STARTING)
        try:
            self._process.start()
            lower_priority(self._process.pid)
        except Exception as exc:  # e.g. no process can be started: say so, keep the editor
            self._process = None
            self._fail(f"Could not start the simulation process: {exc}", "")
            return
        finally:
            child_end.close()
        self._timer.start()

    def pause(self) -> None:
        if self.state in (RUNNING, STARTING):
            self._send("pause")
            self._set_state(PAUSED)

    def resume(self) -> None:
        if self.state == PAUSED:
            self.paused_at = None
            self._send("resume")
            self._set_state(RUNNING)

    def set_speed(self, speed: float | None) -> None:
        """Simulated seconds per wall second; None runs as fast as possible."""
        self.speed = speed
        if self.is_live:
            self._send("speed", speed)

    def stop(self) -> None:
        """Ask the run to stop; terminate the process if it has not within STOP_GRACE."""
        if self.state == ANALYSING:  # the run itself is complete: skip only the analysis
            self._kill()
            self._close()
            self._set_state(FINISHED)
            self.finished.emit(self.record.summary or {})
            return
        if not self.is_live or self.state == STOPPING:
            return
        self.stop_requested_at = time.perf_counter()
        self._send("stop")
        self._set_state(STOPPING)
        self._grace.start(int(STOP_GRACE * 1000))

    def reset(self) -> None:
        """Forget the run (stopping it first)."""
        if self.is_live or self.state == ANALYSING:
            self._kill()
        self._close()
        self.record = RunRecord()
        self.error = None
        self._set_state(IDLE)

    def shutdown(self) -> None:
        """The app is closing: the child goes, at once."""
        self._kill()
        self._close()

    # -- the pipe ----------------------------------------------------------------------------

    def _send(self, kind: str, value: Any = None) -> None:
        try:
            if self._conn is not None:
                self._conn.send((kind, value))
        except (OSError, ValueError):
            pass  # the child is gone; the poll notices and says why

    def _on_poll_timeout(self) -> None:
        if self._conn is None:
            self._timer.stop()
            return
        deadline = time.perf_counter() + READ_BUDGET
        fresh = False
        try:
            while self._conn is not None and self._conn.poll(0):
                kind, payload = self._conn.recv()
                fresh |= self._handle(kind, payload)
                if time.perf_counter() > deadline:
                    break
        except (EOFError, OSError):
            self._on_child_gone()
        if fresh and self.record.latest is not None:
            self.snapshot_ready.emit(self.record.latest)
        if self._child_died_silently():
            self._on_child_gone()

    def _child_died_silently(self) -> bool:
        """The process is gone and its last words (if any) have been read."""
        process, conn = self._process, self._conn
        if conn is None or process is None or process.is_alive():
            return False
        return not conn.poll(0)

    def _handle(self, kind: str, payload: Any) -> bool:
        if kind == "snapshot":
            self.record.add_frame(payload)
            return True
        if kind == "ready":
            self.record.start(payload)
            if self.state == STARTING:
                self._set_state(RUNNING)
            self.started.emit()
        elif kind == "paused":
            if self.state == PAUSED:  # not a beat sent just before a resume arrived
                self.paused_at = payload
                self.pause_beats += 1
        elif kind == "finished":
            self.record.summary = payload
        elif kind == "analysing":
            self._set_state(ANALYSING)
            self.analysing.emit()
        elif kind == "blast_progress":
            self.blast_progress.emit(*payload)
        elif kind == "blast":
            self.record.blast = payload
            self.blast_ready.emit(payload)
        elif kind == "done":
            self._close()
            self._set_state(FINISHED)
            self.finished.emit(self.record.summary or {})
        elif kind == "stopped":
            self._finish_stopped()
        elif kind == "error":
            self._fail(payload["message"], payload.get("traceback", ""))
        return False

    def _on_child_gone(self) -> None:
        if self.state == STOPPING:
            self._finish_stopped()
            return
        code = self._process.exitcode if self._process is not None else None
        self._fail(f"The simulation process ended unexpectedly (exit code {code}).", "")

    def _on_stop_grace_timeout(self) -> None:
        if self.state == STOPPING:
            self.stop_forced = self._process is not None and self._process.is_alive()
            self._finish_stopped()

    def _finish_stopped(self) -> None:
        self._kill()
        self._close()
        if self.stop_requested_at is not None:
            self.stopped_after = time.perf_counter() - self.stop_requested_at
        self._set_state(STOPPED)

    def _fail(self, message: str, details: str) -> None:
        self._kill()
        self._close()
        self.error = message if not details else f"{message}\n\n{details}"
        self._set_state(FAILED)
        self.failed.emit(message)

    # -- the process -----------------------------------------------------------------------

    def _kill(self) -> None:
        """Terminate the child if it is still there; never wait more than a moment."""
        process = self._process
        if process is None:
            return
        if process.is_alive():
            process.terminate()
            process.join(0.2)
            if process.is_alive():
                process.kill()
                process.join(0.2)
        else:
            process.join(0)

    def _close(self) -> None:
        self._timer.stop()
        self._grace.stop()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None and not self._process.is_alive():
            self._process.close()
            self._process = None

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)
