"""The compare dialog's results: the verdict, the table with each column's best marked, help.

The reading itself (which variant is best per column, clear or tied; the verdict and its
reason) is ``simulator.compare_verdict``'s, shared with ``murphy compare``; this widget only
shows it:

- the verdict line, and any further finding, above the table;
- per column, the best cell bold with a ✓ in a green, the cells tied for best with a ≈ in an
  amber (both picked for the palette's lightness, so they read on light and dark themes),
  and a tooltip on the cell saying why;
- column titles with ↑ (higher is better) or ↓, a tooltip on every title saying what the
  column measures, and a help line under the table that a click on a title fills in.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from simulator.compare_verdict import Best, Judgement, censored_text, column

Format = Callable[[float], str]
Metric = tuple[str, str, Format, Format]
"""A column: metric key, title, format of the mean, format of the ± half-width."""

TABLE_METRICS: list[Metric] = [
    ("success_rate", "success", lambda v: f"{v * 100:.1f}%", lambda h: f"{h * 100:.1f}"),
    ("p99_ms", "p99 (ms)", lambda v: f"{v:.0f}", lambda h: f"{h:.0f}"),
    ("goodput_per_s", "goodput/s", lambda v: f"{v:.0f}", lambda h: f"{h:.0f}"),
    ("peak_load_per_s", "peak load/s", lambda v: f"{v:.0f}", lambda h: f"{h:.0f}"),
    ("total_attempts", "attempts", lambda v: f"{v:.0f}", lambda h: f"{h:.0f}"),
]
MESSAGE_TABLE_METRICS: list[Metric] = [
    ("messages_lost", "lost msgs", lambda v: f"{v:.0f}", lambda h: f"{h:.0f}"),
    ("messages_applied_twice", "applied twice", lambda v: f"{v:.0f}", lambda h: f"{h:.0f}"),
    ("max_lag_s", "max lag (s)", lambda v: f"{v:.2f}", lambda h: f"{h:.2f}"),
]
"""Shown when the scenario has messages."""
CONTENTION_TABLE_METRICS: list[Metric] = [
    ("contention_calls", "calls", lambda v: f"{v:.0f}", lambda h: f"{h:.0f}"),
    ("completion_s", "completion (s)", lambda v: f"{v:.2f}", lambda h: f"{h:.2f}"),
]
"""Shown when the scenario has a contended database (the backoff study's two figures)."""

VARIANT_HELP = "The variant: the value (or values) of the field varied, the rest as in the file."
LEGEND = (
    "↑ higher is better, ↓ lower. ✓ bold: best in its column (its 95% interval clears every "
    "other variant's); ≈: tied for best (the intervals overlap: more replications may "
    "separate them). Click a column title for what it measures."
)
_SIGNS = {"best": " ✓", "tied": " ≈"}
MarkColours = dict[str, QColor]


def mark_colours(palette: QPalette) -> MarkColours:
    """A green for the best and an amber for a tie that read on the palette's base colour."""
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    if dark:
        return {"best": QColor("#7ee2a0"), "tied": QColor("#f2c463")}
    return {"best": QColor("#116329"), "tied": QColor("#8a5a00")}


def shown_metrics(rows: list[dict[str, Any]], best: dict[str, Best]) -> list[Metric]:
    """The columns for these rows: the headline metrics, calls and completion for a scenario
    with a contended database, the message ones for a scenario with messages, and attempts
    per request on every call where the variants differ."""
    shown = list(TABLE_METRICS)
    if rows and "contention_calls" in rows[0]["metrics"]:
        shown += CONTENTION_TABLE_METRICS
    if rows and "messages_lost" in rows[0]["metrics"]:
        shown += MESSAGE_TABLE_METRICS
    for key in dict.fromkeys(k for r in rows for k in r["metrics"]):
        if key.startswith("amplification:") and key in best and best[key].status != "equal":
            edge = key.removeprefix("amplification:").replace("->", "→")
            shown.append((key, f"attempts/req\n{edge}", "{:.2f}".format, "{:.2f}".format))
    return shown


def header_text(key: str, label: str) -> str:
    """The column title with ↑ (higher is better) or ↓."""
    return f"{label} {'↑' if column(key).better == 'higher' else '↓'}"


def header_help(key: str) -> str:
    """What the column measures, and which way is better: the title's tooltip."""
    col = column(key)
    return f"{col.help} {col.direction_text}"


def cell_text(metric: dict[str, Any] | None, fmt: Format, fmt_half: Format, key: str = "") -> str:
    if metric is None or metric["mean"] is None or math.isnan(metric["mean"]):
        return "–"
    cut = censored_text(metric, key, 0 if key == "contention_calls" else 2)
    if cut is not None:
        return cut
    half = metric["ci95"]
    return fmt(metric["mean"]) + (
        "" if half is None or math.isnan(half) else f" ± {fmt_half(half)}"
    )


def cell_tip(best: Best, mark: str) -> str:
    """Why a cell is marked, in the words of the 95% intervals."""
    name = column(best.key).label
    if mark == "best":
        return (f"Best {name}: its 95% interval does not overlap any other variant's "
                f"(the runner-up is {best.runner_up}).")  # fmt: skip
    return (f"Tied for the best {name}: the 95% intervals of {best.variant} and "
            f"{', '.join(best.tied_with)} overlap, so any of them may be best.")  # fmt: skip


class ComparisonResults(QWidget):
    """The verdict above the table, the legend and the column help under it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)  # "Verdict:" bold, the rest escaped
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.findings = QLabel()
        self.findings.setWordWrap(True)
        self.findings.setTextFormat(Qt.TextFormat.PlainText)
        self.findings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().sectionClicked.connect(self._on_header_clicked)
        self.help = QLabel(LEGEND)
        self.help.setWordWrap(True)
        self.help.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.verdict)
        layout.addWidget(self.findings)
        layout.addWidget(self.table)
        layout.addWidget(self.help)
        layout.addStretch(1)
        self.keys: list[str] = []
        self.clear()

    def clear(self) -> None:
        self.verdict.clear()
        self.verdict.hide()
        self.findings.clear()
        self.findings.hide()
        self.table.clear()
        self.table.setMinimumHeight(0)
        self.table.setMaximumHeight(16777215)  # QWIDGETSIZE_MAX: no rows, no fixed height
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.help.setText(LEGEND)
        self.keys = []

    def show_rows(self, rows: list[dict[str, Any]], judgement: Judgement | None) -> None:
        """Fill the table from ``comparison_table`` rows and mark what ``judgement`` found."""
        self.clear()
        best = judgement.best if judgement is not None else {}
        if judgement is not None:
            self.verdict.setText(f"<b>Verdict:</b> {html.escape(judgement.verdict)}")
            self.verdict.show()
            if judgement.findings:
                self.findings.setText("\n".join(judgement.findings))
                self.findings.show()
        shown = shown_metrics(rows, best)
        self.keys = ["variant"] + [key for key, *_ in shown]
        self.table.setRowCount(len(rows))
        self.table.setColumnCount(1 + len(shown))
        title = QTableWidgetItem("variant")
        title.setToolTip(VARIANT_HELP)
        self.table.setHorizontalHeaderItem(0, title)
        for col, (key, label, _, _) in enumerate(shown, start=1):
            item = QTableWidgetItem(header_text(key, label))
            item.setToolTip(header_help(key))
            self.table.setHorizontalHeaderItem(col, item)
        colours = mark_colours(self.table.palette())
        for r, row in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(row["variant"]))
            for col, (key, _, fmt, fmt_half) in enumerate(shown, start=1):
                metric = row["metrics"].get(key)
                item = QTableWidgetItem(cell_text(metric, fmt, fmt_half, key))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if key in best:
                    self._mark(item, best[key], best[key].mark(row["variant"]), colours)
                self.table.setItem(r, col, item)
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        self.table.setFixedHeight(self.table_height())

    @staticmethod
    def _mark(item: QTableWidgetItem, best: Best, mark: str, colours: MarkColours) -> None:
        item.setData(Qt.ItemDataRole.UserRole, mark)
        if not mark:
            return
        item.setText(item.text() + _SIGNS[mark])
        item.setForeground(colours[mark])
        font = item.font()
        font.setBold(mark == "best")
        font.setItalic(mark == "tied")
        item.setFont(font)
        item.setToolTip(cell_tip(best, mark))

    def table_height(self) -> int:
        """The table's height with every row shown (and a horizontal scroll bar's room)."""
        table = self.table
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        header = table.horizontalHeader().sizeHint().height()
        scroll = table.horizontalScrollBar().sizeHint().height()
        return header + rows + 2 * table.frameWidth() + scroll

    def mark_of(self, row: int, key: str) -> str:
        """``best``, ``tied`` or ``""``: how the cell of ``key`` in ``row`` is marked."""
        item = self.table.item(row, self.keys.index(key))
        return item.data(Qt.ItemDataRole.UserRole) or "" if item is not None else ""

    def _on_header_clicked(self, section: int) -> None:
        header = self.table.horizontalHeaderItem(section)
        if header is None:
            return
        name = header.text().replace("\n", " ")
        self.help.setText(f"{name}: {header.toolTip()}")
