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
        """Delete the selected nodes, calls, publishes and faults in one undoable step.

        The edges a relay's or consumer's own fields draw go with the node, not alone;
        relays and consumers that need a deleted node go with it, and the status bar
        says so.
        """
        selection = self.window.selection
        nodes = {k[1] for k in selection.of("node")}
        calls = {(k[1], k[2]) for k in selection.of("call")}
        publishes = {(k[1], k[2]) for k in selection.of("publish")}
        faults = {k[1] for k in selection.of("fault")}
        status = self.window.statusBar()
        deploys = {k[1] for k in selection.of("deploy")}
        if deploys and not (nodes or calls or publishes or faults):
            self.window.document.remove_deploys(deploys)
            selection.clear()
            return
        if not (nodes or calls or publishes or faults):
            if any(selection.of(kind) for kind in ("relay", "outbox", "consume")):
                status.showMessage(
                    "This edge is part of its relay or consumer: change where it goes in the "
                    "inspector, or delete the node",
                    8000,
                )
            return
        try:
            removed = self.window.document.remove(nodes, calls, faults, publishes)
        except EditError as exc:
            status.showMessage(exc.message, 8000)
            return
        also = sorted(removed - nodes)
        if also:
            status.showMessage(f"Also deleted {', '.join(also)}: they cannot work without "
                               f"{', '.join(sorted(nodes))}", 8000)  # fmt: skip
        selection.clear()

    def select_all(self) -> None:
        self.window.selection.set([("node", n) for n in self.window.document.scenario.nodes])
