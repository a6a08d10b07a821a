"""The node-kind icons in ``assets/icons``, loaded once as QIcons and SVG renderers.

Labels, colours and everything else about a kind live in ``gui.kinds``.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon
from PySide6.QtSvg import QSvgRenderer

from gui.kinds import ICON_DIR, icon_path

__all__ = ["ICON_DIR", "icon_path", "kind_icon", "kind_renderer"]


@cache
def kind_icon(kind: str) -> QIcon:
    return QIcon(str(icon_path(kind)))


@cache
def kind_renderer(kind: str) -> QSvgRenderer:
    return QSvgRenderer(str(icon_path(kind)))
