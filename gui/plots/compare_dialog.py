"""Compare strategies: vary one field of a call or node, replicate, plot and tabulate with CIs.

The work is ``simulator.compare.run_comparison`` in a ``ComparisonJob`` (a
background thread that fans the runs out over processes, and that Cancel
stops); the dialog polls its progress on a timer and, when it is done, shows the
verdict and the table with the best of each column marked (``compare_table``, from
``simulator.compare.judge``) on one tab and ``comparison_figure`` on another. The figure
saves as PNG or SVG; Export writes the figure, CSV and JSON to a folder
(``save_comparison``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.style
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.plots.compare_job import ComparisonJob
from gui.plots.compare_table import ComparisonResults
from gui.plots.job_dialog import JobDialogMixin
from simulator.compare import Comparison, comparison_figure, save_comparison
from simulator.compare_verdict import Judgement
from simulator.scenario import Scenario

CALL_FIELDS = {
    "retry.strategy": "none, immediate, exponential, full_jitter",
    "retry.attempts": "1, 3, 5",
    "timeout": "300ms, 1s, 10s",
    "breaker.failure_rate": "25%, 50%, 90%",
    "bulkhead.max_concurrent": "5, 10, 20",
}
NODE_FIELDS = {"workers": "10, 20, 40", "queue": "10, 100, 1000", "rate": "100/s, 200/s, 400/s"}


def targets(scenario: Scenario) -> list[tuple[str, str, bool]]:
    """(label, path prefix, is a call) for every call, publish and node of the scenario.

    A publish is varied like a call (its timeout, retry, breaker…).
    """
    out = []
    for name, node in scenario.nodes.items():
        for i, call in enumerate(node.calls):
            out.append((f"call {name} → {call.to}", f"nodes.{name}.calls[{i}]", True))
        for i, pub in enumerate(node.publishes):
            label = f"publish {name} → {pub.to}.{pub.queue}"
            out.append((label, f"nodes.{name}.publishes[{i}]", True))
        if node.kind == "relay":
            label = f"publish {name} → {node.publish.to}.{node.publish.queue}"
            out.append((label, f"nodes.{name}.publish", True))
    out += [(f"node {name}", f"nodes.{name}", False) for name in scenario.nodes]
    return out


def ask_save_path(parent: QWidget) -> Callable[[str, str, str], Path | None]:
    def ask(title: str, suggested: str, filters: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(parent, title, suggested, filters)
        return Path(path) if path else None

    return ask


def ask_directory(parent: QWidget) -> Callable[[str], Path | None]:
    def ask(title: str) -> Path | None:
        path = QFileDialog.getExistingDirectory(parent, title)
        return Path(path) if path else None

    return ask


def fitted_size(widget: QWidget, width: int, height: int) -> tuple[int, int]:
    """``width`` × ``height``, shrunk to 90% of the screen the widget is on (a 1366×768
    laptop has no room for an 800-pixel dialog)."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return width, height
    room = screen.availableGeometry()
    return min(width, int(room.width() * 0.9)), min(height, int(room.height() * 0.9))


class CompareDialog(JobDialogMixin, QDialog):
    """Pick a field and its values; run the variants in the background; show plots and table."""

    done = Signal()
    JOB_NAME = "comparison"

    def __init__(self, scenario: Scenario, parent: QWidget | None = None, executor: Any = None):
        super().__init__(parent)
        self.setWindowTitle(f"Compare strategies — {scenario.name}")
        self.scenario = scenario
        self.executor = executor
        self.comparison: Comparison | None = None
        self.rows: list[dict[str, Any]] = []
        self.judgement: Judgement | None = None
        self.error: str | None = None
        self.cancelled = False
        self.job: ComparisonJob | None = None
        # Questions to the user, replaceable by tests (they must not block).
        self.save_path = ask_save_path(self)
        self.choose_directory = ask_directory(self)
        self._build()
        self._init_job_polling()
        self.resize(*fitted_size(self, 1100, 800))

    def _build(self) -> None:
        self.target_box = QComboBox()
        for label, prefix, is_call in targets(self.scenario):
            self.target_box.addItem(label, (prefix, is_call))
        self.target_box.currentIndexChanged.connect(self._on_target_changed)
        self.field_box = QComboBox()
        self.field_box.setEditable(True)
        self.field_box.currentTextChanged.connect(self._on_field_changed)
        self.values_edit = QLineEdit()
        self.values_edit.setToolTip("Comma-separated values, written as in the scenario file")
        self._job_controls(
            "Run comparison",
            "comparison",
            "The figure as PNG or SVG (by the file's suffix)",
            "compare.png, .svg, .csv and .json into a folder",
        )
        self.status = QLabel("Each variant runs with the same seeds (common random numbers).")
        form = QFormLayout()
        form.addRow("Vary", self.target_box)
        form.addRow("Field", self.field_box)
        form.addRow("Values", self.values_edit)
        form.addRow("Replications", self.replications)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.figure_button)
        row.addWidget(self.export_button)
        self.figure_canvas: FigureCanvasQTAgg | None = None
        # Two tabs, the reading first: at 1366×768, or at 150%, a figure and a table on one
        # page leave neither room; the reading scrolls as a whole when even its tab is short.
        self.results = QTabWidget()
        self.results_view = ComparisonResults()
        self.table = self.results_view.table
        reading = QScrollArea()
        reading.setWidgetResizable(True)
        reading.setFrameShape(QFrame.Shape.NoFrame)
        reading.setWidget(self.results_view)
        self.results.addTab(reading, "Verdict and table")
        self.figure_tab = self.results.addTab(QWidget(), "Figure")
        self.results.setTabEnabled(self.figure_tab, False)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.results, 1)
        self._on_target_changed()
        self._enable_exports()

    # -- choosing --------------------------------------------------------------------------

    def _on_target_changed(self, _index: int = 0) -> None:
        data = self.target_box.currentData()
        fields = CALL_FIELDS if data and data[1] else NODE_FIELDS
        self.field_box.blockSignals(True)
        self.field_box.clear()
        self.field_box.addItems(list(fields))
        self.field_box.blockSignals(False)
        self._on_field_changed(self.field_box.currentText())

    def _on_field_changed(self, text: str) -> None:
        data = self.target_box.currentData()
        fields = CALL_FIELDS if data and data[1] else NODE_FIELDS
        if text in fields:
            self.values_edit.setText(fields[text])

    def varies(self) -> list[tuple[str, list[str]]]:
        data = self.target_box.currentData()
        if data is None:
            return []
        prefix = data[0]
        values = [v.strip() for v in self.values_edit.text().split(",") if v.strip()]
        return [(f"{prefix}.{self.field_box.currentText().strip()}", values)]

    # -- running ---------------------------------------------------------------------------

    def start(self) -> None:
        if self.job is not None:
            return
        varies, reps = self.varies(), self.replications.value()
        if not varies:
            self.status.setText("Choose a call, publish or node to vary.")
            return
        if len(varies[0][1]) < 1:
            self.status.setText("Give at least one value to compare.")
            return
        self.comparison = None
        job = ComparisonJob(self.scenario, varies, reps, self.executor)
        self._launch(job, f"Running {job.progress[1]} simulations…")

    def _job_succeeded(self, job: ComparisonJob) -> None:
        self.comparison, self.rows, self.judgement = job.comparison, job.rows, job.judgement
        self._show_results()

    # -- results ---------------------------------------------------------------------------

    def _show_results(self) -> None:
        c = self.comparison
        assert c is not None
        self.status.setText(
            f"{len(c.variants)} variants × {c.replications} replications; "
            "mean ± 95% confidence interval"
        )
        old = self.results.widget(self.figure_tab)  # the previous figure, or the placeholder
        self.results.removeTab(self.figure_tab)
        old.deleteLater()
        self.figure_canvas = FigureCanvasQTAgg(self._figure_on_screen(c))
        self.results.insertTab(self.figure_tab, self.figure_canvas, "Figure")
        self._fill_table()
        self.results.setCurrentIndex(0)

    def _figure_on_screen(self, c: Comparison) -> Figure:
        """The figure in the palette's colours; saved files always get the light one."""
        if self.palette().color(QPalette.ColorRole.Window).lightness() >= 128:
            return comparison_figure(c, self.rows)
        with matplotlib.style.context("dark_background"):
            return comparison_figure(c, self.rows)

    def _fill_table(self) -> None:
        self.results_view.show_rows(self.rows, self.judgement)

    # -- exports ---------------------------------------------------------------------------

    def _enable_exports(self) -> None:
        ready = self.comparison is not None and self.job is None
        self.figure_button.setEnabled(ready)
        self.export_button.setEnabled(ready)

    def save_figure(self) -> Path | None:
        """Save the figure; PNG or SVG, as the chosen file's suffix says."""
        comparison = self.comparison
        if self.figure_canvas is None or comparison is None:
            return None
        return self._save_figure_as(  # light, like the export
            "Save comparison figure", "compare.png",
            lambda: comparison_figure(comparison, self.rows), dpi=110,
        )  # fmt: skip

    def export(self) -> list[Path] | None:
        """Write compare.png, .svg, .csv and .json into a chosen folder."""
        comparison = self.comparison
        if comparison is None:
            return None
        return self._export_to(
            "Export the comparison to a folder", lambda folder: save_comparison(comparison, folder)
        )

    def lines_per_plot(self) -> int:
        """How many variant lines the load plot holds (tests: one per variant)."""
        if self.figure_canvas is None:
            return 0
        return len(self.figure_canvas.figure.axes[0].get_lines())
