"""Build the SimPy world from a validated scenario and run it, in chunks, deterministically.

The engine wires components and policies together; it does not validate (the
scenario module did that) and it does not summarise (``analysis`` reads what the
recorders hold). ``run(until=t)`` can be called repeatedly, so a GUI can stream
snapshots while the world advances.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, TypedDict

import simpy

from simulator._simpy import Environment, scheduled_count
from simulator.calls import EDGE_SERIES, CallSite, EdgeStats
from simulator.components.balancer import Balancer
from simulator.components.base import NODE_SERIES, NodeStats
from simulator.components.cache import Cache
from simulator.components.client import Client
from simulator.components.service import Server
from simulator.faults import FaultSchedule, active_faults
from simulator.metrics import ROUTE_SERIES, Rollup, RouteStats, Series
from simulator.policies import Admission, make_limiter
from simulator.randomness import RandomStream
from simulator.sampling import make_sampler
from simulator.scenario import Balancer as BalancerSpec
from simulator.scenario import Cache as CacheSpec
from simulator.scenario import Client as ClientSpec
from simulator.scenario import Database, Scenario, Service, ThirdParty
from simulator.scenario_limits import memory_problem
from simulator.topology import find_call_cycle, to_graph

__all__ = ["EngineError", "Simulation"]


class EngineError(Exception):
    """The scenario is valid as a file but cannot be simulated (e.g. a call cycle)."""


class _ServerOptions(TypedDict, total=False):
    """The ``Server`` keywords only some node kinds set; the rest keep their defaults."""

    limiter: Admission | None
    boot_time: float
    max_connections: float


class Simulation:
    """One run of one scenario with one seed."""

    def __init__(self, scenario: Scenario, seed: int | None = None):
        # Refused before anything is built: a cycle would deadlock, and an over-budget
        # scenario (e.g. one changed in memory after validation) would exhaust memory.
        cycle = find_call_cycle(to_graph(scenario))
        if cycle is not None:
            raise EngineError(f"synchronous call cycle: {' -> '.join(cycle + cycle[:1])}")
        too_big = memory_problem(scenario)
        if too_big is not None:
            raise EngineError(too_big)
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.horizon = scenario.duration
        self.env = Environment()  # SimPy's, with the clock readable as env.clock
        self.servers: dict[str, Server] = {}
        self.clients: dict[str, Client] = {}
        self.sites: dict[str, CallSite] = {}
        self.wall_seconds = 0.0
        self._build()
        self.faults = FaultSchedule(self.env, scenario, self.servers, self.clients)
        self._sample_buckets()
        if scenario.warmup > 0:
            self.env.timeout(scenario.warmup).callbacks.append(self._on_warmup)
        for client in self.clients.values():
            client.start()

    # -- building ----------------------------------------------------------------------------

    def _stream(self, component: str, purpose: str) -> RandomStream:
        return RandomStream(self.seed, component, purpose)

    def _series(self, names: tuple[str, ...]) -> Series:
        return Series(self.horizon, self.scenario.bucket, names)

    def _build(self) -> None:
        sc = self.scenario
        for name, spec in sc.nodes.items():
            if isinstance(spec, ClientSpec):
                self.clients[name] = self._build_client(name, spec)
            else:
                self.servers[name] = self._build_server(name, spec)
        for name, spec in sc.nodes.items():
            owner = self.clients.get(name) or self.servers[name]
            for index, call in enumerate(spec.calls):
                edge = (
                    f"{name}->{call.to}"
                    if index == _first_index(spec.calls, call.to)
                    else (f"{name}->{call.to}#{index}")
                )
                site = CallSite(
                    self.env,
                    edge,
                    call,
                    self.servers[call.to],
                    self._stream(edge, "policy"),
                    EdgeStats(self._series(EDGE_SERIES)),
                )
                owner.sites.append(site)
                self.sites[edge] = site

    def _build_client(self, name: str, spec: ClientSpec) -> Client:
        think = (
            make_sampler(spec.think_time, self._stream(name, "think")) if spec.think_time else None
        )
        stats = RouteStats(self._series(ROUTE_SERIES), self.scenario.warmup)
        return Client(
            self.env, name, spec, stats,
            self._stream(name, "arrivals"), self._stream(name, "route"), think,
        )  # fmt: skip

    def _build_server(
        self, name: str, spec: Service | ThirdParty | BalancerSpec | CacheSpec
    ) -> Server:
        stats = NodeStats(self._series(NODE_SERIES))
        common: dict[str, Any] = {
            "stats": stats,
            "rng": self._stream(name, "errors"),
            "route_rng": self._stream(name, "route"),
        }
        if isinstance(spec, BalancerSpec | CacheSpec):
            return self._build_pass_through(name, spec, common)
        workers: float
        queue_limit: float
        extra: _ServerOptions
        if isinstance(spec, ThirdParty):
            workers = float(spec.max_concurrent or math.inf)
            queue_limit, service, errors = 0, spec.latency, spec.error_rate
            extra = {}
        else:
            workers = spec.workers
            queue_limit = math.inf if spec.queue is None else spec.queue
            service, errors = spec.service_time, spec.error_rate
            extra = {
                "limiter": make_limiter(spec.limiter) if spec.limiter else None,
                "boot_time": spec.boot_time,
            }
            if isinstance(spec, Database) and spec.max_connections:
                extra["max_connections"] = spec.max_connections
        return Server(
            self.env, name,
            workers=workers, queue_limit=queue_limit,
            service_time=make_sampler(service, self._stream(name, "service")),
            error_rate=errors, **common, **extra,
        )  # fmt: skip

    def _build_pass_through(
        self, name: str, spec: BalancerSpec | CacheSpec, common: dict[str, Any]
    ) -> Server:
        """Balancers and caches: unlimited concurrency, no queue, no errors of their own."""
        if isinstance(spec, BalancerSpec):
            return Balancer(
                self.env, name, workers=math.inf, queue_limit=0, service_time=_no_time,
                error_rate=0.0, strategy=spec.strategy, health_check=spec.health_check, **common,
            )  # fmt: skip
        return Cache(
            self.env, name, workers=math.inf, queue_limit=0,
            service_time=make_sampler(spec.latency, self._stream(name, "service")),
            error_rate=0.0, hit_ratio=spec.hit_ratio, warm_up=spec.warm_up,
            hit_rng=self._stream(name, "hits"), **common,
        )  # fmt: skip

    # -- periodic bookkeeping ----------------------------------------------------------------

    def _sample_buckets(self) -> None:
        self._rollups: list[Rollup] = [c.stats.rollup for c in self.clients.values()]
        self._rollups += [s.stats.rollup for s in self.servers.values()]
        self._rollups += [s.stats.rollup for s in self.sites.values()]
        self.env.timeout(self.scenario.bucket).callbacks.append(self._on_bucket)

    def _on_bucket(self, _event: simpy.Event) -> None:
        now = self.env.now
        for rollup in self._rollups:
            rollup.close(now)
        width = self.scenario.bucket
        if now + width <= self.horizon + 1e-9:
            self.env.timeout(width).callbacks.append(self._on_bucket)

    def _on_warmup(self, _event: simpy.Event) -> None:
        now = self.env.now
        for server in self.servers.values():
            server.stats.mark_warmup(now)
        for site in self.sites.values():
            site.stats.mark_warmup()

    # -- running -----------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.env.now

    @property
    def finished(self) -> bool:
        return self.env.now >= self.horizon

    def run(self, until: float | None = None) -> None:
        """Advance to ``until`` (at most the horizon). Can be called again to go further."""
        target = self.horizon if until is None else min(until, self.horizon)
        if target <= self.env.now:
            return
        started = time.perf_counter()
        self.env.run(until=target)
        for rollup in self._rollups:
            rollup.flush(target)
        self.wall_seconds += time.perf_counter() - started

    def run_to_end(
        self, chunk: float | None = None, progress: Callable[[float, float], None] | None = None
    ) -> Simulation:
        """Run to the horizon in chunks, calling ``progress(now, horizon)`` after each."""
        step = chunk or max(self.scenario.bucket, self.horizon / 100)
        while not self.finished:
            self.run(self.env.now + step)
            if progress is not None:
                progress(self.env.now, self.horizon)
        return self

    def snapshot(self) -> dict:
        """The live state of every node and call, as plain data (picklable, JSON-able).

        This is what a GUI draws from; time series come separately from
        ``simulator.timeseries.time_series``.
        """
        now = self.env.now
        nodes = {}
        for name, server in self.servers.items():
            nodes[name] = {
                "busy": server.busy,
                "capacity": server.capacity if math.isfinite(server.capacity) else None,
                "workers": server.workers if math.isfinite(server.workers) else None,
                "queue": len(server.queue),
                "queue_limit": server.queue_limit if math.isfinite(server.queue_limit) else None,
                "down": server.down,
                "partitioned": server.partitioned,
                "throttled": server.capacity < server.workers,
                "slowed": server.latency_add > 0 or server.latency_mul != 1.0,
                "failing": server.fault_error_rate > 0,
            }
        edges = {}
        for name, site in self.sites.items():
            st = site.stats
            edges[name] = {
                "requests": st.requests,
                "attempts": st.attempts,
                "failures": st.failures,
                "breaker": site.breaker_state(),
            }
        routes = {
            name: {"started": c.stats.started_total, **c.stats.outcomes_total}
            for name, c in self.clients.items()
        }
        return {"time": now, "horizon": self.horizon, "nodes": nodes, "edges": edges,
                "routes": routes, "active_faults": active_faults(self.scenario, now)}  # fmt: skip

    @property
    def event_count(self) -> int:
        """Events scheduled so far (SimPy numbers every event it schedules)."""
        return scheduled_count(self.env)

    def check_invariants(self) -> list[str]:
        """Every request ends in exactly one outcome; every job is accounted for at every node."""
        problems = []
        for name, client in self.clients.items():
            stats = client.stats
            if stats.in_flight != client.in_flight or client.in_flight < 0:
                problems.append(
                    f"{name}: {stats.started_total} started, "
                    f"{sum(stats.outcomes_total.values())} ended, {client.in_flight} in flight"
                )
        for name, server in self.servers.items():
            s = server.stats
            refused = s.errors.get("refused", 0)
            turned_away = s.rejected + s.shed + s.dropped + refused
            if s.arrivals != s.accepted + turned_away:
                problems.append(f"{name}: {s.arrivals} arrivals != {s.accepted} accepted + "
                                f"{turned_away} turned away")  # fmt: skip
            lost = s.errors.get("crash", 0) + s.errors.get("expired", 0)
            present = server.busy + len(server.queue)
            if s.accepted != s.answered + lost + present:
                problems.append(f"{name}: {s.accepted} accepted != {s.answered} answered + "
                                f"{lost} lost + {present} present")  # fmt: skip
        return problems


def _no_time() -> float:
    return 0.0


def _first_index(calls: list, target: str) -> int:
    return next(i for i, c in enumerate(calls) if c.to == target)
