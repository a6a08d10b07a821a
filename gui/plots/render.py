"""Draw the live plots in a separate process and hand back finished pixels. Qt-free.

Rendering one plot with Agg costs 40–150 ms on a small machine. On the GUI
thread that is a stall on every refresh; on a thread of the GUI process it is
worse than it looks, because every Python call the GUI makes (each paint of a
canvas item) then waits for the GIL. So plots render in a child process
("spawn") started on first use: the GUI thread only pickles the data a plot
needs and later copies its pixels. One job is in flight at a time and only the
newest request per plot waits, so a slow plot skips frames instead of queueing.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gui.run.worker import lower_priority


@dataclass
class Rendered:
    key: str
    pixels: np.ndarray | None  # height × width × 4, RGBA
    error: str | None = None
    serial: int = 0


def _columns_for(kind: str, data: Any) -> Any:
    """Only the columns plot ``kind`` reads: less to pickle on the GUI thread."""
    wanted = {
        "latency": (".p50_ms", ".p99_ms"),
        "throughput": (
            ".goodput",
            ".failed",
            ".arrivals",
            ".errors",
            ".rejected",
            ".requests",
            ".attempts",
            ".failures",
        ),
        "pools": (".utilization", ".queue"),
        "breakers": (),
        "messages": (".depth", ".lag_s", ".pending"),
        "resources": (".in_use", ".waiters", ".memory_mb"),
    }[kind]
    prefixes = {"messages": ("queue.", "outbox."), "resources": ("pool.", "node.")}.get(kind, ("",))
    columns = {k: v for k, v in data.columns.items()
               if k == "time_s" or (k.endswith(wanted) and k.startswith(prefixes))}  # fmt: skip
    return replace(data, columns=columns)


def render_loop(conn: Any) -> None:
    """The child: render jobs until told to stop (None) or the parent goes away."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gui.plots.figures import build

    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        key, serial, kind, data, width, height = job
        try:
            canvas = FigureCanvasAgg(build(kind, data, width, height))
            canvas.draw()
            pixels = np.asarray(canvas.buffer_rgba()).copy()
            conn.send(Rendered(key, pixels, serial=serial))
        except Exception as exc:  # a plot that cannot draw says so; the app carries on
            conn.send(Rendered(key, None, f"{type(exc).__name__}: {exc}", serial))


class RenderProcess:
    """The parent's side: ``submit`` jobs, ``take`` results; never blocks."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[int, str, Any, int, int]] = {}
        self._busy = False
        self._serial = 0
        self._conn: Any = None
        self._process: Any = None

    def warm_up(self) -> None:
        """Start the renderer now (it takes a second or two to import matplotlib)."""
        if self._process is None or not self._process.is_alive():
            self._start()

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=True)
        self._process = ctx.Process(target=render_loop, args=(child,), daemon=True,
                                    name="murphy-plots")  # fmt: skip
        self._process.start()
        lower_priority(self._process.pid)
        child.close()

    def submit(self, key: str, kind: str, data: Any, width: int, height: int) -> int:
        """Replace any waiting job for ``key``."""
        self._serial += 1
        self._pending.pop(key, None)
        self._pending[key] = (self._serial, kind, _columns_for(kind, data), width, height)
        self._send_next()
        return self._serial

    def _send_next(self) -> None:
        if self._busy or not self._pending:
            return
        if self._process is None or not self._process.is_alive():
            self._start()
        key = next(iter(self._pending))
        serial, kind, data, width, height = self._pending.pop(key)
        self._conn.send((key, serial, kind, data, width, height))
        self._busy = True

    def take(self) -> list[Rendered]:
        """Results that have arrived (the GUI thread polls this)."""
        out: list[Rendered] = []
        if self._conn is None:
            return out
        try:
            while self._conn.poll(0):
                out.append(self._conn.recv())
                self._busy = False
        except (EOFError, OSError):  # the renderer died: the next submit starts another
            self._busy = False
            self._conn = self._process = None
        self._send_next()
        return out

    @property
    def idle(self) -> bool:
        return not self._busy and not self._pending

    def close(self) -> None:
        self._pending.clear()
        if self._process is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(None)
        self._process.join(0.5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(0.5)
        self._conn.close()
        self._conn = self._process = None
