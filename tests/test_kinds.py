"""The node-kind and fault-kind registries: one home per kind, and the schema agrees with it."""

from __future__ import annotations

from typing import Any

import pytest
from engine_helpers import run, scenario

from simulator import fault_kinds, plots
from simulator.components.registry import NODE_KINDS as ENGINE_KINDS
from simulator.engine import Simulation
from simulator.fault_kinds import FAULT_EFFECTS
from simulator.scenario import FAULT_COLOURS, FAULT_KINDS, FAULT_SPECS, NODE_KINDS, ScenarioError

EVERY_KIND = """
murphy: 1
name: every-kind
seed: 3
duration: 5s
nodes:
  users: {kind: client, rate: 20/s, calls: [{to: lb}]}
  lb: {kind: balancer, calls: [{to: api}]}
  api:
    kind: service
    service_time: {dist: constant, value: 1ms}
    calls: [{to: cache}, {to: db, outbox: relay}, {to: stripe}]
  cache: {kind: cache, hit_ratio: 50%, calls: [{to: db}]}
  db: {kind: database, workers: 4, service_time: {dist: constant, value: 2ms}}
  stripe: {kind: third_party, latency: {dist: constant, value: 3ms}}
  relay: {kind: relay, database: db, interval: 100ms, publish: {to: bus, queue: q}}
  bus: {kind: broker, queues: {q: {}}}
  worker: {kind: consumer, broker: bus, queue: q}
"""


def test_every_schema_node_kind_has_an_engine_kind_and_no_other() -> None:
    assert set(NODE_KINDS) == set(ENGINE_KINDS)
    assert len(NODE_KINDS) == len(set(NODE_KINDS))
    for name, kind in ENGINE_KINDS.items():
        assert kind.name == name  # registered under the name the file gives it


def test_every_kind_builds_and_reports_its_own_fields() -> None:
    sc = scenario(EVERY_KIND)
    assert {node.kind for node in sc.nodes.values()} == set(NODE_KINDS)  # the test covers all
    sim, out = run(sc)
    assert out["invariants"] == []
    assert {name: out["nodes"][name]["kind"] for name in out["nodes"]} == {
        name: node.kind for name, node in sc.nodes.items() if node.kind != "client"
    }
    # a kind's own summary fields follow the common ones in nodes.<name>…
    assert out["nodes"]["bus"]["queues"]["q"]["published"] == out["nodes"]["relay"]["rows_sent"]
    assert out["nodes"]["relay"]["cycles"] > 0
    assert out["nodes"]["worker"]["processed"] > 0
    # …and its own live fields join the snapshot
    live = sim.snapshot()["nodes"]
    assert set(live["bus"]["queues"]["q"]) >= {"depth", "unacked", "dead_letters", "oldest_age_s"}
    assert "outbox" in live["relay"] and "held" in live["worker"]


def test_every_fault_kind_has_an_effect_a_colour_and_a_label() -> None:
    assert set(FAULT_KINDS) == set(FAULT_EFFECTS) == set(FAULT_COLOURS) == set(FAULT_SPECS)
    for kind in FAULT_KINDS:
        effect = FAULT_EFFECTS[kind]
        assert isinstance(effect.timed, bool)
        assert effect.tick_every is None or effect.tick_every > 0
        colour = FAULT_COLOURS[kind]
        assert colour.startswith("#") and len(colour) == 7, kind
        fault = FAULT_SPECS[kind].model_validate({"kind": kind, "target": "x"})
        assert fault.label().strip(), kind
    assert len(set(FAULT_COLOURS.values())) == len(FAULT_KINDS)  # told apart on a timeline


def test_labels_say_what_the_fault_does() -> None:
    drop = FAULT_SPECS["message_drop"].model_validate(
        {"kind": "message_drop", "target": "bus", "rate": 0.05, "when": "before_ack"}
    )
    assert drop.label() == "drop 5% before ack"
    latency = FAULT_SPECS["latency"].model_validate({"kind": "latency", "target": "db", "add": 2})
    assert latency.label() == "latency +2s"


def test_the_plots_shade_each_fault_kind_in_its_spec_colour() -> None:
    assert plots.FAULT_COLOURS == FAULT_COLOURS


def _with_fault(kind: str, target: str) -> str:
    return f"""
murphy: 1
name: targets
duration: 10s
nodes:
  users: {{kind: client, rate: 1/s, calls: [{{to: api}}], publishes: [{{to: bus, queue: q}}]}}
  api: {{kind: service, service_time: {{dist: constant, value: 1ms}}}}
  bus: {{kind: broker, queues: {{q: {{}}}}}}
faults:
  - {{kind: {kind}, target: {target}, at: 1s, for: 1s}}
"""


@pytest.mark.parametrize(
    ("kind", "target", "error"),
    [
        ("message_drop", "api", "a message_drop fault needs a broker"),
        ("message_drop", "users", "a message_drop fault needs a broker"),
        ("surge", "api", "a surge fault needs a client"),
        ("surge", "bus", "a surge fault needs a client"),
        ("crash", "users", "a crash fault needs a node that serves requests"),
        ("latency", "users", "a latency fault needs a node that serves requests"),
        ("disk_full", "users", "a disk_full fault needs a service, a database or a broker"),
    ],
)
def test_a_fault_on_the_wrong_kind_of_node_is_refused(kind: str, target: str, error: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario(_with_fault(kind, target))
    assert str(caught.value) == f"<test>:10: faults[0].target: {error}"


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("message_drop", "bus"),
        ("surge", "users"),
        ("crash", "bus"),
        ("partition", "api"),
        ("disk_full", "api"),
        ("disk_full", "bus"),
    ],
)
def test_a_fault_on_a_kind_it_names_is_accepted(kind: str, target: str) -> None:
    assert scenario(_with_fault(kind, target)).faults[0].target == target


def test_the_target_rules_are_the_spec_class_vars() -> None:
    assert FAULT_SPECS["message_drop"].targets == ("broker",)
    assert FAULT_SPECS["surge"].targets == ("client",)
    assert all(FAULT_SPECS[k].targets is None for k in ("latency", "error", "crash"))
    assert "relay" not in FAULT_SPECS["partition"].targets and "client" not in (
        FAULT_SPECS["partition"].targets
    )


class _Counting:
    """A fault effect that only records when the schedule calls it."""

    timed = True
    tick_every = 1.0

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, float]] = []

    def _log(self, what: str, schedule: Any, index: int) -> None:
        self.calls.append((what, index, schedule.env.now))

    def plan(self, schedule: Any, index: int, fault: Any) -> None:
        self._log("plan", schedule, index)

    def start(self, schedule: Any, index: int, fault: Any) -> None:
        self._log("start", schedule, index)

    def stop(self, schedule: Any, index: int, fault: Any) -> None:
        self._log("stop", schedule, index)

    def tick(self, schedule: Any, index: int, fault: Any) -> None:
        self._log("tick", schedule, index)


def test_a_growing_fault_is_ticked_once_per_period_only_while_its_window_is_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting = _Counting()
    monkeypatch.setitem(fault_kinds.FAULT_EFFECTS, "latency", counting)
    text = """
murphy: 1
name: ticks
duration: 10s
nodes:
  users: {kind: client, rate: 1/s, calls: [{to: api}]}
  api: {kind: service, service_time: {dist: constant, value: 1ms}}
faults:
  - {kind: latency, target: api, at: 2s, for: 3.5s, add: 1s}
  - {kind: latency, target: api, at: 6s, add: 1s}
"""
    sim = Simulation(scenario(text)).run_to_end()
    assert counting.calls == [
        ("start", 0, 2.0),
        ("tick", 0, 3.0),
        ("tick", 0, 4.0),
        ("tick", 0, 5.0),
        ("stop", 0, 5.5),  # no tick at 6: the window closed at 5.5
        ("start", 1, 6.0),
        ("tick", 1, 7.0),
        ("tick", 1, 8.0),
        ("tick", 1, 9.0),  # open to the end of the run: never stopped
    ]
    # the effect replaced the latency fold's start and stop: the api was never slowed
    assert sim.servers["api"].latency_add == 0.0
