"""The SimPy internals simulator/_simpy.py relies on, checked against the installed SimPy.

pyproject pins simpy to 4.x; if an upgrade moves or changes one of these private
attributes, the failure here names it and the SimPy version, instead of a wrong
clock or a lost event somewhere deep in a run.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import simpy
from simpy.events import NORMAL

from simulator._simpy import Environment, Wake, scheduled_count, wake_after

VERSION = simpy.__version__


def require(condition: bool, attribute: str, assumption: str) -> None:
    if not condition:
        pytest.fail(
            f"SimPy {VERSION}: {attribute} no longer {assumption}; "
            "simulator/_simpy.py relies on it (see its docstring)",
            pytrace=False,
        )


def test_environment_private_attributes_exist() -> None:
    env = simpy.Environment(initial_time=2.5)
    for attribute in ("_now", "_queue", "_eid"):
        require(hasattr(env, attribute), f"Environment.{attribute}", "exists")
    require(isinstance(env._queue, list), "Environment._queue", "is a list (a heap)")
    require(isinstance(env._eid, itertools.count), "Environment._eid", "is an itertools.count")
    require(env._now == env.now == 2.5, "Environment._now", "holds the time Environment.now shows")


def test_clock_is_the_slot_simpy_keeps_its_time_in() -> None:
    env = Environment(initial_time=1.5)
    require(
        "_now" not in vars(env),
        "Environment._now",
        "is set as an instance attribute (our slot would not hold it)",
    )
    require(env.clock == env.now == 1.5, "Environment._now", "is set by __init__")
    seen: list[tuple[float, float]] = []
    for t in (0.5, 1.25, 7.0):
        env.timeout(t).callbacks.append(lambda _ev: seen.append((env.clock, env.now)))
    wake_after(env, 3.0, lambda _w: seen.append((env.clock, env.now)))
    env.run(until=10.0)
    expected = [(2.0, 2.0), (2.75, 2.75), (4.5, 4.5), (8.5, 8.5)]
    require(seen == expected, "Environment._now", "is what step() advances (clock follows now)")
    require(env.clock == env.now == 10.0, "Environment._now", "is set by run(until=...)")


def test_the_engine_runs_on_the_clocked_environment() -> None:
    from engine_helpers import example

    from simulator.engine import Simulation

    sim = Simulation(example("mm1.yaml", duration=2.0))
    require(isinstance(sim.env, Environment), "simulator.engine", "builds _simpy.Environment")
    sim.run_to_end()
    require(sim.env.clock == sim.env.now == 2.0, "Environment._now", "follows a whole run")


def test_the_heap_entry_is_what_schedule_pushes() -> None:
    env = simpy.Environment()
    timeout = env.timeout(3.0)
    require(len(env._queue) == 1, "Environment._queue", "receives scheduled events")
    entry: Any = env._queue[0]
    require(
        isinstance(entry, tuple) and len(entry) == 4,
        "Environment._queue",
        "holds (time, priority, event id, event) tuples",
    )
    when, priority, eid, event = entry
    require(when == 3.0, "Environment._queue", "keys entries on now + delay first")
    require(priority == NORMAL, "simpy.events.NORMAL", "is the priority of a Timeout")
    require(isinstance(eid, int) and event is timeout, "Environment._queue", "ends in (id, event)")


def test_ok_is_what_step_checks_on_an_event() -> None:
    env = simpy.Environment()
    timeout = env.timeout(1.0)
    require(hasattr(timeout, "_ok"), "Event._ok", "exists on a Timeout")
    require(timeout._ok is True, "Event._ok", "is True for a Timeout")
    failed = env.event()
    failed.fail(RuntimeError("boom"))
    require(failed._ok is False, "Event._ok", "is False for a failed event")
    with pytest.raises(RuntimeError):
        env.run()  # step reads _ok after the callbacks: a not-ok event crashes the run


def test_wake_after_runs_the_callback_at_its_time_with_its_value() -> None:
    env = simpy.Environment()
    seen: list[tuple[float, Any]] = []

    def record(wake: Wake) -> None:
        seen.append((env.now, wake.value))

    wake_after(env, 2.0, record, "b")
    wake_after(env, 0.5, record, "a")
    wake_after(env, 0.0, record)
    env.run(until=5.0)
    require(seen == [(0.0, None), (0.5, "a"), (2.0, "b")], "Environment.step", "runs a Wake")


def test_wake_after_orders_like_a_timeout_made_at_the_same_moment() -> None:
    """Ties at one time go by scheduling order, Timeouts and Wakes alike."""
    env = simpy.Environment()
    order: list[str] = []
    for i in range(6):
        if i % 2:
            wake_after(env, 1.0, lambda _w, i=i: order.append(f"wake{i}"))
        else:
            env.timeout(1.0).callbacks.append(lambda _ev, i=i: order.append(f"timeout{i}"))
    env.run()
    expected = [f"{'wake' if i % 2 else 'timeout'}{i}" for i in range(6)]
    require(order == expected, "Environment._eid", "orders same-time events as scheduled")


def test_wake_after_refuses_a_negative_delay() -> None:
    with pytest.raises(ValueError, match="Negative delay"):
        wake_after(simpy.Environment(), -1.0, lambda _w: None)


def test_scheduled_count_counts_without_consuming() -> None:
    env = simpy.Environment()
    require(scheduled_count(env) == 0, "Environment._eid", "starts at count(0)")
    env.timeout(1.0)
    wake_after(env, 1.0, lambda _w: None)
    env.timeout(2.0)
    require(scheduled_count(env) == 3, "Environment._eid", "counts every scheduled event")
    require(scheduled_count(env) == 3, "repr(Environment._eid)", "reads without consuming")
    env.timeout(4.0)
    ids = sorted(entry[2] for entry in env._queue)
    require(ids == [0, 1, 2, 3], "Environment._eid", "hands out consecutive ids")
