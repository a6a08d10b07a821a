"""Bad writes and how they are caught: the writer's side, the books, and the reconciliation sweep.

A ``corruption`` fault makes a share of its target's writes to databases carry
invalid data. The writer's ``WriteCallSite`` decides which writes are bad and
runs the call's validation layers before it sends; the database (a
``components.datastore.DataStore``) runs its own layer, stores what gets through
and keeps the ``Sweep`` its reconciliation job advances. Whether a layer
catches a given bad write is a hash of the write's key and the layer's place,
so the same bad write meets the same fate whatever other layers or knobs do
(common random numbers), and a retry of it is caught again.

The books of one database (``CorruptionBooks``) count bad writes, not requests:
each attempt carrying invalid data that reaches the database is one, and so is
each one the writer's own layers refused before sending. Each ends exactly once:

    written_corrupt = caught (all layers) + lost + in_flight + found + at_rest

``lost``: it never got stored (refused at the door, failed, lost in a crash,
expired, black-holed by a partition). ``in_flight``: at the database at the end.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simulator._simpy import Wake, wake_after
from simulator.calls import CallSite, _CallState
from simulator.metrics import LogHistogram, Rollup, Series
from simulator.randomness import stream_key

if TYPE_CHECKING:
    from simulator.scenario import Scenario
    from simulator.scenario_data import ValidationLayer

__all__ = [
    "BadData",
    "CorruptionBooks",
    "Layer",
    "Sweep",
    "WriteCallSite",
    "corrupting_nodes",
    "corruption_summary",
    "tracked_databases",
]

_M64 = (1 << 64) - 1
CORRUPTION_SERIES = ("written", "caught", "stored", "found", "at_rest")


def _splitmix64(x: int) -> int:
    """SplitMix64's finaliser: a key and a salt become an independent-looking 64-bit draw."""
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


class BadData:
    """What a bad write carries: its key decides, layer by layer, whether it is caught."""

    __slots__ = ("key",)

    def __init__(self, key: int):
        self.key = key


class Layer:
    """One validation layer at one place (a call edge or a database), ready to check writes."""

    __slots__ = ("catches", "latency", "name", "salt")

    def __init__(self, spec: ValidationLayer, place: str):
        self.name, self.catches, self.latency = spec.layer, spec.catches, spec.latency
        self.salt = (stream_key(place) << 32) | stream_key(spec.layer)

    def catches_write(self, bad: BadData) -> bool:
        return _splitmix64(bad.key ^ self.salt) / 2.0**64 < self.catches


def check(layers: list[Layer], bad: BadData | None) -> tuple[float, Layer | None]:
    """Time the layers take on one write, and the layer that refused it (None: it passes)."""
    spent = 0.0
    for layer in layers:
        spent += layer.latency
        if bad is not None and layer.catches_write(bad):
            return spent, layer
    return spent, None


class Sweep:
    """A reconciliation cursor over the records, in the order they were written.

    Only the corrupt records are kept (their position and when they were stored):
    a good record is just a count. ``plan`` fixes what a pass will scan (the next
    ``share`` of the records, wrapping around) and ``scan`` applies it, so a record
    is scanned about once every ``1 / share`` passes.
    """

    def __init__(self, share: float):
        self.share = share
        self.records = 0
        self.cursor = 0
        self.positions: list[int] = []  # corrupt records at rest, ascending
        self.stored_at: list[float] = []  # when each of them was stored

    def store(self, now: float, corrupt: bool) -> None:
        if corrupt:
            self.positions.append(self.records)
            self.stored_at.append(now)
        self.records += 1

    def plan(self) -> tuple[int, int, int]:
        """(start, count, records) of the next pass: ``count`` records from the cursor on."""
        records = self.records
        count = min(records, math.ceil(self.share * records - 1e-9))
        return self.cursor, count, records

    def scan(self, start: int, count: int, records: int) -> list[float]:
        """Scan a planned range; the corrupt records in it are found: their store times."""
        end = start + count
        found: list[float] = []
        if end <= records:
            self._take(start, end, found)
        else:  # wraps: the tail of the records, then the head
            self._take(start, records, found)
            self._take(0, end - records, found)
        self.cursor = end % records if records else 0
        return found

    def _take(self, lo: int, hi: int, found: list[float]) -> None:
        i, j = bisect_left(self.positions, lo), bisect_left(self.positions, hi)
        found += self.stored_at[i:j]
        del self.positions[i:j], self.stored_at[i:j]

    @property
    def at_rest(self) -> int:
        return len(self.positions)


class CorruptionBooks:
    """One database's bad writes, from written to caught, lost, found or left at rest."""

    def __init__(self, series: Series, layers: list[str]):
        self.written = 0
        self.caught = dict.fromkeys(layers, 0)  # every layer guarding this database, in order
        self.lost = 0
        self.stored = 0
        self.found = 0
        self.detect = LogHistogram()
        self.series = series
        self.rollup = Rollup(
            series,
            {
                "written": lambda _now: self.written,
                "caught": lambda _now: sum(self.caught.values()),
                "stored": lambda _now: self.stored,
                "found": lambda _now: self.found,
                "at_rest": lambda _now: self.stored - self.found,
            },
            samples=("at_rest",),
        )

    def refused(self, layer: str) -> None:
        self.caught[layer] = self.caught.get(layer, 0) + 1


class WriteCallSite(CallSite):
    """A write to a tracked database: it may carry bad data, and its layers check it first.

    Built only for a write whose caller a corruption fault targets or whose call has
    validation layers; every other call keeps the plain ``CallSite``. The layers run
    once per request, before the first attempt, and the writer's worker waits for
    them; a bad write they catch fails with ``error`` as an attempt refused locally
    (no retry, no fallback: the same data would be refused again).
    """

    def __init__(self, *args: Any, books: CorruptionBooks, corrupt_rng: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.books, self.rng_corrupt = books, corrupt_rng
        self.layers = [Layer(spec, self.name) for spec in self.config.validation]
        self.corrupt_rate = 0.0
        self._key = stream_key(self.name) << 32
        self._writes = 0  # write requests so far: with the edge's key, a bad write's key

    def set_corruption(self, rate: float) -> None:
        """The worst active corruption fault on the writer (``fault_kinds.Corruption``)."""
        self.corrupt_rate = rate

    def call(self, parent: Any, on_done: Callable[[Any, str], None], message: Any = None) -> None:
        self._writes += 1
        rate = self.corrupt_rate
        if rate > 0.0 and self.rng_corrupt.random() < rate:
            message = BadData(_splitmix64(self._key | (self._writes & 0xFFFFFFFF)))
        super().call(parent, on_done, message)

    def _attempt(self, state: _CallState, now: float) -> None:
        if state.attempt == 0 and self.layers:  # the writer's checks, once per request
            bad = getattr(state, "message", None)
            if not isinstance(bad, BadData):
                bad = None  # a good write (it may carry a contended database's key instead)
            spent, caught = check(self.layers, bad)
            if spent > 0:
                return wake_after(self.env, spent, self._checked, (state, caught))
            if caught is not None:
                return self._refuse(state, caught)
        super()._attempt(state, now)

    def _checked(self, wake: Wake) -> None:
        state, caught = wake.value
        if caught is not None:
            return self._refuse(state, caught)
        super()._attempt(state, self.env.clock)

    def _refuse(self, state: _CallState, layer: Layer) -> None:
        """Refused by the writer's own check: one attempt, failed locally, never retried."""
        self.books.written += 1
        self.books.refused(layer.name)
        stats = self.stats
        state.attempt += 1
        stats.attempts += 1
        stats.failures += 1
        stats.attempt_outcomes["error"] = stats.attempt_outcomes.get("error", 0) + 1
        self._finish(state, "error")


# -- which parts of a scenario take part ----------------------------------------------------------


def corrupting_nodes(scenario: Scenario) -> frozenset[str]:
    """The nodes a corruption fault targets (their writes to databases may carry bad data)."""
    return frozenset(f.target for f in scenario.faults if f.kind == "corruption")


def tracked_databases(scenario: Scenario) -> frozenset[str]:
    """Databases whose writes are tracked: they or a write to them carry a check, or may be bad.

    Every other database stays a plain ``Server``: a scenario without corruption,
    validation or reconciliation builds nothing of this module.
    """
    writers = corrupting_nodes(scenario)
    out = {
        name
        for name, node in scenario.nodes.items()
        if node.kind == "database" and (node.validation or node.reconciliation)
    }
    for name, node in scenario.nodes.items():
        for call in node.calls:
            target = scenario.nodes.get(call.to)
            if target is None or target.kind != "database" or not call.writes:
                continue
            if call.validation or name in writers:
                out.add(call.to)
    return frozenset(out)


# -- the JSON section -----------------------------------------------------------------------------


def _seconds(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def store_summary(store: Any, now: float) -> dict[str, Any]:
    """One database's ``corruption.databases.<name>`` entry (whole run, warm-up included)."""
    books: CorruptionBooks = store.books
    sweep: Sweep = store.sweep
    hist = books.detect
    p99 = hist.percentiles([99])[0] if hist.count else math.nan
    out: dict[str, Any] = {
        "records": sweep.records,
        "written_corrupt": books.written,
        "caught_by_layer": dict(books.caught),
        "caught": sum(books.caught.values()),
        "lost": books.lost,
        "in_flight": len(store.bad_present),
        "stored_corrupt": books.stored,
        "found_by_reconciliation": books.found,
        "at_rest": sweep.at_rest,
        "time_to_detect_s": {
            "mean": _seconds(hist.mean) if hist.count else None,
            "p99": _seconds(p99),
            "max": round(hist.maximum, 6) if hist.count else None,
        },
    }
    scanner = store.scanner
    if scanner is not None:
        spec = scanner.spec
        out["reconciliation"] = {
            "interval_s": spec.interval,
            "scan_share": spec.scan_share,
            "workers_held": scanner.held,
            "passes": scanner.passes,
            "aborted": scanner.aborted,
            "records_scanned": scanner.scanned,
            "busy_s": round(scanner.busy, 6),
            "load_share": round(scanner.busy / (store.workers * now), 6) if now > 0 else None,
            "detect_bound_s": round(spec.interval / spec.scan_share, 6),
        }
    return out


def corruption_summary(stores: dict[str, Any], now: float) -> dict[str, Any]:
    """The ``corruption`` section: per tracked database, and totals over them."""
    databases = {name: store_summary(store, now) for name, store in stores.items()}
    totals: dict[str, Any] = {"caught_by_layer": {}}
    keys = ("written_corrupt", "caught", "lost", "in_flight", "stored_corrupt",
            "found_by_reconciliation", "at_rest")  # fmt: skip
    for key in keys:
        totals[key] = sum(entry[key] for entry in databases.values())
    for entry in databases.values():
        for layer, count in entry["caught_by_layer"].items():
            totals["caught_by_layer"][layer] = totals["caught_by_layer"].get(layer, 0) + count
    return {"databases": databases, "totals": totals}
