"""A database that keeps books of its writes: its constraint layer, its records, its reconciliation.

Only a database the scenario tracks (``corruption.tracked_databases``: it has a
layer or a reconciliation job, or a write to it may be bad or is checked) is a
``DataStore``; every other database is a plain ``Server``. A write (a job from a
call with ``writes: true``) pays the database's layers' latency on its worker;
a bad one its ``db_constraint`` catches is refused with ``error`` (kind
``validation``); a write the database answers with success is a record, stored
corrupt if its data was bad.

The reconciliation job is a client of its own database: each pass submits
``held`` jobs (its share of the workers) through the same door as requests
(connection limit, queue, limiter, partition), each busy for the pass's scan
time. The pass scans when all of them have finished; if any was refused or lost
in a crash, the pass is aborted and the cursor stays where it was.
"""

from __future__ import annotations

import math
from typing import Any

from simulator._simpy import Wake, wake_after
from simulator.components.base import SUCCESS, Job
from simulator.components.kind import NodeKind, World
from simulator.components.service import OWN_HOOKS, Server, build_service
from simulator.corruption import (
    CORRUPTION_SERIES,
    BadData,
    CorruptionBooks,
    Layer,
    Sweep,
    check,
    tracked_databases,
)
from simulator.metrics import Rollup, Series
from simulator.scenario import Database
from simulator.scenario_data import Reconciliation

__all__ = ["KIND", "DataStore", "Scanner"]


def _bad_of(job: Job) -> BadData | None:
    bad = getattr(job.state, "message", None)
    return bad if isinstance(bad, BadData) else None


def _writes(job: Job) -> bool:
    config = getattr(job.reply_to, "config", None)
    return bool(getattr(config, "writes", False))


class _Pass:
    """One reconciliation pass: the range it scans and the jobs still holding workers."""

    __slots__ = ("count", "duration", "ok", "records", "remaining", "start")

    def __init__(self, plan: tuple[int, int, int], duration: float, held: int):
        self.start, self.count, self.records = plan
        self.duration, self.remaining, self.ok = duration, held, True


class Scanner:
    """The reconciliation job: a pass every ``interval`` (or as soon as the last one ends)."""

    def __init__(self, store: DataStore, spec: Reconciliation):
        self.store, self.spec = store, spec
        self.held = max(1, math.floor(spec.load * store.workers + 1e-9))
        self.passes = self.aborted = self.scanned = 0
        self.busy = 0.0  # worker-seconds its jobs held (finished ones)
        self.running = False
        self.due = False  # a pass fell due while the last one was still running
        wake_after(store.env, spec.interval, self._tick)

    def _tick(self, _wake: Wake) -> None:
        wake_after(self.store.env, self.spec.interval, self._tick)
        if self.running:
            self.due = True
        else:
            self._begin()

    def _begin(self) -> None:
        plan = self.store.sweep.plan()
        if plan[1] == 0:
            return  # nothing stored yet: nothing to scan, no load
        self.running, self.due = True, False
        work = _Pass(plan, plan[1] / self.spec.scan_rate, self.held)
        for _ in range(self.held):
            self.store.submit(Job(self, math.inf, work))

    def on_reply(self, job: Job, outcome: str) -> None:
        """The database answers its jobs like any caller's; the pass learns through ``ended``."""

    def ended(self, job: Job, ok: bool) -> None:
        work: _Pass = job.state
        work.remaining -= 1
        work.ok = work.ok and ok
        if ok:
            self.busy += work.duration
        if work.remaining:
            return
        store, now = self.store, self.store.env.clock
        if work.ok:
            found = store.sweep.scan(work.start, work.count, work.records)
            books = store.books
            books.found += len(found)
            for stored in found:
                books.detect.record(now - stored)
            self.passes += 1
            self.scanned += work.count
        else:
            self.aborted += 1
        self.running = False
        if self.due:
            self._begin()


class DataStore(Server):
    """A database whose writes are tracked: layers, records, bad writes, reconciliation."""

    def __init__(
        self,
        *args: Any,
        layers: list[Layer],
        guards: list[str],
        db: Database,
        series: Series,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.layers = layers
        self.check_time = sum(layer.latency for layer in layers)
        self.sweep = Sweep(db.reconciliation.scan_share if db.reconciliation else 1.0)
        self.books = CorruptionBooks(series, guards)
        self.bad_present: dict[Job, BadData] = {}  # bad writes accepted, not yet ended
        self.scanner: Scanner | None = None
        if db.reconciliation is not None:
            self.scanner = Scanner(self, db.reconciliation)

    # -- the door ------------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        bad = _bad_of(job)
        scan = job.reply_to is self.scanner
        if bad is None and not scan:
            return super().submit(job)
        if bad is not None:
            self.books.written += 1
        super().submit(job)
        if job in self.in_service or (self.queue and self.queue[-1] is job):
            if bad is not None:
                self.bad_present[job] = bad
        elif scan:
            self.scanner.ended(job, False)  # type: ignore[union-attr]
        else:
            self.books.lost += 1  # refused, shed, or black-holed by a partition

    # -- service -------------------------------------------------------------------------------

    def _start(self, job: Job, now: float) -> None:
        if job.reply_to is self.scanner:
            self.busy += 1
            self.stats.busy.change(now, 1)
            self.stats.started += 1
            if now > job.t_arrive:
                self.stats.waited += 1
            self.stats.wait_sum += now - job.t_arrive
            self.in_service[job] = None
            return wake_after(self.env, job.state.duration, self._after_service, job)
        if self.check_time and _writes(job):
            # The constraint check runs on the worker, after the write's own service time.
            base = self.latency_add
            self.latency_add = base + self.check_time
            super()._start(job, now)
            self.latency_add = base
        else:
            super()._start(job, now)

    def _after_service(self, wake: Wake) -> None:
        job: Job = wake.value
        if job.reply_to is self.scanner:
            if job.epoch != self.epoch:
                return  # lost in a crash: the pass heard at the time
            # Its worker is given back first: the pass that may start in ``ended`` (one fell
            # due meanwhile) must find it free, and an OOM that starting it causes must not
            # find this job still in service.
            self._finish(job, "ok", None)
            return self.scanner.ended(job, True)
        super()._after_service(wake)

    def _next_call(self, job: Job) -> None:
        if job.step == 0 and self.layers:
            bad = self.bad_present.get(job)
            if bad is not None:
                _spent, layer = check(self.layers, bad)
                if layer is not None:
                    del self.bad_present[job]
                    self.books.refused(layer.name)
                    return self._finish(job, "error", "validation")
        super()._next_call(job)

    def _finish(self, job: Job, outcome: str, error_kind: str | None) -> None:
        if _writes(job):
            bad = self.bad_present.pop(job, None) if self.bad_present else None
            if outcome in SUCCESS:
                self.sweep.store(self.env.clock, bad is not None)
                if bad is not None:
                    self.books.stored += 1
            elif bad is not None:
                self.books.lost += 1
        super()._finish(job, outcome, error_kind)

    def _expire(self, job: Job, now: float) -> None:
        if self.bad_present.pop(job, None) is not None:
            self.books.lost += 1
        super()._expire(job, now)

    def crash(self) -> None:
        scans = [job for job in (*self.in_service, *self.queue) if job.reply_to is self.scanner]
        self.books.lost += len(self.bad_present)
        self.bad_present.clear()
        super().crash()
        for job in scans:
            self.scanner.ended(job, False)  # type: ignore[union-attr]

    # -- reading -------------------------------------------------------------------------------

    def extra_rollups(self) -> list[Rollup]:
        return [*super().extra_rollups(), self.books.rollup]

    def own_series(self) -> dict[str, Series]:
        return {**super().own_series(), f"corruption.{self.name}": self.books.series}


def _guards(world: World, name: str, spec: Database) -> list[str]:
    """The layers that guard writes to this database, in the order a write meets them."""
    names: list[str] = []
    for node in world.scenario.nodes.values():
        for call in node.calls:
            if call.to == name and call.writes:
                names += [layer.layer for layer in call.validation if layer.layer not in names]
    return names + [layer.layer for layer in spec.validation if layer.layer not in names]


def _build(world: World, name: str, spec: Database) -> Server:
    if name not in tracked_databases(world.scenario):
        return build_service(world, name, spec)
    store = build_service(
        world, name, spec, DataStore,
        layers=[Layer(layer, name) for layer in spec.validation],
        guards=_guards(world, name, spec), db=spec, series=world.series(CORRUPTION_SERIES),
    )  # fmt: skip
    return store


def _invariants(name: str, server: Server) -> list[str]:
    """Every bad write ends once: caught, lost, in flight, found or at rest."""
    own = [f"{name}: {problem}" for problem in server.own_problems()]  # a watched process's
    if server.ledger is not None:  # pools connect to it under a connection limit
        own += server.ledger.problems(name)
    if not isinstance(server, DataStore):
        return own
    books, sweep = server.books, server.sweep
    present = sum(1 for job in (*server.in_service, *server.queue) if _bad_of(job) is not None)
    problems = []
    if present != len(server.bad_present):
        problems.append(f"{name}: {len(server.bad_present)} bad writes held, {present} present")
    ended = sum(books.caught.values()) + books.lost + len(server.bad_present) + books.stored
    if books.written != ended:
        problems.append(
            f"{name}: {books.written} bad writes != {sum(books.caught.values())} caught + "
            f"{books.lost} lost + {len(server.bad_present)} in flight + {books.stored} stored"
        )
    if books.stored != books.found + sweep.at_rest:
        problems.append(f"{name}: {books.stored} stored corrupt != {books.found} found + "
                        f"{sweep.at_rest} at rest")  # fmt: skip
    return own + problems


def _snapshot(server: Server) -> dict[str, Any]:
    """A tracked database's corrupt records at rest, live (a plain database adds nothing)."""
    own = server.own_snapshot()  # a watched process's memory
    if not isinstance(server, DataStore):
        return own
    return {**own, "corrupt_at_rest": server.sweep.at_rest, "corrupt_found": server.books.found}


KIND = NodeKind(
    "database", _build, summary=OWN_HOOKS["summary"], snapshot=_snapshot, invariants=_invariants
)
