"""The run's plots in the app: native pyqtgraph views drawn from the run record.

Four always; in a column of their own, "messages" (queue depth and lag) for
scenarios with brokers, "resources" (pools, memory) for scenarios with
connection pools or memory limits and "limits" for nodes with an adaptive
concurrency limit (``set_extras``).

``PlotPanel`` draws when told to (``redraw``): the run session calls it from
the same tick that puts the newest snapshot on the canvas, so the plots and the
canvas clock show the same moment. Every view shares one x range (zoom one,
all follow) and one time cursor: the run's clock, or the scrubber's time.
Right-click a plot to save it as PNG or SVG (a matplotlib figure of the same
spec, ``figures.build``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QGridLayout, QWidget

from gui.plots.figures import build
from gui.plots.live_view import PlotView
from gui.plots.spec import EXTRA_PLOTS, PLOTS, PlotData, PlotFilter, plot_spec
from gui.run.record import RunRecord

ROWS = 6
"""Grid rows: two plots high on the left, up to three extras high on the right."""


class PlotPanel(QWidget):
    """Latency, throughput, breakers, pools (and messages, resources) of the current run, at
    the chosen time."""

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
            layout.addWidget(self.views[kind], (i // 2) * (ROWS // 2), i % 2, ROWS // 2, 1)
        for kind in PLOTS:
            self.views[kind].save_requested.connect(self._on_save_requested)
        self.shown: tuple[str, ...] = tuple(grid)
        for kind in EXTRA_PLOTS:
            self.views[kind].hide()
        self._linked: weakref.WeakSet = weakref.WeakSet()
        self._following = False

    # -- what to show ------------------------------------------------------------------------

    def set_record(self, record: RunRecord | None) -> None:
        self.record = record
        self.time = None
        if record is None:  # no run: the last document's plots must not stay on screen
            for view in self.views.values():
                view.clear_plot()
        self.redraw()

    def set_time(self, t: float | None) -> None:
        self.time = t
        self.redraw()

    def set_extras(self, extras: tuple[str, ...]) -> None:
        """Show these of the extra plots (``spec.needed_plots``) in the third column."""
        self.shown = tuple(k for k in PLOTS if k in extras or k not in EXTRA_PLOTS)
        for kind in EXTRA_PLOTS:
            view = self.views[kind]
            self._grid.removeWidget(view)
            view.setVisible(kind in extras)
        shown = [k for k in EXTRA_PLOTS if k in extras]
        # Six grid rows: the four plots take three each; the extras share all six (one spans
        # them, two take three each, three take two each).
        span = ROWS // max(1, len(shown))
        for row, kind in enumerate(shown):
            self._grid.addWidget(self.views[kind], row * span, 2, span, 1)
        self.redraw()

    def set_filter(self, plot_filter: PlotFilter) -> None:
        self.filter = plot_filter
        self.redraw()

    def plot_data(self) -> PlotData | None:
        record = self.record
        if record is None or not record.info or not record.rows:
            return None
        now = record.now if self.time is None else self.time
        columns = {k: v.copy() for k, v in record.columns_at(self.time).items()}
        breakers = {e: record.breaker_states(e, now) for e in record.info.get("breakers", [])}
        limits = record.info.get("limits", {})
        return PlotData(columns, record.faults, record.horizon, now, breakers, self.filter, limits)

    # -- drawing -----------------------------------------------------------------------------

    def redraw(self) -> None:
        """Draw every shown plot from the record as it is now (or at the scrubber's time)."""
        data = self.plot_data()
        if data is None:
            return
        # plots out of sight wait until they are seen, unless none is in sight (the dock is
        # hidden or not yet shown): then all are kept current
        defer = any(self.views[kind].on_screen for kind in self.shown)
        for kind in self.shown:
            self.views[kind].show_spec(plot_spec(kind, data), defer)
        self._link_x()

    def _link_x(self) -> None:
        """Zoom or pan one plot and every plot follows: they all show the same time span.

        Linked here in data coordinates (pyqtgraph's own links align views by their position
        on screen, and these plots differ in width)."""
        for kind in self.shown:
            for box in self.views[kind].boxes():
                if box not in self._linked:
                    self._linked.add(box)
                    box.sigXRangeChanged.connect(self._on_x_range_changed)

    def _on_x_range_changed(self, source: object, span: tuple[float, float]) -> None:
        if self._following:
            return
        self._following = True
        try:
            for kind in self.shown:
                for box in self.views[kind].boxes():
                    if box is not source and tuple(box.viewRange()[0]) != tuple(span):
                        box.setXRange(*span, padding=0)
        finally:
            self._following = False

    @property
    def frames(self) -> int:
        """Refreshes drawn by the plot that has drawn the fewest, among those shown."""
        return min(self.views[k].frames for k in self.shown)

    @property
    def shown_time(self) -> float | None:
        """The simulated time the plots reach: the end of the last bucket the laggiest of those
        on screen drew (a plot scrolled out of sight catches up when it is seen again)."""
        seen = [k for k in self.shown if self.views[k].on_screen] or list(self.shown)
        times = [self.views[k].shown_time for k in seen]
        known = [t for t in times if t is not None]
        return min(known) if len(known) == len(times) else None

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
