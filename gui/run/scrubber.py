"""A time slider that replays a finished run's recorded snapshots on the drawing and plots."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

STEPS = 1000


class TimeScrubber(QWidget):
    """``time_changed(t)`` while dragging; ``t`` is None when following the live run."""

    time_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.end = 0.0
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setToolTip("Drag to replay the run: the drawing and the plots follow")
        self.slider.valueChanged.connect(self._on_value_changed)
        self.label = QLabel("no run yet")
        self.label.setMinimumWidth(150)
        self.end_button = QPushButton("End")
        self.end_button.setToolTip("Back to the end of the run")
        self.end_button.clicked.connect(lambda: self.slider.setValue(STEPS))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(QLabel("Replay"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.end_button)
        self.set_live(0.0)

    def set_live(self, now: float) -> None:
        """While a run is live the slider only shows progress."""
        self.slider.setEnabled(False)
        self.end_button.setEnabled(False)
        self.label.setText(f"live: {now:.1f} s" if now else "no run yet")

    def clear(self) -> None:
        """No run at all (a new document): no handle left where the last run ended."""
        self.end = 0.0
        self.slider.blockSignals(True)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.set_live(0.0)

    def set_ended(self, end: float) -> None:
        """The run is over: the slider spans it and starts at its end."""
        self.end = end
        self.slider.blockSignals(True)
        self.slider.setValue(STEPS)
        self.slider.blockSignals(False)
        self.slider.setEnabled(end > 0)
        self.end_button.setEnabled(end > 0)
        self.label.setText(f"{end:.1f} s (end)")

    def seek(self, t: float) -> None:
        self.slider.setValue(round(STEPS * t / self.end) if self.end else 0)

    @property
    def time(self) -> float:
        return self.end * self.slider.value() / STEPS

    def _on_value_changed(self, value: int) -> None:
        t = self.time
        self.label.setText(f"{t:.1f} s" + (" (end)" if value == STEPS else ""))
        self.time_changed.emit(t)
