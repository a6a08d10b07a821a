"""Brokers, relays and consumers in the editor: palette, dashed edges, publish by drag,
inspectors for queues, relay publish and dedupe, message_drop faults, and a live run."""

from __future__ import annotations

import pytest
from conftest import settle
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGroupBox, QLabel, QPushButton
from test_kinds_registry import WIRED

from gui.run import controller as states

LAYOUT = """
layout:
  users: [0, 0]
  orders: [300, 0]
  orders_db: [600, 0]
  relay: [900, 0]
  bus: [600, 250]
  shipping: [900, 250]
"""


@pytest.fixture
def messaging(make_window, tmp_path):
    path = tmp_path / "messaging.yaml"
    path.write_text(WIRED + LAYOUT, encoding="utf-8")
    return make_window(path)


def test_every_kind_is_in_the_palette_and_the_insert_menu(window):
    palette = window.palette_view
    for i in range(palette.count()):
        item = palette.item(i)
        assert (
            item.flags() & Qt.ItemFlag.ItemIsEnabled
            and item.flags() & Qt.ItemFlag.ItemIsDragEnabled
        )
        assert "not modelled" not in item.toolTip()
    assert {"Message broker", "Outbox relay", "Consumer"} <= {
        palette.item(i).text() for i in range(palette.count())
    }
    insert = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Insert")
    labels = {a.text(): a for a in insert.actions()}
    assert all(labels[k].isEnabled() for k in ("Message broker", "Outbox relay", "Consumer"))


def test_a_relay_or_consumer_needs_a_broker_first(window):
    doc, palette = window.document, window.palette_view
    before = doc.scenario
    for label, needs in (
        ("Consumer", "add a broker first"),
        ("Outbox relay", "add a broker first"),
    ):
        palette.itemDoubleClicked.emit(palette.findItems(label, Qt.MatchFlag.MatchExactly)[0])
        assert doc.scenario == before
        assert needs in window.statusBar().currentMessage()
    palette.itemDoubleClicked.emit(
        palette.findItems("Message broker", Qt.MatchFlag.MatchExactly)[0]
    )
    assert doc.scenario.nodes["broker"].queues.keys() == {"events"}
    palette.itemDoubleClicked.emit(palette.findItems("Consumer", Qt.MatchFlag.MatchExactly)[0])
    consumer = doc.scenario.nodes["consumer"]
    assert (consumer.broker, consumer.queue) == ("broker", "events")
    edge = window.scene.edges[("consume", "consumer")]
    assert edge.dashed and edge.source.name == "broker" and edge.target.name == "consumer"
    doc.undo_stack.undo()
    assert ("consume", "consumer") not in window.scene.edges


def test_message_edges_are_drawn_dashed(messaging):
    edges = messaging.scene.edges
    assert not edges[("call", "orders", 0)].dashed
    for key, source, target in [
        (("publish", "orders", 0), "orders", "bus"),
        (("relay", "relay"), "relay", "bus"),
        (("outbox", "relay"), "relay", "orders_db"),
        (("consume", "shipping"), "bus", "shipping"),
    ]:
        assert edges[key].dashed
        assert (edges[key].source.name, edges[key].target.name) == (source, target)
    assert ("queue", "orders") in edges[("publish", "orders", 0)].badges
    assert not messaging.scene.nodes["bus"].has_port()


def test_dragging_onto_a_broker_publishes_and_the_publish_is_edited_deleted_undone(
    messaging, qtbot, drag
):
    doc, view = messaging.document, messaging.canvas_view
    view.fit()
    source, target = messaging.scene.nodes["users"], messaging.scene.nodes["bus"]
    drag(view, source.center(), target.center(), Qt.KeyboardModifier.ShiftModifier)
    publish = doc.scenario.nodes["users"].publishes[0]
    assert (publish.to, publish.queue) == ("bus", "orders")
    assert "publish users → bus, queue orders" in messaging.statusBar().currentMessage()
    key = ("publish", "users", 0)
    assert messaging.scene.edges[key].dashed
    after_connect = doc.scenario

    messaging.selection.set([key])
    settle(qtbot, messaging)
    texts = [label.text() for label in messaging.inspector.widget().findChildren(QLabel)]
    assert any("publish #1 of users, to queue orders" in t for t in texts)
    queue = messaging.inspector.editor("queue")
    assert isinstance(queue, QComboBox)
    assert [queue.itemText(i) for i in range(queue.count())] == ["orders", "audit"]
    assert messaging.inspector.editor("fallback") is None  # a publish has none
    assert messaging.inspector.widget().findChild(QGroupBox, "group:fallback") is None
    queue.setCurrentText("audit")
    assert doc.scenario.nodes["users"].publishes[0].queue == "audit"
    settle(qtbot, messaging)
    editor = messaging.inspector.editor("timeout")
    editor.setText("300ms")
    editor.editingFinished.emit()
    assert doc.scenario.nodes["users"].publishes[0].timeout == 0.3

    messaging.selection.set([key])
    messaging.edit_actions.delete()
    assert doc.scenario.nodes["users"].publishes == []
    assert key not in messaging.scene.edges
    doc.undo_stack.undo()
    assert doc.scenario.nodes["users"].publishes[0].timeout == 0.3
    assert key in messaging.scene.edges
    for _ in range(2):  # the timeout, then the queue
        doc.undo_stack.undo()
    assert doc.scenario == after_connect
    doc.undo_stack.undo()
    assert doc.scenario.nodes["users"].publishes == []
    assert key not in messaging.scene.edges


def test_a_connection_into_a_consumer_or_out_of_a_broker_is_refused(messaging):
    view = messaging.canvas_view
    assert not view.connect_nodes("orders", "shipping")
    assert "publish to the broker instead" in messaging.statusBar().currentMessage()
    assert not view.connect_nodes("bus", "shipping")
    assert "only holds queues" in messaging.statusBar().currentMessage()
    assert view.connect_nodes("shipping", "orders_db")  # a consumer may call
    assert messaging.document.scenario.nodes["shipping"].calls[0].to == "orders_db"


def test_structural_edges_are_edited_not_deleted(messaging, qtbot):
    doc = messaging.document
    messaging.selection.set([("relay", "relay")])
    settle(qtbot, messaging)
    editor = messaging.inspector.editor("timeout")
    editor.setText("750ms")
    editor.editingFinished.emit()
    assert doc.scenario.nodes["relay"].publish.timeout == 0.75
    before = doc.scenario
    messaging.edit_actions.delete()
    assert doc.scenario == before
    assert "part of its relay or consumer" in messaging.statusBar().currentMessage()
    messaging.selection.set([("consume", "shipping")])
    settle(qtbot, messaging)
    assert isinstance(messaging.inspector.editor("broker"), QComboBox)
    messaging.selection.set([("outbox", "relay")])
    settle(qtbot, messaging)
    messaging.inspector.editor("mode").setCurrentText("log_tailing")
    assert doc.scenario.nodes["relay"].mode == "log_tailing"


def test_broker_queues_are_added_renamed_edited_and_removed(messaging, qtbot):
    doc, inspector = messaging.document, messaging.inspector
    messaging.selection.set([("node", "bus")])
    settle(qtbot, messaging)
    inspector.widget().findChild(QPushButton, "add:queues").click()
    assert list(doc.scenario.nodes["bus"].queues) == ["orders", "audit", "queue"]
    settle(qtbot, messaging)
    name = inspector.editor("queues.queue.name")
    name.setText("returns")
    name.editingFinished.emit()
    assert list(doc.scenario.nodes["bus"].queues) == ["orders", "audit", "returns"]
    settle(qtbot, messaging)
    capacity = inspector.editor("queues.returns.capacity")
    capacity.setText("500")
    capacity.editingFinished.emit()
    assert doc.scenario.nodes["bus"].queues["returns"].capacity == 500
    settle(qtbot, messaging)
    inspector.widget().findChild(QPushButton, "remove:queues.returns").click()
    assert list(doc.scenario.nodes["bus"].queues) == ["orders", "audit"]
    settle(qtbot, messaging)
    inspector.widget().findChild(QPushButton, "remove:queues.orders").click()
    assert "orders" in doc.scenario.nodes["bus"].queues
    assert "used by orders, relay, shipping" in inspector.error_text("queues")
    name = inspector.editor("queues.orders.name")
    name.setText("placed")  # renaming follows into every publish and consumer
    name.editingFinished.emit()
    nodes = doc.scenario.nodes
    assert nodes["shipping"].queue == nodes["relay"].publish.queue == "placed"
    assert nodes["orders"].publishes[0].queue == "placed"
    assert messaging.scene.edges[("consume", "shipping")].badges == [("queue", "placed")]


def test_consumer_dedupe_is_an_optional_group(messaging, qtbot):
    doc = messaging.document
    messaging.selection.set([("node", "shipping")])
    settle(qtbot, messaging)
    group = messaging.inspector.widget().findChild(QGroupBox, "group:dedupe")
    assert group.isCheckable() and not group.isChecked()
    group.setChecked(True)
    assert doc.scenario.nodes["shipping"].dedupe is not None
    settle(qtbot, messaging)
    window = messaging.inspector.editor("dedupe.window")
    window.setText("10min")
    window.editingFinished.emit()
    assert doc.scenario.nodes["shipping"].dedupe.window == 600.0
    assert messaging.scene.nodes["shipping"].summary.endswith("dedupe")


def test_relay_publish_is_a_nested_form(messaging, qtbot):
    messaging.selection.set([("node", "relay")])
    settle(qtbot, messaging)
    database = messaging.inspector.editor("database")
    assert [database.itemText(i) for i in range(database.count())] == ["orders_db"]
    to = messaging.inspector.editor("publish.to")
    assert [to.itemText(i) for i in range(to.count())] == ["bus"]
    assert messaging.inspector.editor("publish.after_commit_to") is None  # no transaction
    assert messaging.inspector.editor("publish.only_for") is None  # no request routes
    messaging.inspector.editor("publish.queue").setCurrentText("audit")
    assert messaging.document.scenario.nodes["relay"].publish.queue == "audit"


def test_a_dual_write_names_a_database(messaging, qtbot):
    messaging.selection.set([("publish", "orders", 0)])
    settle(qtbot, messaging)
    after = messaging.inspector.editor("after_commit_to")
    assert [after.itemText(i) for i in range(after.count())] == ["(none)", "orders_db"]
    assert after.currentText() == "orders_db"
    after.setCurrentText("(none)")
    assert messaging.document.scenario.nodes["orders"].publishes[0].after_commit_to is None


def test_message_drop_targets_a_broker(messaging, window):
    index = messaging.timeline.add_fault("message_drop")
    fault = messaging.document.scenario.faults[index]
    assert (fault.kind, fault.target) == ("message_drop", "bus")
    assert messaging.timeline.view  # drawn with the schema's label and colour
    assert fault.label() == "drop 1% after ack"
    before = window.document.scenario
    assert window.timeline.add_fault("message_drop") is None
    assert window.document.scenario == before
    assert "needs a broker" in window.timeline.status.text()
    assert "needs a broker" in window.statusBar().currentMessage()


def test_deleting_a_broker_deletes_what_needs_it_in_one_undo(messaging):
    doc = messaging.document
    before = doc.scenario
    messaging.selection.set([("node", "bus")])
    messaging.edit_actions.delete()
    assert {"bus", "relay", "shipping"}.isdisjoint(doc.scenario.nodes)
    assert "Also deleted relay, shipping" in messaging.statusBar().currentMessage()
    doc.undo_stack.undo()
    assert doc.scenario == before
    for key in [("consume", "shipping"), ("relay", "relay"), ("publish", "orders", 0)]:
        assert key in messaging.scene.edges


def test_a_run_shows_queues_and_flows(messaging, qtbot):
    session = messaging.run_session
    assert "messages" in session.plots.shown
    session.toolbar.speed_box.setCurrentIndex(5)  # as fast as possible
    with qtbot.waitSignal(session.controller.finished, timeout=60_000):
        session.toolbar.run_action.trigger()
    qtbot.waitUntil(lambda: session.overlay.state_of("bus") is not None, timeout=10_000)
    qtbot.waitUntil(lambda: not session.overlay.pending, timeout=10_000)
    assert "held" in session.overlay.state_of("bus")["text"]
    assert "outbox" in session.overlay.state_of("relay")["text"]
    publish = session.overlay.edge_state_of(("publish", "orders", 0))
    assert publish is not None and "lost" in publish and "lag_s" in publish
    consume = session.overlay.edge_state_of(("consume", "shipping"))
    assert consume is not None and "applied_twice" in consume
    qtbot.waitUntil(lambda: session.plots.views["messages"].frames >= 1, timeout=20_000)
    assert session.plots.views["messages"].error is None
    assert session.controller.state in (states.FINISHED, states.ANALYSING)
    messaging.selection.set([("node", "bus")])
    assert session.plots.filter.queues == {"bus.orders", "bus.audit"}
    session.scrubber.seek(30.0)
    assert session.overlay.state_of("bus") is not None
