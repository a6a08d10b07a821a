"""Loops that go round without simulated time moving: refused at load, stopped in the engine.

A consumer that republishes to its own queue with 0 s processing on a broker with
0 s publish latency sent messages round forever at one instant (semantic fuzz case
254 hung at t = 0.076 s). Such a file is refused with the loop and its line; a loop
that takes time still runs; and anything the static check does not see (closed-loop
users refused at once) is stopped by the engine with an error naming the nodes.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_helpers import run, scenario

import simulator.zero_time as zero_time
from simulator._simpy import Environment, Stalled, Wake, run_until, scheduled_count, wake_after
from simulator.cli import main
from simulator.engine import EngineError, Simulation
from simulator.scenario import ScenarioError, parse_scenario
from simulator.scenario_types import Constant, Exponential, LogNormal, Uniform
from simulator.topology import problems

ROOT = Path(__file__).resolve().parent.parent
GUARD_SECONDS = 120  # generous: each test takes well under ten seconds


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    def stop(_signum: int, _frame: object) -> None:
        raise TimeoutError("a zero-time loop hung the test")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(GUARD_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def republishing(processing: str, latency: str = "{dist: constant, value: 0s}", **more: str) -> str:
    """Fuzz case 254 boiled down: a consumer that republishes every message to its own queue."""
    probability = more.get("probability", "100%")
    return f"""\
murphy: 1
name: republish loop
seed: 3
duration: 2s
nodes:
  producer:
    kind: client
    rate: 20/s
    publishes:
    - to: bus
      queue: work
  bus:
    kind: broker
    queues:
      work: {{}}
    publish_latency: {latency}
  worker:
    kind: consumer
    broker: bus
    queue: work
    processing_time: {processing}
    publishes:
    - to: bus
      queue: work
      probability: {probability}
layout:
  producer: [0, 0]
  bus: [200, 0]
  worker: [400, 0]
"""


ZERO = "{dist: constant, value: 0s}"


def refusal(text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "loop.yaml")
    lines = [str(p) for p in caught.value.problems]
    assert len(lines) == 1, lines
    return lines[0]


# -- refused at load -------------------------------------------------------------------------


def test_a_zero_time_republish_loop_is_refused_with_its_path_and_line() -> None:
    text = republishing(ZERO)
    line = refusal(text)
    lines = text.splitlines()
    publish_line = lines.index("    - to: bus", lines.index("  worker:")) + 1
    assert line.startswith(f"loop.yaml:{publish_line}: nodes.worker.publishes[0]: "), line
    assert "worker -> bus.work -> worker" in line
    assert "worker processing_time" in line and "bus publish_latency" in line
    assert "give one step a time above 0" in line


def test_murphy_validate_shows_the_loop_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text(republishing(ZERO))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    found = r"loop\.yaml:\d+: nodes\.worker\.publishes\[0\]: messages can loop"
    assert re.search(found, result.output), result.output


def test_the_fuzz_case_that_hung_is_refused() -> None:
    """Semantic fuzz case 254 (from mm1.yaml, with a broker, relay and three consumers)."""
    text = (ROOT / "tests" / "data" / "zero-time-loop.yaml").read_text()
    line = refusal(text)
    assert "fz_consumer0 -> fz_broker0.q1 -> fz_consumer0" in line, line


def test_a_loop_through_a_service_the_consumer_calls_is_refused() -> None:
    text = republishing(ZERO).replace(
        "    publishes:\n    - to: bus\n      queue: work\n      probability: 100%\n",
        "    calls: [{to: api}]\n",
    )
    text = text.replace(
        "layout:",
        "  api:\n    kind: service\n    service_time: {dist: constant, value: 0s}\n"
        "    publishes: [{to: bus, queue: work}]\nlayout:\n  api: [400, 100]",
    )
    line = refusal(text)
    assert "api -> bus.work -> worker -> api" in line, line
    assert "api service_time" in line


def test_the_engine_refuses_a_loop_made_in_memory() -> None:
    """A scenario changed after validation (as the app's editor does) is checked again."""
    sc = scenario(republishing("{dist: constant, value: 1ms}"))
    instant = Constant(dist="constant", value=0.0)
    worker = sc.nodes["worker"].model_copy(update={"processing_time": instant})
    changed = sc.model_copy(update={"nodes": {**sc.nodes, "worker": worker}})
    with pytest.raises(EngineError, match=re.escape("worker -> bus.work -> worker")):
        Simulation(changed)
    assert any("messages can loop" in p.message for p in problems(changed))


# -- loops that take time run ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("processing", "latency"),
    [
        ("{dist: constant, value: 1ms}", ZERO),
        (ZERO, "{dist: constant, value: 1ms}"),
        ("{dist: uniform, low: 0s, high: 2ms}", ZERO),  # near zero, never exactly: time moves
        ("{dist: exponential, mean: 1ms}", "{dist: exponential, mean: 1ms}"),
    ],
)
def test_a_republish_loop_that_takes_time_runs(processing: str, latency: str) -> None:
    sim, out = run(scenario(republishing(processing, latency)))
    assert sim.check_invariants() == [] and out["invariants"] == []
    processed = out["nodes"]["worker"]["processed"]
    # ~40 messages enter and each goes round until the run ends: ten times that processed.
    assert processed > 400, processed
    assert sim.now == pytest.approx(2.0)


def test_a_zero_time_publish_that_is_never_made_is_no_loop() -> None:
    _sim, out = run(scenario(republishing(ZERO, probability="0%")))
    assert out["invariants"] == []
    assert out["nodes"]["worker"]["processed"] > 0


def test_only_an_atom_at_zero_counts_as_taking_no_time() -> None:
    assert zero_time.can_take_no_time(Constant(dist="constant", value=0.0))
    assert zero_time.can_take_no_time(Uniform(dist="uniform", low=0.0, high=0.0))
    assert zero_time.can_take_no_time(Exponential(dist="exponential", mean=0.0))
    assert zero_time.can_take_no_time(LogNormal(dist="lognormal", median=0.0, p99=0.0))
    assert not zero_time.can_take_no_time(Uniform(dist="uniform", low=0.0, high=0.001))
    assert not zero_time.can_take_no_time(Exponential(dist="exponential", mean=0.001))
    assert not zero_time.can_take_no_time(Constant(dist="constant", value=1e-6))


# -- the engine's guard ----------------------------------------------------------------------

USERS = """\
murphy: 1
name: users refused at once
seed: 2
duration: 3s
nodes:
  users:
    kind: client
    users: 3
    calls: [{to: api}]
  api:
    kind: service
    workers: 3
    service_time: {dist: constant, value: 10ms}
faults:
- {kind: crash, target: api, at: 1s, for: 1s}
layout:
  users: [0, 0]
  api: [200, 0]
"""


def test_users_refused_at_once_stop_the_run_with_an_error_naming_them(monkeypatch) -> None:
    """Not refused at load (valid until the crash): the engine stops it, it does not hang."""
    monkeypatch.setattr(zero_time, "STALL_EVENTS_MIN", 50_000)
    sc = scenario(USERS)
    assert any("send again at once" in p.message for p in problems(sc) if p.node == "users")
    sim = Simulation(sc)
    with pytest.raises(EngineError, match=r"simulated time stopped at 1\.000000 s: .* at users"):
        sim.run_to_end()


def test_the_same_users_with_a_think_time_run_through_the_crash() -> None:
    pause = "users: 3\n    think_time: {dist: constant, value: 1ms}\n"
    sc = scenario(USERS.replace("users: 3\n", pause))
    assert not any("send again at once" in p.message for p in problems(sc))
    sim, out = run(sc)
    assert out["invariants"] == [] and sim.now == pytest.approx(3.0)
    assert out["nodes"]["api"]["errors"].get("refused", 0) > 1_000


def test_a_stalled_run_ends_in_a_subprocess_with_exit_1(tmp_path: Path) -> None:
    """With the product's own thresholds, no patching: the process ends, it does not hang."""
    path = tmp_path / "users.yaml"
    path.write_text(USERS)
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", str(path), "--no-blast-radius"],
        cwd=ROOT, capture_output=True, text=True, timeout=GUARD_SECONDS, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "error: simulated time stopped at 1.000000 s" in done.stderr
    assert "internal error" not in done.stderr


def test_the_zero_time_loop_file_ends_in_a_subprocess_with_exit_1() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", "tests/data/zero-time-loop.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=GUARD_SECONDS, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "messages can loop in no simulated time" in done.stderr


def test_the_stall_threshold_grows_with_the_crowd_and_is_capped() -> None:
    small = scenario(USERS)
    assert zero_time.stall_events(small) == zero_time.STALL_EVENTS_MIN
    retrying = "calls: [{to: api, retry: {strategy: immediate, attempts: 100}}]"
    crowd = scenario(
        USERS.replace("users: 3", "users: 100000").replace("calls: [{to: api}]", retrying)
    )
    assert zero_time.stall_events(crowd) == zero_time.STALL_EVENTS_MAX


# -- run_until: env.run(until) with a stall guard -------------------------------------------


def _ticker(env: Environment, gap: float, count: list[int]) -> None:
    def tick(_wake: Wake) -> None:
        count[0] += 1
        wake_after(env, gap, tick)

    wake_after(env, gap, tick)


def test_run_until_steps_exactly_the_events_env_run_does() -> None:
    runs = []
    for runner in ("simpy", "guarded"):
        env, count = Environment(), [0]
        _ticker(env, 0.3, count)
        for target in (1.0, 2.5, 7.0):
            if runner == "simpy":
                env.run(until=target)
            else:
                run_until(env, target, 1_000)
        runs.append((env.now, count[0], scheduled_count(env)))
    assert runs[0] == runs[1]


class _Looper:
    name = "looper"

    def __init__(self, env: Environment):
        self.env = env

    def again(self, _wake: Wake) -> None:
        wake_after(self.env, 0.0, self.again)


def test_run_until_stops_a_loop_that_does_not_move_the_clock_and_names_its_owner() -> None:
    env = Environment()
    env.run(until=0.5)
    looper = _Looper(env)
    wake_after(env, 0.0, looper.again)
    with pytest.raises(Stalled) as caught:
        run_until(env, 10.0, 20_000)
    assert caught.value.now == 0.5
    assert 20_000 <= caught.value.events < 30_000
    assert caught.value.owners[0][0] == "looper"


def test_a_loop_through_an_outbox_relay_is_refused() -> None:
    """A relay publishes again at once while rows are visible: with lag 0 and a batch smaller
    than the rows waiting, commits from its own messages keep it going at one instant."""
    text = (ROOT / "tests" / "data" / "zero-time-relay-loop.yaml").read_text()
    line = refusal(text)
    assert "relay -> bus.work -> worker -> db -> relay" in line, line
    assert "relay lag" in line
    with_lag = parse_scenario(text.replace("batch: 1", "batch: 1\n    lag: 1ms"))
    _sim, out = run(with_lag)
    assert out["invariants"] == [] and out["nodes"]["worker"]["processed"] > 40
