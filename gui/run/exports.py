"""Save what a run produced: the drawing as PNG, the time series as CSV."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

from gui.run.record import RunRecord
from simulator.timeseries import write_csv


def save_drawing(scene: QGraphicsScene, path: str | Path, scale: float = 2.0) -> Path:
    """The whole drawing (live overlay included), on white, at ``scale`` × screen size."""
    source = scene.itemsBoundingRect().adjusted(-24, -24, 24, 24)
    size = (source.size() * scale).toSize()
    image = QImage(size, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    scene.render(painter, QRectF(image.rect()), source, Qt.AspectRatioMode.KeepAspectRatio)
    painter.end()
    path = Path(path)
    if not image.save(str(path)):
        raise OSError(f"could not write {path}")
    return path


def save_time_series(record: RunRecord, path: str | Path) -> Path:
    """Every recorded column, one row per time bucket, with ``simulator.timeseries.write_csv``."""
    if not record.rows:
        raise ValueError("there is no time series yet: run the scenario first")
    return write_csv(record.columns_at(), path)
