"""Data integrity as the scenario file spells it: validation layers and reconciliation jobs.

A write (a call with ``writes: true``) may carry invalid data (a ``corruption``
fault on the node that writes). Layers check writes and refuse the bad ones
they catch; what slips through every layer is stored corrupt at the database,
where a reconciliation job sweeping the records finds it later. Where each
layer may sit: ``input_schema`` and ``domain_rules`` on the writing call (the
writer checks before it sends), ``db_constraint`` on the database itself.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from simulator.scenario_types import Duration, Percent, Rate, Strict

__all__ = [
    "CALL_LAYERS", "DATABASE_LAYERS", "MAX_KEYS", "Contention", "LayerName", "Reconciliation",
    "ValidationLayer",
]  # fmt: skip

LayerName = Literal["input_schema", "domain_rules", "db_constraint"]
CALL_LAYERS = ("input_schema", "domain_rules")
"""Layers the writer runs before it sends (its own code)."""
DATABASE_LAYERS = ("db_constraint",)
"""Layers the database runs when it serves the write (its schema's constraints)."""
MAX_LAYERS = 3


class ValidationLayer(Strict):
    """One check on writes: it catches a share of the bad ones, and costs time on every write."""

    layer: LayerName = Field(
        description="input_schema or domain_rules: on a writing call, checked by the writer "
        "before it sends; db_constraint: on a database, checked when it serves the write"
    )
    catches: Percent = Field(0.5, description="share of the bad writes it checks that it refuses")
    latency: Duration = Field(
        0.0, description="its cost on every write it checks, good or bad (paid by the checker)"
    )


def unique_layers(layers: list[ValidationLayer], allowed: tuple[str, ...], where: str) -> None:
    """Refuse a layer that may not sit here, or one listed twice (its catches would add up)."""
    seen: set[str] = set()
    for layer in layers:
        if layer.layer not in allowed:
            raise ValueError(
                f"{layer.layer} cannot sit on {where} (allowed: {', '.join(allowed)}); "
                "input_schema and domain_rules go on the writing call, db_constraint on the "
                "database"
            )
        if layer.layer in seen:
            raise ValueError(f"{layer.layer} is listed twice: give it once, with its catches")
        seen.add(layer.layer)


class Reconciliation(Strict):
    """A job on a database that sweeps its records with a cursor and finds the corrupt ones.

    Every ``interval`` a pass scans the next ``scan_share`` of the records (a
    cursor that wraps around), so a corrupt record is found within about
    ``interval / scan_share``. A pass holds ``load`` of the database's workers
    (at least one) for ``records scanned / scan_rate`` seconds: requests feel it.
    """

    interval: Duration = Field(60.0, description="time between the starts of two passes")
    scan_share: Percent = Field(
        0.1, description="share of the records (counted at the pass's start) one pass scans"
    )
    load: Percent = Field(
        0.25, description="share of the database's workers a pass holds while it scans "
        "(at least one)"
    )  # fmt: skip
    scan_rate: Rate = Field(
        10_000.0, description="records per second a pass scans: its duration is records / rate"
    )

    @model_validator(mode="after")
    def _scans_something(self) -> Reconciliation:
        if self.interval < 0.01:
            raise ValueError("interval must be at least 10ms (a pass needs time to run)")
        if self.scan_share <= 0:
            raise ValueError("a pass that scans no records finds nothing: give scan_share > 0")
        if self.scan_rate <= 0:
            raise ValueError("scan_rate must be positive (records per second)")
        return self


MAX_KEYS = 1_000_000
"""Keys a contended database may have: each key holds one float (its last commit)."""


class Contention(Strict):
    """Optimistic concurrency on a database: writes to the same key that overlap conflict.

    A write commits when the database has served it. Its transaction read the key
    ``conflict_window`` before that (the read-modify-write of a client that reads a
    row's version, then writes it back); if another write to the same key committed
    in between, this one fails with a conflict (an ``error`` of kind ``conflict``,
    which a retry retries by default) and changes nothing. Reads never conflict.
    A retried write goes to the same key as its first try.
    """

    keys: int = Field(
        1, ge=1, le=MAX_KEYS,
        description="keys the writes spread over, uniformly at random (one per request, kept "
        "across its retries); 1: every write contends for the same row",
    )  # fmt: skip
    conflict_window: Duration = Field(
        0.02,
        description="how long before its commit a write read the key: a write to the same key "
        "committed in that span makes it fail with a conflict",
    )

    @model_validator(mode="after")
    def _window_positive(self) -> Contention:
        if self.conflict_window <= 0:
            raise ValueError(
                "conflict_window must be positive (a zero window never conflicts: remove "
                "contention instead)"
            )
        return self
