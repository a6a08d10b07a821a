"""Replications over executors: the same seeds give the same results wherever they run."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

from simulator.scenario import load_scenario
from simulator.sweep import SerialExecutor, open_executor, run_many, run_one
from simulator.variants import apply_override, variant_grid

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture(scope="module")
def tiny():
    scenario = load_scenario(SCENARIOS / "metastable.yaml")
    scenario = apply_override(scenario, "duration", "12s")
    scenario = apply_override(scenario, "warmup", "2s")
    return apply_override(scenario, "faults[0].at", "5s")


def test_run_one_accepts_text_or_data_and_is_deterministic(tiny):
    from simulator.scenario import dump_scenario

    a = run_one(dump_scenario(tiny), 5)
    b = run_one(tiny.model_dump(mode="json", by_alias=True), 5)
    a.pop("wall_seconds"), b.pop("wall_seconds")
    assert a == b
    assert a["seed"] == 5 and a["invariants"] == []
    assert len(a["series"]["time_s"]) == 12
    assert {"route.users.goodput", "node.service.arrivals", "edge.users->service.attempts",
            "overall.p99_ms"} <= set(a["series"])  # fmt: skip


def test_replication_k_uses_base_seed_plus_k_for_every_variant(tiny):
    path = "nodes.users.calls[0].retry.strategy"
    variants = variant_grid(tiny, [(path, ["none", "immediate"])])
    runs = run_many(tiny, variants, 3, base_seed=100, executor="serial")
    assert [[r["seed"] for r in v] for v in runs] == [[100, 101, 102]] * 2
    # Common random numbers: the arrivals do not depend on the retry strategy.
    for k in range(3):
        assert (
            runs[0][k]["series"]["route.users.requests"]
            == runs[1][k]["series"]["route.users.requests"]
        )
    assert runs[0][0]["overall"] != runs[0][1]["overall"]


def test_progress_is_reported_as_runs_complete(tiny):
    seen = []
    run_many(tiny, variant_grid(tiny, []), 2, executor=SerialExecutor(),
             progress=lambda done, total: seen.append((done, total)), series=False)  # fmt: skip
    assert seen == [(0, 2), (1, 2), (2, 2)]


def test_local_process_pool_matches_serial(tiny):
    variants = variant_grid(tiny, [("nodes.service.workers", ["20", "30"])])
    serial = run_many(tiny, variants, 1, executor="serial", series=False)
    pooled = run_many(tiny, variants, 1, executor="local", series=False)
    for a, b in zip(serial[0] + serial[1], pooled[0] + pooled[1], strict=True):
        assert a.pop("wall_seconds") >= 0 and b.pop("wall_seconds") >= 0
        assert a == b


def test_unknown_executor_is_refused():
    with pytest.raises(ValueError, match="unknown executor"), open_executor("carrier-pigeon"):
        pass


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs distributed")
def test_dask_local_cluster_runs_two_replications(tiny):
    variants = variant_grid(tiny, [])
    serial = run_many(tiny, variants, 2, executor="serial", series=False)
    with warnings.catch_warnings():
        # distributed may warn about its own port choice or worker shutdown; not our concern.
        warnings.simplefilter("ignore")
        remote = run_many(tiny, variants, 2, executor="dask://local", series=False)
    assert [r["seed"] for r in remote[0]] == [tiny.seed, tiny.seed + 1]
    assert [r["overall"] for r in remote[0]] == [r["overall"] for r in serial[0]]
