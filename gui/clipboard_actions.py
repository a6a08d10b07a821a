"""Edit-menu actions over the shared selection: copy, paste, delete, select all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gui.canvas import clipboard
from gui.edits import EditError

if TYPE_CHECKING:
    from gui.main_window import MainWindow


class EditActions:
    """What Edit → Copy/Paste/Delete/Select All do, whichever view has the selection."""

    def __init__(self, window: MainWindow):
        self.window = window

    def copy(self) -> str:
        names = [k[1] for k in self.window.selection.of("node")]
        if not names:
            return ""
        positions = {n: (i.pos().x(), i.pos().y()) for n, i in self.window.scene.nodes.items()}
        return clipboard.copy_nodes(self.window.document, names, positions)

    def paste(self) -> list[str]:
        names = clipboard.paste_nodes(self.window.document)
        if names:
            self.window.selection.set([("node", n) for n in names])
        return names

    def delete(self) -> None:
        selection = self.window.selection
        nodes = {k[1] for k in selection.of("node")}
        calls = {(k[1], k[2]) for k in selection.of("call")}
        faults = {k[1] for k in selection.of("fault")}
        if not (nodes or calls or faults):
            return
        try:
            self.window.document.remove(nodes, calls, faults)
        except EditError as exc:
            self.window.statusBar().showMessage(exc.message, 8000)
            return
        selection.clear()

    def select_all(self) -> None:
        self.window.selection.set([("node", n) for n in self.window.document.scenario.nodes])
