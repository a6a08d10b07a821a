"""What the user has selected, shared by the canvas, timeline, inspector and problems list.

A selection is a tuple of keys: ``("node", name)``, ``("call", source, index)``,
``("publish", source, index)``, ``("fault", index)``, or one of the edges a node's
own fields draw: ``("relay", relay)`` (its publish), ``("outbox", relay)`` (its
database) and ``("consume", consumer)`` (its broker). Views set it and follow it;
the inspector shows the single selected thing, or the scenario's own settings
when nothing is selected.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from gui.kinds import EDGE_KINDS

__all__ = ["EDGE_KINDS", "Key", "Selection"]

Key = tuple[Any, ...]


class Selection(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._keys: tuple[Key, ...] = ()

    @property
    def keys(self) -> tuple[Key, ...]:
        return self._keys

    def single(self) -> Key | None:
        return self._keys[0] if len(self._keys) == 1 else None

    def set(self, keys: list[Key] | tuple[Key, ...]) -> None:
        keys = tuple(keys)
        if keys != self._keys:
            self._keys = keys
            self.changed.emit()

    def clear(self) -> None:
        self.set(())

    def of(self, what: str) -> list[Key]:
        return [k for k in self._keys if k[0] == what]
