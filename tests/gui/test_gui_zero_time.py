"""The app's side of zero-time loops: drawn while editing, listed with the scenario's problems."""

from __future__ import annotations

from conftest import settle

from simulator.scenario import parse_scenario

# A consumer that republishes every message to its own queue, 1 ms a round: valid.
LOOP = """\
murphy: 1
name: republish loop
duration: 2s
nodes:
  producer:
    kind: client
    rate: 20/s
    publishes: [{to: bus, queue: work}]
  bus:
    kind: broker
    queues: {work: {}}
    publish_latency: {dist: constant, value: 0s}
  worker:
    kind: consumer
    broker: bus
    queue: work
    processing_time: {dist: constant, value: 1ms}
    publishes: [{to: bus, queue: work}]
layout:
  producer: [0, 0]
  bus: [200, 0]
  worker: [400, 0]
"""


def test_a_loop_made_instant_in_the_inspector_is_listed_and_selects_its_node(
    make_window, qtbot, tmp_path
):
    path = tmp_path / "loop.yaml"
    path.write_text(LOOP, encoding="utf-8")
    parse_scenario(path.read_text(encoding="utf-8"))  # takes time: a valid file
    window = make_window(path)
    settle(qtbot, window)
    assert not any("loop" in p.message for p in window.problems.problems)
    window.document.set_field(
        ("nodes", "worker"), "processing_time", {"dist": "constant", "value": "0s"}
    )
    qtbot.waitUntil(lambda: any("loop" in p.message for p in window.problems.problems))
    (problem,) = [p for p in window.problems.problems if "loop" in p.message]
    assert problem.severity == "error" and problem.node == "worker"
    assert "worker -> bus.work -> worker" in problem.message
    row = window.problems.problems.index(problem)
    window.problems.itemClicked.emit(window.problems.item(row))
    assert window.selection.keys == (("node", "worker"),)
