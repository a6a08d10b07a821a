"""The node-kind icons in ``assets/icons``, loaded once as QIcons and SVG renderers."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtSvg import QSvgRenderer

ICON_DIR = Path(__file__).resolve().parent.parent / "assets" / "icons"

KIND_LABELS = {
    "client": "Client",
    "service": "Service",
    "database": "Database",
    "third_party": "Third-party API",
    "cache": "Cache",
    "broker": "Message broker",
    "relay": "Outbox relay",
    "consumer": "Consumer",
    "balancer": "Load balancer",
}

KIND_COLORS = {
    "client": "#5b8def",
    "service": "#34a37a",
    "database": "#e08a2e",
    "third_party": "#9a6bd6",
    "balancer": "#2a9bb5",
    "cache": "#c9497a",
}


def icon_path(kind: str) -> Path:
    return ICON_DIR / f"{kind}.svg"


@cache
def kind_icon(kind: str) -> QIcon:
    return QIcon(str(icon_path(kind)))


@cache
def kind_renderer(kind: str) -> QSvgRenderer:
    return QSvgRenderer(str(icon_path(kind)))
