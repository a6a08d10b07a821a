"""Everything the run adds to the main window, wired to one RunController.

``RunSession(window)`` adds the Run toolbar and menu, the plots and replay dock,
the blast-radius dock and the clock in the status bar; it locks editing while
a run is live and puts the run's states on the drawing. The window needs to
call nothing but ``shutdown()`` when it closes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QLabel,
    QMenu,
    QProgressBar,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gui.plots.figures import PLOTS, TITLES, needed_plots
from gui.plots.panel import PlotPanel
from gui.run import controller as states
from gui.run.blast_panel import BlastRadiusPanel, highlight
from gui.run.controller import RunController
from gui.run.exports import save_drawing, save_time_series
from gui.run.live_items import LiveOverlay
from gui.run.live_state import add_message_states, edge_states, node_states, plot_filter
from gui.run.lock import EditLock
from gui.run.report_job import ReportCommand
from gui.run.scrubber import TimeScrubber
from gui.run.toolbar import RunToolbar
from simulator.alerting import FiringLog

VIEW_MS = 50  # overlay changes are applied in small batches on this tick
STATE_EVERY = 3  # and new states computed every third tick: ~7 times a second
STATE_WORDS = {
    states.IDLE: "Ready",
    states.STARTING: "Starting the simulation…",
    states.RUNNING: "Running",
    states.PAUSED: "Paused",
    states.STOPPING: "Stopping…",
    states.ANALYSING: "Measuring the blast radius…",
    states.FINISHED: "Finished",
    states.STOPPED: "Stopped",
    states.FAILED: "Failed",
}
SavePath = Callable[[str, str, str], "Path | None"]


def ask_save_path(parent: QWidget) -> SavePath:
    def ask(title: str, suggested: str, filters: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(parent, title, suggested, filters)
        return Path(path) if path else None

    return ask


class RunSession(QObject):
    """The run's views and commands around ``window`` (a MainWindow)."""

    def __init__(self, window: Any, controller: RunController | None = None):
        super().__init__(window)
        self.window = window
        self.controller = controller or RunController(self)
        self.scenario = window.document.scenario
        self.save_path: SavePath = ask_save_path(window)
        self.time: float | None = None
        self.clock: float | None = None  # the simulated time the canvas shows
        self.blast_index: int | None = None
        self._fresh = False
        self._ticks = 0
        self.stale = False  # the document was edited after the run
        self._firing_record: Any = None  # the run whose live firings _firing_log holds
        self._firing_log = FiringLog()
        self._build_views()
        self.lock = EditLock(window)
        self._build_menu()
        self._connect()
        self._timer = QTimer(self)
        self._timer.setInterval(VIEW_MS)
        self._timer.timeout.connect(self._on_view_timeout)
        self._show_extra_plots()

    # -- building --------------------------------------------------------------------------

    def _build_views(self) -> None:
        w = self.window
        self.toolbar = RunToolbar(w)
        w.addToolBar(self.toolbar)
        self.plots = PlotPanel()
        self.plots.on_save = self._on_plot_save_requested
        self.scrubber = TimeScrubber()
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.scrubber)
        # The plots scroll rather than hold the dock taller than a laptop's screen allows.
        scroller = QScrollArea()
        scroller.setObjectName("run:plots-scroller")
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setWidget(self.plots)
        layout.addWidget(scroller, 1)
        self.plots_dock = w.add_dock(box, "Run", Qt.DockWidgetArea.BottomDockWidgetArea)
        self.blast_panel = BlastRadiusPanel()
        self.blast_dock = w.add_dock(
            self.blast_panel, "Blast radius", Qt.DockWidgetArea.RightDockWidgetArea
        )
        # A tab beside Problems, so the inspector above keeps its height (the window shares
        # the space out when it is first shown: MainWindow.share_space).
        w.tabifyDockWidget(w.problems_dock, self.blast_dock)
        w.problems_dock.raise_()
        self.overlay = LiveOverlay(w.scene)
        self.state_label = QLabel(STATE_WORDS[states.IDLE])
        self.clock_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(180)
        self.progress.setTextVisible(False)
        bar = w.statusBar()
        for widget in (self.state_label, self.clock_label, self.progress):
            bar.addPermanentWidget(widget)

    def _build_menu(self) -> None:
        menu = QMenu("&Run", self.window)
        t = self.toolbar
        menu.addActions([t.run_action, t.pause_action, t.stop_action, t.reset_action])
        menu.addSeparator()
        self.compare_action = menu.addAction("Compare strategies…")
        self.compare_action.triggered.connect(self._on_compare_requested)
        self.map_action = menu.addAction("Metastability map…")
        self.map_action.triggered.connect(self._on_map_requested)
        self.ramp_action = menu.addAction("Breaking point…")
        self.ramp_action.triggered.connect(self._on_ramp_requested)
        self.tune_action = menu.addAction("Tune a call…")
        self.tune_action.triggered.connect(self._on_tune_requested)
        self.report = ReportCommand(self, menu)  # Failure-mode report…
        menu.addSeparator()
        self.csv_action = menu.addAction("Export time series (CSV)…")
        self.csv_action.triggered.connect(self._on_csv_requested)
        plots = self.plot_menu = menu.addMenu("Save plot")
        for kind in PLOTS:
            for fmt in ("png", "svg"):
                action = plots.addAction(f"{TITLES[kind]} as {fmt.upper()}…")
                action.triggered.connect(lambda _=False, k=kind, f=fmt: self.export_plot(k, f))
        menu.addAction("Save drawing as PNG…").triggered.connect(self._on_drawing_requested)
        self.window.menuBar().addMenu(menu)
        self.menu = menu
        menu.aboutToShow.connect(self._update_exports)
        self._update_exports()

    def _update_exports(self) -> None:
        """Exports of a run are offered only when there is a run to export."""
        has_run = bool(self.controller.record.rows)
        self.csv_action.setEnabled(has_run)
        self.plot_menu.setEnabled(has_run)

    def _connect(self) -> None:
        t, c = self.toolbar, self.controller
        t.run_requested.connect(self.run)
        t.pause_requested.connect(c.pause)
        t.resume_requested.connect(c.resume)
        t.stop_requested.connect(c.stop)
        t.reset_requested.connect(self.reset)
        t.speed_changed.connect(c.set_speed)
        c.set_speed(t.speed)
        c.state_changed.connect(self._on_run_state_changed)
        c.snapshot_ready.connect(self._on_snapshot_ready)
        c.analysing.connect(self._on_analysing)
        c.blast_progress.connect(self._on_blast_progress)
        c.blast_ready.connect(self.blast_panel.set_entries)
        c.failed.connect(self._on_run_failed)
        self.blast_panel.fault_chosen.connect(self._on_fault_chosen)
        self.scrubber.time_changed.connect(self._on_scrub_time_changed)
        self.window.selection.changed.connect(self._on_selection_changed)
        self.window.document.undo_stack.indexChanged.connect(self._on_document_edited)
        self.window.document.reset.connect(self._on_document_reset)
        self.window.inspector.tune_requested.connect(self._on_tune_call_requested)

    # -- commands --------------------------------------------------------------------------

    def run(self) -> None:
        """Run the document as it is now; editing is locked until the run is over."""
        if self.controller.is_live:
            return
        self.scenario = self.window.document.scenario  # immutable: this is the snapshot
        self.time = None
        self.blast_index = None
        self.stale = False
        self.overlay.clear()
        self.blast_panel.set_waiting("Running… the blast radius follows the run.")
        self.blast_dock.raise_()  # its tab comes to the front: the run fills it
        self.controller.start(self.scenario)
        self._show_extra_plots()
        self.plots.set_record(self.controller.record)
        self._on_selection_changed()
        self.scrubber.set_live(0.0)
        self._timer.start()

    def reset(self) -> None:
        self.controller.reset()
        self._timer.stop()
        self.overlay.clear()
        self.plots.set_record(None)
        self.blast_panel.set_waiting("")
        self.scrubber.clear()
        self.window.timeline.alerts.clear()
        self.clock_label.setText("")
        self.progress.setValue(0)

    def shutdown(self) -> None:
        self._timer.stop()
        self.controller.shutdown()
        self.report.shutdown()
        for name in ("compare_dialog", "map_dialog", "ramp_dialog", "tune_dialog"):
            dialog = getattr(self, name, None)
            if dialog is not None:
                dialog.cancel()  # its pool's workers are killed, not left to finish their runs

    # -- following the run -----------------------------------------------------------------

    def _on_snapshot_ready(self, _snapshot: dict) -> None:
        self._fresh = True

    def _on_view_timeout(self) -> None:
        self._ticks += 1
        if self._fresh and self.time is None and self._ticks % STATE_EVERY == 0:
            self._fresh = False
            self.show_at(None)
        elif self.overlay.pending:
            self.overlay.flush()

    def show_at(self, t: float | None) -> None:
        """Put the run as it was at ``t`` (None: the latest) on the drawing and the clock."""
        record = self.controller.record
        snapshot = record.latest if t is None else record.snapshot_at(t)
        if snapshot is None or not record.info:
            return
        columns = record.columns_at(t)
        width = record.info["bucket"]
        blast = None
        if record.blast and self.blast_index is not None and not self.stale:
            blast = highlight(record.blast, self.scenario.faults, self.blast_index)
        if not self.stale:
            edges = add_message_states(
                self.scenario, snapshot, edge_states(snapshot, columns, width, self.scenario, at=t)
            )
            if t is not None:  # replay: the breakers as they were at t, not at the snapshot
                for edge in record.info.get("breakers", []):
                    if edge in edges:
                        edges[edge]["breaker"] = record.breaker_states(edge, t)[-1][1]
            self.overlay.show(
                self.scenario,
                node_states(self.scenario, snapshot, columns, width, at=t),
                edges,
                blast,
            )
        horizon = record.horizon or 1.0
        now = snapshot["time"] if t is None else t
        if t is None:  # the plots follow from the same snapshot as the canvas: never behind it
            self.plots.redraw()
        self._show_alerts(record, now)
        self.clock = now
        self.clock_label.setText(f"t = {now:6.1f} s / {horizon:g} s")
        self.progress.setValue(round(1000 * record.now / horizon))
        if self.controller.is_live:
            self.scrubber.set_live(record.now)

    def _show_alerts(self, record: Any, now: float) -> None:
        """The alert lane at ``now``: the finished run's firings, else every firing the live
        snapshots have shown (each carries only the latest: ``FiringLog`` keeps the rest)."""
        firings = (record.summary or {}).get("alerts")
        if firings is None:
            if self._firing_record is not record:  # a new run: a new log
                self._firing_record, self._firing_log = record, FiringLog()
            firings = self._firing_log.add((record.latest or {}).get("alerts", []))
        self.window.timeline.alerts.show_firings(firings, now)

    def _on_run_state_changed(self, state: str) -> None:
        record = self.controller.record
        self.toolbar.set_state(state, has_results=bool(record.rows))
        self.lock.set_locked(state in states.LIVE)
        word = STATE_WORDS.get(state, state)
        if state == states.RUNNING:
            speed = self.controller.speed
            word += " (as fast as possible)" if speed is None else f" ({speed:g}×)"
        self.state_label.setText(word)
        if state in (states.FINISHED, states.STOPPED):
            self.scrubber.set_ended(record.now)
            self.show_at(None)
        finished = state in (states.ANALYSING, states.FINISHED)
        self.window.inspector.set_run(self.scenario if finished else None, record.summary)
        deploys = (record.summary or {}).get("deploys") if finished else None
        self.window.timeline.view.set_deploy_results(deploys)
        if state == states.STOPPED and not record.blast:
            self.blast_panel.set_waiting("Stopped before the end: no blast radius.")

    def _on_analysing(self) -> None:
        self.blast_panel.set_waiting(
            "The run is complete. Measuring each fault's reach with a paired run without it "
            "(same seed)…"
        )

    def _on_blast_progress(self, done: int, total: int, fault: str) -> None:
        self.blast_panel.set_waiting(
            f"Computing {done}/{total}: {fault}… (a paired run without it, same seed)"
        )
        self.state_label.setText(f"Measuring the blast radius ({done}/{total})…")

    def _on_run_failed(self, message: str) -> None:
        self._timer.stop()
        self.overlay.clear()
        self.blast_panel.set_waiting("The run failed.")
        self.window.dialogs.error("The simulation failed", self.controller.error or message)

    def _on_fault_chosen(self, index: int) -> None:
        self.blast_index = index
        self.show_at(self.time)

    def _on_scrub_time_changed(self, t: float) -> None:
        self.time = t
        self.plots.set_time(t)
        self.show_at(t)

    def _on_selection_changed(self) -> None:
        self.plots.set_filter(plot_filter(self.scenario, self.window.selection.single()))

    def _on_document_edited(self, _index: int) -> None:
        """An edit after the run: the overlay no longer describes the drawing."""
        if not self.controller.is_live and self.controller.record.rows:
            self.stale = True
            self.overlay.clear()

    def _on_document_reset(self) -> None:
        self.reset()
        self.scenario = self.window.document.scenario
        self.stale = False
        self._show_extra_plots()

    def _show_extra_plots(self) -> None:
        """The messages plot is there for a scenario with a broker, resources for pools or
        memory limits."""
        self.plots.set_extras(needed_plots(self.scenario))

    # -- exports ---------------------------------------------------------------------------

    def export_plot(self, kind: str, fmt: str) -> Path | None:
        path = self.save_path(f"Save {TITLES[kind].lower()} plot", f"{kind}.{fmt}",
                              f"{fmt.upper()} (*.{fmt})")  # fmt: skip
        return self._export(lambda p: self.plots.save_plot(kind, p), path)

    def _on_plot_save_requested(self, kind: str, fmt: str) -> None:
        self.export_plot(kind, fmt)

    def _on_csv_requested(self) -> Path | None:
        path = self.save_path("Export time series", "timeseries.csv", "CSV (*.csv)")
        return self._export(lambda p: save_time_series(self.controller.record, p), path)

    def _on_drawing_requested(self) -> Path | None:
        path = self.save_path("Save drawing", "drawing.png", "PNG (*.png)")
        return self._export(lambda p: save_drawing(self.window.scene, p), path)

    def _export(self, write: Callable[[Path], Path], path: Path | None) -> Path | None:
        if path is None:
            return None
        try:
            written = write(path)
        except (OSError, ValueError) as exc:
            self.window.dialogs.error("Could not save", str(exc))
            return None
        self.window.statusBar().showMessage(f"Saved {written}", 6000)
        return written

    def _on_ramp_requested(self) -> None:
        from gui.plots.ramp_dialog import RampDialog

        dialog = RampDialog(self.window.document.scenario, self.window)
        dialog.show()
        self.ramp_dialog = dialog

    def _on_tune_requested(self, key: Any = None) -> None:
        from gui.plots.tune_dialog import TuneDialog, selected_call

        window = self.window
        call = selected_call(window.document.scenario, key or window.selection.single())
        dialog = TuneDialog(window.document, window, call=call)
        dialog.show()
        self.tune_dialog = dialog

    def _on_tune_call_requested(self, node: str, index: int) -> None:
        self._on_tune_requested(("call", node, index))

    def _on_compare_requested(self) -> None:
        from gui.plots.compare_dialog import CALL_FIELDS, CompareDialog
        from gui.run.compare_choice import guide

        scenario = self.window.document.scenario
        dialog = CompareDialog(scenario, self.window)
        guide(dialog, scenario, CALL_FIELDS)
        dialog.show()
        self.compare_dialog = dialog

    def _on_map_requested(self) -> None:
        from gui.plots.map_dialog import MapDialog

        dialog = MapDialog(self.window.document.scenario, self.window)
        dialog.show()
        self.map_dialog = dialog
