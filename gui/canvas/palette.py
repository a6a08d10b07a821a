"""The palette of node kinds: drag one onto the canvas, or double-click to add it in the middle."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from gui.icons import kind_icon
from gui.kinds import KINDS
from simulator.scenario import NODE_KINDS

KIND_MIME = "application/x-murphy-node-kind"


class PaletteView(QListWidget):
    """One entry per node kind, in the schema's order, with its hint as the tooltip."""

    add_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setIconSize(QSize(32, 32))
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSpacing(2)
        for kind in NODE_KINDS:
            self.addItem(self._entry(kind))
        self.itemDoubleClicked.connect(self._on_item_double_clicked)

    @staticmethod
    def _entry(kind: str) -> QListWidgetItem:
        entry = KINDS[kind]
        item = QListWidgetItem(kind_icon(kind), entry.label)
        item.setData(Qt.ItemDataRole.UserRole, kind)
        item.setToolTip(f"{entry.label}: {entry.hint}.\nDrag onto the canvas, or double-click.")
        item.setFlags(
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
        )
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
