"""The messaging scenarios assert their lessons: the outbox loses nothing, dual write does."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from click.testing import CliRunner
from engine_helpers import ROOT, run

from simulator.blast_radius import blast_radius
from simulator.cli import main
from simulator.scenario import load_scenario


@cache
def _run(name: str) -> dict[str, Any]:
    return run(load_scenario(ROOT / "scenarios" / name))[1]


def _flows(out: dict[str, Any], producer: str) -> dict[str, dict[str, Any]]:
    return {f["consumer"]: f for f in out["messages"].values() if f["producer"] == producer}


def test_every_message_is_accounted_for() -> None:
    for name in ("outbox-vs-dual-write.yaml", "broker-outage.yaml", "poison-message.yaml"):
        out = _run(name)
        assert out["invariants"] == []
        for flow in out["messages"].values():
            settled = flow["delivered"] + flow["lost"] + flow["dead_lettered"]
            assert flow["produced"] == settled + flow["in_flight"] > 0


def test_dual_write_loses_events_the_outbox_does_not() -> None:
    out = _run("outbox-vs-dual-write.yaml")
    dual, outbox = _flows(out, "orders_dual"), _flows(out, "relay")
    for flow in dual.values():
        # 1% of publishes fail from 60 s on and nobody retries them: about 480 events.
        assert 300 < flow["lost_by"]["publish_failed"] < 700
        assert flow["lost"] == sum(flow["lost_by"].values())
        assert flow["duplicates"] == 0
    for flow in outbox.values():
        assert flow["lost"] == 0
        assert flow["duplicates"] > 100  # republished after the slow acks and the relay crash
    assert out["nodes"]["relay"]["republished"] > 0


def test_an_idempotent_consumer_applies_each_event_once() -> None:
    outbox = _flows(_run("outbox-vs-dual-write.yaml"), "relay")
    naive, idempotent = outbox["shipping_outbox"], outbox["billing_outbox"]
    assert naive["applied_twice"] == naive["duplicates"] > 100
    assert naive["applied"] == naive["delivered"] + naive["applied_twice"]
    assert idempotent["applied_twice"] == 0
    assert idempotent["applied"] == idempotent["delivered"]


def test_the_outbox_rides_out_a_broker_outage_and_the_backlog_drains() -> None:
    out = _run("broker-outage.yaml")
    assert out["overall"]["success_rate"] == 1.0  # the orders never noticed
    (flow,) = out["messages"].values()
    assert flow["lost"] == 0
    relay, orders = out["nodes"]["relay"], out["nodes"]["bus"]["queues"]["orders"]
    assert 15_000 < relay["max_outbox"] < 20_000  # 300 rows/s for 60 s
    assert relay["outbox_at_end"] < 100
    assert 60 < flow["max_lag_s"] < 80  # the first order of the outage waited it out
    assert orders["max_depth"] > 10_000
    assert 125 <= orders["max_depth_s"] < orders["drained_s"] < 200  # drained after recovery


def test_poison_messages_are_dead_lettered_and_the_consumer_keeps_up() -> None:
    out = _run("poison-message.yaml")
    (flow,) = out["messages"].values()
    produced = flow["produced"]
    # 1% poison; binomial standard deviation about 15 on 24,000 events.
    assert abs(flow["dead_lettered"] - 0.01 * produced) < 5 * (0.01 * produced) ** 0.5
    # Each poison message is delivered exactly three times before it is dead-lettered.
    assert flow["deliveries"] == flow["delivered"] + 3 * flow["dead_lettered"]
    assert flow["lost"] == 0
    assert flow["lag_s"]["p99"] < 0.1
    assert out["nodes"]["bus"]["queues"]["payments"]["dead_letters"] == flow["dead_lettered"]


def test_the_blast_radius_counts_lost_messages_and_blames_only_their_fault() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "outbox-vs-dual-write.yaml")
    drop, relay_crash = scenario.faults[0], scenario.faults[2]
    short = scenario.model_copy(
        update={"duration": 100.0, "faults": [drop, relay_crash.model_copy(update={"at": 80.0})]}
    )
    faulty, _out = run(short)
    by_fault = {b["fault"].split(" at ")[0]: b for b in blast_radius(short, short.seed, faulty)}
    dropped = by_fault["message_drop on bus"]
    assert sorted(dropped["flows"]) == [
        "orders_dual->bus.orders_dual->billing_dual",
        "orders_dual->bus.orders_dual->shipping_dual",
    ]
    lost = dropped["detail"]["flows"]["orders_dual->bus.orders_dual->shipping_dual"]["extra_lost"]
    assert 40 < lost < 130  # 1% of 200/s for 40 s: about 80
    assert f"{lost} lost" in dropped["summary"]
    # Drops are drawn per producer and queue, so the relay's crash (which changes what the
    # relay publishes) moves no dual-write message from kept to dropped; what it does
    # cost is lag on its own flows (down 5 s, 2 s to boot).
    crash = by_fault["crash on relay"]
    assert not [f for f in crash["flows"] if f.startswith("orders_dual")]
    for key in crash["flows"]:
        assert crash["detail"]["flows"][key]["extra_lost"] == 0
        assert crash["detail"]["flows"][key]["max_lag_ratio"] > 2


def test_murphy_run_prints_a_row_per_flow_and_the_causes_of_loss() -> None:
    path = str(ROOT / "scenarios" / "outbox-vs-dual-write.yaml")
    result = CliRunner().invoke(main, ["run", path, "--no-blast-radius", "--duration", "80s"])
    assert result.exit_code == 0, result.output
    assert "Messages (whole run)" in result.output
    for flow in ("orders_dual->bus.orders_dual->shipping_dual", "relay->bus.orders_outbox->"):
        assert flow in result.output
    assert "lost on orders_dual->bus.orders_dual->shipping_dual: publish_failed" in result.output
    assert "lost on relay" not in result.output


def test_compare_reports_messages_lost_once_per_event() -> None:
    path = str(ROOT / "scenarios" / "outbox-vs-dual-write.yaml")
    args = ["compare", path, "--vary", "nodes.orders_dual.publishes[0].retry.attempts=1,4",
            "-n", "1", "--duration", "100s", "--executor", "serial", "--json"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = {r["variant"]: r["metrics"] for r in json.loads(result.output)["variants"]}
    once, retried = rows["attempts=1"], rows["attempts=4"]
    dual = _flows(_run_short(100.0), "orders_dual")
    # Both consumer groups of the dual-write queue lose the same events: counted once.
    assert once["messages_lost"]["mean"] == dual["shipping_dual"]["lost"] > 0
    assert retried["messages_lost"]["mean"] < once["messages_lost"]["mean"]  # retries recover


def _run_short(duration: float) -> dict[str, Any]:
    scenario = load_scenario(ROOT / "scenarios" / "outbox-vs-dual-write.yaml")
    return run(scenario.model_copy(update={"duration": duration}))[1]
