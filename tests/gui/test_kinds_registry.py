"""The app's node-kind registry and the Qt-free edits it drives: no QApplication needed."""

from __future__ import annotations

import pytest

from gui import edits
from gui.kinds import EDGE_KINDS, KINDS, NeedsOtherNodes, icon_path, summary
from gui.kinds import defaults as kind_defaults
from simulator.scenario import NODE_KINDS, Scenario, parse_scenario, reference_problems

WIRED = """
murphy: 1
name: Wired
duration: 60s
nodes:
  users: {kind: client, rate: 10/s, calls: [{to: orders}]}
  orders:
    kind: service
    workers: 4
    service_time: {dist: exponential, mean: 5ms}
    calls: [{to: orders_db, outbox: relay}]
    publishes: [{to: bus, queue: orders, after_commit_to: orders_db}]
  orders_db: {kind: database, workers: 4, service_time: {dist: constant, value: 2ms}}
  bus: {kind: broker, queues: {orders: {}, audit: {capacity: 10}}}
  relay:
    kind: relay
    database: orders_db
    publish: {to: bus, queue: orders}
  shipping:
    kind: consumer
    broker: bus
    queue: orders
    processing_time: {dist: constant, value: 5ms}
"""


def wired() -> Scenario:
    return parse_scenario(WIRED)


def problems(scenario: Scenario) -> list[str]:
    return [f"{loc}: {msg}" for loc, msg in reference_problems(scenario)]


def test_every_schema_kind_has_an_entry_in_palette_order():
    assert tuple(KINDS) == NODE_KINDS
    for kind, entry in KINDS.items():
        assert entry.kind == kind and entry.label and entry.hint
        assert entry.colour.startswith("#") and len(entry.colour) == 7
        assert icon_path(kind).is_file(), kind
        assert set(entry.badges) <= {"route", "load", "depth", "outbox", "lag"}
    assert [k for k in NODE_KINDS if KINDS[k].accepts == "publish"] == ["broker"]


@pytest.mark.parametrize("kind", NODE_KINDS)
def test_defaults_validate_in_a_scenario_that_has_what_they_need(kind):
    scenario = wired()
    after, name = edits.add_node(scenario, kind, (10.0, 20.0))
    assert after.nodes[name].kind == kind and after.layout[name] == (10.0, 20.0)
    assert problems(after) == []
    assert summary(after.nodes[name])  # the canvas line draws from the defaults


@pytest.mark.parametrize(
    ("kind", "needs"),
    [("relay", "add a database and a broker first"), ("consumer", "add a broker first")],
)
def test_a_kind_that_needs_other_nodes_says_what_to_add(kind, needs):
    empty = parse_scenario("murphy: 1\nname: e\nduration: 1s\nnodes: {u: {kind: client, rate: 1}}")
    with pytest.raises(NeedsOtherNodes, match=needs):
        kind_defaults(kind, empty)
    with pytest.raises(edits.EditError, match=needs):
        edits.add_node(empty, kind, (0.0, 0.0))


def test_preferred_nodes_come_first():
    scenario, _ = edits.add_node(wired(), "broker", (0, 0), {"queues": {"jobs": {}}})
    data = kind_defaults("consumer", scenario, preferred=["broker"])
    assert (data["broker"], data["queue"]) == ("broker", "jobs")
    assert kind_defaults("consumer", scenario)["broker"] == "bus"


def test_summaries():
    nodes = wired().nodes
    assert summary(nodes["bus"]) == "2 queues · durable"
    assert summary(nodes["relay"]) == "polls orders_db · 1s"
    assert summary(nodes["shipping"]) == "1 worker · 5ms"
    assert summary(nodes["users"]) == "10/s open loop"


def test_edge_kinds_are_the_selection_keys():
    assert EDGE_KINDS == ("call", "publish", "relay", "outbox", "consume")


# -- edits around messaging ------------------------------------------------------------------


def test_publish_added_to_the_first_queue_and_removed():
    scenario = edits.add_publish(wired(), "users", "bus")
    assert scenario.nodes["users"].publishes[-1].queue == "orders"
    with pytest.raises(edits.EditError, match="not a broker"):
        edits.add_publish(scenario, "users", "orders")
    with pytest.raises(edits.EditError, match="sends no"):
        edits.add_publish(scenario, "bus", "bus")
    removed = edits.remove_edges(scenario, set(), {("users", 0)})
    assert removed.nodes["users"].publishes == [] and removed.nodes["users"].calls


def test_removing_a_broker_takes_its_consumers_and_relays_and_publishes():
    scenario = wired()
    assert edits.dependents(scenario, {"bus"}) == {"bus", "relay", "shipping"}
    after = edits.remove_nodes(scenario, {"bus"})
    assert set(after.nodes) == {"users", "orders", "orders_db"}
    assert after.nodes["orders"].publishes == []
    assert after.nodes["orders"].calls[0].outbox is None  # its relay went too
    assert problems(after) == []
    without_db = edits.remove_nodes(scenario, {"orders_db"})
    assert set(without_db.nodes) == {"users", "orders", "bus", "shipping"}  # the relay went too
    assert without_db.nodes["orders"].publishes[0].after_commit_to is None
    assert problems(without_db) == []


def test_rename_follows_every_reference():
    after = edits.rename_node(wired(), "bus", "kafka")
    after = edits.rename_node(after, "relay", "outbox_relay")
    after = edits.rename_node(after, "orders_db", "db")
    assert after.nodes["orders"].publishes[0].to == "kafka"
    assert after.nodes["orders"].calls[0].outbox == "outbox_relay"
    assert after.nodes["orders"].calls[0].to == "db"
    assert after.nodes["orders"].publishes[0].after_commit_to == "db"
    assert after.nodes["outbox_relay"].publish.to == "kafka"
    assert after.nodes["outbox_relay"].database == "db"
    assert after.nodes["shipping"].broker == "kafka"
    assert problems(after) == []


def test_queues_add_rename_remove():
    path = ("nodes", "bus")
    scenario, name = edits.add_entry(wired(), path, "queues", "queue")
    assert name == "queue" and scenario.nodes["bus"].queues["queue"].capacity == 100_000
    scenario = edits.rename_entry(scenario, path, "queues", "orders", "placed")
    assert list(scenario.nodes["bus"].queues) == ["placed", "audit", "queue"]
    assert scenario.nodes["orders"].publishes[0].queue == "placed"
    assert scenario.nodes["relay"].publish.queue == "placed"
    assert scenario.nodes["shipping"].queue == "placed"
    assert problems(scenario) == []
    with pytest.raises(edits.EditError, match="used by orders, relay, shipping"):
        edits.remove_entry(scenario, path, "queues", "placed")
    scenario = edits.remove_entry(scenario, path, "queues", "audit")
    scenario = edits.set_field(scenario, (*path, "queues", "queue"), "visibility_timeout", "2s")
    assert scenario.nodes["bus"].queues["queue"].visibility_timeout == 2.0
    scenario = edits.remove_entry(scenario, path, "queues", "queue")
    with pytest.raises(edits.EditError, match="at least one queue"):
        edits.remove_entry(scenario, path, "queues", "placed")


def test_moving_a_publish_or_consumer_to_another_broker_takes_its_first_queue():
    scenario, _ = edits.add_node(wired(), "broker", (0, 0), {"queues": {"jobs": {}}})
    scenario = edits.set_field(scenario, ("nodes", "orders", "publishes", 0), "to", "broker")
    assert scenario.nodes["orders"].publishes[0].queue == "jobs"
    scenario = edits.set_field(scenario, ("nodes", "shipping"), "broker", "broker")
    assert scenario.nodes["shipping"].queue == "jobs"
    scenario = edits.set_field(scenario, ("nodes", "relay", "publish"), "to", "broker")
    assert scenario.nodes["relay"].publish.queue == "jobs"
    assert problems(scenario) == []


def test_paste_renames_references_among_the_copied_nodes():
    scenario = wired()
    data = scenario.model_dump(mode="json", by_alias=True, exclude_defaults=True)["nodes"]
    copied = {n: {"kind": scenario.nodes[n].kind, **data[n]} for n in ("bus", "shipping")}
    after, names = edits.paste_nodes(scenario, copied, {})
    assert names == ["bus_2", "shipping_2"]
    assert after.nodes["shipping_2"].broker == "bus_2"
    assert problems(after) == []


def test_guessed_layout_puts_the_message_path_in_a_band_below():
    from gui.canvas.layout import default_positions

    positions = default_positions(wired())
    request = {n: positions[n] for n in ("users", "orders", "orders_db")}
    message = {n: positions[n] for n in ("relay", "bus", "shipping")}
    assert max(y for _, y in request.values()) < min(y for _, y in message.values())
    assert positions["users"][0] < positions["orders"][0] < positions["bus"][0]
    assert positions["bus"][0] < positions["shipping"][0]
    assert positions["orders_db"][0] < positions["relay"][0]
