"""Draw matplotlib figures on a background thread and hand back finished pixels. Qt-free.

Rendering one plot with Agg costs 40–150 ms on a small machine: on the GUI
thread that is a visible stall on every refresh. Here the GUI thread only
submits plain data and later copies the pixels; the render thread holds the
GIL in slices (Python switches threads every few milliseconds), so the event
loop keeps ticking. Only the newest request per plot is kept: a plot that
falls behind skips frames instead of queueing them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


@dataclass
class Rendered:
    key: str
    pixels: np.ndarray | None  # height × width × 4, RGBA
    error: str | None = None
    serial: int = 0


class RenderThread:
    """One daemon thread drawing the latest job of each key, in submission order."""

    def __init__(self) -> None:
        self._jobs: dict[str, tuple[int, Callable[[], Figure]]] = {}
        self._done: dict[str, Rendered] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._serial = 0
        self._busy = False
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="murphy-plots", daemon=True)
        self._thread.start()

    def submit(self, key: str, build: Callable[[], Figure]) -> int:
        """Replace any pending job for ``key``; ``build`` runs on the render thread."""
        with self._lock:
            self._serial += 1
            self._jobs.pop(key, None)
            self._jobs[key] = (self._serial, build)
            self._wake.notify()
            return self._serial

    def take(self) -> list[Rendered]:
        """Finished renders since the last call (the GUI thread polls this)."""
        with self._lock:
            out = list(self._done.values())
            self._done.clear()
        return out

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._jobs and not self._busy

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._jobs.clear()
            self._wake.notify()
        self._thread.join(timeout=2)

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._jobs and not self._closing:
                    self._wake.wait()
                if self._closing:
                    return
                key = next(iter(self._jobs))
                serial, build = self._jobs.pop(key)
                self._busy = True
            result = _render(key, build, serial)
            with self._lock:
                self._busy = False
                self._done[key] = result


def _render(key: str, build: Callable[[], Figure], serial: int) -> Rendered:
    try:
        figure = build()
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba()).copy()
        return Rendered(key, pixels, serial=serial)
    except Exception as exc:  # a plot that cannot draw says so; the app carries on
        return Rendered(key, None, f"{type(exc).__name__}: {exc}", serial)
