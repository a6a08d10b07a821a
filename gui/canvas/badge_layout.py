"""Where an edge's badges go: near the middle of its arrow, never over a node's live zone.

A node owns more than its body: the run paints fault chips above it and its live
strip ("10/10 busy · q 3/40") under it (``node_item.LIVE_ZONE``). Badges placed at
the middle of a short or steep arrow used to cover that strip. ``place_block``
tries spots along the arrow, then slides the block away from the line, and keeps
the first spot that touches no obstacle; the painter draws a leader line to the
arrow when the block had to move away from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainterPath

GAP = 4.0  # between the arrow and a block that sits right on it
STEP = 6.0  # how far each try slides the block away from the line
REACH = 30  # tries per direction: up to 180 px away
ALONG = (0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74)  # fractions of the arrow tried, in order


def obstacles_near(area: QRectF, rects: Iterable[QRectF]) -> list[QRectF]:
    """The rects that could matter for a block placed somewhere inside ``area``."""
    return [r for r in rects if r.intersects(area)]


def place_block(
    path: QPainterPath,
    width: float,
    height: float,
    obstacles: Sequence[QRectF],
    above: bool = True,
) -> tuple[QRectF, QPointF]:
    """A ``width`` × ``height`` rect near ``path``'s middle that touches no obstacle, and the
    point of the arrow it belongs to.

    First choice: centred on the middle, just above the line (``above``) or just below.
    Then other points of the arrow, then slid perpendicular to the page's x axis (up
    or down) step by step; the cheapest free spot wins. When nothing is free (a
    crowded drawing) the first choice is returned: overlapping beats vanishing.
    """
    candidates: list[tuple[float, QRectF, QPointF]] = []
    for rank, t in enumerate(ALONG):
        anchor = path.pointAtPercent(t)
        x = anchor.x() - width / 2
        near = anchor.y() - GAP - height if above else anchor.y() + GAP
        far = anchor.y() + GAP if above else anchor.y() - GAP - height
        for side, start, sign in ((0, near, -1 if above else 1), (1, far, 1 if above else -1)):
            for k in range(REACH + 1):
                cost = rank * 9.0 + side * 4.0 + k * STEP
                rect = QRectF(x, start + sign * k * STEP, width, height)
                candidates.append((cost, rect, anchor))
    candidates.sort(key=lambda c: c[0])
    for _, rect, anchor in candidates:
        if not any(rect.intersects(o) for o in obstacles):
            return rect, anchor
    anchor = path.pointAtPercent(0.5)
    y = anchor.y() - GAP - height if above else anchor.y() + GAP
    return QRectF(anchor.x() - width / 2, y, width, height), anchor


def search_area(path: QPainterPath) -> QRectF:
    """Where ``place_block`` may put a block for ``path``."""
    reach = REACH * STEP + 200.0
    return path.boundingRect().adjusted(-reach, -reach, reach, reach)


def leader(rect: QRectF, anchor: QPointF) -> tuple[QPointF, QPointF] | None:
    """A line from the block's nearest edge to its arrow, when they are apart."""
    y = rect.bottom() if anchor.y() > rect.bottom() else rect.top()
    if rect.top() - GAP - 1 <= anchor.y() <= rect.bottom() + GAP + 1:
        return None
    x = min(max(anchor.x(), rect.left() + 4), rect.right() - 4)
    return QPointF(x, y), anchor
