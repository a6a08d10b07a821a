"""The fault timeline: add a fault, drag it, resize it, undo."""

from __future__ import annotations

from conftest import settle
from PySide6.QtCore import QPointF


def test_add_move_resize_undo(window, qtbot, drag):
    doc = window.document
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    window.selection.set([("node", "guarded_api")])
    index = window.timeline.add_fault("crash")
    assert doc.scenario.faults[index].kind == "crash"
    assert doc.scenario.faults[index].target == "guarded_api"
    assert window.selection.keys == (("fault", index),)
    settle(qtbot, window)
    view = window.timeline.view
    bar = view.bars[index]
    at, for_ = doc.scenario.faults[index].at, doc.scenario.faults[index].for_
    rect = bar.rect()
    view.ensureVisible(rect)
    shift = 20 * view.scale_x()
    drag(view, rect.center(), rect.center() + QPointF(shift, 0))
    moved = doc.scenario.faults[index]
    assert abs(moved.at - (at + 20)) < 1.01 and moved.for_ == for_

    settle(qtbot, window)
    rect = view.bars[index].rect()
    edge = QPointF(rect.right() - 2, rect.center().y())
    drag(view, edge, edge + QPointF(10 * view.scale_x(), 0))
    assert abs(doc.scenario.faults[index].for_ - (for_ + 10)) < 1.01

    doc.undo_stack.undo()
    assert doc.scenario.faults[index].for_ == for_
    doc.undo_stack.undo()
    assert doc.scenario.faults[index].at == at
    doc.undo_stack.undo()
    assert len(doc.scenario.faults) == index
    settle(qtbot, window)
    assert len(view.bars) == index


def test_surge_goes_to_a_client(window):
    index = window.timeline.add_fault("surge")
    assert window.document.scenario.faults[index].target == "users"
