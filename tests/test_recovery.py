"""Recovery per fault: how long after its end its routes answer as well as the paired run."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from engine_helpers import ROOT, example, scenario
from semantic_mutations import make_case

from simulator.blast_radius import blast_radius
from simulator.cli import main
from simulator.engine import Simulation
from simulator.recovery import RECOVERY_HOLD, fault_recovery, recovery_text
from simulator.variants import apply_override

RETRY = "nodes.users.calls[0].retry"


def _recovery(sc, seed: int) -> dict:
    sim = Simulation(sc, seed=seed).run_to_end()
    (entry,) = blast_radius(sc, seed, sim)
    return entry


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_metastable_failure_does_not_recover(seed: int) -> None:
    entry = _recovery(example("metastable.yaml"), seed)
    assert entry["routes"] == ["users"]
    assert entry["recovery_s"] is None and entry["recovered_at_s"] is None
    assert recovery_text(entry) == "did not recover before the end"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_without_retries_the_backlog_drains_and_with_a_budget_it_drains_slower(seed: int) -> None:
    base = example("metastable.yaml")
    plain = _recovery(apply_override(base, f"{RETRY}.strategy", "none"), seed)
    budget = _recovery(apply_override(base, f"{RETRY}.budget.percent", "10%"), seed)
    # the backlog of a 10 s half-capacity trigger at 80% load: about 15 s (measured 13-16)
    assert 5.0 <= plain["recovery_s"] <= 30.0
    assert plain["recovered_at_s"] == pytest.approx(plain["end_s"] + plain["recovery_s"])
    # a 10% budget still adds retries: it recovers, later (measured 33-43 s)
    assert budget["recovery_s"] is not None
    assert plain["recovery_s"] + 5.0 < budget["recovery_s"] < 70.0


def test_a_latency_spike_recovers_within_seconds() -> None:
    sc = example("latency-spike.yaml", duration=100.0)
    sim = Simulation(sc).run_to_end()
    entries = blast_radius(sc, sc.seed, sim)
    assert len(entries) == 3
    for entry in entries:
        assert entry["routes"], entry["summary"]
        assert 0.0 <= entry["recovery_s"] <= 6.0, entry
        assert recovery_text(entry).startswith("recovered")


def test_a_fault_to_the_end_never_recovers_and_one_that_degrades_nothing_needs_not() -> None:
    sc = scenario("""
        name: two crashes
        duration: 30s
        nodes:
          users: {kind: client, rate: 50/s, calls: [{to: api, timeout: 1s}]}
          api: {kind: service, workers: 8, service_time: {dist: constant, value: 10ms}}
          spare: {kind: service, workers: 8, service_time: {dist: constant, value: 10ms}}
        faults:
          - {kind: crash, target: api, at: 20s}
          - {kind: crash, target: spare, at: 5s, for: 5s}
        layout: {users: [0, 0], api: [200, 0], spare: [200, 100]}
    """)
    sim = Simulation(sc).run_to_end()
    to_end, unused = blast_radius(sc, sc.seed, sim)
    assert to_end["routes"] == ["users"] and to_end["recovery_s"] is None
    assert unused["routes"] == [] and unused["recovery_s"] == 0.0
    assert recovery_text(unused) == "no route to recover"


def _fake(ok: list[float], ended: list[float], p99: list[float]) -> SimpleNamespace:
    """A finished run of one route 'r' with the given per-bucket figures (1 s buckets)."""
    data = {"ok": np.array(ok), "goodput": np.array(ok), "failed": np.array(ended) - np.array(ok)}
    stats = SimpleNamespace(
        series=SimpleNamespace(size=len(ok), data=data),
        percentile_series=lambda _q: np.array(p99, dtype=float),
    )
    return SimpleNamespace(
        clients={"r": SimpleNamespace(stats=stats)},
        now=float(len(ok)),
        scenario=SimpleNamespace(bucket=1.0),
    )


def test_recovery_needs_a_hold_of_good_buckets_in_share_and_latency() -> None:
    n = 20
    base = _fake([100.0] * n, [100.0] * n, [0.1] * n)
    # fault ends at 5 s; one good bucket at 6, bad again at 7, good from 8 on
    share = [100.0] * n
    share[5], share[7] = 40.0, 40.0
    assert fault_recovery(_fake(share, [100.0] * n, [0.1] * n), base, ["r"], 5.0) == (3.0, 8.0)
    # the share is back at 9 but the p99 is twice the baseline's until 12
    slow = [0.1] * n
    slow[5:12] = [0.2] * 7
    share[8] = 40.0
    assert fault_recovery(_fake(share, [100.0] * n, slow), base, ["r"], 5.0) == (7.0, 12.0)
    # one failure more than the baseline in a bucket of 100 is noise, two points are not
    assert fault_recovery(_fake([99.0] * n, [100.0] * n, [0.1] * n), base, ["r"], 5.0)[0] == 0.0
    late = [97.0] * (n - RECOVERY_HOLD + 1) + [100.0] * (RECOVERY_HOLD - 1)
    assert fault_recovery(_fake(late, [100.0] * n, [0.1] * n), base, ["r"], 5.0) == (None, None)
    # requests that end in no bucket are stuck, not recovered
    stuck = _fake([0.0] * n, [0.0] * n, [np.nan] * n)
    assert fault_recovery(stuck, base, ["r"], 5.0) == (None, None)


def test_the_cli_summary_says_whether_each_fault_recovered() -> None:
    result = CliRunner().invoke(main, ["run", str(ROOT / "scenarios" / "metastable.yaml")])
    assert result.exit_code == 0, result.output
    assert "did not recover before the end" in result.output


FUZZ = int(os.environ.get("MURPHY_SEMANTIC_FUZZ", "40")) // 8  # each case runs 1 + 2 × faults


@pytest.mark.parametrize("index", range(FUZZ))
def test_recovery_on_mutated_scenarios_is_bounded_and_replays(index: int) -> None:
    """Random knobs and faults (the semantic fuzz's cases): a recovery lies between the
    fault's end and the last instant that leaves a hold of buckets, and replays exactly."""
    case = make_case(index)
    sc = case.scenario
    if not sc.faults:
        pytest.skip("no fault to recover from")
    sim = Simulation(sc).run_to_end()
    first = blast_radius(sc, sc.seed, sim)
    again = blast_radius(sc, sc.seed, Simulation(sc).run_to_end())
    assert [(e["recovery_s"], e["recovered_at_s"]) for e in first] == [
        (e["recovery_s"], e["recovered_at_s"]) for e in again
    ], case
    latest = sc.duration - RECOVERY_HOLD * sc.bucket + 1e-6
    for entry in first:
        if entry["recovery_s"] is None:
            assert entry["recovered_at_s"] is None and entry["routes"], case
            continue
        assert entry["recovery_s"] >= 0.0
        if entry["routes"]:
            assert entry["end_s"] <= entry["recovered_at_s"] <= latest, case
            assert entry["recovered_at_s"] - entry["end_s"] == pytest.approx(
                entry["recovery_s"], abs=sc.bucket
            ), case
