"""Memory, OOM kills and liveness probes: the state machines, the engine's timing, the lessons."""

from __future__ import annotations

import math

import numpy as np
import pytest
from engine_helpers import example, run, scenario

from simulator.analysis import summarize
from simulator.components.watched import LivenessProbe, MemoryModel
from simulator.engine import Simulation
from simulator.scenario import ScenarioError
from simulator.scenario_nodes import Liveness, Memory
from simulator.timeseries import time_series

# -- the state machines, without SimPy -------------------------------------------------------


def test_memory_model_adds_load_and_leak_and_knows_when_it_crosses() -> None:
    m = MemoryModel(Memory(limit_mb=100, base_mb=20, per_request_mb=5, per_queued_mb=1))
    assert m.used(0.0, busy=2, queued=3) == 33
    assert m.crossing(2, 3) == math.inf  # no leak: never by itself
    m.set_rate(10.0, 2.0)
    assert m.used(15.0, 2, 3) == 43
    assert m.crossing(2, 3) == pytest.approx(10.0 + 67 / 2)
    m.set_rate(20.0, 0.0)  # the leak stops: what leaked stays
    assert m.used(100.0, 0, 0) == 40
    m.restarted(100.0)
    assert m.used(100.0, 0, 0) == 20


def test_liveness_probe_restarts_after_threshold_consecutive_failures() -> None:
    p = LivenessProbe(Liveness(interval=10, timeout=1, failure_threshold=3))
    assert not p.failed() and not p.failed()
    p.passed()  # a pass in between starts the count again
    assert not p.failed() and not p.failed()
    assert p.failed()
    assert p.failures == 5 and p.consecutive == 0


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("memory: {limit_mb: 100, base_mb: 100}", "base_mb must be below limit_mb"),
        ("liveness: {interval: 1s, timeout: 2s}", "timeout must be positive and at most"),
        ("liveness: {interval: 10ms}", "interval must be at least 100ms"),
    ],
)
def test_bad_memory_and_liveness_are_refused(text: str, error: str) -> None:
    with pytest.raises(ScenarioError, match=error):
        scenario(_idle(text))


def test_a_leak_needs_a_memory_model() -> None:
    with pytest.raises(ScenarioError, match="'api' has no memory model: give it memory:"):
        scenario(_idle("", "- {kind: memory_leak, target: api, at: 1s, mb_per_s: 1}"))


# -- the engine: when a process dies and comes back -------------------------------------------


def _idle(extra: str, faults: str = "", boot: str = "5s", duration: str = "60s") -> str:
    """An api nobody calls (its client calls another node): memory moves only by the leak."""
    return f"""
name: idle
duration: {duration}
nodes:
  users: {{kind: client, rate: 1/s, calls: [{{to: other}}]}}
  other: {{kind: service, service_time: {{dist: constant, value: 1ms}}}}
  api:
    kind: service
    boot_time: {boot}
    service_time: {{dist: constant, value: 1ms}}
    {extra}
faults: {_faults(faults)}
"""


def _faults(lines: str) -> str:
    return "\n  " + lines if lines else "[]"


LEAKY = "memory: {limit_mb: 100, base_mb: 50}"
LEAK_AT_10 = "- {kind: memory_leak, target: api, at: 10s, mb_per_s: 10}"


def _down_at(sim: Simulation, t: float) -> bool:
    sim.run(t)
    return sim.snapshot()["nodes"]["api"]["down"]


def test_an_oom_kill_happens_at_the_instant_the_leak_crosses_the_limit() -> None:
    sim = Simulation(scenario(_idle(LEAKY, LEAK_AT_10)))
    assert not _down_at(sim, 14.999_999)  # 50 MB of headroom at 10 MB/s: 15 s exactly
    assert _down_at(sim, 15.000_001)
    assert sim.servers["api"].oom_kills == 1  # type: ignore[attr-defined]


def test_after_a_kill_the_process_boots_then_leaks_again_a_sawtooth() -> None:
    sim = Simulation(scenario(_idle(LEAKY, LEAK_AT_10, duration="58s")))
    assert _down_at(sim, 19.999) and not _down_at(sim, 20.001)  # boot_time 5 s
    sim.run_to_end()
    out = summarize(sim)["nodes"]["api"]
    # kills at 15, 25, 35, 45, 55 (5 s to fill, 5 s to boot); the last boot ends after the run
    assert out["oom_kills"] == 5
    assert out["restarts"] == {"oom": 4, "liveness": 0, "crash": 0}
    assert out["peak_memory_pct"] == 100.0 and out["limit_mb"] == 100.0
    memory = time_series(sim)["node.api.memory_mb"]
    assert memory[:10].tolist() == [50.0] * 10  # at rest before the leak
    assert memory[14] == 100.0 and memory[15:19].tolist() == [0.0] * 4  # the tooth, the outage
    assert memory[19] == 50.0  # a bucket's peak includes its end: the restart at 20 s
    assert memory[20] == pytest.approx(60.0)
    assert summarize(sim)["invariants"] == []


def test_a_crash_fault_during_the_oom_boot_takes_over_the_restart() -> None:
    faults = LEAK_AT_10 + "\n  - {kind: crash, target: api, at: 17s, for: 10s}"
    sim = Simulation(scenario(_idle(LEAKY, faults)))
    assert _down_at(sim, 21)  # the OOM's own boot (due at 20) is void
    assert _down_at(sim, 31.9)  # the crash ends at 27, then boot_time 5 s
    assert not _down_at(sim, 32.1)
    assert sim.servers["api"].restarts == {"oom": 0, "liveness": 0, "crash": 1}  # type: ignore[attr-defined]


def test_a_crash_gives_the_leaked_memory_back() -> None:
    faults = LEAK_AT_10 + "\n  - {kind: crash, target: api, at: 12s, for: 2s}"
    sim = Simulation(scenario(_idle(LEAKY, faults)))
    assert not _down_at(sim, 23.9)  # back at 19 with nothing leaked: 5 s more to the limit
    assert _down_at(sim, 24.1)
    server = sim.servers["api"]
    assert server.oom_kills == 1 and server.restarts["crash"] == 1  # type: ignore[attr-defined]


def test_requests_push_a_process_over_its_limit_and_are_lost_as_oom() -> None:
    text = """
name: burst
duration: 30s
nodes:
  users: {kind: client, rate: 50/s, calls: [{to: api}]}
  api:
    kind: service
    workers: 2
    queue: null
    service_time: {dist: constant, value: 100ms}
    boot_time: 2s
    memory: {limit_mb: 200, base_mb: 100, per_queued_mb: 1}
"""
    _sim, out = run(scenario(text))  # 50/s against 20/s: the queue grows by 30/s
    api = out["nodes"]["api"]
    assert api["oom_kills"] >= 3 and api["errors"]["oom"] > 100
    assert 100 < api["peak_memory_pct"] < 101  # killed by the request that went past
    assert out["invariants"] == []


# -- liveness ----------------------------------------------------------------------------------


def _service(liveness: str, faults: str = "", rate: str = "10/s", workers: int = 4) -> str:
    return f"""
name: probed
duration: 120s
nodes:
  users: {{kind: client, rate: {rate}, calls: [{{to: api, timeout: 2s}}]}}
  api:
    kind: service
    workers: {workers}
    queue: 1000
    boot_time: 5s
    service_time: {{dist: exponential, mean: 50ms}}
    {liveness}
faults: {_faults(faults)}
"""


PROBE = "liveness: {interval: 5s, timeout: 1s, failure_threshold: 3}"
STUCK = "- {kind: latency, target: api, at: 20s, for: 30s, add: 1000s}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_liveness_restarts_a_stuck_process_and_leaves_a_healthy_one(seed: int) -> None:
    _sim, stuck = run(scenario(_service(PROBE, STUCK)), seed=seed)
    api = stuck["nodes"]["api"]
    # workers stuck from 20 s: 3 failed probes (about 15 s), killed, stuck again after boot
    assert 1 <= api["restarts"]["liveness"] <= 3 and api["liveness_failures"] >= 3
    assert api["errors"]["liveness"] >= 4  # the stuck requests were lost with the process
    assert stuck["invariants"] == []
    _sim, healthy = run(scenario(_service(PROBE)), seed=seed)
    api = healthy["nodes"]["api"]
    assert api["restarts"] == {"oom": 0, "liveness": 0, "crash": 0}
    assert api["liveness_failures"] == 0 and api["liveness_probes"] == 23


def test_probes_are_not_requests() -> None:
    _sim, probed = run(scenario(_service(PROBE)))
    _sim, plain = run(scenario(_service("")))
    own = {"restarts", "liveness_probes", "liveness_failures"}
    common = {k: v for k, v in probed["nodes"]["api"].items() if k not in own}
    assert common == plain["nodes"]["api"]
    assert probed["overall"] == plain["overall"]


def test_the_hazard_a_probe_restarts_a_merely_overloaded_process() -> None:
    """Overload alone (no fault in the process) makes the queue wait past the probe's timeout."""
    surge = "- {kind: surge, target: users, at: 30s, for: 30s, multiply: 3}"
    _sim, out = run(scenario(_service(PROBE, surge, rate="60/s")))
    api = out["nodes"]["api"]  # 180/s against 80/s: a queue seconds long
    assert api["restarts"]["liveness"] >= 1 and api["errors"]["liveness"] > 50
    _sim, calm = run(scenario(_service(PROBE, rate="60/s")))
    assert calm["nodes"]["api"]["liveness_failures"] == 0


# -- the example's lessons -----------------------------------------------------------------------


def _kills_and_outages(memory: np.ndarray) -> tuple[list[int], list[int]]:
    """Buckets where the process died (memory fell to 0) and how long each outage lasted."""
    down = memory == 0.0
    starts = [i for i in range(1, len(down)) if down[i] and not down[i - 1]]
    lengths = []
    for start in starts:
        end = start
        while end < len(down) and down[end]:
            end += 1
        lengths.append(end - start)
    return starts, lengths


@pytest.mark.parametrize("seed", [7, 1, 2])
def test_memory_leak_example_teaches_both_lessons(seed: int) -> None:
    sim, out = run(example("memory-leak.yaml"), seed=seed)
    assert out["invariants"] == []
    nodes = out["nodes"]
    # (1) a slow leak: periodic OOM kills, each a brief outage
    leaky = nodes["leaky_api"]
    assert leaky["oom_kills"] == 3
    kills, outages = _kills_and_outages(time_series(sim)["node.leaky_api.memory_mb"])
    assert len(kills) == 3
    assert all(9 <= n <= 11 for n in outages)  # boot_time 10 s
    gaps = np.diff(kills)
    assert gaps.max() - gaps.min() <= 3 and 150 <= gaps.mean() <= 175  # ~153 s fill + 10 s boot
    assert 0.9 < out["routes"]["leak_users"]["success_rate"] < 0.97
    # (2) a surge: the unbounded queue runs out of memory, the bounded one sheds and stays flat
    unbounded = nodes["unbounded_api"]
    assert unbounded["oom_kills"] >= 3 and unbounded["errors"]["oom"] > 1000
    bounded = nodes["bounded_api"]
    assert bounded["oom_kills"] == 0 and bounded["peak_memory_pct"] < 60 and bounded["shed"] > 1000
    ok = {name: out["routes"][name]["outcomes"]["ok"] for name in ("surge_users", "shed_users")}
    assert ok["shed_users"] > 1.1 * ok["surge_users"]  # shedding serves more than crashing


def test_memory_and_liveness_can_be_switched_on_with_their_defaults() -> None:
    """The app's inspector switches a nested model on as ``{}``: that must validate."""
    node = scenario(_idle("memory: {}\n    liveness: {}")).nodes["api"]
    assert node.memory.limit_mb == 1024 and node.liveness.failure_threshold == 3  # type: ignore[union-attr]


def test_same_seed_same_run_in_one_go_or_in_chunks() -> None:
    sc = example("memory-leak.yaml", duration=260.0)
    whole = Simulation(sc).run_to_end()
    chunked = Simulation(sc).run_to_end(chunk=7.3)
    strip = {"wall_seconds", "events"}  # events: each chunk adds the event that ends it
    a, b = summarize(whole), summarize(chunked)
    assert {k: v for k, v in a.items() if k not in strip} == {
        k: v for k, v in b.items() if k not in strip
    }
    for name in ("leaky_api", "unbounded_api", "bounded_api"):
        column = f"node.{name}.memory_mb"
        assert time_series(whole)[column].tolist() == time_series(chunked)[column].tolist()


def test_a_probe_whose_timeout_is_its_interval_still_counts_its_failures() -> None:
    """The next probe is due when the last one times out: the failure must not be lost."""
    probe = "liveness: {interval: 2s, timeout: 2s, failure_threshold: 2}"
    _sim, out = run(scenario(_service(probe, STUCK)))
    assert out["nodes"]["api"]["restarts"]["liveness"] >= 1


def test_the_invariants_catch_a_process_alive_over_its_limit() -> None:
    sim = Simulation(scenario(_idle(LEAKY))).run_to_end()
    assert sim.check_invariants() == []
    server = sim.servers["api"]
    server.memory.leaked = 60.0  # type: ignore[attr-defined]  # as if a rise went unchecked
    server.restarts["oom"] = 1  # type: ignore[attr-defined]  # a restart with no kill
    assert sim.check_invariants() == [
        "api: alive at 110 MB, over its limit of 100 MB",
        "api: 1 oom restarts after 0 kills",
    ]


def test_a_database_that_leaks_and_tracks_its_writes_keeps_both_books() -> None:
    """A database with a memory model and corruption books is both kinds of server at once."""
    sc = scenario("""
murphy: 1
name: leaky tracked database
duration: 120s
nodes:
  users: {kind: client, rate: 50/s, calls: [{to: api, timeout: 2s}]}
  api:
    kind: service
    workers: 8
    service_time: {dist: exponential, mean: 5ms}
    calls: [{to: db, writes: true, timeout: 1s}]
  db:
    kind: database
    workers: 8
    boot_time: 5s
    service_time: {dist: exponential, mean: 5ms}
    memory: {limit_mb: 600, base_mb: 200, per_request_mb: 1}
    validation: [{layer: db_constraint, catches: 50%}]
    reconciliation: {interval: 5s, scan_share: 50%}
faults:
  - {kind: corruption, target: api, at: 0s, rate: 10%}
  - {kind: memory_leak, target: db, at: 10s, mb_per_s: 20}
""")
    sim, out = run(sc)
    assert out["invariants"] == []
    db = out["nodes"]["db"]
    assert db["oom_kills"] >= 3 and db["restarts"]["oom"] == db["oom_kills"]
    books = out["corruption"]["databases"]["db"]
    assert books["caught_by_layer"]["db_constraint"] > 0 and books["found_by_reconciliation"] > 0
    columns = time_series(sim)
    assert columns["node.db.memory_mb"].max() >= 600 and "corruption.db.at_rest" in columns
