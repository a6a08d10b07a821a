"""Run / Pause / Stop / Reset and the speed control, as a toolbar that follows the run's state."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QStyle, QToolBar, QWidget

from gui.run import controller as states

SPEEDS: list[tuple[str, float | None]] = [
    ("1× (real time)", 1.0),
    ("5×", 5.0),
    ("10×", 10.0),
    ("30×", 30.0),
    ("100×", 100.0),
    ("As fast as possible", None),
]
DEFAULT_SPEED = 2  # 10 simulated seconds per wall second: the flagship's spike takes 3 s


class RunToolbar(QToolBar):
    """Emits what the user asked for; ``set_state`` enables what makes sense now."""

    run_requested = Signal()
    pause_requested = Signal()
    resume_requested = Signal()
    stop_requested = Signal()
    reset_requested = Signal()
    speed_changed = Signal(object)  # float | None

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Run", parent)
        self.setObjectName("toolbar:run")
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        style = self.style()
        icon = style.standardIcon
        pixmap = QStyle.StandardPixmap
        self.run_action = self._add(icon(pixmap.SP_MediaPlay), "Run", "F5", self.run_requested)
        self.run_action.setToolTip("Run the scenario as it is now (F5); editing waits till it ends")
        # One ▶ only: while paused this button stays ⏸, held down, and says Resume.
        self.pause_action = QAction(icon(pixmap.SP_MediaPause), "Pause", self)
        self.pause_action.setCheckable(True)
        self.pause_action.setShortcut(QKeySequence("F6"))
        self.pause_action.triggered.connect(self._on_pause_triggered)
        self.addAction(self.pause_action)
        self.stop_action = self._add(icon(pixmap.SP_MediaStop), "Stop", "Shift+F5",
                                     self.stop_requested)  # fmt: skip
        self.reset_action = self._add(icon(pixmap.SP_BrowserReload), "Reset", None,
                                      self.reset_requested)  # fmt: skip
        self.reset_action.setToolTip("Clear the run's results from the drawing and the plots")
        self.addSeparator()
        self.addWidget(QLabel(" Speed "))
        self.speed_box = QComboBox()
        self.speed_box.setToolTip("Simulated seconds per wall-clock second")
        for label, value in SPEEDS:
            self.speed_box.addItem(label, value)
        self.speed_box.setCurrentIndex(DEFAULT_SPEED)
        self.speed_box.currentIndexChanged.connect(self._on_speed_changed)
        self.addWidget(self.speed_box)
        self._paused = False
        self.set_state(states.IDLE, has_results=False)

    def _add(self, icon, text: str, shortcut: str | None, signal) -> QAction:
        action = QAction(icon, text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: signal.emit())
        self.addAction(action)
        return action

    @property
    def speed(self) -> float | None:
        return self.speed_box.currentData()

    def set_state(self, state: str, has_results: bool) -> None:
        live = state in states.LIVE
        self.run_action.setEnabled(not live and state != states.ANALYSING)
        self.pause_action.setEnabled(state in (states.RUNNING, states.PAUSED))
        self._paused = state == states.PAUSED
        self.pause_action.setText("Resume" if self._paused else "Pause")
        self.pause_action.setChecked(self._paused)
        self.pause_action.setToolTip("Resume the run (F6)" if self._paused
                                     else "Pause the run (F6)")  # fmt: skip
        stoppable = (live and state != states.STOPPING) or state == states.ANALYSING
        self.stop_action.setEnabled(stoppable)
        self.stop_action.setText("Skip analysis" if state == states.ANALYSING else "Stop")
        self.reset_action.setEnabled(has_results and not live)

    def _on_pause_triggered(self) -> None:
        self.pause_action.setChecked(self._paused)  # held down once the run is paused, not before
        (self.resume_requested if self._paused else self.pause_requested).emit()

    def _on_speed_changed(self, index: int) -> None:
        self.speed_changed.emit(self.speed_box.itemData(index))
