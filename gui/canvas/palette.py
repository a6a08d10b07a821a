"""The palette of node kinds: drag one onto the canvas, or double-click to add it in the middle."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from gui.icons import KIND_LABELS, kind_icon
from simulator.scenario import NODE_KINDS

KIND_MIME = "application/x-murphy-node-kind"

HINTS = {
    "client": "Sends requests: open loop (rate, profile) or closed loop (users + think time)",
    "service": "Workers and a bounded queue; a worker is held through its downstream calls",
    "database": "A service with a server-side connection limit",
    "third_party": "An external API with given latency and errors",
    "balancer": "Sends each request to one backend: round robin, random or least outstanding",
    "cache": "Answers its hit ratio itself, calls the origin on a miss; comes back cold",
}


class PaletteView(QListWidget):
    """One entry per node kind; kinds the engine does not model yet are shown disabled."""

    add_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setIconSize(QSize(32, 32))
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSpacing(2)
        for kind in NODE_KINDS:
            self.addItem(self._entry(kind, enabled=kind in HINTS))
        self.itemDoubleClicked.connect(self._on_item_double_clicked)

    @staticmethod
    def _entry(kind: str, enabled: bool) -> QListWidgetItem:
        item = QListWidgetItem(kind_icon(kind), KIND_LABELS[kind])
        item.setData(Qt.ItemDataRole.UserRole, kind)
        if enabled:
            item.setToolTip(
                f"{KIND_LABELS[kind]}: {HINTS[kind]}.\nDrag onto the canvas, or double-click."
            )
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled
            )
        else:
            item.setToolTip(f"{KIND_LABELS[kind]}: not modelled by the engine yet.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
        return item

    def kinds(self) -> list[str]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    def _on_item_double_clicked(self, item: QListWidgetItem) -> None:
        if item.flags() & Qt.ItemFlag.ItemIsEnabled:
            self.add_requested.emit(item.data(Qt.ItemDataRole.UserRole))

    def startDrag(self, supported: Qt.DropAction) -> None:
        item = self.currentItem()
        if item is None or not item.flags() & Qt.ItemFlag.ItemIsEnabled:
            return
        mime = QMimeData()
        mime.setData(KIND_MIME, item.data(Qt.ItemDataRole.UserRole).encode())
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.setPixmap(item.icon().pixmap(40, 40))
        drag.exec(Qt.DropAction.CopyAction)
