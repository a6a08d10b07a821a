"""Breaking point: raise the load until the SLO breaks; the verdict, the probes, the plot.

The work is ``simulator.breaking_point.find_breaking_point`` in a ``RampJob`` (a
background thread over a killable process pool, which Cancel stops); the dialog
polls its progress on a timer. When it is done it shows the verdict, the probes
and what saturated along the ramp on one tab, ``ramp_figure`` on another. The
figure saves as PNG or SVG; Export writes ramp.png, .svg, .csv and .json to a
folder (``save_ramp``), as ``murphy ramp --out`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.style
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.plots.compare_dialog import ask_directory, ask_save_path, fitted_size
from gui.plots.job_dialog import JobDialogMixin
from gui.plots.ramp_job import RampJob
from simulator.breaking_point import Ramp, SLOError, parse_slo
from simulator.breaking_point_files import ramp_data, ramp_figure, save_ramp
from simulator.scenario import Scenario

DEFAULT_SLO = "p99<2s,success>99.9%"
PROBE_COLUMNS = ("load ×", "offered req/s", "p99 ms", "± 95%", "success", "SLO")


def _number(value: float | None, digits: int = 1, scale: float = 1.0) -> str:
    return "–" if value is None else f"{value * scale:,.{digits}f}"


class RampDialog(JobDialogMixin, QDialog):
    """Choose the route, the SLO and the replications; search in the background; show it."""

    done = Signal()
    JOB_NAME = "search"

    def __init__(
        self,
        scenario: Scenario,
        parent: QWidget | None = None,
        executor: Any = None,
        options: dict[str, Any] | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle(f"Breaking point — {scenario.name}")
        self.scenario = scenario
        self.executor = executor
        self.options = options or {}  # find_breaking_point's knobs (tests: a cheap search)
        self.ramp: Ramp | None = None
        self.data: dict[str, Any] | None = None
        self.error: str | None = None
        self.cancelled = False
        self.job: RampJob | None = None
        self.save_path = ask_save_path(self)  # replaceable by tests (they must not block)
        self.choose_directory = ask_directory(self)
        self._build()
        self._init_job_polling()
        self.resize(*fitted_size(self, 1000, 760))

    def _build(self) -> None:
        self.route_box = QComboBox()
        self.route_box.addItem("All routes", None)
        for name, node in self.scenario.nodes.items():
            if node.kind == "client":
                self.route_box.addItem(f"route {name}", name)
        self.slo_edit = QLineEdit(DEFAULT_SLO)
        self.slo_edit.setToolTip(
            "Clauses separated by commas: mean, p50, p90, p99 or p999 below a duration "
            "(p99<2s), success above a percentage (success>99.9%)"
        )
        self._job_controls(
            "Find the breaking point",
            "search",
            "The figure as PNG or SVG (by the file's suffix)",
            "ramp.png, .svg, .csv and .json into a folder",
        )
        self.replications.setToolTip("Runs per probe; replication k uses seed + k at every probe")
        self.with_faults = QCheckBox("Keep the scenario's faults (a load test leaves them out)")
        self.status = QLabel(
            "Every client's load is multiplied until the SLO breaks: first doubled until it "
            "breaks, then bisected."
        )
        self.status.setWordWrap(True)
        # Two compact rows of controls: at 1366x768 or at 150% the results need the height.
        choices = QHBoxLayout()
        for label, widget, stretch in (
            ("Judge", self.route_box, 1),
            ("SLO", self.slo_edit, 2),
            ("Replications", self.replications, 0),
        ):
            choices.addWidget(QLabel(label))
            choices.addWidget(widget, stretch)
        row = QHBoxLayout()
        row.addWidget(self.with_faults)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.figure_button)
        row.addWidget(self.export_button)
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = self._table(PROBE_COLUMNS)
        self.saturation = self._table(("from load ×", "resource", "where", "how"))
        # The verdict above, the two tables below: a splitter, so each keeps a share of a
        # short window (1366x768, or 150%) and scrolls on its own.
        verdict = QScrollArea()
        verdict.setWidgetResizable(True)
        verdict.setFrameShape(QFrame.Shape.NoFrame)
        verdict.setWidget(self.verdict)
        reading = QSplitter(Qt.Orientation.Vertical)
        reading.setChildrenCollapsible(False)
        for title, widget in (
            ("", verdict),
            ("<b>Probes</b> (mean over the replications)", self.table),
            ("<b>Saturated along the ramp</b> (first first)", self.saturation),
        ):
            box = QWidget()
            column = QVBoxLayout(box)
            column.setContentsMargins(4, 4, 4, 0)
            if title:
                column.addWidget(QLabel(title))
            column.addWidget(widget, 1)
            reading.addWidget(box)
        reading.setSizes([110, 300, 160])
        self.results = QTabWidget()
        self.results.addTab(reading, "Verdict and probes")
        self.figure_canvas: FigureCanvasQTAgg | None = None
        self.figure_tab = self.results.addTab(QWidget(), "Figure")
        self.results.setTabEnabled(self.figure_tab, False)
        layout = QVBoxLayout(self)
        layout.addLayout(choices)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.results, 1)
        self._enable_exports()

    @staticmethod
    def _table(columns: tuple[str, ...]) -> QTableWidget:
        table = QTableWidget(0, len(columns))
        table.setHorizontalHeaderLabels(list(columns))
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(True)
        return table

    # -- running ---------------------------------------------------------------------------

    def start(self) -> None:
        if self.job is not None:
            return
        try:
            slo = parse_slo(self.slo_edit.text())
        except SLOError as exc:
            self.status.setText(f"The SLO cannot be read: {exc}")
            return
        self.ramp, self.data = None, None
        job = RampJob(
            self.scenario,
            slo,
            self.route_box.currentData(),
            self.replications.value(),
            self.with_faults.isChecked(),
            self.executor,
            self.options,
        )
        self.progress.setRange(0, 0)  # busy until the first run reports
        self._launch(job, f"Searching for the load at which {slo.text} breaks…")

    def _show_progress(self, done: int, total: int) -> None:
        if done:  # the search's total grows as it goes: count runs, not a fixed share
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)
            self.progress.setFormat(f"{done}/{total} runs")

    def _cancelled_text(self, done: int, total: int) -> str:
        return f"Cancelled after {done} simulations."

    def _job_succeeded(self, job: RampJob) -> None:
        self.ramp = job.ramp
        self._show_results()

    def _job_ended(self, job: RampJob) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if job.ramp is not None else 0)

    # -- results ---------------------------------------------------------------------------

    def _show_results(self) -> None:
        ramp = self.ramp
        assert ramp is not None
        self.data = data = ramp_data(ramp)
        self.status.setText(
            f"{len(ramp.probes)} probes × {ramp.replications} replications; "
            "mean ± 95% confidence interval"
        )
        self.verdict.setText(data["verdict"])
        self._fill_probes(ramp, data)
        self._fill_saturation(data)
        old = self.results.widget(self.figure_tab)
        self.results.removeTab(self.figure_tab)
        old.deleteLater()
        self.figure_canvas = FigureCanvasQTAgg(self._figure_on_screen(ramp))
        self.figure_canvas.setMinimumSize(720, 560)  # below that the panels are unreadable
        holder = QScrollArea()
        holder.setWidgetResizable(True)
        holder.setWidget(self.figure_canvas)
        self.results.insertTab(self.figure_tab, holder, "Figure")
        self.results.setCurrentIndex(0)

    def _fill_probes(self, ramp: Ramp, data: dict[str, Any]) -> None:
        from simulator.breaking_point import offered_rates

        self.table.setRowCount(len(data["probes"]))
        for row, p in enumerate(data["probes"]):
            rates = [
                v for v in offered_rates(ramp.scenario, p["multiplier"]).values() if v is not None
            ]
            verdict = "meets" if p["meets_slo"] else "breaks"
            if p["uncertain"]:
                verdict += " (uncertain)"
            cells = (
                f"{p['multiplier']:.4g}",
                _number(sum(rates)) if rates else "–",
                _number(p["mean"]["p99"]),
                _number(p["ci95"]["p99"]),
                _number(p["mean"]["success"], 2, 100.0) + " %",
                verdict,
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col < 5:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()

    def _fill_saturation(self, data: dict[str, Any]) -> None:
        self.saturation.setRowCount(len(data["saturation"]))
        for row, s in enumerate(data["saturation"]):
            for col, text in enumerate(
                (f"{s['multiplier']:.4g}", s["resource"], s["node"], s["how"])
            ):
                self.saturation.setItem(row, col, QTableWidgetItem(text))
        self.saturation.resizeRowsToContents()

    def _figure_on_screen(self, ramp: Ramp) -> Figure:
        """The figure in the palette's colours; saved files always get the light one."""
        if self.palette().color(QPalette.ColorRole.Window).lightness() >= 128:
            return ramp_figure(ramp)
        with matplotlib.style.context("dark_background"):
            return ramp_figure(ramp)

    # -- exports ---------------------------------------------------------------------------

    def _enable_exports(self) -> None:
        ready = self.ramp is not None and self.job is None
        self.figure_button.setEnabled(ready)
        self.export_button.setEnabled(ready)

    def save_figure(self) -> Path | None:
        """Save the figure; PNG or SVG, as the chosen file's suffix says."""
        ramp = self.ramp
        if ramp is None:
            return None
        return self._save_figure_as(
            "Save the breaking-point figure", "ramp.png", lambda: ramp_figure(ramp), dpi=110
        )

    def export(self) -> list[Path] | None:
        """Write ramp.png, .svg, .csv and .json into a chosen folder."""
        ramp = self.ramp
        if ramp is None:
            return None
        return self._export_to(
            "Export the breaking point to a folder", lambda folder: save_ramp(ramp, folder)
        )
