"""The run's plots in the app: views fed from the run record on a timer.

Four always; in a column of their own, "messages" (queue depth and lag) for
scenarios with brokers and "resources" (pools, memory) for scenarios with
connection pools or memory limits (``set_extras``).

``PlotPanel`` never draws per event: a timer (``REFRESH_MS``) hands the newest
data to the render thread when something changed, and copies back whatever
finished. Right-click a plot to save it as PNG or SVG.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QGridLayout, QMenu, QSizePolicy, QWidget

from gui.plots.figures import EXTRA_PLOTS, PLOTS, TITLES, PlotData, PlotFilter, build
from gui.plots.render import RenderProcess
from gui.run.record import RunRecord

POLL_MS = 40
REFRESH_MS = 300


class PlotView(QWidget):
    """Shows the last image rendered for one plot; asks for another when resized."""

    resized = Signal()
    save_requested = Signal(str, str)  # kind, "png" | "svg"

    def __init__(self, kind: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.image: QPixmap | None = None
        self.error: str | None = None
        self.frames = 0
        self.setMinimumSize(QSize(260, 170))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip(f"{TITLES[kind]} — right-click to save as PNG or SVG")
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_menu_requested)

    def set_pixels(self, pixels: np.ndarray | None, error: str | None) -> None:
        self.error = error
        if pixels is not None:
            height, width = pixels.shape[:2]
            image = QImage(pixels.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
            # Converted once here, painted many times: a pixmap paints as a plain blit.
            self.image = QPixmap.fromImage(image)
            self.frames += 1
        self.update()

    def clear(self) -> None:
        """Forget the last image: the next run (or none) draws afresh."""
        self.image, self.error = None, None
        self.update()

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        if self.image is not None:
            painter.drawPixmap(0, 0, self.image)  # a new render at this size is on its way
        else:
            painter.setPen(QColor("#6c757d"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             f"{TITLES[self.kind]}\n(run the scenario to see it)")  # fmt: skip
        if self.error:
            painter.setPen(QColor("#c23b3b"))
            painter.drawText(self.rect().adjusted(6, 6, -6, -6), Qt.AlignmentFlag.AlignBottom,
                             f"plot failed: {self.error}")  # fmt: skip
        painter.end()

    def resizeEvent(self, event: object) -> None:
        self.resized.emit()

    def _on_menu_requested(self, pos: object) -> None:
        menu = QMenu(self)
        for fmt in ("png", "svg"):
            action = QAction(f"Save plot as {fmt.upper()}…", menu)
            action.triggered.connect(lambda _=False, f=fmt: self.save_requested.emit(self.kind, f))
            menu.addAction(action)
        menu.popup(self.mapToGlobal(pos))


class PlotPanel(QWidget):
    """Latency, throughput, breakers, pools (and messages) of the current run, at the chosen
    time."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.record: RunRecord | None = None
        self.time: float | None = None  # None: follow the live run
        self.filter = PlotFilter()
        self.views = {kind: PlotView(kind, self) for kind in PLOTS}
        self.on_save: Callable[[str, str], None] | None = None
        self._grid = layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        grid = [k for k in PLOTS if k not in EXTRA_PLOTS]
        for i, kind in enumerate(grid):
            layout.addWidget(self.views[kind], i // 2, i % 2)
        for kind in PLOTS:
            self.views[kind].resized.connect(self.refresh)
            self.views[kind].save_requested.connect(self._on_save_requested)
        self.shown: tuple[str, ...] = tuple(grid)
        for kind in EXTRA_PLOTS:
            self.views[kind].hide()
        self._renderer = RenderProcess()
        self._dirty = False
        self._last_submit = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_tick)
        self._timer.start()

    # -- what to show ------------------------------------------------------------------------

    def warm_up(self) -> None:
        """A run is starting: get the renderer ready while the simulation starts too."""
        self._renderer.warm_up()

    def set_record(self, record: RunRecord | None) -> None:
        self.record = record
        self.time = None
        if record is None:  # no run: the last document's plots must not stay on screen
            for view in self.views.values():
                view.clear()
        self.refresh()

    def set_time(self, t: float | None) -> None:
        self.time = t
        self.refresh()

    def set_extras(self, extras: tuple[str, ...]) -> None:
        """Show these of the extra plots (``figures.needed_plots``) in the third column."""
        self.shown = tuple(k for k in PLOTS if k in extras or k not in EXTRA_PLOTS)
        for kind in EXTRA_PLOTS:
            view = self.views[kind]
            self._grid.removeWidget(view)
            view.setVisible(kind in extras)
        shown = [k for k in EXTRA_PLOTS if k in extras]
        for row, kind in enumerate(shown):  # one spans both rows; two share them
            self._grid.addWidget(self.views[kind], row, 2, 2 if len(shown) == 1 else 1, 1)
        self.refresh()

    def set_filter(self, plot_filter: PlotFilter) -> None:
        self.filter = plot_filter
        self.refresh()

    def refresh(self) -> None:
        self._dirty = True

    def plot_data(self) -> PlotData | None:
        record = self.record
        if record is None or not record.info or not record.rows:
            return None
        now = record.now if self.time is None else self.time
        cut = None if self.time is None else self.time
        columns = {k: v.copy() for k, v in record.columns_at(cut).items()}
        breakers = {e: record.breaker_states(e, now) for e in record.info.get("breakers", [])}
        limits = record.info.get("limits", {})
        return PlotData(columns, record.faults, record.horizon, now, breakers, self.filter, limits)

    # -- drawing -----------------------------------------------------------------------------

    def _on_tick(self) -> None:
        for done in self._renderer.take():
            self.views[done.key].set_pixels(done.pixels, done.error)
        if not self._dirty or time.perf_counter() - self._last_submit < REFRESH_MS / 1000:
            return
        if not self._renderer.idle:
            return
        data = self.plot_data()
        self._dirty = False
        if data is None:
            return
        self._last_submit = time.perf_counter()
        for kind in self.shown:
            view = self.views[kind]
            self._renderer.submit(kind, kind, data, view.width(), view.height())

    @property
    def frames(self) -> int:
        """Images drawn by the plot that has drawn the fewest, among those shown."""
        return min(self.views[k].frames for k in self.shown)

    # -- exports -----------------------------------------------------------------------------

    def save_plot(self, kind: str, path: str | Path) -> Path:
        """Write plot ``kind`` as it is now; the format follows the suffix (.png, .svg)."""
        data = self.plot_data()
        if data is None:
            raise ValueError("there is nothing to plot yet: run the scenario first")
        view = self.views[kind]
        figure = build(kind, data, max(view.width(), 640), max(view.height(), 360))
        path = Path(path)
        figure.savefig(path, dpi=110 if path.suffix.lower() == ".png" else None)
        return path

    def _on_save_requested(self, kind: str, fmt: str) -> None:
        if self.on_save is not None:
            self.on_save(kind, fmt)

    def shutdown(self) -> None:
        self._timer.stop()
        self._renderer.close()
