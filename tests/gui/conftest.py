"""GUI tests run without a display; they skip where PySide6 is not installed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PySide6.QtWidgets")

from PySide6.QtCore import QEvent, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QGraphicsView

ROOT = Path(__file__).resolve().parents[2]
FLAGSHIP = ROOT / "scenarios" / "latency-spike.yaml"


class FakeDialogs:
    """Scripted answers; every question asked is recorded instead of blocking."""

    def __init__(self):
        self.errors: list[tuple[str, str]] = []
        self.save_answer = "discard"
        self.recover_answer = True
        self.open_answer: Path | None = None
        self.save_as_answer: Path | None = None
        self.asked: list[str] = []

    def error(self, title: str, text: str) -> None:
        self.errors.append((title, text))

    def ask_save_changes(self, name: str) -> str:
        self.asked.append(f"save {name}")
        return self.save_answer

    def ask_recover(self, original: str, saved_at: str) -> bool:
        self.asked.append(f"recover {original}")
        return self.recover_answer

    def open_path(self, directory: Path) -> Path | None:
        return self.open_answer

    def save_path(self, suggested: Path) -> Path | None:
        return self.save_as_answer


def settle(qtbot, window) -> None:
    """Let the window's deferred rebuilds (inspector form, timeline bars) run."""
    views = (window.inspector, window.timeline.view)
    qtbot.waitUntil(lambda: not any(v.rebuild_pending for v in views), timeout=5_000)


@pytest.fixture
def dialogs() -> FakeDialogs:
    return FakeDialogs()


@pytest.fixture
def make_window(qtbot, tmp_path, dialogs):
    """A MainWindow whose settings, recovery folder and dialogs live in tmp_path."""
    from gui.main_window import MainWindow

    def make(path: Path | None = FLAGSHIP):
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, dialogs=dialogs, recovery_dir=tmp_path / "recovery")
        qtbot.addWidget(window)
        if path is not None:
            assert window.files.open(path)
        return window

    return make


@pytest.fixture
def window(make_window):
    return make_window()


def _send(view: QGraphicsView, kind: QEvent.Type, pos: QPoint, buttons, modifiers) -> None:
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    local = QPointF(pos)
    glob = QPointF(view.viewport().mapToGlobal(pos))
    event = QMouseEvent(kind, local, glob, button, buttons, modifiers)
    QApplication.sendEvent(view.viewport(), event)


def _drag(
    view: QGraphicsView, start: QPointF, end: QPointF, modifiers=Qt.KeyboardModifier.NoModifier
):
    """Press at ``start``, move in steps, release at ``end`` (scene coordinates)."""
    a, b = view.mapFromScene(start), view.mapFromScene(end)
    held = Qt.MouseButton.LeftButton
    _send(view, QEvent.Type.MouseButtonPress, a, held, modifiers)
    for i in range(1, 6):
        step = a + (b - a) * (i / 5)
        _send(view, QEvent.Type.MouseMove, step, held, modifiers)
    _send(view, QEvent.Type.MouseButtonRelease, b, Qt.MouseButton.NoButton, modifiers)


@pytest.fixture
def drag():
    """Mouse drags on graphics views, sent as real events (QTest cannot move with a button held)."""
    return _drag
