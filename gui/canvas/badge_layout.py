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

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainterPath

GAP = 4.0  # between the arrow and a block that sits right on it
STEP = 6.0  # how far each try slides the block away from the line
REACH = 30  # tries per direction: up to 180 px away
SIDE_STEP = 30.0  # how far each sideways try slides it
SIDEWAYS = (0.0, -1.0, 1.0, -2.0, 2.0, -3.0, 3.0, -4.0, 4.0)  # in SIDE_STEPs
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
) -> tuple[QRectF, QPointF] | None:
    """A ``width`` × ``height`` rect near ``path``'s middle that touches no obstacle, and the
    point of the arrow it belongs to; None when there is no free spot within reach.

    First choice: centred on the middle, just above the line (``above``) or just below.
    Then other points of the arrow, slid up or down step by step; then the same slid
    sideways too. The cheapest free spot wins. All spots are tested at once (numpy): a
    drawing of fifty nodes lays out its badges in a few milliseconds.
    """
    anchors = [path.pointAtPercent(t) for t in ALONG]
    ax = np.array([a.x() for a in anchors])
    ay = np.array([a.y() for a in anchors])
    rank = np.arange(len(ALONG), dtype=float)
    shifts = np.array(SIDEWAYS)
    k = np.arange(REACH + 1, dtype=float)
    # Axes: anchor, sideways shift, side (0: the preferred side of the line), step away.
    sign = -1.0 if above else 1.0
    near = ay - GAP - height if above else ay + GAP
    far = ay + GAP if above else ay - GAP - height
    start = np.stack([near, far], axis=1)  # anchor × side
    direction = np.array([sign, -sign])
    y = start[:, None, :, None] + direction[None, None, :, None] * k[None, None, None, :] * STEP
    x = ax[:, None, None, None] - width / 2 + shifts[None, :, None, None] * SIDE_STEP
    x, y = np.broadcast_arrays(x, y)
    cost = (
        rank[:, None, None, None] * 9.0
        + np.abs(shifts)[None, :, None, None] * SIDE_STEP
        + (shifts != 0)[None, :, None, None] * 1000.0  # sideways only when nothing else fits
        + np.array([0.0, 4.0])[None, None, :, None]
        + k[None, None, None, :] * STEP
    )
    x, y, cost = x.ravel(), y.ravel(), np.broadcast_to(cost, x.shape).ravel()
    if obstacles:
        o = np.array([(r.left(), r.top(), r.right(), r.bottom()) for r in obstacles])
        hit = (
            (x[:, None] < o[None, :, 2])
            & (o[None, :, 0] < x[:, None] + width)
            & (y[:, None] < o[None, :, 3])
            & (o[None, :, 1] < y[:, None] + height)
        ).any(axis=1)
        cost = np.where(hit, np.inf, cost)
    best = int(np.argmin(cost))
    if not np.isfinite(cost[best]):
        return None
    anchor = anchors[best // (len(SIDEWAYS) * 2 * (REACH + 1))]
    return QRectF(float(x[best]), float(y[best]), width, height), anchor


def first_choice(path: QPainterPath, width: float, height: float, above: bool) -> QRectF:
    """Where a block goes on an empty page: centred on the arrow's middle."""
    anchor = path.pointAtPercent(0.5)
    y = anchor.y() - GAP - height if above else anchor.y() + GAP
    return QRectF(anchor.x() - width / 2, y, width, height)


def flow(widths: Sequence[float], height: float, max_width: float) -> list[QRectF]:
    """Badges of ``widths`` in rows no wider than ``max_width`` (a badge wider goes alone),
    each row centred; rects relative to the block's top-left corner."""
    rows: list[list[float]] = [[]]
    for w in widths:
        row = rows[-1]
        if row and sum(row) + 3 * len(row) + w > max_width:
            rows.append([])
        rows[-1].append(w)
    block = max(sum(r) + 3 * (len(r) - 1) for r in rows)
    out = []
    for i, row in enumerate(rows):
        x = (block - (sum(row) + 3 * (len(row) - 1))) / 2
        for w in row:
            out.append(QRectF(x, i * (height + 2), w, height))
            x += w + 3
    return out


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
