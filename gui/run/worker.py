"""The child-process side of a run: simulate in short chunks and stream what happens.

Runs in a process started with the "spawn" context, so a simulation that raises,
hangs or eats memory takes only this process down. It imports no Qt. The parent
sends commands down the same duplex pipe; every message either way is a tuple
``(kind, payload)``.

Parent → child: ``("speed", float | None)`` (simulated seconds per wall second;
None: as fast as possible), ``("pause", None)``, ``("resume", None)``, ``("stop", None)``.
The child hears commands between engine chunks (about ``CHUNK_WALL`` apart); one that
does not answer Stop is terminated by the parent.

Child → parent: ``("ready", info)``, ``("snapshot", frame)`` at most every
``SEND_INTERVAL`` wall seconds, once at the end and once on pausing, ``("paused",
sim_time)`` on pausing and then every ``PAUSE_BEAT`` wall seconds while paused (a
heartbeat: the child is alive and its clock holds), ``("finished", summary)``,
``("analysing", None)``, ``("blast_progress", (i, n, label))`` as the i-th of n
paired runs starts, ``("blast", list)``, ``("done", None)``, ``("stopped", None)``
or ``("error", {"message", "traceback"})``.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import time
import traceback
from typing import Any

SEND_INTERVAL = 0.08  # wall seconds between snapshots: enough for smooth views, cheap to send
CHUNK_WALL = 0.03  # aim for this much wall time per engine chunk, so commands are heard fast
PAUSE_BEAT = 0.1  # wall seconds between ("paused", time) heartbeats while paused
MEMORY_LIMIT_MB = 3072
NICE = 10  # below the GUI: on a busy 2-core machine the app's event loop wins the CPU


class StopRun(Exception):
    """The parent asked the run to stop."""


class RunLoop:
    """Paces one simulation against the wall clock and talks to the parent."""

    def __init__(self, conn: Any, sim: Any, speed: float | None, memory_limit_mb: int):
        self.conn, self.sim, self.speed = conn, sim, speed
        self.memory_limit_mb = memory_limit_mb
        self.paused = False
        self.step = max(sim.scenario.bucket / 20, 1e-3)
        self.sent_rows = 0
        self.sent_transitions: dict[str, int] = {}
        # A frame right after every fault starts and ends, so no fault goes unseen.
        windows = [f.window(sim.horizon) for f in sim.scenario.faults]
        self.marks = sorted({t for w in windows for t in w if 0 < t < sim.horizon})
        self._anchor()

    def _anchor(self) -> None:
        self.anchor_wall, self.anchor_sim = time.perf_counter(), self.sim.now

    # -- commands --------------------------------------------------------------------------

    def handle_commands(self, wait: float = 0.0) -> None:
        while self.conn.poll(wait):
            kind, value = self.conn.recv()
            wait = 0.0
            if kind == "stop":
                raise StopRun
            if kind == "pause":
                self.paused = True
            elif kind == "resume":
                self.paused = False
                self._anchor()
            elif kind == "speed":
                self.speed = value
                self._anchor()

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        sim = self.sim
        last_sent = -math.inf
        while not sim.finished:
            self.handle_commands()
            if self.paused:
                self.hold()
                last_sent = time.perf_counter()
            target = self._target()
            if target is None:
                continue
            mark = self.marks[0] if self.marks else math.inf
            started = time.perf_counter()
            sim.run(min(target, mark + 1e-6))
            self._adapt(started)
            crossed = sim.now > mark
            if crossed:
                self.marks.pop(0)
            if crossed or time.perf_counter() - last_sent >= SEND_INTERVAL or sim.finished:
                self.send_frame()
                last_sent = time.perf_counter()
                self._check_memory()

    def hold(self) -> None:
        """Paused: show where the clock stopped, then beat until resumed (or stopped)."""
        self.send_frame()
        while self.paused:
            self.conn.send(("paused", self.sim.now))
            self.handle_commands(wait=PAUSE_BEAT)

    def _target(self) -> float | None:
        """Where the next chunk ends; None after a short wait when ahead of the wall clock."""
        sim = self.sim
        if self.speed is None:
            return sim.now + self.step
        due = self.anchor_sim + self.speed * (time.perf_counter() - self.anchor_wall)
        if due <= sim.now:
            ahead = (sim.now - due) / self.speed
            self.handle_commands(wait=min(max(ahead, 0.005), 0.05))
            return None
        if due > sim.now + self.step:
            # Behind the wall clock: run a normal chunk and forgive the debt, so a slow
            # stretch does not turn into a burst afterwards.
            self._anchor()
            return sim.now + self.step
        return due

    def _adapt(self, started: float) -> None:
        """Size chunks so that each takes about CHUNK_WALL of wall time."""
        wall = time.perf_counter() - started
        if wall <= 0:
            self.step *= 2
        else:
            self.step *= min(2.0, max(0.5, CHUNK_WALL / wall))
        self.step = min(max(self.step, 1e-4), max(self.sim.scenario.bucket, 1.0) * 5)

    def _check_memory(self) -> None:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if peak_mb > self.memory_limit_mb:
            raise MemoryError(
                f"the simulation used {peak_mb:.0f} MB, over the {self.memory_limit_mb} MB limit"
            )

    # -- frames ----------------------------------------------------------------------------

    def send_frame(self) -> None:
        from simulator.timeseries import time_series

        sim = self.sim
        columns = time_series(sim)
        rows = len(columns["time_s"])
        start = min(self.sent_rows, rows - 1)
        frame = {
            "snapshot": sim.snapshot(),
            "rows_from": start,
            "columns": {k: v[start:rows].copy() for k, v in columns.items()},
            "transitions": self._new_transitions(),
            "wall": sim.wall_seconds,
        }
        # Buckets that have ended never change again; the current one is resent next time.
        self.sent_rows = int(sim.now / sim.scenario.bucket + 1e-9)
        self.conn.send(("snapshot", frame))

    def _new_transitions(self) -> dict[str, list[tuple[float, str, str]]]:
        out = {}
        for edge, site in self.sim.sites.items():
            breaker = site.breaker
            if breaker is None:
                continue
            sent = self.sent_transitions.get(edge, 0)
            if len(breaker.transitions) > sent:
                out[edge] = list(breaker.transitions[sent:])
                self.sent_transitions[edge] = len(breaker.transitions)
        return out


def _fault_row(fault: Any, horizon: float) -> dict[str, Any]:
    start, end = fault.window(horizon)
    return {"kind": fault.kind, "target": fault.target, "start_s": start, "end_s": end}


def ready_info(sim: Any) -> dict[str, Any]:
    sc = sim.scenario
    return {
        "name": sc.name,
        "seed": sim.seed,
        "horizon": sim.horizon,
        "bucket": sc.bucket,
        "rows": math.ceil(sim.horizon / sc.bucket - 1e-9),
        "faults": [_fault_row(f, sim.horizon) for f in sc.faults],
        "breakers": sorted(e for e, s in sim.sites.items() if s.breaker is not None),
        "limits": _limits(sim),
    }


def _limits(sim: Any) -> dict[str, float]:
    """What the resources plot measures levels against: each pool's connections, each
    node's memory limit."""
    out: dict[str, float] = {}
    for edge, site in sim.sites.items():
        if site.pool is not None:
            out[f"pool.{edge}.in_use"] = float(site.pool.capacity)
    for name, spec in sim.scenario.nodes.items():
        memory = getattr(spec, "memory", None)
        if memory is not None:
            out[f"node.{name}.memory_mb"] = float(memory.limit_mb)
    return out


def blast_radius_reporting(conn: Any, scenario: Any, sim: Any) -> list[dict[str, Any]]:
    """``blast_radius``, telling the parent as each fault's paired run starts."""
    from simulator.blast_radius import blast_radius

    def progress(i: int, n: int, fault: Any) -> None:
        conn.send(("blast_progress", (i, n, f"{fault.kind} on {fault.target}")))

    return blast_radius(scenario, sim.seed, sim, progress=progress)


def lower_priority(pid: int | None, nice: int = NICE) -> None:
    """Let the GUI process preempt child ``pid``: the parent calls it right after start,
    so the child's imports (a second of CPU) already run below the GUI."""
    if pid is not None:
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, pid, nice)


def run_worker(
    conn: Any,
    scenario: Any,
    seed: int | None = None,
    speed: float | None = None,
    blast: bool = True,
    memory_limit_mb: int = MEMORY_LIMIT_MB,
) -> None:
    """The child process's entry point: parse, simulate, analyse, report; never raise.

    ``scenario`` is a validated Scenario, or YAML text to parse here.
    """
    try:
        from simulator.analysis import summarize
        from simulator.engine import Simulation
        from simulator.scenario import parse_scenario

        if isinstance(scenario, str):
            scenario = parse_scenario(scenario, "<document>")
        sim = Simulation(scenario, seed=seed)
        conn.send(("ready", ready_info(sim)))
        loop = RunLoop(conn, sim, speed, memory_limit_mb)
        loop.send_frame()
        loop.run()
        conn.send(("finished", summarize(sim)))
        if blast and scenario.faults:
            conn.send(("analysing", None))
            conn.send(("blast", blast_radius_reporting(conn, scenario, sim)))
        elif blast:  # nothing to measure: say so rather than leave "Running…" up
            conn.send(("blast", []))
        conn.send(("done", None))
    except StopRun:
        conn.send(("stopped", None))
    except BaseException as exc:  # everything goes back to the app as text
        message = {"message": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        with contextlib.suppress(OSError):
            conn.send(("error", message))
    finally:
        conn.close()
