"""Tune a call: search its timeout, retries, budget and breaker for the best settings.

The work is ``simulator.tuning.tune`` in a ``TuneJob`` (a background thread over a
killable process pool, which Cancel stops); the dialog polls its progress. When
done it shows the verdict and the ranking on one tab, ``tune_figure`` (the
trade-off, the Pareto front, the objective against the timeout) on another. The
figure saves as PNG or SVG; Export writes tune.png, .svg, .csv and .json to a
folder (``save_tuning``), as ``murphy tune --out`` does; Apply writes the best
settings onto the call as one undoable edit.
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
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.plots.compare_dialog import ask_directory, ask_save_path, fitted_size
from gui.plots.job_dialog import JobDialogMixin
from gui.plots.tune_job import TuneJob
from simulator.scenario_nodes import call_edge_names
from simulator.tuning import DEFAULT_BUDGET, Tuning, min_budget
from simulator.tuning_files import save_tuning, settings_text, tune_data, tune_figure
from simulator.tuning_objective import ObjectiveError, format_value, parse_objective
from simulator.tuning_space import (
    FIELDS,
    SpaceError,
    current_value,
    default_space,
    find_call,
    parse_space,
    spell,
)

DEFAULT_OBJECTIVE = "success max, p99<2s"
SPACE_HELP = (
    "Values to try, by commas (250ms, 500ms, 1s) or a range (250ms..4s: five points); "
    "none removes a timeout or a budget; empty: keep the call's own value"
)


def selected_call(scenario: Any, key: Any) -> str | None:
    """The edge name of a selected call (a selection key ``("call", node, index)``), or None."""
    if not key or key[0] != "call" or key[1] not in scenario.nodes:
        return None
    names = call_edge_names(key[1], scenario.nodes[key[1]].calls)
    return names[key[2]] if 0 <= key[2] < len(names) else None


def _spelled(field: str, value: Any) -> str:
    return "none" if value is None else spell(field, value)


class TuneDialog(JobDialogMixin, QDialog):
    """Pick the call, the objective, the values and the budget; search; show; apply."""

    done = Signal()
    JOB_NAME = "search"

    def __init__(
        self,
        document: Any,
        parent: QWidget | None = None,
        executor: Any = None,
        call: str | None = None,
    ):
        super().__init__(parent)
        self.document = document  # a ScenarioDocument: Apply edits it, undoably
        self.scenario = document.scenario
        self.setWindowTitle(f"Tune a call — {self.scenario.name}")
        self.executor = executor
        self.tuning: Tuning | None = None
        self.data: dict[str, Any] | None = None
        self.error: str | None = None
        self.cancelled = False
        self.job: TuneJob | None = None
        self.save_path = ask_save_path(self)  # replaceable by tests (they must not block)
        self.choose_directory = ask_directory(self)
        self._build()
        self._init_job_polling()
        if call is not None and (i := self.call_box.findData(call)) >= 0:
            self.call_box.setCurrentIndex(i)
        self._on_call_changed()
        self.resize(*fitted_size(self, 1100, 780))

    # -- building --------------------------------------------------------------------------

    def _build(self) -> None:
        self.call_box = QComboBox()
        for name, node in self.scenario.nodes.items():
            for edge in call_edge_names(name, node.calls):
                self.call_box.addItem(edge, edge)
        self.call_box.currentIndexChanged.connect(self._on_call_changed)
        self.objective_edit = QLineEdit(DEFAULT_OBJECTIVE)
        self.objective_edit.setToolTip(
            "One metric to maximise or minimise (success max, p99 min, goodput max…) and bounds "
            "by commas (p99<2s, success>=99%). Metrics: success, goodput, mean, p50, p90, p99, "
            "p999, attempts, amplification"
        )
        self.budget = QSpinBox()
        self.budget.setRange(min_budget(2), 5000)
        self.budget.setValue(DEFAULT_BUDGET)
        self.budget.setSuffix(" runs")
        self.budget.setToolTip("The most simulation runs the search may spend")
        self._job_controls(
            "Tune", "search", "The trade-off figure", "tune.png, .svg, .csv and .json"
        )
        self.replications.setParent(self)  # the budget decides the replications: not shown
        self.replications.hide()
        self.apply_button = QPushButton("Apply best")
        self.apply_button.setToolTip("Write the best settings onto the call (Edit ▸ Undo reverts)")
        self.apply_button.clicked.connect(self.apply_best)
        self.space_edits: dict[str, QLineEdit] = {}
        self.space_labels: dict[str, QLabel] = {}
        grid = QGridLayout()
        for i, field in enumerate(FIELDS):
            label, edit = QLabel(field), QLineEdit()
            edit.setToolTip(SPACE_HELP)
            edit.setObjectName(f"space:{field}")
            grid.addWidget(label, i // 2, 2 * (i % 2))
            grid.addWidget(edit, i // 2, 2 * (i % 2) + 1)
            self.space_edits[field], self.space_labels[field] = edit, label
        self.status = QLabel(
            "The candidates run a few times each; the better half runs twice as often, and so on "
            "until one is left (successive halving, the same seeds for all)."
        )
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(self._choices())
        layout.addLayout(grid)
        layout.addLayout(self._buttons())
        layout.addWidget(self.status)
        layout.addWidget(self._results(), 1)
        self._enable_exports()

    def _choices(self) -> QHBoxLayout:
        row = QHBoxLayout()
        for label, widget, stretch in (
            ("Call", self.call_box, 1),
            ("Objective", self.objective_edit, 2),
            ("Budget", self.budget, 0),
        ):
            row.addWidget(QLabel(label))
            row.addWidget(widget, stretch)
        return row

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        for button in (self.apply_button, self.figure_button, self.export_button):
            row.addWidget(button)
        return row

    def _results(self) -> QTabWidget:
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        reading = QWidget()
        column = QVBoxLayout(reading)
        column.addWidget(self.verdict)
        column.addWidget(QLabel("<b>Candidates</b> (furthest rung first; mean over its runs)"))
        column.addWidget(self.table, 1)
        self.results = QTabWidget()
        self.results.addTab(reading, "Best and ranking")
        self.figure_canvas: FigureCanvasQTAgg | None = None
        self.figure_tab = self.results.addTab(QWidget(), "Trade-off")
        self.results.setTabEnabled(self.figure_tab, False)
        return self.results

    def _on_call_changed(self, *_: object) -> None:
        """The space's values around the chosen call's settings; a breaker field only where
        the call has one (the rate form's threshold, or the simple form's count)."""
        edge = self.call_box.currentData()
        if edge is None:
            return
        ref = find_call(self.scenario, edge)
        dims = {d.field: d for d in default_space(self.scenario, ref)}
        for field, edit in self.space_edits.items():
            dim = dims.get(field)
            edit.setText(", ".join(_spelled(field, v) for v in dim.values) if dim else "")
            shown = dim is not None or (field == "breaker.failure_rate" and not any(
                f.startswith("breaker.") for f in dims))  # fmt: skip
            edit.setVisible(shown)
            self.space_labels[field].setVisible(shown)

    # -- running ---------------------------------------------------------------------------

    def start(self) -> None:
        if self.job is not None:
            return
        edge = self.call_box.currentData()
        if edge is None:
            self.status.setText("The scenario has no call to tune.")
            return
        try:
            objective = parse_objective(self.objective_edit.text())
            ref = find_call(self.scenario, edge)
            texts = [f"{f}={e.text()}" for f, e in self.space_edits.items()
                     if not e.isHidden() and e.text().strip()]  # fmt: skip
            space = parse_space(texts, self.scenario, ref, keep_defaults=False)
        except ObjectiveError as exc:
            self.status.setText(f"The objective cannot be read: {exc}")
            return
        except SpaceError as exc:
            self.status.setText(f"The values cannot be read: {exc}")
            return
        if not space:
            self.status.setText("Give values to try for at least one field.")
            return
        self.tuning, self.data = None, None
        job = TuneJob(self.scenario, edge, objective, space, self.budget.value(), self.executor)
        self.progress.setRange(0, 0)
        warned = "".join(f" ({w})" for w in objective.warnings)
        self._launch(job, f"Tuning {edge} for {objective.text}…{warned}")

    def _show_progress(self, done: int, total: int) -> None:
        if done:
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)
            self.progress.setFormat(f"{done}/{total} runs")

    def _cancelled_text(self, done: int, total: int) -> str:
        return f"Cancelled after {done} simulations."

    def _job_succeeded(self, job: TuneJob) -> None:
        self.tuning = job.tuning
        self._show_results()

    def _job_ended(self, job: TuneJob) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if job.tuning is not None else 0)

    # -- results ---------------------------------------------------------------------------

    def _show_results(self) -> None:
        tuning = self.tuning
        assert tuning is not None
        self.data = data = tune_data(tuning)
        self.status.setText(
            f"{data['runs']} runs: {data['candidates']} of {data['combinations']} combinations "
            f"in {len(data['rungs'])} rungs; mean ± 95% confidence interval"
            + ("" if data["clear_gain"] else ". No clear gain over the file's settings")
        )
        self.verdict.setText(data["verdict"])
        self._fill_table(data)
        old = self.results.widget(self.figure_tab)
        self.results.removeTab(self.figure_tab)
        old.deleteLater()
        self.figure_canvas = FigureCanvasQTAgg(self._figure_on_screen(tuning))
        self.figure_canvas.setMinimumSize(820, 440)
        holder = QScrollArea()
        holder.setWidgetResizable(True)
        holder.setWidget(self.figure_canvas)
        self.results.insertTab(self.figure_tab, holder, "Trade-off")
        self.results.setCurrentIndex(0)

    def _fill_table(self, data: dict[str, Any]) -> None:
        fields = [d["field"] for d in data["space"]]
        metrics = list(dict.fromkeys([data["tradeoff"]["y"], data["tradeoff"]["x"], "success"]))
        columns = ["#", *fields, "runs", *metrics, ""]
        self.table.setColumnCount(len(columns))
        self.table.setHorizontalHeaderLabels(columns)
        rows = data["ranking"]
        self.table.setRowCount(len(rows))
        for row, c in enumerate(rows):
            marks = [m for m, on in (("best", c["rank"] == 1), ("the file's", c["baseline"]),
                                     ("misses a bound", not c["feasible"])) if on]  # fmt: skip
            cells = [
                str(c["rank"]),
                *(c["settings"][f] or "none" for f in fields),
                str(c["replications"]),
                *(format_value(m, c["mean"].get(m)) for m in metrics),
                ", ".join(marks),
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col < len(cells) - 1:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if c["rank"] == 1:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()

    def _figure_on_screen(self, tuning: Tuning) -> Figure:
        """The figure in the palette's colours; saved files always get the light one."""
        if self.palette().color(QPalette.ColorRole.Window).lightness() >= 128:
            return tune_figure(tuning)
        with matplotlib.style.context("dark_background"):
            return tune_figure(tuning)

    # -- apply and exports -----------------------------------------------------------------

    def _enable_exports(self) -> None:
        ready = self.tuning is not None and self.job is None
        self.figure_button.setEnabled(ready)
        self.export_button.setEnabled(ready)
        best = self.tuning.best if self.tuning is not None else None
        self.apply_button.setEnabled(ready and best is not None and not best.baseline)
        unclear = self.data is not None and not self.data.get("clear_gain", True)
        self.apply_button.setText("Apply best (no clear gain)" if unclear else "Apply best")
        self.apply_button.setToolTip(
            "No clear gain over the file's settings: the difference may be noise. "
            "Apply writes them anyway (Edit ▸ Undo reverts)"
            if unclear
            else "Write the best settings onto the call (Edit ▸ Undo reverts)"
        )

    def apply_best(self) -> bool:
        """Write the best settings onto the call, as one undoable edit; False (and why, in
        the status line) if the call changed since the search or is gone."""
        tuning = self.tuning
        if tuning is None:
            return False
        from simulator.variants import OverrideError, apply_overrides

        ref, now = tuning.call, self.document.scenario
        node = now.nodes.get(ref.node)
        if (
            node is None
            or ref.index >= len(node.calls)
            or any(current_value(node.calls[ref.index], d.field) != d.current for d in tuning.space)
        ):
            self.status.setText(f"{ref.edge} changed since the search: tune it again.")
            return False
        try:
            after = apply_overrides(now, tuning.best.overrides)
        except OverrideError as exc:
            self.status.setText(f"Could not apply: {exc}")
            return False
        stack = self.document.undo_stack
        stack.beginMacro(f"Apply tuned settings to {ref.edge}")
        self.document.set_field(("nodes", ref.node), "calls", after.nodes[ref.node].calls)
        stack.endMacro()
        self.status.setText(
            f"Applied to {ref.edge}: {settings_text(tuning.best.settings)} (Edit ▸ Undo reverts)."
        )
        self.apply_button.setEnabled(False)
        return True

    def save_figure(self) -> Path | None:
        """Save the figure; PNG or SVG, as the chosen file's suffix says."""
        tuning = self.tuning
        if tuning is None:
            return None
        return self._save_figure_as(
            "Save the trade-off figure", "tune.png", lambda: tune_figure(tuning), dpi=110
        )

    def export(self) -> list[Path] | None:
        """Write tune.png, .svg, .csv and .json into a chosen folder."""
        tuning = self.tuning
        if tuning is None:
            return None
        return self._export_to(
            "Export the tuning to a folder", lambda folder: save_tuning(tuning, folder)
        )
