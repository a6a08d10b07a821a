"""The editor on the flagship scenario at 1400x900 draws something worth looking at."""

from __future__ import annotations

from conftest import settle
from PySide6.QtGui import QFont, QFontInfo, QImage


def test_screenshot_is_not_blank(window, qtbot, tmp_path):
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    window.canvas_view.fit()
    window.selection.set([("call", "guarded_api", 0)])
    settle(qtbot, window)
    path = tmp_path / "editor.png"
    assert window.grab().save(str(path))
    image = QImage(str(path))
    assert (image.width(), image.height()) == (1400, 900)
    colours = {image.pixel(x, y) for x in range(0, 1400, 7) for y in range(0, 900, 7)}
    assert len(colours) > 50
    assert QFontInfo(QFont()).family()
