"""Versions and deploys: strategies, bad versions, automatic rollback, and their lessons."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from engine_helpers import example, run, scenario

from simulator.analysis import summarize
from simulator.deploys import RollingState, rollback_text
from simulator.engine import Simulation
from simulator.scenario import ScenarioError, dump_scenario, parse_scenario
from simulator.scenario_alerts import resolve_rules

SEEDS = (1, 2, 3)


def _rule_for(sc: Any, name: str) -> float:
    """The ``for:`` of an alert rule in force in ``sc`` (defaults may change; read them)."""
    return next(rule.for_s for rule in resolve_rules(sc.alerts) if rule.name == name)


def _route_failures(sim: Simulation, route: str, start: float, end: float) -> tuple[int, int]:
    """(failed, ended) on a route over the buckets from ``start`` to ``end``."""
    data = sim.clients[route].stats.series.data
    width = sim.scenario.bucket
    lo, hi = round(start / width), round(end / width)
    failed = int(np.sum(data["failed"][lo:hi]))
    ended = failed + int(np.sum(data["goodput"][lo:hi]))
    return failed, ended


CHAIN = """
murphy: 1
name: deploy test
seed: 5
duration: {duration}
bucket: 1s
nodes:
  users:
    kind: client
    rate: 100/s
    calls: [{{to: api, timeout: 2s}}]
  other:
    kind: client
    rate: 50/s
    calls: [{{to: db, timeout: 2s}}]
  api:
    kind: service
    workers: {workers}
    queue: 200
    service_time: {{dist: exponential, mean: 20ms}}
    boot_time: 5s
{extra}    calls: [{{to: db, timeout: 1s}}]
  db:
    kind: database
    workers: 20
    queue: 100
    service_time: {{dist: exponential, mean: 2ms}}
deploys:
  - {deploy}
faults: {faults}
alerts:
  rules: [{{name: error-rate, for: 10s}}]
"""


def chain(deploy: str, faults: str = "[]", duration: str = "200s", workers: int = 8,
          extra: str = "") -> str:  # fmt: skip
    return CHAIN.format(deploy=deploy, faults=faults, duration=duration, workers=workers,
                        extra=extra)  # fmt: skip


# -- the scenarios' lessons --------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_blue_green_rollback_bounds_the_harm_of_a_bad_version(seed: int) -> None:
    sim, out = run(example("blue-green.yaml"), seed=seed)
    assert out["invariants"] == []
    rolled, kept = out["deploys"]
    assert rolled["rolled_back"] and not kept["rolled_back"]
    # The error-rate rule's for:, after its 30 s window's rate passed 1% (a bucket or two).
    hold = _rule_for(sim.scenario, "error-rate")
    assert hold - 1.0 <= rolled["time_to_rollback_s"] <= hold + 2.0
    assert rolled["rollback_alert"]["rule"] == "error-rate"
    assert rolled["rollback_alert"]["target"] == "route users"
    assert rolled["completed_s"] is None and kept["completed_s"] == pytest.approx(180.0)
    # The rollback stops the errors at once (the old pool was warm)...
    after, ended = _route_failures(sim, "users", 95.0, 300.0)
    assert after <= 0.002 * ended
    # ...so the route with rollback loses several times fewer requests over the run.
    users = out["routes"]["users"]["outcomes"]["error"]
    kept_users = out["routes"]["kept_users"]["outcomes"]["error"]
    assert users < 0.2 * kept_users
    # 20% errors at 100/s for the rule's hold, against ~2400 until the kept deploy completed.
    assert 0.7 * 20 * hold <= rolled["requests_failed"] <= 1.3 * 20 * (hold + 1)
    assert 2000 <= kept["requests_failed"] <= 2800


@pytest.mark.parametrize("seed", (*SEEDS, 11))
def test_canary_limits_the_blast_radius_to_its_share(seed: int) -> None:
    sim, out = run(example("canary.yaml"), seed=seed)
    assert out["invariants"] == []
    (deploy,) = out["deploys"]
    # 5% of the traffic meets a version failing 10%: ~0.5% of the route fails.
    failed, ended = _route_failures(sim, "users", 60.0, 180.0)
    assert 0.0025 <= failed / ended <= 0.0085
    # 25%: ~2.5%. The rule's 30 s window passes 1% some 10 s into the step (it still holds
    # the 5% step's traffic), holds for its 10 s, and rolls the canary back.
    assert deploy["rolled_back"] and deploy["completed_s"] is None
    fired = deploy["rollback_alert"]["fired_s"]
    assert 190.0 <= fired <= 210.0
    failed, ended = _route_failures(sim, "users", 180.0, 190.0)
    assert 0.015 <= failed / ended <= 0.035
    failed, _ = _route_failures(sim, "users", fired + 5.0, 400.0)
    assert failed == 0  # back on the old version: nothing fails after the rollback


# -- strategies --------------------------------------------------------------------------------


def test_rolling_deploy_replaces_batches_without_losing_requests() -> None:
    text = chain("{strategy: rolling, target: api, at: 50s, instances: 4, batch: 2, "
                 "boot_time: 10s}", workers=8)  # fmt: skip
    sim, out = run(scenario(text))
    assert out["invariants"] == []
    (deploy,) = out["deploys"]
    assert deploy["completed_s"] == pytest.approx(70.0) and not deploy["rolled_back"]
    assert out["routes"]["users"]["outcomes"]["error"] == 0  # draining loses nothing
    assert "crash" not in out["nodes"]["api"]["errors"]
    # While a batch is out, half the workers serve: requests wait for them.
    queue = sim.servers["api"].stats.series.data["queue"]
    assert queue[50:70].mean() > 3 * queue[10:50].mean()
    assert sim.servers["api"].capacity == 8
    assert out["nodes"]["api"]["versions"]["1"] > 0


def test_rolling_rollback_returns_batch_by_batch() -> None:
    text = chain(
        "{strategy: rolling, target: api, at: 20s, instances: 4, batch: 1, boot_time: 15s, "
        "rollback: {alerts: [error-rate]}}",
        faults="[{kind: bad_deploy, target: api, at: 20s, error_rate: 50%}]", workers=4,
    )  # fmt: skip
    sim, out = run(scenario(text))
    assert out["invariants"] == []
    (deploy,) = out["deploys"]
    assert deploy["rolled_back"] and deploy["completed_s"] is None
    # Batches of new instances go back one boot time each: the rollback takes a multiple of 15 s.
    took = deploy["rollback_completed_s"] - (deploy["started_s"] + deploy["time_to_rollback_s"])
    assert took >= 15.0 and took % 15.0 == pytest.approx(0.0, abs=1e-6)
    failed, _ = _route_failures(sim, "users", deploy["rollback_completed_s"] + 3, 200.0)
    assert failed == 0


def test_rolling_state_counts_every_instance() -> None:
    state = RollingState(instances=5, batch=2)
    assert state.take_out() == 2 and state.serving == pytest.approx(0.6) and state.share == 0
    state.boot(to_new=True)
    assert (state.old, state.out, state.new) == (3, 0, 2)
    assert state.share == pytest.approx(0.4) and state.serving == 1.0
    state.take_out(from_new=True)
    assert state.take_out(from_new=True) == 0 and state.out == 2  # the batch is already out
    state.boot(to_new=False)
    assert (state.old, state.new) == (5, 0) and state.problems() == []
    state.old = 9
    assert state.problems()


def test_blue_green_rollback_after_completion_boots_the_old_pool() -> None:
    text = chain(
        "{strategy: blue_green, target: api, at: 20s, keep_old: 5s, "
        "rollback: {alerts: [error-rate], watch: 2min}}",
        faults="[{kind: bad_deploy, target: api, at: 20s, error_rate: 30%}]",
    )
    _, out = run(scenario(text))
    (deploy,) = out["deploys"]
    assert deploy["completed_s"] == pytest.approx(25.0)
    assert deploy["rolled_back"]
    # The old pool was gone: it boots (the service's boot_time, 5 s) before taking traffic.
    alert_at = deploy["started_s"] + deploy["time_to_rollback_s"]
    assert deploy["rollback_completed_s"] == pytest.approx(alert_at + 5.0)


def test_no_rollback_past_the_watch_window() -> None:
    text = chain(
        "{strategy: blue_green, target: api, at: 20s, keep_old: 5s, "
        "rollback: {alerts: [error-rate], watch: 1s}}",
        faults="[{kind: bad_deploy, target: api, at: 20s, error_rate: 30%}]",
    )
    _, out = run(scenario(text))
    assert not out["deploys"][0]["rolled_back"]
    assert rollback_text(out["deploys"][0]) == "no"


def test_an_alert_on_an_unrelated_route_does_not_roll_back() -> None:
    # The other route only reaches the database; its alerts do not concern the api.
    text = chain(
        "{strategy: blue_green, target: api, at: 20s, keep_old: 100s}",
        faults="[{kind: error, target: db, at: 20s, rate: 50%}]",
    )
    text = text.replace("calls: [{to: db, timeout: 1s}]", "calls: []")
    sim, out = run(scenario(text))
    assert any(f.target == "route other" for f in sim.alerts.firings)
    assert not out["deploys"][0]["rolled_back"]


# -- bad versions ------------------------------------------------------------------------------


def test_crash_loop_refuses_the_new_versions_share_and_loses_its_workers() -> None:
    text = chain(
        "{strategy: canary, target: api, at: 20s, steps: [{share: 30%, hold: 100s}], "
        "rollback: false}",
        faults="[{kind: bad_deploy, target: api, at: 20s, crash_loop: true}]",
        duration="110s",
    )
    sim, out = run(scenario(text))
    assert out["invariants"] == []
    refused = out["nodes"]["api"]["errors"]["crash_loop"]
    arrivals_during = 100 * 90  # 100/s over the 90 s of the step the run sees
    assert 0.26 * arrivals_during <= refused <= 0.34 * arrivals_during
    assert out["routes"]["users"]["outcomes"]["error"] == refused  # failed fast, nothing else
    # The new version's 30% of 8 workers, rounded down (2.4 -> 2), keep crashing: 6 are left.
    assert sim.servers["api"].capacity == 6


CRASH = """
murphy: 1
name: crash loop
seed: 3
duration: 60s
bucket: 1s
nodes:
  users:
    kind: client
    rate: {rate}/s
    calls: [{{to: api, timeout: 2s}}]
  api:
    kind: service
    workers: {workers}
    queue: 50
    service_time: {{dist: exponential, mean: 10ms}}
    boot_time: 5s
deploys:
  - {deploy}
faults: [{{kind: bad_deploy, target: api, at: 10s, crash_loop: true}}]
"""


@pytest.mark.parametrize("seed", SEEDS)
def test_a_small_canary_that_crash_loops_harms_only_its_share(seed: int) -> None:
    """A 5% canary on one worker must not take the worker: only the canary's share fails."""
    text = CRASH.format(rate=50, workers=1, deploy="{strategy: canary, target: api, at: 10s, "
                        "steps: [{share: 5%, hold: 60s}], rollback: false}")  # fmt: skip
    sim = Simulation(scenario(text), seed=seed)
    sim.env.run(until=20.0)
    assert sim.servers["api"].capacity == 1
    out = summarize(sim.run_to_end())
    assert out["invariants"] == []
    outcomes = out["routes"]["users"]["outcomes"]
    routed_new = out["nodes"]["api"]["versions"]["1"]
    assert 0.03 * 50 * 50 <= routed_new <= 0.07 * 50 * 50  # over the 50 s the run sees
    assert outcomes["error"] == routed_new  # refused at once, the canary's share only
    assert outcomes["timeout"] == 0 and outcomes["rejected"] == 0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "deploy",
    [
        "{strategy: blue_green, target: api, at: 10s, keep_old: 30s, rollback: false}",
        "{strategy: canary, target: api, at: 10s, steps: [{share: 100%, hold: 30s}], "
        "rollback: false}",
    ],
)
def test_a_crash_looping_version_lets_the_old_one_drain(seed: int, deploy: str) -> None:
    """All traffic moves to a version that crash-loops: the jobs the old version had
    already accepted still finish (draining never drops accepted requests)."""
    sim = Simulation(scenario(CRASH.format(rate=390, workers=4, deploy=deploy)), seed=seed)
    sim.env.run(until=10.0)
    server = sim.servers["api"]
    accepted = len(server.queue) + len(server.in_service)
    assert accepted > 0  # the old version has work to drain at the switch
    sim.env.run(until=10.0 + 1e-6)
    assert server.share == 1.0 and server.capacity >= min(accepted, 4)
    sim.env.run(until=12.0)
    assert len(server.queue) + len(server.in_service) == 0  # drained, nothing new accepted
    out = summarize(sim.run_to_end())
    assert out["invariants"] == []
    assert out["routes"]["users"]["outcomes"]["timeout"] == 0


def test_bad_version_latency_raises_p99_on_its_share_only() -> None:
    text = chain(
        "{strategy: canary, target: api, at: 50s, steps: [{share: 50%, hold: 150s}], "
        "rollback: false}",
        faults="[{kind: bad_deploy, target: api, at: 50s, add: 300ms}]",
        workers=64,
    )
    sim, _ = run(scenario(text))
    p50 = sim.clients["users"].stats.percentile_series(50)
    p90 = sim.clients["users"].stats.percentile_series(90)
    assert np.nanmean(p90[:50]) < 0.1 and np.nanmean(p90[60:200]) > 0.3
    assert np.nanmean(p50[:50]) < 0.1 and np.nanmean(p50[60:200]) < 0.32


def test_bad_version_leak_grows_with_its_share() -> None:
    memory = "    memory: {limit_mb: 1000, base_mb: 100}\n"
    faults = "[{kind: bad_deploy, target: api, at: 10s, leak_mb_per_s: 20}]"
    full = chain("{strategy: blue_green, target: api, at: 10s, keep_old: 0s, rollback: false}",
                 faults=faults, extra=memory)  # fmt: skip
    part = chain("{strategy: canary, target: api, at: 10s, steps: [{share: 10%, hold: 300s}], "
                 "rollback: false}", faults=faults, extra=memory)  # fmt: skip
    _, all_in = run(scenario(full))
    _, canary = run(scenario(part))
    assert all_in["invariants"] == [] and canary["invariants"] == []
    # 20 MB/s at 100%: 900 MB of headroom lasts 45 s, so four OOM kills in 190 s.
    assert 3 <= all_in["nodes"]["api"]["oom_kills"] <= 4
    # At 10% it leaks 2 MB/s: 190 s leak 380 MB, never reaching the limit.
    assert canary["nodes"]["api"]["oom_kills"] == 0
    assert 45.0 <= canary["nodes"]["api"]["peak_memory_pct"] <= 50.0


# -- schema --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deploy", "faults", "message"),
    [
        ("{strategy: canary, target: db, at: 10s}", "[]", "a deploy targets a service"),
        ("{strategy: canary, target: nope, at: 10s}", "[]", "unknown node"),
        ("{strategy: rolling, target: api, instances: 20}", "[]", "each instance needs one"),
        ("{strategy: rolling, target: api, instances: 4, batch: 5}", "[]", "larger than"),
        ("{strategy: canary, target: api, steps: [{share: 50%}, {share: 10%}]}", "[]",
         "must not fall"),
        ("{strategy: blue_green, target: api, at: 10s, keep_old: 10s}",
         "[{kind: bad_deploy, target: api, at: 30s}]", "no deploy of 'api' is under way"),
        ("{strategy: blue_green, target: api, at: 10s}",
         "[{kind: bad_deploy, target: api, at: 10s, leak_mb_per_s: 5}]", "no memory model"),
        ("{strategy: blue_green, target: api, at: 1s, rollback: {sevrity: warning}}", "[]",
         "unknown field"),
        ("{strategy: blue_green, target: api, at: 1s, rollback: {alerts: [error-rat]}}", "[]",
         "deploys[0].rollback.alerts[0]: no alert rule 'error-rat' is in force"),
        ("{strategy: blue_green, target: api, at: 1s, rollback: {alerts: [error-rat]}}", "[]",
         "the rules are: error-rate, p99-latency"),
    ],
)  # fmt: skip
def test_invalid_deploys_say_what_to_do(deploy: str, faults: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(chain(deploy, faults=faults))
    assert message in str(caught.value)
    assert ":" in str(caught.value).split(" ")[0]  # file:line


def test_a_rollback_no_rule_can_trigger_is_refused_at_its_line() -> None:
    """A rule switched off, or no rule of the severity left, would silently never roll back."""
    off = chain("{strategy: canary, target: api, rollback: {alerts: [error-rate]}}")
    off = off.replace("[{name: error-rate, for: 10s}]", "[{name: error-rate, enabled: false}]")
    with pytest.raises(ScenarioError, match=r"deploys\[0\].rollback.alerts\[0\]: no alert rule "
                       "'error-rate' is in force") as caught:  # fmt: skip
        parse_scenario(off)
    assert "error-rate, " not in str(caught.value)  # not listed among the rules in force
    line = next(i for i, t in enumerate(off.splitlines(), 1) if "strategy: canary" in t)
    assert f":{line}:" in str(caught.value)
    none = chain("{strategy: canary, target: api}").replace(
        "rules: [{name: error-rate, for: 10s}]", "defaults: false"
    )
    with pytest.raises(ScenarioError, match="no alert rule in force is critical or worse"):
        parse_scenario(none)
    warning = none.replace("defaults: false", "defaults: false\n  rules: [{name: slow, "
                           "metric: p99_latency, target: every route, above: 1s}]")  # fmt: skip
    with pytest.raises(ScenarioError, match="the rules are: slow"):
        parse_scenario(warning)  # a warning rule does not trigger a critical rollback
    parse_scenario(warning.replace("target: api}", "target: api, rollback: {severity: warning}}"))
    parse_scenario(none.replace("target: api}", "target: api, rollback: false}"))


def test_overlapping_deploys_of_one_service_are_refused() -> None:
    text = chain("{strategy: blue_green, target: api, at: 10s, keep_old: 60s}")
    text = text.replace("faults: []", "  - {strategy: canary, target: api, at: 30s}\nfaults: []")
    with pytest.raises(ScenarioError, match="one deploy at a time"):
        parse_scenario(text)


@pytest.mark.parametrize("name", ["blue-green.yaml", "canary.yaml"])
def test_deploys_round_trip_through_the_file(name: str) -> None:
    sc = example(name)
    assert parse_scenario(dump_scenario(sc)) == sc


def test_a_deploy_after_the_end_never_starts() -> None:
    """As a fault after the end: a shorter --duration must not make the file invalid."""
    text = chain(
        "{strategy: canary, target: api, at: 500s}",
        faults="[{kind: bad_deploy, target: api, at: 500s}]",
    )
    _, out = run(scenario(text))
    assert out["deploys"][0]["started_s"] is None and out["deploys"][0]["requests_failed"] == 0
    assert out["invariants"] == []


def test_rollback_false_and_none_read_alike() -> None:
    a = parse_scenario(chain("{strategy: canary, target: api, rollback: false}"))
    b = parse_scenario(chain("{strategy: canary, target: api, rollback: null}"))
    assert a.deploys[0].rollback is None and b.deploys[0].rollback is None


# -- engine contract -------------------------------------------------------------------------------


def test_same_seed_same_json_and_no_section_without_deploys() -> None:
    sc = example("canary.yaml")
    first = summarize(Simulation(sc, seed=4).run_to_end())
    second = summarize(Simulation(sc, seed=4).run_to_end())
    for out in (first, second):
        out.pop("wall_seconds")
    assert json.dumps(first) == json.dumps(second)
    _, plain = run(example("mm1.yaml"))
    assert "deploys" not in plain
    assert not any("versions" in node for node in plain["nodes"].values())


def test_a_rollback_does_not_shift_other_draws() -> None:
    """Common random numbers: the same arrivals meet the same routing draws with or without
    rollback, so the runs agree exactly until the rollback."""
    sc = example("blue-green.yaml")
    no_rollback = sc.model_copy(
        update={"deploys": [d.model_copy(update={"rollback": None}) for d in sc.deploys]}
    )
    a, out = run(sc, seed=3)
    b, _ = run(no_rollback, seed=3)
    rollback = round(out["deploys"][0]["started_s"] + out["deploys"][0]["time_to_rollback_s"])
    fa = a.clients["users"].stats.series.data["failed"]
    fb = b.clients["users"].stats.series.data["failed"]
    assert np.array_equal(fa[:rollback], fb[:rollback]) and fa[:rollback].sum() > 0
    assert fa[rollback + 5 :].sum() < 0.1 * fb[rollback + 5 :].sum()


def test_which_alert_targets_concern_a_deployed_service() -> None:
    from simulator.deploys import _touches

    routes = ["users"]
    assert _touches("node api", "api", routes) and not _touches("node db", "api", routes)
    assert _touches("route users", "api", routes) and not _touches("route other", "api", routes)
    assert _touches("call api->db", "api", routes) and _touches("pool web->api", "api", routes)
    assert not _touches("call web->db", "api", routes)
    # A second call to the same target is numbered: the edge still concerns the service.
    assert _touches("call gw->api#1", "api", routes) and _touches("pool api->db#2", "api", routes)
    assert not _touches("call gw->apix#1", "api", routes)


OVERLAP = """
murphy: 1
name: overlap
seed: 3
duration: 60s
bucket: 1s
nodes:
  users:
    kind: client
    rate: 50/s
    calls: [{to: api, timeout: 2s}]
  api:
    kind: service
    workers: 8
    queue: 50
    service_time: {dist: exponential, mean: 10ms}
    boot_time: 10s
deploys:
  - {strategy: blue_green, target: api, at: 10s, keep_old: KEEPs}
  - {strategy: canary, target: api, at: 22s, steps: [{share: 50%, hold: 20s}]}
faults: FAULTS
alerts:
  rules: [{name: error-rate, for: 5s}]
"""


def test_a_newer_deploy_supersedes_an_earlier_ones_late_rollback() -> None:
    """The first deploy's rollback (after completion: booting the old pool from 20 s) must
    not take the traffic away from the canary that started at 22 s."""
    text = OVERLAP.replace("KEEP", "5").replace(
        "FAULTS", "[{kind: bad_deploy, target: api, at: 10s, error_rate: 50%}]"
    )
    sim = Simulation(scenario(text), seed=3)
    server = sim.servers["api"]
    sim.env.run(until=35.0)  # after the first rollback's boot would have ended (~30 s)
    assert (server.old_version, server.new_version, server.share) == (1, 2, 0.5)
    out = summarize(sim.run_to_end())
    assert out["invariants"] == []
    first, second = out["deploys"]
    assert first["rolled_back"] and first["superseded_s"] == 22.0
    assert first["rollback_completed_s"] is None  # stopped short: the canary owns the service
    assert second["completed_s"] == 42.0 and "superseded_s" not in second
    assert (server.old_version, server.new_version) == (2, 2)


def test_a_deploy_that_starts_as_the_previous_completes_keeps_its_routing() -> None:
    """Deploy 2 starts at the instant deploy 1 completes: deploy 1's completion must not
    overwrite deploy 2's first step, and deploy 2's old version is deploy 1's."""
    text = OVERLAP.replace("KEEP", "12").replace("FAULTS", "[]")
    sim = Simulation(scenario(text), seed=3)
    server = sim.servers["api"]
    sim.env.run(until=30.0)
    assert (server.old_version, server.new_version, server.share) == (1, 2, 0.5)
    out = summarize(sim.run_to_end())
    assert out["invariants"] == []
    assert out["deploys"][0]["completed_s"] == 22.0 and out["deploys"][0]["superseded_s"] == 22.0


PRE_EXISTING = """
murphy: 1
name: an alert older than the deploy
seed: 3
duration: 60s
bucket: 1s
nodes:
  users:
    kind: client
    rate: 50/s
    calls:
      - {to: api, timeout: 2s}
  api:
    kind: service
    workers: 4
    queue: 50
    service_time: {dist: exponential, mean: 10ms}
deploys:
  - strategy: canary
    target: api
    at: AT
    steps: [{share: 10%, hold: 10s}]
faults:
  - {kind: error, target: api, at: 10s, for: 30s, rate: 30%}
"""


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_an_alert_whose_condition_began_before_the_deploy_does_not_roll_it_back(seed) -> None:
    """The api already fails 30% from 10 s: the error-rate alert that fires at about 20 s
    began before a canary at 15 s, so it is not the canary's doing and cannot roll it back.
    The same alert rolls back a canary that started before the errors began."""
    later = run(scenario(PRE_EXISTING.replace("AT", "15s")), seed=seed)[1]
    (deploy,) = later["deploys"]
    firing = next(a for a in later["alerts"] if a["rule"] == "error-rate")
    assert firing["since_s"] < 15.0 <= firing["fired_s"]
    assert not deploy["rolled_back"]
    earlier = run(scenario(PRE_EXISTING.replace("AT", "5s")), seed=seed)[1]
    assert earlier["deploys"][0]["rolled_back"]
