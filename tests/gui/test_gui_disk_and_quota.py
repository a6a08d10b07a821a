"""The app's side of a full disk and a rate quota: from the schema, no code of its own."""

from __future__ import annotations

from conftest import settle
from PySide6.QtGui import QColor, QImage, QPainter

from gui.kinds import KINDS
from simulator.scenario import FAULT_COLOURS


def test_disk_full_goes_on_the_timeline_in_its_colour(window, qtbot):
    doc = window.document
    window.selection.set([("node", "users")])  # a client cannot fill a disk: the first database
    index = window.timeline.add_fault("disk_full")
    fault = doc.scenario.faults[index]
    assert (fault.kind, fault.label()) == ("disk_full", "disk full")
    assert doc.scenario.nodes[fault.target].kind in ("service", "database")
    window.selection.set([("node", "naked_db")])
    index = window.timeline.add_fault("disk_full")
    assert doc.scenario.faults[index].target == "naked_db"
    window.selection.set([])
    settle(qtbot, window)
    bar = window.timeline.view.bars[index]
    image = QImage(
        int(bar.rect().width()) + 8, int(bar.rect().height()) + 8, QImage.Format.Format_ARGB32
    )
    image.fill(0)
    painter = QPainter(image)
    painter.translate(-bar.rect().left() + 4, -bar.rect().top() + 4)
    bar.paint(painter, None)  # type: ignore[arg-type]
    painter.end()
    centre_left = image.pixelColor(8, image.height() // 2)
    assert centre_left.name() == QColor(FAULT_COLOURS["disk_full"]).name()


def test_the_rate_quota_is_edited_in_the_inspector(window, qtbot):
    doc = window.document
    name = doc.add_node("third_party", (600.0, 400.0))
    window.selection.set([("node", name)])
    settle(qtbot, window)
    editor = window.inspector.editor("rate_limit")
    editor.setText("50/s")
    editor.editingFinished.emit()
    assert doc.scenario.nodes[name].rate_limit == 50.0
    assert KINDS["third_party"].summary(doc.scenario.nodes[name]).endswith("· 50/s quota")
    settle(qtbot, window)
    burst = window.inspector.editor("rate_burst")
    assert burst is not None
    editor = window.inspector.editor("rate_limit")
    editor.setText("0/s")
    editor.editingFinished.emit()
    assert doc.scenario.nodes[name].rate_limit == 50.0  # refused, with the schema's message
    assert "rate_limit must be positive" in window.inspector.error_text("rate_limit")
