"""The fault timeline: add a fault, drag it, resize it, undo."""

from __future__ import annotations

import pytest
from conftest import settle
from PySide6.QtCore import QPointF

from gui.timeline.panel import FAULT_DEFAULTS, acts_on, fits
from simulator.analysis import summarize
from simulator.engine import Simulation
from simulator.scenario import FAULT_KINDS


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


FAULTED = """
name: every fault kind's target, busy
duration: 40s
nodes:
  users: {kind: client, rate: 200/s, calls: [{to: api, timeout: 2s}]}
  api:
    kind: service
    workers: 20
    service_time: {dist: exponential, mean: 80ms}
    memory: {limit_mb: 512, base_mb: 128, per_request_mb: 2}
    calls: [{to: db, timeout: 1s, writes: true}]
    publishes: [{to: bus, queue: orders, timeout: 200ms}]
  db: {kind: database, workers: 20, service_time: {dist: exponential, mean: 5ms}}
  bus: {kind: broker, queues: {orders: {}}}
  shipping: {kind: consumer, broker: bus, queue: orders, workers: 4,
             processing_time: {dist: exponential, mean: 5ms}}
layout: {users: [0, 0], api: [220, 0], db: [440, 0], bus: [440, 160], shipping: [660, 160]}
deploys: [{strategy: blue_green, target: api, at: 10s, keep_old: 10s, rollback: false}]
"""
"""Every kind of node a fault may target, under load (api ~80% busy), so that a fault which
does anything at all shows in the numbers."""


def _measured(scenario) -> dict:
    summary = summarize(Simulation(scenario, seed=3).run_to_end())
    keys = ("overall", "routes", "nodes", "edges", "corruption")  # bad data stored: no outcome
    return {key: summary.get(key) for key in keys}


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_fault_kind_added_from_the_app_changes_the_run(make_window, tmp_path, kind):
    """Issue 12 bug 6: a latency fault added from the app was ``add 0s``, ``multiply 1``."""
    path = tmp_path / "faulted.yaml"
    path.write_text(FAULTED)
    window = make_window(path)
    doc = window.document
    before = doc.scenario
    targets = [n for n in before.nodes if fits(before, kind, n) and acts_on(before, kind, n)]
    assert targets, f"the test scenario has no node a {kind} fault fits: add one"
    window.selection.set([("node", targets[0])])
    index = window.timeline.add_fault(kind)
    assert doc.scenario.faults[index].target == targets[0]
    assert _measured(doc.scenario) != _measured(before), f"a new {kind} fault changes nothing"


def test_fault_defaults_are_known_kinds():
    assert set(FAULT_DEFAULTS) <= set(FAULT_KINDS)


def test_a_new_fault_goes_on_the_selection_or_says_why_not(window):
    doc, timeline = window.document, window.timeline
    messages: list[str] = []
    timeline.message.connect(messages.append)
    window.selection.set([("call", "guarded_api", 0)])
    callee = doc.scenario.nodes["guarded_api"].calls[0].to
    index = timeline.add_fault("latency")
    fault = doc.scenario.faults[index]
    assert (fault.target, fault.add) == (callee, 1.0)
    assert window.selection.keys == (("fault", index),)
    index = timeline.add_fault("error")  # the selected fault's node
    assert doc.scenario.faults[index].target == callee
    window.selection.set([("node", "users")])
    index = timeline.add_fault("throttle")
    assert doc.scenario.faults[index].target != "users"
    assert "users is not" in messages[-1]


def test_a_new_fault_goes_where_it_acts_unless_a_node_was_chosen(make_window, tmp_path):
    """A full disk on a node nothing writes to changes nothing: unchosen, it goes on the
    database written to; a corruption needs a writer, a leak a memory model."""
    path = tmp_path / "faulted.yaml"
    path.write_text(FAULTED)
    window = make_window(path)
    scenario = window.document.scenario
    window.selection.set([])
    index = window.timeline.add_fault("disk_full")
    assert scenario is not window.document.scenario
    assert window.document.scenario.faults[index].target == "db"
    assert not fits(window.document.scenario, "memory_leak", "db")  # no memory model
    assert not fits(window.document.scenario, "corruption", "shipping")  # writes nothing
