"""The run's time series as one table: a column per quantity, a row per time bucket.

Used by ``murphy run --out`` (CSV), by the plots and by the desktop app, so every
view reads the same numbers.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from simulator.engine import Simulation

__all__ = ["time_series", "write_csv"]


def time_series(sim: Simulation, upto: float | None = None) -> dict[str, np.ndarray]:
    """Columns ``time_s``, ``route.<client>.<x>``, ``node.<name>.<x>``, ``edge.<a->b>.<x>``,
    ``pool.<a->b>.<x>`` for a call through a connection pool.

    Latency columns are in milliseconds; counts are per bucket; ``busy``, ``queue``
    and ``in_system`` are time-averaged levels, as are a pool's ``in_use``, ``idle`` and
    ``waiters``; ``utilization`` is busy / workers.
    Only buckets that have started before ``upto`` (default: now) are returned.
    """
    now = sim.now if upto is None else upto
    width = sim.scenario.bucket
    count = max(1, min(int(np.ceil(now / width - 1e-9)), _size(sim)))
    columns: dict[str, np.ndarray] = {"time_s": np.arange(count) * width}
    for name, client in sim.clients.items():
        stats = client.stats
        for key, values in stats.series.data.items():
            columns[f"route.{name}.{key}"] = values[:count]
        for label, q in (("p50_ms", 50), ("p99_ms", 99)):
            columns[f"route.{name}.{label}"] = stats.percentile_series(q)[:count] * 1000.0
    for name, server in sim.servers.items():
        for key, values in server.stats.series.data.items():
            columns[f"node.{name}.{key}"] = values[:count]
        if np.isfinite(server.workers):
            columns[f"node.{name}.utilization"] = (
                server.stats.series.data["busy"][:count] / server.workers
            )
    for name, site in sim.sites.items():
        for key, values in site.stats.series.data.items():
            columns[f"edge.{name}.{key}"] = values[:count]
    for name, site in sim.sites.items():
        if site.pool_series is not None:
            for key, values in site.pool_series.data.items():
                columns[f"pool.{name}.{key}"] = values[:count]
    for server in sim.servers.values():
        for prefix, series in server.own_series().items():
            for key, values in series.data.items():
                columns[f"{prefix}.{key}"] = values[:count]
    return columns


def _size(sim: Simulation) -> int:
    return next(iter(sim.clients.values())).stats.series.size if sim.clients else 1


def write_csv(columns: dict[str, np.ndarray], path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    names = list(columns)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for row in zip(*(columns[n] for n in names), strict=True):
            writer.writerow(["" if np.isnan(v) else f"{v:.6g}" for v in row])
    return path
