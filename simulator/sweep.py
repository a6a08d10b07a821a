"""Replications and parameter sweeps over any ``concurrent.futures.Executor``.

One run is one process's work; a sweep is many independent runs. What crosses
to a worker is plain data: the scenario as a dict (its file spelling) and a
seed, mapped by the module-level :func:`run_one`, which returns a compact,
picklable, JSON-able result (the summary figures a comparison needs and the few
time-series columns its plots draw).

Replication ``k`` of every variant runs with seed ``base_seed + k``. With the
engine's per-component random streams (common random numbers) replication ``k``
of two variants draws the same arrivals and service times, so the variants
differ only by what was varied, and their difference has far less noise than
either alone.

Executors: ``"local"`` (a process pool, one worker per core), ``"serial"`` (in
this process: for tests and tiny runs), ``"dask://HOST:PORT"`` (a running Dask
scheduler) or ``"dask://local"`` (an in-process LocalCluster of two worker
processes). Any other ``Executor`` can be passed as an object.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from simulator.scenario import Scenario
from simulator.variants import Variant

__all__ = ["RunSpec", "SerialExecutor", "open_executor", "run_many", "run_one"]

ROUTE_COLUMNS = ("requests", "goodput", "failed", "fallback")
NODE_COLUMNS = ("arrivals", "utilization")
EDGE_COLUMNS = ("requests", "attempts")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: which variant, which replication, what to run and with which seed."""

    variant: int
    replication: int
    seed: int
    scenario: dict[str, Any]


def _finite(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else round(float(v), 6) for v in values]


def _overall_p99(sim: Any) -> np.ndarray:
    """p99 over time of every route's answered requests together."""
    stats = [c.stats for c in sim.clients.values()]
    first = stats[0]
    merged = SimpleNamespace(
        bucketed=sum(s.bucketed for s in stats), latency=first.latency, COARSE=first.COARSE
    )
    # The method only reads those three attributes: reuse its percentile arithmetic.
    return type(first).percentile_series(merged, 99) * 1000.0


def _series(sim: Any) -> dict[str, list[float | None]]:
    from simulator.timeseries import time_series

    columns = time_series(sim)
    out: dict[str, list[float | None]] = {"time_s": _finite(columns["time_s"])}
    for key, values in columns.items():
        kind, _, rest = key.partition(".")
        name, _, quantity = rest.rpartition(".")
        wanted = {"route": ROUTE_COLUMNS, "node": NODE_COLUMNS, "edge": EDGE_COLUMNS}.get(kind, ())
        if name and quantity in wanted:
            out[key] = _finite(values)
    if sim.clients:
        out["overall.p99_ms"] = _finite(_overall_p99(sim)[: len(columns["time_s"])])
    return out


def _compact(summary: dict[str, Any]) -> dict[str, Any]:
    def route(r: dict[str, Any]) -> dict[str, Any]:
        keep = ("requests", "outcomes", "success_rate", "latency_ms")
        return {k: r[k] for k in keep if k in r}

    edges = {}
    for name, e in summary["edges"].items():
        edges[name] = {k: e[k] for k in ("requests", "attempts", "retries", "amplification")}
        edges[name]["breaker_opens"] = e.get("breaker", {}).get("opens")
    nodes = {
        name: {k: n[k] for k in ("arrivals", "completions", "rejected", "utilization", "max_queue")}
        for name, n in summary["nodes"].items()
    }
    out = {
        "overall": route(summary["overall"]),
        "routes": {name: route(r) for name, r in summary["routes"].items()},
        "nodes": nodes,
        "edges": edges,
        "faults": summary["faults"],
        "invariants": summary["invariants"],
        "events": summary["events"],
        "wall_seconds": summary["wall_seconds"],
    }
    if "messages" in summary:  # per flow, without the lag percentiles
        keep = ("produced", "delivered", "lost", "dead_lettered", "duplicates", "applied_twice",
                "in_flight", "max_lag_s")  # fmt: skip
        out["messages"] = {key: {k: f[k] for k in keep} for key, f in summary["messages"].items()}
    if "contention" in summary:  # the backoff study's calls and completion time
        out["contention"] = summary["contention"]
    return out


def run_one(scenario: str | dict[str, Any], seed: int, series: bool = True) -> dict[str, Any]:
    """Run one scenario (YAML text or file-spelled dict) with ``seed``; a compact result.

    Module-level and plain-data in, plain-data out, so any executor can ship it.
    """
    from simulator.analysis import summarize
    from simulator.engine import Simulation
    from simulator.scenario import parse_scenario

    if isinstance(scenario, str):
        parsed = parse_scenario(scenario)
    else:
        parsed = Scenario.model_validate(scenario)
    sim = Simulation(parsed, seed=seed)
    sim.run_to_end()
    result = _compact(summarize(sim))
    result["seed"] = seed
    result["duration_s"] = parsed.duration
    result["warmup_s"] = parsed.warmup
    if series:
        result["series"] = _series(sim)
    return result


def _run_spec(spec: RunSpec, series: bool) -> dict[str, Any]:
    result = run_one(spec.scenario, spec.seed, series)
    result["variant"], result["replication"] = spec.variant, spec.replication
    return result


class SerialExecutor(Executor):
    """Runs each task at submit time, in this process (for tests, tiny sweeps, debugging)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)
        return future


def _local_pool(workers: int | None = None) -> ProcessPoolExecutor:
    # forkserver: no fork of a process that may hold threads (a progress bar, a GUI);
    # the preload makes each worker start with the engine already imported.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["simulator.sweep", "simulator.engine", "simulator.analysis"])
    return ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, mp_context=context)


@contextlib.contextmanager
def open_executor(spec: str | Executor | None = None) -> Iterator[Executor]:
    """An executor from its spelling (``local``, ``serial``, ``dask://HOST:PORT``, ``dask://local``).

    An Executor object is passed through untouched (and not shut down).
    """
    if isinstance(spec, Executor):
        yield spec
        return
    spec = spec or "local"
    if spec == "serial":
        yield SerialExecutor()
    elif spec == "local":
        with _local_pool() as pool:
            yield pool
    elif spec.startswith("dask://"):
        with _dask_executor(spec.removeprefix("dask://")) as executor:
            yield executor
    else:
        raise ValueError(f"unknown executor {spec!r}: use local, serial or dask://HOST:PORT")


@contextlib.contextmanager
def _dask_executor(address: str) -> Iterator[Executor]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the [dask] extra
        raise ValueError(f"dask executors need the [dask] extra: {exc}") from None
    with contextlib.ExitStack() as stack:
        if address == "local":
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
                )
            )
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(
                Client(address if "://" in address else f"tcp://{address}")
            )
        executor = client.get_executor()
        yield executor
        executor.shutdown(wait=True)


def run_many(
    scenario: Scenario,
    variants: Sequence[Variant],
    replications: int,
    base_seed: int | None = None,
    executor: str | Executor | None = None,
    progress: Progress | None = None,
    series: bool = True,
) -> list[list[dict[str, Any]]]:
    """Run every variant ``replications`` times; results[v][k] is variant v, replication k.

    ``progress(done, total)`` is called as runs complete (in completion order).
    """
    seed0 = scenario.seed if base_seed is None else base_seed
    specs = [
        RunSpec(
            v, k, seed0 + k, (variant.scenario or scenario).model_dump(mode="json", by_alias=True)
        )
        for v, variant in enumerate(variants)
        for k in range(replications)
    ]
    results: list[list[dict[str, Any]]] = [[{}] * replications for _ in variants]
    total = len(specs)
    if progress is not None:
        progress(0, total)
    with open_executor(executor) as pool:
        futures = [pool.submit(_run_spec, spec, series) for spec in specs]
        for done, future in enumerate(as_completed(futures), start=1):
            result = future.result()
            results[result["variant"]][result["replication"]] = result
            if progress is not None:
                progress(done, total)
    return results
