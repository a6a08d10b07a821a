"""Compare strategies: vary one field of a call or node, replicate, plot and tabulate with CIs.

The work is ``simulator.compare.run_comparison`` on a background thread (which
fans the runs out over processes); the dialog polls its progress on a timer and
shows ``comparison_figure`` and ``comparison_table`` when it is done.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from simulator.compare import Comparison, comparison_figure, comparison_table, run_comparison
from simulator.scenario import Scenario

CALL_FIELDS = {
    "retry.strategy": "none, immediate, exponential, full_jitter",
    "retry.attempts": "1, 3, 5",
    "timeout": "300ms, 1s, 10s",
    "breaker.failure_rate": "25%, 50%, 90%",
    "bulkhead.max_concurrent": "5, 10, 20",
}
NODE_FIELDS = {"workers": "10, 20, 40", "queue": "10, 100, 1000", "rate": "100/s, 200/s, 400/s"}
TABLE_METRICS = [
    ("success_rate", "success", lambda v: f"{v * 100:.1f}%", lambda h: f"{h * 100:.1f}"),
    ("p99_ms", "p99 (ms)", lambda v: f"{v:.0f}", lambda h: f"{h:.0f}"),
    ("goodput_per_s", "goodput/s", lambda v: f"{v:.0f}", lambda h: f"{h:.0f}"),
    ("peak_load_per_s", "peak load/s", lambda v: f"{v:.0f}", lambda h: f"{h:.0f}"),
    ("total_attempts", "attempts", lambda v: f"{v:.0f}", lambda h: f"{h:.0f}"),
]


def targets(scenario: Scenario) -> list[tuple[str, str, bool]]:
    """(label, path prefix, is a call) for every call and node of the scenario."""
    out = []
    for name, node in scenario.nodes.items():
        for i, call in enumerate(node.calls):
            out.append((f"call {name} → {call.to}", f"nodes.{name}.calls[{i}]", True))
    out += [(f"node {name}", f"nodes.{name}", False) for name in scenario.nodes]
    return out


class CompareDialog(QDialog):
    """Pick a field and its values; run the variants in the background; show plots and table."""

    done = Signal()

    def __init__(self, scenario: Scenario, parent: QWidget | None = None, executor: Any = None):
        super().__init__(parent)
        self.setWindowTitle(f"Compare strategies — {scenario.name}")
        self.scenario = scenario
        self.executor = executor
        self.comparison: Comparison | None = None
        self.rows: list[dict[str, Any]] = []
        self.error: str | None = None
        self._progress = (0, 1)
        self._thread: threading.Thread | None = None
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._on_poll_timeout)
        self.resize(1100, 800)

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
        self.replications = QSpinBox()
        self.replications.setRange(1, 50)
        self.replications.setValue(3)
        self.run_button = QPushButton("Run comparison")
        self.run_button.clicked.connect(self.start)
        self.progress = QProgressBar()
        self.status = QLabel("Each variant runs with the same seeds (common random numbers).")
        form = QFormLayout()
        form.addRow("Vary", self.target_box)
        form.addRow("Field", self.field_box)
        form.addRow("Values", self.values_edit)
        form.addRow("Replications", self.replications)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.progress, 1)
        self.figure_canvas: FigureCanvasQTAgg | None = None
        self.results = QSplitter(Qt.Orientation.Vertical)
        self.table = QTableWidget()
        self.results.addWidget(self.table)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.results, 1)
        self._on_target_changed()

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
        prefix = self.target_box.currentData()[0]
        values = [v.strip() for v in self.values_edit.text().split(",") if v.strip()]
        return [(f"{prefix}.{self.field_box.currentText().strip()}", values)]

    # -- running ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        varies, reps = self.varies(), self.replications.value()
        if len(varies[0][1]) < 1:
            self.status.setText("Give at least one value to compare.")
            return
        self.error, self.comparison = None, None
        self._progress = (0, len(varies[0][1]) * reps)
        self.run_button.setEnabled(False)
        self.status.setText(f"Running {self._progress[1]} simulations…")
        self._thread = threading.Thread(target=self._work, args=(varies, reps), daemon=True)
        self._thread.start()
        self._timer.start()

    def _work(self, varies: list[tuple[str, list[str]]], reps: int) -> None:
        try:
            self.comparison = run_comparison(
                self.scenario, varies, reps, executor=self.executor, progress=self._on_progress
            )
            self.rows = comparison_table(self.comparison)
        except Exception as exc:  # shown in the dialog; the app carries on
            self.error = f"{type(exc).__name__}: {exc}"

    def _on_progress(self, done: int, total: int) -> None:
        self._progress = (done, total)  # read by the GUI thread's timer

    def _on_poll_timeout(self) -> None:
        done, total = self._progress
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        if self._thread is None or self._thread.is_alive():
            return
        self._thread = None
        self._timer.stop()
        self.run_button.setEnabled(True)
        if self.error is not None:
            self.status.setText(f"The comparison failed: {self.error}")
        else:
            self._show_results()
        self.done.emit()

    # -- results ---------------------------------------------------------------------------

    def _show_results(self) -> None:
        c = self.comparison
        assert c is not None
        self.status.setText(
            f"{len(c.variants)} variants × {c.replications} replications; "
            "mean ± 95% confidence interval"
        )
        if self.figure_canvas is not None:
            self.figure_canvas.setParent(None)
        self.figure_canvas = FigureCanvasQTAgg(comparison_figure(c, self.rows))
        self.results.insertWidget(0, self.figure_canvas)
        self.results.setSizes([560, 200])
        self._fill_table()

    def _fill_table(self) -> None:
        self.table.clear()
        self.table.setRowCount(len(self.rows))
        self.table.setColumnCount(1 + len(TABLE_METRICS))
        self.table.setHorizontalHeaderLabels(["variant"] + [m[1] for m in TABLE_METRICS])
        for r, row in enumerate(self.rows):
            self.table.setItem(r, 0, QTableWidgetItem(row["variant"]))
            for col, (key, _, fmt, fmt_half) in enumerate(TABLE_METRICS, start=1):
                metric = row["metrics"].get(key)
                self.table.setItem(r, col, QTableWidgetItem(_cell(metric, fmt, fmt_half)))
        self.table.resizeColumnsToContents()

    def lines_per_plot(self) -> int:
        """How many variant lines the load plot holds (tests: one per variant)."""
        if self.figure_canvas is None:
            return 0
        return len(self.figure_canvas.figure.axes[0].get_lines())


def _cell(metric: dict[str, Any] | None, fmt: Any, fmt_half: Any) -> str:
    if metric is None or metric["mean"] is None or math.isnan(metric["mean"]):
        return "–"
    half = metric["ci95"]
    return fmt(metric["mean"]) + ("" if math.isnan(half) else f" ± {fmt_half(half)}")
