"""The metastability map: recovery time after a trigger over two axes, drawn as a heat map.

The work is ``simulator.metastability.run_map`` in a ``MapJob`` (a background
thread over a killable process pool, like the compare view's); the dialog polls its
progress on a timer and draws ``map_figure`` when it is done, with the boundary in
words under it. Presets fill both axes from the open scenario (load × the trigger's
duration, retry attempts or a retry budget); every field stays editable. The
figure saves as PNG or SVG; Export writes map.png, .svg, .csv and .json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.style
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from gui.plots.compare_dialog import ask_directory, ask_save_path, fitted_size
from gui.plots.job_dialog import JobDialogMixin
from gui.plots.map_job import MapJob
from simulator.metastability import (
    MetastabilityMap,
    boundary,
    map_data,
    map_figure,
    map_presets,
    save_map,
)
from simulator.metastability_fluid import preview_data
from simulator.scenario import Scenario


def _values(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


class MapDialog(JobDialogMixin, QDialog):
    """Choose two axes and replications; run the grid in the background; show the heat map."""

    done = Signal()
    JOB_WORK = "pairs of simulations"
    JOB_NAME = "map"

    def __init__(self, scenario: Scenario, parent: QWidget | None = None, executor: Any = None):
        super().__init__(parent)
        self.setWindowTitle(f"Metastability map — {scenario.name}")
        self.scenario = scenario
        self.executor = executor
        self.map: MetastabilityMap | None = None
        self.preview: list[list[float | None]] | None = None
        self.error: str | None = None
        self.cancelled = False
        self.job: MapJob | None = None
        # Questions to the user, replaceable by tests (they must not block).
        self.save_path = ask_save_path(self)
        self.choose_directory = ask_directory(self)
        self._build()
        self._init_job_polling()
        self.resize(*fitted_size(self, 900, 720))

    def _build(self) -> None:
        self.fault_box = QComboBox()
        for i, f in enumerate(self.scenario.faults):
            start, end = f.window(self.scenario.duration)
            self.fault_box.addItem(f"{i}: {f.kind} on {f.target} ({start:g}–{end:g} s)", i)
        self.fault_box.setToolTip("The trigger: the fault whose recovery each cell measures")
        self.fault_box.currentIndexChanged.connect(self._fill_presets)
        self.preset_box = QComboBox()
        self.preset_box.currentIndexChanged.connect(self._on_preset_changed)
        self.x_field, self.y_field = QLineEdit(), QLineEdit()
        self.x_values, self.y_values = QLineEdit(), QLineEdit()
        for edit in (self.x_field, self.y_field):
            edit.setToolTip("A field path, as murphy map --vary spells it: nodes.users.rate")
        for edit in (self.x_values, self.y_values):
            edit.setToolTip("Comma-separated values, written as in the scenario file")
        self._job_controls(
            "Run map",
            "map",
            "The heat map as PNG or SVG (by the file's suffix)",
            "map.png, .svg, .csv and .json into a folder",
        )
        self.status = QLabel(
            "Each cell runs the scenario and its pair without the trigger (same seed), and "
            "measures how long after the trigger ended its routes answered as well again."
        )
        self.status.setWordWrap(True)
        # Three rows, not seven: at 1366×768 or at 150% the heat map needs the height.
        form = QGridLayout()
        form.addWidget(QLabel("Trigger"), 0, 0)
        form.addWidget(self.fault_box, 0, 1)
        form.addWidget(QLabel("Preset"), 0, 2)
        form.addWidget(self.preset_box, 0, 3)
        for r, (name, field, values) in enumerate(
            (("x", self.x_field, self.x_values), ("y", self.y_field, self.y_values)), start=1
        ):
            form.addWidget(QLabel(f"{name}: field"), r, 0)
            form.addWidget(field, r, 1)
            form.addWidget(QLabel("values"), r, 2)
            form.addWidget(values, r, 3)
        form.setColumnStretch(1, 2)
        form.setColumnStretch(3, 3)
        row = QHBoxLayout()
        row.addWidget(QLabel("Replications"))
        row.addWidget(self.replications)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.figure_button)
        row.addWidget(self.export_button)
        self.figure_canvas: FigureCanvasQTAgg | None = None
        self.figure_holder = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addLayout(self.figure_holder, 1)
        if not self.scenario.faults:
            self.status.setText("This scenario has no fault: add a trigger (a fault with a "
                                "`for:`) to map the recovery from it.")  # fmt: skip
            self.run_button.setEnabled(False)
        self._fill_presets()
        self._enable_exports()

    # -- choosing --------------------------------------------------------------------------

    def _fill_presets(self, _index: int = 0) -> None:
        self.preset_box.blockSignals(True)
        self.preset_box.clear()
        for preset in map_presets(self.scenario, self.fault()):
            self.preset_box.addItem(preset.label, preset)
        self.preset_box.addItem("Custom (edit the fields)", None)
        self.preset_box.blockSignals(False)
        self._on_preset_changed()

    def _on_preset_changed(self, _index: int = 0) -> None:
        preset = self.preset_box.currentData()
        if preset is None:
            return
        self.x_field.setText(preset.x[0])
        self.x_values.setText(", ".join(preset.x[1]))
        self.y_field.setText(preset.y[0])
        self.y_values.setText(", ".join(preset.y[1]))

    def fault(self) -> int:
        data = self.fault_box.currentData()
        return 0 if data is None else int(data)

    def varies(self) -> list[tuple[str, list[str]]]:
        return [
            (self.x_field.text().strip(), _values(self.x_values.text())),
            (self.y_field.text().strip(), _values(self.y_values.text())),
        ]

    # -- running ---------------------------------------------------------------------------

    def start(self) -> None:
        if self.job is not None:
            return
        varies = self.varies()
        if any(not path or not values for path, values in varies):
            self.status.setText("Give both axes a field and at least one value.")
            return
        self.map = None
        job = MapJob(self.scenario, varies, self.replications.value(), self.fault(), self.executor)
        self._launch(job, f"Running {job.progress[1]} pairs of simulations…")

    def _job_succeeded(self, job: MapJob) -> None:
        self.map, self.preview = job.map, job.preview
        self._show_map()

    # -- results ---------------------------------------------------------------------------

    def _show_map(self) -> None:
        m = self.map
        assert m is not None
        if self.figure_canvas is not None:
            self.figure_holder.removeWidget(self.figure_canvas)
            self.figure_canvas.deleteLater()
        self.figure_canvas = FigureCanvasQTAgg(self._figure_on_screen(m))
        self.figure_holder.addWidget(self.figure_canvas)
        self.status.setText(self.boundary_text() + self.preview_text())

    def preview_text(self) -> str:
        """Where the fluid preview (dashed on the map) disagrees with the simulation."""
        if self.map is None or self.preview is None:
            return ""
        found = preview_data(map_data(self.map), self.preview)["disagree"]
        if not found:
            return ". The fluid preview (dashed) agrees on which cells never recover."
        cells = "; ".join(f"{d['x']}, {d['y']}" for d in found)
        return f". The fluid preview (dashed) disagrees at {cells}: randomness decides there."

    def boundary_text(self) -> str:
        """The boundary in words: per x value, the first y value that never recovers."""
        m = self.map
        if m is None:
            return ""
        (xf, xs), (yf, _ys) = m.axes
        parts = [
            f"{x}: never from {yf.rsplit('.', 1)[-1]}={b}" if b else f"{x}: always recovers"
            for x, b in zip(xs, boundary(m), strict=True)
        ]
        return f"Boundary ({xf.rsplit('.', 1)[-1]}) — " + "; ".join(parts)

    def _figure_on_screen(self, m: MetastabilityMap) -> Figure:
        """The figure in the palette's colours; saved files always get the light one."""
        if self.palette().color(QPalette.ColorRole.Window).lightness() >= 128:
            return map_figure(m, preview=self.preview)
        with matplotlib.style.context("dark_background"):
            return map_figure(m, preview=self.preview)

    # -- exports ---------------------------------------------------------------------------

    def _enable_exports(self) -> None:
        ready = self.map is not None and self.job is None
        self.figure_button.setEnabled(ready)
        self.export_button.setEnabled(ready)

    def save_figure(self) -> Path | None:
        """Save the heat map; PNG or SVG, as the chosen file's suffix says."""
        found, preview = self.map, self.preview
        if found is None:
            return None
        return self._save_figure_as(  # light, like the export
            "Save the map", "map.png", lambda: map_figure(found, preview=preview), dpi=130
        )

    def export(self) -> list[Path] | None:
        """Write map.png, .svg, .csv and .json into a chosen folder."""
        found, preview = self.map, self.preview
        if found is None:
            return None

        def write(folder: Path) -> list[Path]:
            data = map_data(found)
            if preview is not None:
                data["preview"] = preview_data(data, preview)
            return save_map(found, folder, preview, data)

        return self._export_to("Export the map to a folder", write)
