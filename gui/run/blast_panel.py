"""Blast radius: for each fault, what it degraded against a paired run without it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from simulator.recovery import RECOVERY_HOLD, recovery_text

ALL = -1


def highlight(entries: list[dict[str, Any]], scenario_faults: list[Any], index: int) -> dict:
    """name → (severity, is the fault's target) for one fault, or the worst over all."""
    out: dict[str, tuple[float, bool]] = {}
    for entry in entries:
        if index not in (ALL, entry["index"]):
            continue
        detail = entry["detail"]
        hits = [(n, detail["nodes"][n]["severity"]) for n in entry["nodes"]]
        hits += [(r, detail["routes"][r]["severity"]) for r in entry["routes"]]
        target = scenario_faults[entry["index"]].target if entry["index"] < len(
            scenario_faults) else None  # fmt: skip
        for name, severity in hits:
            severity = max(severity, 0.15)  # degraded at all: never invisible
            old = out.get(name, (0.0, False))
            out[name] = (max(old[0], severity), old[1] or name == target)
        if target is not None and target not in out:
            out[target] = (0.15, True)
    return out


class BlastRadiusPanel(QWidget):
    """The list of faults and their reach; choosing one highlights it on the drawing."""

    fault_chosen = Signal(int)  # a fault index, or ALL

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.entries: list[dict[str, Any]] = []
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.currentItemChanged.connect(self._on_current_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.note)
        layout.addWidget(self.list, 1)
        self.set_waiting("Run the scenario: each fault's reach is measured against a paired run "
                         "without it (same seed).")  # fmt: skip

    def set_waiting(self, text: str) -> None:
        self.entries = []
        self.list.clear()
        self.note.setText(text)

    def set_entries(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        self.list.blockSignals(True)
        self.list.clear()
        if not entries:
            self.note.setText("This scenario injects no faults.")
        else:
            self.note.setText("What each fault degraded, against the same seed without it. "
                              "Select one to highlight it (yellow: slight, red: severe; "
                              "dashed: the fault's target).")  # fmt: skip
        if len(entries) > 1:
            item = QListWidgetItem("All faults together")
            item.setData(Qt.ItemDataRole.UserRole, ALL)
            self.list.addItem(item)
        for entry in entries:
            text = f"{entry['fault']} → {entry['summary']}"
            if "recovery_s" in entry:  # a record made before recovery was measured has none
                text += f"; {recovery_text(entry)}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, entry["index"])
            item.setToolTip(_details(entry))
            self.list.addItem(item)
        self.list.blockSignals(False)
        if entries:
            self.list.setCurrentRow(1 if len(entries) > 1 else 0)

    def texts(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _on_current_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.fault_chosen.emit(current.data(Qt.ItemDataRole.UserRole))


def _details(entry: dict[str, Any]) -> str:
    lines = [entry["fault"]]
    if entry.get("recovered_at_s") is not None and entry.get("routes"):
        lines.append(
            f"{recovery_text(entry)} (at {entry['recovered_at_s']:g} s): its routes answered "
            f"as well as the paired run for {RECOVERY_HOLD} buckets in a row"
        )
    for name, row in entry["detail"]["routes"].items():
        mark = "degraded" if row["degraded"] else "unaffected"
        lines.append(f"route {name}: {mark}, +{row['extra_failure_share'] * 100:.1f}% failures, "
                     f"p99 ×{row['p99_ratio']:.2f}")  # fmt: skip
    for name, row in entry["detail"]["nodes"].items():
        if row["degraded"]:
            lines.append(f"{name}: +{row['extra_error_share'] * 100:.1f}% errors, "
                         f"utilisation {row['utilization_delta'] * 100:+.0f} points")  # fmt: skip
    return "\n".join(lines)
