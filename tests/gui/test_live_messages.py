"""What the run overlay and plots show of messages, from hand-made snapshots. Qt-free."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from test_kinds_registry import wired

from gui.plots.figures import PlotData, PlotFilter, build, queue_names
from gui.run.live_state import (
    add_message_states,
    edge_names,
    edge_states,
    flow_totals,
    message_badges,
    node_states,
    plot_filter,
)

SERVER = {"busy": 1, "capacity": 4, "workers": 4, "queue": 0, "queue_limit": 100, "down": False,
          "partitioned": False, "throttled": False, "failing": False}  # fmt: skip


def flow(producer, consumer, **counts):
    base = {"producer": producer, "broker": "bus", "queue": "orders", "consumer": consumer,
            "produced": 0, "published": 0, "delivered": 0, "lost": 0, "duplicates": 0,
            "applied_twice": 0, "dead_lettered": 0, "in_flight": 0, "lag_s": 0.0}  # fmt: skip
    return {**base, **counts}


def snapshot(**extra):
    return {
        "time": 10.0,
        "nodes": {
            "orders": SERVER,
            "orders_db": SERVER,
            "bus": {**SERVER, "workers": None, "capacity": None},
            "relay": {**SERVER, "outbox": 42},
            "shipping": {**SERVER, "busy": 4, "queue": 3, "queue_limit": None},
        },
        "edges": {"users->orders": {"breaker": None}, "orders->bus.orders": {"breaker": "open"}},
        "active_faults": [],
        **extra,
    }


FLOWS = {
    "orders->bus.orders->shipping": flow(
        "orders", "shipping", lost=3, duplicates=2, lag_s=1.5, dead_lettered=1
    ),
    "relay->bus.orders->shipping": flow("relay", "shipping", lag_s=4.0, applied_twice=5),
    "relay->bus.orders->(none)": flow("relay", None, lost=7, lag_s=0.01),
}
QUEUES = {
    "bus.orders": {
        "broker": "bus",
        "queue": "orders",
        "depth": 60_000,
        "unacked": 7,
        "dead_letters": 1,
        "oldest_age_s": 4.0,
    },
    "bus.audit": {
        "broker": "bus",
        "queue": "audit",
        "depth": 4,
        "unacked": 0,
        "dead_letters": 0,
        "oldest_age_s": 0.5,
    },
}


def test_edge_names_follow_the_engine():
    names = edge_names(wired())
    assert names[("call", "orders", 0)] == "orders->orders_db"
    assert names[("publish", "orders", 0)] == "orders->bus.orders"
    assert names[("relay", "relay")] == "relay->bus.orders"
    assert names[("outbox", "relay")] == "relay->orders_db"
    assert names[("consume", "shipping")] == "bus.orders->shipping"


def test_a_repeated_publish_gets_its_index():
    from gui import edits

    scenario = edits.add_publish(wired(), "orders", "bus", "orders")
    scenario = edits.add_publish(scenario, "orders", "bus", "audit")
    names = edge_names(scenario)
    assert names[("publish", "orders", 1)] == "orders->bus.orders#1"
    assert names[("publish", "orders", 2)] == "orders->bus.audit"


def test_flow_totals_per_message_edge():
    totals = flow_totals(wired(), snapshot(flows=FLOWS))
    assert totals[("publish", "orders", 0)] == {"lag_s": 1.5, "lost": 3, "duplicates": 2}
    assert totals[("relay", "relay")] == {"lag_s": 4.0, "lost": 7, "duplicates": 0}
    assert totals[("consume", "shipping")] == {"lag_s": 4.0, "applied_twice": 5, "dead_lettered": 1}
    assert ("call", "orders", 0) not in totals and ("outbox", "relay") not in totals


def test_message_states_and_badges():
    scenario, snap = wired(), snapshot(flows=FLOWS)
    edges = add_message_states(scenario, snap, edge_states(snap, {}, 1.0))
    publish = edges["orders->bus.orders"]
    assert publish["breaker"] == "open" and publish["lost"] == 3  # the engine's edge, enriched
    assert [t for t, _ in message_badges(publish)] == ["lag 1.5s", "3 lost", "2 dup"]
    consume = edges["bus.orders->shipping"]  # no engine edge: a plain state of its own
    assert consume["error_share"] == 0.0 and consume["breaker"] is None
    assert [t for t, _ in message_badges(consume)] == ["lag 4.0s", "5 applied twice", "1 DLQ"]
    assert message_badges({"lag_s": 0.01}) == []  # a lag too small to matter is not shown


def test_missing_message_keys_are_tolerated():
    scenario = wired()
    old = snapshot()  # an engine without flows or queues
    del old["nodes"]["bus"], old["nodes"]["relay"]["outbox"]
    assert flow_totals(scenario, old) == {}
    edges = add_message_states(scenario, old, edge_states(old, {}, 1.0))
    assert set(edges) == {"users->orders", "orders->bus.orders"}
    states = node_states(scenario, old, {}, 1.0)
    assert "bus" not in states  # nothing to say about it yet
    assert states["relay"]["text"] == "1/4 busy · q 0/100"
    assert states["shipping"]["text"] == "4/4 busy · q 3"


def test_node_badges_follow_the_kind():
    scenario = wired()
    states = node_states(scenario, snapshot(flows=FLOWS, queues=QUEUES), {}, 1.0)
    bus = states["bus"]
    assert bus["text"] == "60004 held · 7 unacked · 1 dead"
    assert bus["queue_share"] == 0.6 and bus["health"] == "busy"  # 60,000 of 100,000
    assert states["relay"]["text"] == "outbox 42 pending" and states["relay"]["outbox"] == 42
    assert states["shipping"]["text"] == "4/4 busy · lag 4.0s"
    assert states["shipping"]["health"] == "saturated"
    assert states["orders"]["text"] == "1/4 busy · q 0/100"
    crashed = snapshot(queues=QUEUES)
    crashed["nodes"]["bus"] = {**SERVER, "down": True}
    assert node_states(scenario, crashed, {}, 1.0)["bus"]["health"] == "crashed"


def test_fault_badges_use_the_schemas_labels():
    from gui import edits

    scenario = edits.add_fault(wired(), {"kind": "message_drop", "target": "bus", "rate": 0.02})
    states = node_states(scenario, snapshot(queues=QUEUES, active_faults=[0]), {}, 1.0)
    assert states["bus"]["faults"] == ["drop 2% after ack"]


def test_plot_filter_names_the_queues():
    scenario = wired()
    assert plot_filter(scenario, ("node", "bus")).queues == {"bus.orders", "bus.audit"}
    assert plot_filter(scenario, ("node", "shipping")).queues == {"bus.orders"}
    publish = plot_filter(scenario, ("publish", "orders", 0))
    assert publish.edges == {"orders->bus.orders"} and publish.focus == (
        "call",
        "orders->bus.orders",
    )
    assert publish.routes == {"users"}
    consume = plot_filter(scenario, ("consume", "shipping"))
    assert consume.queues == {"bus.orders"} and consume.focus is None
    assert consume.routes == {"users"}  # reached through the broker


def columns():
    t = np.arange(1.0, 11.0)
    out = {"time_s": t, "node.orders.queue": t * 0}
    for name in ("bus.orders", "bus.audit"):
        out[f"queue.{name}.depth"] = t * 3
        out[f"queue.{name}.lag_s"] = t / 10
        out[f"queue.{name}.published"] = t
    out["outbox.relay.pending"] = t
    return out


def test_the_messages_plot_draws_depth_and_lag():
    cols = columns()
    assert queue_names(cols) == ["bus.audit", "bus.orders"]
    data = PlotData(cols, [{"kind": "crash", "target": "bus", "start_s": 2.0, "end_s": 4.0}],
                    10.0, 10.0, filter=PlotFilter("bus", queues={"bus.orders"}))  # fmt: skip
    figure = build("messages", data, 500, 400)
    top, bottom = figure.axes
    labels = [line.get_label() for line in top.lines if not line.get_label().startswith("_")]
    assert labels == ["bus.orders", "relay outbox"]
    assert len(bottom.lines) == 2  # the lag, and the "now" line
    FigureCanvasAgg(figure).draw()


def test_the_messages_plot_says_when_there_is_nothing():
    data = PlotData({"time_s": np.arange(1.0, 4.0)}, [], 3.0, 3.0)
    figure = build("messages", data, 500, 400)
    assert "no broker queue yet" in [t.get_text() for t in figure.axes[0].texts]
