"""No edits while a run is live: the run simulates the document as it was at Run.

The editor's widgets are disabled, its edit actions too (their previous states
come back after), nodes cannot be dragged and the connect gesture is refused.
Clicking still selects, so the plots can follow what the user points at.
A drag is refused by swallowing its mouse moves, not by clearing each node's
movable flag: changing a flag repaints the whole drawing (tens of ms on 50 nodes).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QToolBar

EDIT_MENUS = ("&Edit", "&Insert")


class EditLock(QObject):
    """Locks and unlocks a MainWindow's editing."""

    def __init__(self, window: Any):
        super().__init__(window)
        self.window = window
        self.locked = False
        self._saved: list[tuple[QAction, bool]] = []
        self._holding_node = False  # a press on a node: its moves are a drag to refuse
        window.canvas_view.viewport().installEventFilter(self)

    def _actions(self) -> list[QAction]:
        out: list[QAction] = []
        for top in self.window.menuBar().actions():
            if top.text() in EDIT_MENUS and top.menu() is not None:
                out += _all_actions(top.menu())
        edit_bar = self.window.findChild(QToolBar, "toolbar:edit")
        if edit_bar is not None:
            out += [a for a in edit_bar.actions() if a.text() in ("Undo", "Redo")]
        return out

    def set_locked(self, locked: bool) -> None:
        if locked == self.locked:
            return
        self.locked = locked
        w = self.window
        for widget in (w.palette_view, w.inspector, w.timeline):
            widget.setEnabled(not locked)
        if locked:
            self._saved = [(a, a.isEnabled()) for a in self._actions()]
            for action, _ in self._saved:
                action.setEnabled(False)
        else:
            for action, enabled in self._saved:
                action.setEnabled(enabled)
            self._saved = []
        self._holding_node = False
        w.canvas_view.setAcceptDrops(not locked)
        if locked:
            w.statusBar().showMessage("Editing is locked while the run is live: stop it to edit")
        else:
            w.statusBar().clearMessage()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self.locked:
            return False
        kind = event.type()
        if kind in (QEvent.Type.Drop, QEvent.Type.DragEnter):
            return True
        if kind == QEvent.Type.MouseMove:
            return self._holding_node
        if kind == QEvent.Type.MouseButtonRelease:
            self._holding_node = False
            return False
        if kind != QEvent.Type.MouseButtonPress:
            return False
        if event.button() != Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return False
        view = self.window.canvas_view
        pos = event.position().toPoint()  # type: ignore[attr-defined]
        node = view._node_at(pos)
        if node is None:
            return False
        local = node.mapFromScene(view.mapToScene(pos))
        shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier  # type: ignore[attr-defined]
        if shift or node.on_port(local):
            self.window.selection.set([("node", node.name)])
            return True  # a connect gesture: select instead
        self._holding_node = True
        return False


def _all_actions(menu: Any) -> list[QAction]:
    out = []
    for action in menu.actions():
        if action.menu() is not None:
            out += _all_actions(action.menu())
        elif not action.isSeparator():
            out.append(action)
    return out
