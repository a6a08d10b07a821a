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
from typing import Any, TypeVar

import simpy

from simulator._simpy import Environment, Stalled, run_until, scheduled_count
from simulator.alerting import SNAPSHOT_FIRINGS, AlertMonitor
from simulator.calls import EDGE_SERIES, POOL_SERIES, CallSite, EdgeStats, PoolRecorder
from simulator.components.balancer import Balancer
from simulator.components.base import LOST_ERRORS, REFUSED_AT_ARRIVAL
from simulator.components.client import Client
from simulator.components.datastore import DataStore
from simulator.components.registry import NODE_KINDS
from simulator.components.service import Server
from simulator.contention import keyed
from simulator.corruption import WriteCallSite, corrupting_nodes
from simulator.deploys import DeploySchedule
from simulator.faults import FaultSchedule, active_faults
from simulator.hedging import HedgedCallSite, HedgeStats, LinkedCallSite, cancelled_balancers
from simulator.message_flows import message_problems, message_snapshot
from simulator.messages import Flow, MessageBooks
from simulator.metrics import Rollup, Series
from simulator.publishing import CommitCallSite, OutboxCallSite, PublishSite
from simulator.randomness import RandomStream
from simulator.scenario import Call, Publish, Scenario
from simulator.scenario_limits import memory_problem
from simulator.scenario_nodes import call_edge_names, publish_edge_names
from simulator.topology import find_call_cycle, to_graph
from simulator.zero_time import find_zero_time_loop, stall_events

__all__ = ["EngineError", "Simulation"]

_Site = TypeVar("_Site", bound=CallSite)


class EngineError(Exception):
    """The scenario is valid as a file but cannot be simulated (e.g. a call cycle)."""


def _stalled_message(stall: Stalled) -> str:
    """What stopped, where, and what to change (the owners are whose events come next)."""
    where = ", ".join(name for name, _count in stall.owners[:3])
    return (
        f"simulated time stopped at {stall.now:.6f} s: {stall.events:,} events in a row "
        f"without the clock moving{f', at {where}' if where else ''}. A loop of steps that "
        "take 0 s goes round forever (0 s processing, service or publish times; closed-loop "
        "users with no think_time whose requests are refused at once): give one of its "
        "steps a time above zero"
    )


class Simulation:
    """One run of one scenario with one seed."""

    def __init__(self, scenario: Scenario, seed: int | None = None):
        # Refused before anything is built: a cycle would deadlock, a loop of messages in
        # no time would never end, and an over-budget scenario would exhaust memory (all
        # three are refused at load too: this is for scenarios changed in memory since).
        cycle = find_call_cycle(to_graph(scenario))
        if cycle is not None:
            raise EngineError(f"synchronous call cycle: {' -> '.join(cycle + cycle[:1])}")
        loop = find_zero_time_loop(scenario)
        if loop is not None:
            raise EngineError(loop.message)
        too_big = memory_problem(scenario)
        if too_big is not None:
            raise EngineError(too_big)
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.horizon = scenario.duration
        self.stall_events = stall_events(scenario)  # a run stops as stalled past this
        self.env = Environment()  # SimPy's, with the clock readable as env.clock
        self.servers: dict[str, Server] = {}
        self.clients: dict[str, Client] = {}
        self.sites: dict[str, CallSite] = {}
        self.wall_seconds = 0.0
        self._build()
        self.faults = FaultSchedule(self.env, scenario, self.servers, self.clients)
        self.alerts = AlertMonitor(self)
        self._sample_buckets()
        if scenario.warmup > 0:
            self.env.timeout(scenario.warmup).callbacks.append(self._on_warmup)
        for client in self.clients.values():
            client.start()
        # Built last: a deploy subscribes to the alert monitor for its rollback.
        self.deploys = DeploySchedule(self) if scenario.deploys else None

    # -- building ----------------------------------------------------------------------------

    def stream(self, component: str, purpose: str) -> RandomStream:
        """The random stream of one component for one purpose (common random numbers)."""
        return RandomStream(self.seed, component, purpose)

    def series(self, names: tuple[str, ...]) -> Series:
        """Per-bucket arrays over the run's horizon, one per name."""
        return Series(self.horizon, self.scenario.bucket, names)

    def node(self, name: str) -> Client | Server:
        return self.clients.get(name) or self.servers[name]

    def _build(self) -> None:
        sc = self.scenario
        self.kinds = {name: NODE_KINDS[spec.kind] for name, spec in sc.nodes.items()}
        self._corrupting = corrupting_nodes(sc)
        self._cancelled = cancelled_balancers(sc)
        self.books = MessageBooks()
        for name, spec in sc.nodes.items():
            component = self.kinds[name].build(self, name, spec)
            if isinstance(component, Client):
                self.clients[name] = component
            else:
                self.servers[name] = component
        for name, spec in sc.nodes.items():
            owner = self.node(name)
            announced = {p.after_commit_to for p in spec.publishes} - {None}
            commits: dict[str, list[CommitCallSite]] = {}
            for index, (call, edge) in enumerate(
                zip(spec.calls, call_edge_names(name, spec.calls), strict=True)
            ):
                # The node's first call to an announced database is the transaction.
                first = call.to in announced and index == _first_index(spec.calls, call.to)
                site = self.add_call(edge, call, owner if first else None, caller=name)
                if isinstance(site, CommitCallSite):
                    commits.setdefault(call.to, []).append(site)
                owner.sites.append(site)
            for publish, edge in zip(
                spec.publishes, publish_edge_names(name, spec.publishes), strict=True
            ):
                publisher = self.add_publish(edge, publish, owner)
                for site in commits.get(publish.after_commit_to or "", []):
                    site.publisher = publisher
                    publisher.announces = owner.dual_write = True
                owner.sites.append(publisher)
        for name, kind in self.kinds.items():
            if kind.connect is not None:
                kind.connect(self, name, self.node(name))
        for stream in self.books.streams.values():
            broker = self.servers[stream.broker]
            stream.flows = [
                Flow(stream, sub.consumer.name if sub.consumer is not None else None)
                for sub in broker.subscriptions(stream.queue)  # type: ignore[attr-defined]
            ]

    def add_call(
        self,
        edge: str,
        call: Call,
        committer: Client | Server | None = None,
        caller: str | None = None,
    ) -> CallSite:
        """A call edge, registered as ``edge``.

        An outbox transaction if ``call.outbox``; a transaction a later publish of
        ``committer`` announces (dual write) if that is given; a tracked write if it
        writes to a tracked database and ``caller`` may corrupt it or the call checks
        it; else a plain call.
        """
        stats = (HedgeStats if call.hedge is not None else EdgeStats)(self.series(EDGE_SERIES))
        args = (self.env, edge, call, self.servers[call.to], self.stream(edge, "policy"), stats)
        make: Callable[..., CallSite]
        extra: dict[str, Any] = {}
        if call.hedge is not None:  # a read (the schema refuses hedged writes and outboxes)
            make = HedgedCallSite
        elif call.outbox is not None:
            make, extra = OutboxCallSite, {"relay": self.servers[call.outbox]}
        elif committer is not None:
            make, extra = CommitCallSite, {"owner": committer}
        elif self._tracks(call, caller):
            target = self.servers[call.to]
            assert isinstance(target, DataStore)  # tracked_databases holds every such target
            make = WriteCallSite
            extra = {"books": target.books, "corrupt_rng": self.stream(edge, "corruption")}
        elif caller in self._cancelled and call.deadline_propagation:
            caller_node = self.servers[caller]
            make = CallSite
            if isinstance(caller_node, Balancer):
                make, extra = LinkedCallSite, {"balancer": caller_node}
        else:
            make = CallSite
        keys = self._contended_keys(call)
        if keys > 1:  # each write request carries its key across its retries
            make = keyed(make, keys, self.stream(edge, "key"))
        return self._register(edge, make(*args, **extra))

    def _contended_keys(self, call: Call) -> int:
        """The keys a write to a contended database spreads over (1: none to draw)."""
        spec = self.scenario.nodes.get(call.to)
        contention = getattr(spec, "contention", None)
        return contention.keys if call.writes and contention is not None else 1

    def _tracks(self, call: Call, caller: str | None) -> bool:
        if not call.writes or not isinstance(self.servers.get(call.to), DataStore):
            return False
        return bool(call.validation) or caller in self._corrupting

    def add_publish(
        self, edge: str, publish: Publish, owner: Client | Server, relayed: bool = False
    ) -> PublishSite:
        """A publish edge from ``owner``, registered as ``edge``; its stream is made here."""
        site = PublishSite(
            self.env, edge, publish, self.servers[publish.to], self.stream(edge, "policy"),
            EdgeStats(self.series(EDGE_SERIES)), owner=owner, queue=publish.queue,
            stream=self.books.stream(owner.name, publish.to, publish.queue), relayed=relayed,
        )  # fmt: skip
        return self._register(edge, site)

    def _register(self, edge: str, site: _Site) -> _Site:
        if site.pool is not None:
            site.equip_pool(self.series(POOL_SERIES), self.stream(edge, "pool_leak"))
        self.sites[edge] = site
        return site

    # -- periodic bookkeeping ----------------------------------------------------------------

    def _sample_buckets(self) -> None:
        self._rollups: list[Rollup | PoolRecorder] = [c.stats.rollup for c in self.clients.values()]
        self._rollups += [s.stats.rollup for s in self.servers.values()]
        self._rollups += [s.stats.rollup for s in self.sites.values()]
        self._rollups += [r for s in self.servers.values() for r in s.extra_rollups()]
        self._rollups += [s.pool_recorder for s in self.sites.values() if s.pool_recorder]
        self._bucket_hooks = [s.on_bucket for s in self.servers.values() if s.has_bucket_hook]
        self.env.timeout(self.scenario.bucket).callbacks.append(self._on_bucket)

    def _on_bucket(self, _event: simpy.Event) -> None:
        now = self.env.now
        for hook in self._bucket_hooks:
            hook(now)
        for rollup in self._rollups:
            rollup.close(now)
        self.alerts.evaluate(now)
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
        try:
            run_until(self.env, target, self.stall_events)
        except Stalled as stall:
            raise EngineError(_stalled_message(stall)) from None
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
            own = self.kinds[name].snapshot
            if own is not None:
                nodes[name].update(own(server))
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
        out = {"time": now, "horizon": self.horizon, "nodes": nodes, "edges": edges,
               "routes": routes, "active_faults": active_faults(self.scenario, now),
               "alerts": self.alerts.as_list(last=SNAPSHOT_FIRINGS)}  # fmt: skip
        if self.books.streams:
            out.update(message_snapshot(self, now))
        return out

    def data_stores(self) -> dict[str, DataStore]:
        """The databases that track their writes (empty unless the scenario uses corruption)."""
        return {name: s for name, s in self.servers.items() if isinstance(s, DataStore)}

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
            refused = sum(s.errors.get(kind, 0) for kind in REFUSED_AT_ARRIVAL)
            turned_away = s.rejected + s.shed + s.dropped + refused
            if s.arrivals != s.accepted + turned_away:
                problems.append(f"{name}: {s.arrivals} arrivals != {s.accepted} accepted + "
                                f"{turned_away} turned away")  # fmt: skip
            if server.busy != len(server.in_service) or server.busy < 0:
                problems.append(f"{name}: {server.busy} workers busy, "
                                f"{len(server.in_service)} jobs in service")  # fmt: skip
            lost = sum(s.errors.get(kind, 0) for kind in LOST_ERRORS)
            present = server.busy + len(server.queue)
            if s.accepted != s.answered + lost + present:
                problems.append(f"{name}: {s.accepted} accepted != {s.answered} answered + "
                                f"{lost} lost + {present} present")  # fmt: skip
            still_down = [o for o in server.outages if o[1] is None]
            if still_down and (not server.down or still_down[0] is not server.outages[-1]):
                problems.append(f"{name}: an outage without its restart before another began")
        problems += self._pool_problems()
        for site in self.sites.values():
            problems += site.problems()
        for name, kind in self.kinds.items():
            if kind.invariants is not None:
                problems += kind.invariants(name, self.node(name))
        if self.deploys is not None:
            problems += self.deploys.problems()
        return problems + message_problems(self) + self.alerts.problems()

    def _pool_problems(self) -> list[str]:
        """Each pool's books, and each limited database's count of the pools' connections."""
        problems = []
        pooled: dict[str, int] = {}  # per limited database: pooled connections of its epoch
        for name, site in self.sites.items():
            if site.pool is None:
                continue
            problems += [f"{name} pool: {p}" for p in site.pool.problems()]
            target = site.target
            if target.ledger is not None:
                live = site.pool.by_epoch.get(target.epoch, 0)
                pooled[target.name] = pooled.get(target.name, 0) + live
        for db, live in pooled.items():
            counted = self.servers[db].ledger.pooled  # type: ignore[union-attr]
            if counted != live:
                problems.append(f"{db}: counts {counted} pooled connections, pools hold {live}")
        return problems


def _first_index(calls: list, target: str) -> int:
    return next(i for i, c in enumerate(calls) if c.to == target)
