"""The alert rule set: its state machine, its schema, and what it says about the examples."""

from __future__ import annotations

import json

import numpy as np
import pytest
from engine_helpers import ROOT, example, run

from simulator.alerting import (
    DETECTION_GRACE_S,
    Fault,
    Firing,
    FiringLog,
    RuleState,
    WindowRows,
    WindowSum,
    _p99_reader,
    detection,
    detections,
    target_nodes,
)
from simulator.analysis import summarize
from simulator.engine import Simulation
from simulator.metrics import RouteStats
from simulator.scenario import ScenarioError, dump_scenario, parse_scenario
from simulator.scenario_alerts import (
    DEFAULT_RULES,
    AlertRule,
    Alerts,
    ResolvedRule,
    expand_rules,
    resolve_rules,
    window_buckets,
)

# -- the state machine on its own ---------------------------------------------------------


def test_a_rule_fires_once_its_condition_held_for_the_whole_window() -> None:
    state = RuleState(threshold=0.5, above=True, for_s=3.0)
    assert [state.update(t, 1.0, 0.9) for t in (1.0, 2.0)] == [None, None]  # pending
    assert state.update(3.0, 1.0, 0.9) == "fired"  # three 1 s buckets: held for 3 s
    assert state.update(4.0, 1.0, 0.9) is None  # still firing: no second firing
    assert state.update(5.0, 1.0, 0.1) == "resolved"
    assert state.update(6.0, 1.0, 0.1) is None


def test_one_good_evaluation_resets_the_pending_window() -> None:
    """Not cumulative: 2 bad, 1 good, 2 bad never makes 3 s in a row."""
    state = RuleState(threshold=0.5, above=True, for_s=3.0)
    values = [0.9, 0.9, 0.1, 0.9, 0.9]
    assert [state.update(t + 1.0, 1.0, v) for t, v in enumerate(values)] == [None] * 5
    assert state.update(6.0, 1.0, 0.9) == "fired"


def test_for_zero_fires_at_the_first_bad_evaluation_and_below_means_below() -> None:
    state = RuleState(threshold=0.5, above=False, for_s=0.0)
    assert state.update(1.0, 1.0, 0.6) is None
    assert state.update(2.0, 1.0, 0.4) == "fired"
    assert state.holds(0.4) and not state.holds(0.5)


def test_a_bucket_without_data_drops_a_pending_run_and_keeps_a_firing() -> None:
    """No data is not the condition holding (Prometheus drops a pending alert without a
    sample): a bad bucket at 1 s and one at 11 s around a silence do not make 10 s."""
    state = RuleState(threshold=0.01, above=True, for_s=10.0)
    assert state.update(1.0, 1.0, 0.5) is None
    assert [state.update(float(t), 1.0, None) for t in range(2, 11)] == [None] * 9
    assert state.update(11.0, 1.0, 0.5) is None  # pending again, from 10 s
    assert [state.update(float(t), 1.0, 0.5) for t in range(12, 20)] == [None] * 8
    assert state.update(20.0, 1.0, 0.5) == "fired"  # ten bad buckets in a row: 10..20 s
    assert state.pending_since == 10.0
    assert state.update(21.0, 1.0, None) is None and state.firing  # no data: still firing
    assert state.update(22.0, 1.0, 0.0) == "resolved"


def test_a_window_sum_runs_as_the_slice_sum_does() -> None:
    """The running sum over a window equals summing the window's slice, at the start of a
    run (fewer buckets than the window) and after it; a read out of order sums afresh."""
    series = np.random.default_rng(3).integers(0, 50, size=40).astype(float)
    for n in (1, 3, 7, 100):
        window = WindowSum(series, n)
        for i in range(len(series)):
            assert window(i) == series[max(0, i - n + 1) : i + 1].sum()
            assert window.span(i) == min(n, i + 1)
        assert window(5) == series[max(0, 5 - n + 1) : 6].sum()  # out of order


def test_window_rows_merge_the_histograms_of_the_window() -> None:
    rows = np.random.default_rng(4).integers(0, 9, size=(30, 6)).astype(np.int32)
    for n in (1, 4, 50):
        merged = WindowRows(rows, n)
        for i in range(len(rows)):
            assert (merged(i) == rows[max(0, i - n + 1) : i + 1].sum(axis=0)).all()
        assert (merged(2) == rows[max(0, 2 - n + 1) : 3].sum(axis=0)).all()


def test_windows_are_whole_buckets_rounded_up() -> None:
    assert window_buckets(30.0, 1.0) == 30
    assert window_buckets(0.25, 0.1) == 3  # rounded up
    assert window_buckets(0.3, 0.1) == 3  # 0.3 / 0.1 is 2.9999...: not 4
    assert window_buckets(0.5, 1.0) == 1 and window_buckets(0.0, 5.0) == 1  # at least one


def test_detection_takes_the_first_related_firing_in_the_fault_window() -> None:
    def firing(t: float, target: str) -> Firing:
        return Firing("r", "error_rate", target, "critical", t, None, 1.0, t - 1.0)

    firings = [firing(5.0, "route a"), firing(12.0, "call x->y#1"), firing(15.0, "route a")]
    assert detection(firings, 10.0, 20.0) is firings[1]
    assert detection(firings, 10.0, 20.0, related={"a"}) is firings[2]
    assert detection(firings, 10.0, 20.0, related={"y"}) is firings[1]
    assert detection(firings, 16.0, 17.0) is None
    assert detection([firing(20.0 + DETECTION_GRACE_S, "route a")], 10.0, 20.0) is not None


def test_a_condition_that_began_before_the_fault_does_not_detect_it() -> None:
    """Pending since 9 s, fired at 14 s: the symptom of something before a fault at 10 s.
    Within one bucket of the start counts (an evaluation reads whole buckets)."""
    early = Firing("r", "error_rate", "route a", "critical", 14.0, None, 1.0, 9.0)
    assert detection([early], 10.0, 20.0) is None
    assert detection([early], 10.4, 20.0, bucket=1.0) is None
    assert detection([early], 10.0, 20.0, bucket=1.0) is early
    inside = Firing("r", "error_rate", "route a", "critical", 14.0, None, 1.0, 10.0)
    assert detection([inside], 10.4, 20.0, bucket=1.0) is inside
    assert detection([inside], 10.4, 20.0) is None  # no bucket: the exact instant


def test_one_firing_detects_one_fault_the_latest_started_before_its_condition() -> None:
    def firing(since: float, fired: float) -> Firing:
        return Firing("r", "error_rate", "route a", "critical", fired, None, 1.0, since)

    faults: list[Fault] = [(10.0, 40.0, {"a"}), (15.0, 20.0, {"a"})]
    first, second = firing(10.0, 20.0), firing(16.0, 21.0)
    assert detections([first], faults) == [first, None]
    assert detections([first, second], faults) == [first, second]
    assert detections([second], faults) == [None, second]  # not both: one symptom, one cause
    together: list[Fault] = [(10.0, 40.0, {"a"}), (10.0, 40.0, {"a"})]
    third = firing(10.0, 22.0)
    assert detections([first, third], together) == [first, third]  # one each, in order


def test_a_harmless_fault_is_not_credited_with_another_faults_alert() -> None:
    """The reviewer's file: db errors 50% from 10 s, +1 ms on api 15-20 s. The error-rate
    alert whose condition began at 10 s is the db's; the latency fault stays undetected."""
    _, out = run(parse_scenario(CREDIT), seed=3)
    db, api = out["faults"]
    assert db["detected_by"]["rule"] == "error-rate"
    assert 0 < db["time_to_detect_s"] <= 15
    assert api["detected_by"] is None and api["time_to_detect_s"] is None
    assert all(a["since_s"] <= a["fired_s"] for a in out["alerts"])
    error_rate = next(a for a in out["alerts"] if a["rule"] == "error-rate")
    assert error_rate["since_s"] == 10.0


CREDIT = """
murphy: 1
name: credit
duration: 60s
nodes:
  users: {kind: client, rate: 50/s, calls: [{to: api, timeout: 2s}]}
  api:
    kind: service
    workers: 8
    queue: 50
    service_time: {dist: exponential, mean: 10ms}
    calls: [{to: db, timeout: 1s}]
  db: {kind: database, workers: 8, queue: 50, service_time: {dist: exponential, mean: 5ms}}
faults:
  - {kind: error, target: db, at: 10s, for: 30s, rate: 50%}
  - {kind: latency, target: api, at: 15s, for: 5s, add: 1ms}
"""


# -- the schema -----------------------------------------------------------------------------

BASE = """
murphy: 1
name: alerts
duration: 60s
nodes:
  users: {kind: client, rate: 50/s, calls: [{to: api, timeout: 1s}]}
  api:
    kind: service
    workers: 4
    service_time: {dist: exponential, mean: 20ms}
    calls: [{to: db, breaker: {failures: 3, within: 10s, open_for: 5s}}]
  db: {kind: database, workers: 4, service_time: {dist: exponential, mean: 10ms}}
"""


def test_defaults_expand_to_every_target_they_apply_to() -> None:
    sc = parse_scenario(BASE)
    watched = {(rule.name, target) for rule, target in expand_rules(sc)}
    assert ("error-rate", "route users") in watched
    assert ("p99-latency", "route users") in watched
    assert {("utilization", "node api"), ("utilization", "node db")} <= watched
    assert ("breaker-open", "call api->db") in watched
    assert not any(name in ("memory", "pool") for name, _ in watched)  # no memory, no pool


def test_a_rule_named_like_a_default_overrides_only_the_fields_given() -> None:
    sc = parse_scenario(BASE + """
alerts:
  rules:
    - {name: error-rate, for: 5s}
    - {name: utilization, enabled: false}
    - {name: slow, metric: p99_latency, target: route users, above: 800ms, severity: info}
""")  # fmt: skip
    rules = {r.name: r for r in resolve_rules(sc.alerts)}
    assert rules["error-rate"].for_s == 5.0 and rules["error-rate"].threshold == 0.01
    assert rules["error-rate"].severity == "critical"  # kept from the default
    assert "utilization" not in rules
    assert rules["slow"].threshold == 0.8 and rules["slow"].severity == "info"
    assert len(rules) == len(DEFAULT_RULES) + 1 - 1


def test_a_rule_takes_its_window_from_itself_its_default_or_its_metric() -> None:
    sc = parse_scenario(BASE + """
alerts:
  rules:
    - {name: error-rate, window: 1min}
    - {name: p99-latency, for: 5s}
    - {name: slow, metric: p99_latency, target: route users, above: 800ms}
    - {name: hot, metric: utilization, target: node api, above: 50%, window: 5s}
    - {name: breaker-open, window: 1min}
""")  # fmt: skip
    rules = {r.name: r for r in resolve_rules(sc.alerts)}
    assert rules["error-rate"].window_s == 60.0 and rules["error-rate"].for_s == 10.0
    assert rules["p99-latency"].window_s == 30.0  # the default's, kept
    assert rules["slow"].window_s == 30.0  # a new rule: its metric's default window
    assert rules["hot"].window_s == 5.0
    assert rules["breaker-open"].window_s == 0.0  # a state: the window does not apply
    assert {r.name: r.window_s for r in DEFAULT_RULES}["memory"] == 0.0  # a gauge


def test_defaults_false_keeps_only_the_scenarios_rules() -> None:
    sc = parse_scenario(BASE + """
alerts:
  defaults: false
  rules: [{name: busy, metric: utilization, target: node api, above: 50%, for: 0s}]
""")  # fmt: skip
    assert [(r.name, t) for r, t in expand_rules(sc)] == [("busy", "node api")]


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("{name: a, metric: p99_latency, target: route nobody, above: 1s}", "no route 'nobody'"),
        ("{name: a, metric: p99_latency, target: route users, above: 80%}", "expected a duration"),
        ("{name: a, metric: memory, target: node api, above: 80%}", "has no memory model"),
        ("{name: a, metric: pool, target: pool api->db, above: 80%}", "has no connection pool"),
        ("{name: a, metric: utilization, target: node api}", "needs a threshold"),
        ("{name: a, target: node api, above: 1%}", "needs a metric"),
        ("{name: a, metric: error_rate, target: node api, above: 1%}", "watches a route"),
        ("{name: a, metric: breaker_open, target: call api->db, above: 3}", "takes no threshold"),
        ("{name: nope, enabled: false}", "no default rule 'nope'"),
        (
            "{name: error-rate, above: 1}",
            "above: 1 reads as 100%, and error_rate is never above 100%",
        ),
        ("{name: a, metric: utilization, target: node api, above: 100%}", "e.g. above: 1%"),
        ("{name: a, metric: utilization, target: node api, below: 0%}", "never below 0%"),
        ("{name: a, metric: cpu, target: node api}", "Input should be"),
    ],
)
def test_a_wrong_rule_is_refused_with_its_field_and_line(rule: str, words: str) -> None:
    fine = "{name: fine, metric: error_rate, target: route users, above: 5%}"
    text = BASE + f"alerts:\n  rules:\n    - {fine}\n    - {rule}\n"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "t.yaml")
    problem = caught.value.problems[0]
    assert problem.path.startswith("alerts.rules[1]") and words in problem.message
    assert problem.line == text.count("\n")  # the rule's own line, the file's last


def test_the_alerts_section_survives_a_save() -> None:
    sc = parse_scenario(BASE + """
alerts:
  rules:
    - {name: error-rate, for: 5s}
    - {name: slow, metric: p99_latency, target: route users, above: 800ms}
""")  # fmt: skip
    text = dump_scenario(sc)
    assert "alerts:" in text and "800ms" in text
    assert parse_scenario(text) == sc
    assert "\nalerts:" not in dump_scenario(parse_scenario(BASE))  # defaults are not written


def test_queue_growing_watches_broker_queues_and_outboxes() -> None:
    """'every node' of queue growing also watches each broker queue and each outbox; a
    named one is spelt 'queue BROKER/QUEUE' or 'outbox RELAY', and a wrong name is refused."""
    sc = example("broker-outage.yaml")
    watched = {t for rule, t in expand_rules(sc) if rule.name == "queue-growing"}
    assert {"queue bus/orders", "outbox relay", "node fulfilment"} <= watched
    assert target_nodes("queue bus/orders") == {"bus"}
    text = (ROOT / "scenarios" / "broker-outage.yaml").read_text()
    rule = "{name: q, metric: queue_growing, target: %s, above: 100, for: 0s}"
    fine = parse_scenario(text + f"alerts:\n  rules:\n    - {rule % 'queue bus/orders'}\n")
    assert ("q", "queue bus/orders") in [(r.name, t) for r, t in expand_rules(fine)]
    for wrong, words in (("queue bus/nope", "no queue 'bus/nope'"), ("outbox bus", "no outbox")):
        with pytest.raises(ScenarioError) as caught:
            parse_scenario(text + f"alerts:\n  rules:\n    - {rule % wrong}\n", "t.yaml")
        assert words in caught.value.problems[0].message


def test_a_broker_outage_is_detected_within_seconds_by_the_growing_outbox() -> None:
    """The broker is down 60-120 s: the relay cannot publish and its outbox grows by 300
    rows a second. Queue growing on the outbox fires 5 s in (its for:), not the
    consumers' utilization a minute after the broker is back; and a healthy relay's
    sawtooth backlog raises no false alarm before the outage."""
    for seed in (7, 1, 2):
        _, out = run(example("broker-outage.yaml"), seed=seed)
        (fault,) = out["faults"]
        assert fault["detected_by"]["target"] == "outbox relay", seed
        assert 0 < fault["time_to_detect_s"] <= 8, seed
        assert not [a for a in out["alerts"] if a["fired_s"] < 60], seed


# -- the engine -----------------------------------------------------------------------------


def test_the_circuit_breaker_example_says_which_alert_fired_and_when() -> None:
    """The breaker's alert names the call and fires first, in the bucket it opened. The
    burst before it opened (a full queue, 2 s answers) may carry the users' 30 s error rate
    and p99 over their thresholds, but only while it is in the window: they resolve within
    ~35 s of the spike's start, while it still lasts. Without the breaker the queues'
    alerts fire first and the users' critical alerts hold until the spike has ended."""
    for seed in (11, 1, 2):
        sim, out = run(example("circuit-breaker.yaml"), seed=seed)
        first_open = sim.sites["api->db"].breaker.transitions[0][0]  # type: ignore[union-attr]
        alert = out["alerts"][0]
        assert (alert["rule"], alert["target"], alert["severity"]) == (
            "breaker-open", "call api->db", "warning"
        )  # fmt: skip
        assert first_open <= alert["fired_s"] <= first_open + 1.0  # within one bucket
        assert 80 < alert["resolved_s"] < 95  # closes again after the spike's end at 80 s
        critical = [a for a in out["alerts"] if a["severity"] == "critical"]
        assert {a["target"] for a in critical} <= {"route users"}
        assert all(a["resolved_s"] is not None and a["resolved_s"] <= 76 for a in critical)
        fault = out["faults"][0]
        assert fault["detected_by"]["rule"] == "breaker-open"
        assert 1 <= fault["time_to_detect_s"] <= 5

    naked = example("circuit-breaker.yaml")
    naked.nodes["api"].calls[0].breaker = None
    for seed in (11, 1, 2):
        _sim, out = run(naked, seed=seed)
        fired = {(a["rule"], a["target"]): a for a in out["alerts"]}
        errors = fired["error-rate", "route users"]
        assert 48 <= errors["fired_s"] <= 55 and errors["severity"] == "critical"
        assert errors["resolved_s"] >= 100  # the spike's end at 80 s, and its window after
        assert 48 <= fired["p99-latency", "route users"]["fired_s"] <= 56
        assert out["faults"][0]["detected_by"]["rule"] == "queue-growing"
        assert out["faults"][0]["detected_by"]["fired_s"] < errors["fired_s"]


@pytest.mark.parametrize("name", ["mm1.yaml", "mmc.yaml", "poison-message.yaml"])
def test_a_healthy_scenario_fires_no_critical_alert(name: str) -> None:
    """mm1 and mmc run their server at 80% by design, the utilization rule's threshold: its
    mean over a minute is above it about half the time, so the warning comes and goes
    (value just over 80%); nothing else fires, and nothing critical."""
    for seed in (0, 1) if name == "mm1.yaml" else (0,):
        sim = Simulation(example(name), seed=seed).run_to_end()
        firings = [f.as_dict() for f in sim.alerts.firings]
        if name == "poison-message.yaml":
            assert firings == []
            continue
        assert all(f["rule"] == "utilization" and f["value"] < 0.85 for f in firings), firings


def test_a_healthy_scenario_below_the_thresholds_fires_nothing() -> None:
    for name in ("mm1.yaml", "mmc.yaml"):
        sc = example(name)
        client = next(n for n in sc.nodes.values() if n.kind == "client")
        client.rate = 0.7 * client.rate  # type: ignore[union-attr]
        for seed in (0, 1):
            sim = Simulation(sc, seed=seed).run_to_end()
            assert sim.alerts.firings == [], [f.as_dict() for f in sim.alerts.firings]
    sc = example("three-tier.yaml")
    sc.faults.clear()
    for seed in (0, 1, 2):
        assert Simulation(sc, seed=seed).run_to_end().alerts.firings == []


def test_nothing_fires_before_the_fault_and_the_error_rate_fires_during_it() -> None:
    _sim, out = run(example("three-tier.yaml"))
    assert out["alerts"] and min(a["fired_s"] for a in out["alerts"]) >= 60  # the fault's start
    fault = out["faults"][0]
    assert 60 <= fault["detected_by"]["fired_s"] <= 90
    assert fault["time_to_detect_s"] == fault["detected_by"]["fired_s"] - 60


def test_a_subscriber_hears_of_a_firing_at_the_instant_it_fires() -> None:
    sim = Simulation(example("circuit-breaker.yaml"))
    heard: list[tuple[float, str]] = []
    sim.alerts.subscribe(lambda firing: heard.append((sim.now, firing.rule)))
    sim.run(60.0)
    assert heard[0] == (43.0, "breaker-open")
    assert [firing.fired_s for firing in sim.alerts.firings] == [t for t, _rule in heard]
    assert sim.snapshot()["alerts"][0]["resolved_s"] is None  # still open at 60 s
    sim.run_to_end()
    assert [rule for _t, rule in heard].count("breaker-open") == 1
    assert len(heard) == len(sim.alerts.firings) and sim.check_invariants() == []


def test_a_custom_rule_fires_on_its_own_target_and_replays_byte_for_byte() -> None:
    sc = parse_scenario(BASE + """
alerts:
  defaults: false
  rules: [{name: busy-api, metric: utilization, target: node api, above: 60%, for: 2s,
           window: 1s}]
faults:
  - {kind: latency, target: api, at: 20s, for: 10s, add: 50ms}
""")  # fmt: skip
    outs = [summarize(Simulation(sc).run_to_end()) for _ in range(2)]
    for out in outs:
        out.pop("wall_seconds")
    assert json.dumps(outs[0]) == json.dumps(outs[1])
    out = outs[0]
    assert {a["rule"] for a in out["alerts"]} == {"busy-api"}
    assert 21 <= out["alerts"][0]["fired_s"] <= 24
    assert out["faults"][0]["detected_by"]["target"] == "node api"


def test_the_rule_count_is_bounded() -> None:
    rules = "\n".join(
        f"    - {{name: r{i}, metric: utilization, target: every node, above: 90%}}"
        for i in range(201)
    )
    with pytest.raises(ScenarioError, match="at most 200"):
        parse_scenario(BASE + "alerts:\n  rules:\n" + rules + "\n")


def test_a_rule_on_a_missing_target_is_watched_nowhere_not_a_crash() -> None:
    """The app runs a scenario whose problems it lists (a rule edited to name a route that
    is gone): such a rule watches nothing, the others still do."""
    sc = parse_scenario(BASE)
    broken = Alerts(rules=[AlertRule.model_validate(
        {"name": "gone", "metric": "error_rate", "target": "route nobody", "above": "1%"}
    ), AlertRule(name="half")])  # fmt: skip
    sc = sc.model_copy(update={"alerts": broken})
    watched = [(rule.name, target) for rule, target in expand_rules(sc)]
    assert not any(name in ("gone", "half") for name, _ in watched)
    assert ("error-rate", "route users") in watched
    assert Simulation(sc).run_to_end().check_invariants() == []


@pytest.mark.parametrize("above", [True, False])
def test_the_p99_reader_agrees_with_the_p99_series_on_every_bucket(above: bool) -> None:
    """The reader skips the exact p99 on the quiet side of the threshold: the side it
    reports must be the exact p99's, bucket by bucket, at thresholds on and between bins."""
    from simulator.alerting import _p99_reader

    sim = Simulation(example("latency-spike.yaml", duration=100.0)).run_to_end()
    stats = sim.clients["users"].stats
    exact = stats.percentile_series(99)
    answered = stats.series.data["goodput"]
    for threshold in (0.01, 0.05, 0.2, 1.0, 2.0, float(np.nanmedian(exact))):
        rule = ResolvedRule("r", "p99_latency", "route users", threshold, above, 0.0, "info", 1.0)
        read = _p99_reader(stats, WindowSum(answered, 1), rule)
        state = RuleState(threshold, above, 0.0)
        for i, value in enumerate(exact):
            got = read(i)
            if np.isnan(value):
                assert got is None
                continue
            assert state.holds(got) == state.holds(value), (threshold, i, got, value)
            if state.holds(value):
                assert got == pytest.approx(value)


NOISY = """
murphy: 1
name: noisy
duration: 120s
nodes:
  users: {kind: client, rate: 40/s, calls: [{to: api, timeout: 1s}]}
  api: {kind: service, workers: 4, error_rate: 3%,
        service_time: {dist: exponential, mean: 10ms}}
alerts:
  rules: [RULE]
"""


def test_a_windowed_error_rate_sees_a_steady_three_percent_that_one_bucket_misses() -> None:
    """3% of 40 requests/s is ~1.2 failures a second: a 1 s bucket often has none, so
    'above 1% at every evaluation for 10 s' fires late or flaps. Over 30 s the rate is ~3%
    at every evaluation: the default rule fires after its 10 s hold and stays firing."""
    for seed in (0, 1, 2, 3):
        sim = Simulation(parse_scenario(NOISY.replace("RULE", "{name: error-rate}")), seed=seed)
        (firing,) = sim.run_to_end().alerts.firings
        assert 10.0 <= firing.fired_s <= 13.0 and firing.resolved_s is None
        assert 0.015 < firing.value < 0.05
        rule = "{name: error-rate, window: 1s}"
        late = Simulation(parse_scenario(NOISY.replace("RULE", rule)), seed=seed).run_to_end()
        early = [f for f in late.alerts.firings if f.fired_s <= 13.0 and f.resolved_s is None]
        assert early == []  # one bucket: not one firing that holds from the start


@pytest.mark.parametrize("above", [True, False])
def test_the_p99_reader_over_a_window_is_the_p99_of_the_merged_buckets(above: bool) -> None:
    sim = Simulation(example("latency-spike.yaml", duration=100.0)).run_to_end()
    stats = sim.clients["users"].stats
    answered = stats.series.data["goodput"]
    n = 5
    for threshold in (0.05, 0.5, 2.0):
        rule = ResolvedRule("r", "p99_latency", "route users", threshold, above, 0.0, "info", 5.0)
        read = _p99_reader(stats, WindowSum(answered, n), rule, n)
        state = RuleState(threshold, above, 0.0)
        for i in range(len(answered)):
            got = read(i)
            lo = max(0, i - n + 1)
            total = answered[lo : i + 1].sum()
            if not total:
                assert got is None
                continue
            merged = stats.bucketed[lo : i + 1].sum(axis=0)
            k = int(np.searchsorted(np.cumsum(merged), np.ceil(0.99 * total)))
            centre = _centre(stats, k)
            assert state.holds(got) == state.holds(centre), (threshold, i, got, centre)
            if state.holds(centre):
                assert got == pytest.approx(centre)


def _centre(stats: RouteStats, k: int) -> float:
    """The value of coarse bin k, as ``RouteStats.percentile_series`` reports it."""
    gamma, offset, coarse = stats.latency.gamma, stats.latency._offset, stats.COARSE
    k = min(k, stats.bucketed.shape[1] - 1)
    upper, lower = gamma ** ((k + 1) * coarse - 1 - offset), gamma ** (k * coarse - 1 - offset)
    return float(np.sqrt(upper * lower))


def test_a_windowed_rule_fires_on_the_mean_and_resolves_once_the_burst_leaves_it() -> None:
    """A 10 s latency fault pushes the api's workers busy; a 1 s window follows each bucket,
    a 20 s window needs the mean over 20 s past 60% and keeps it until the burst is out."""
    rules = {w: f"[{{name: busy, metric: utilization, target: node api, above: 60%, "
             f"for: 0s, window: {w}}}]" for w in ("1s", "20s")}  # fmt: skip
    got = {}
    for w, rule in rules.items():
        sc = parse_scenario(BASE + f"""
alerts:
  defaults: false
  rules: {rule}
faults:
  - {{kind: latency, target: api, at: 20s, for: 10s, add: 50ms}}
""")  # fmt: skip
        (got[w],) = Simulation(sc).run_to_end().alerts.firings
    assert got["1s"].fired_s < got["20s"].fired_s
    assert got["20s"].resolved_s is not None and got["1s"].resolved_s is not None
    assert got["20s"].resolved_s > got["1s"].resolved_s + 5


def test_a_firing_log_keeps_what_left_the_snapshot_and_updates_a_resolution() -> None:
    def firing(rule: str, fired: float, resolved: float | None) -> dict[str, object]:
        return {"rule": rule, "target": "route a", "fired_s": fired, "resolved_s": resolved}

    log = FiringLog()
    assert log.add([firing("a", 1.0, None)]) == [firing("a", 1.0, None)]
    log.add([firing("a", 1.0, 2.0), firing("a", 5.0, None)])  # refired: a second firing
    assert log.add([firing("b", 6.0, None)]) == [
        firing("a", 1.0, 2.0), firing("a", 5.0, None), firing("b", 6.0, None)
    ]  # fmt: skip
