"""The breaking point (``murphy ramp``): the SLO parser, the load multiplier, the search,
the theory check on M/M/1, the lesson of ``scenarios/breaking-point.yaml``, the outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from engine_helpers import example, scenario

from simulator.breaking_point import (
    Probe,
    Ramp,
    SLOError,
    find_breaking_point,
    offered_rates,
    parse_slo,
    saturation_order,
    scale_load,
)
from simulator.breaking_point_files import ramp_csv_rows, ramp_data, save_ramp, verdict
from simulator.cli import main

MU = 100.0  # scenarios/mm1.yaml: exponential service with mean 10 ms
LAMBDA = 80.0  # and Poisson arrivals at 80/s

TINY = """
murphy: 1
name: tiny
seed: 3
duration: 20s
warmup: 2s
nodes:
  users: {kind: client, rate: 50/s, calls: [{to: api, timeout: 1s}]}
  api:
    kind: service
    workers: 2
    queue: 20
    service_time: {dist: exponential, mean: 10ms}
faults:
  - {kind: crash, target: api, at: 5s, for: 2s}
layout: {users: [0, 0], api: [200, 0]}
"""


# -- the SLO ----------------------------------------------------------------------------------


def test_parse_slo_reads_clauses_in_their_units():
    slo = parse_slo("p99<2s, success>99.9%,mean<=150ms")
    by = {c.metric: c for c in slo.clauses}
    assert by["p99"].threshold == pytest.approx(2000.0) and by["p99"].op == "<"
    assert by["success"].threshold == pytest.approx(0.999)
    assert by["mean"].threshold == pytest.approx(150.0) and by["mean"].op == "<="
    assert slo.holds({"p99": 1999.0, "success": 0.9995, "mean": 150.0})
    assert not slo.holds({"p99": 2000.0, "success": 0.9995, "mean": 150.0})
    assert not slo.holds({"p99": 10.0, "success": 0.999, "mean": 1.0})  # > is strict
    assert not slo.holds({"p99": math.nan, "success": 1.0, "mean": 1.0})  # nothing answered


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "an SLO is needed"),
        ("p98<2s", "unknown metric 'p98'"),
        ("p99 2s", "cannot read"),
        ("p99>2s", "must stay below a ceiling"),
        ("success<99%", "must be above a floor"),
        ("p99<fast", "a duration"),
        ("success>100%", "below 100%"),
        ("p99<0s", "above zero"),
        ("p99<1s,p99<2s", "appears twice"),
        ("success>99.9%,", "cannot read"),
    ],
)
def test_bad_slo_strings_say_what_to_write(text, says):
    with pytest.raises(SLOError, match=says):
        parse_slo(text)


# -- the load multiplier ----------------------------------------------------------------------


def test_scale_load_multiplies_rates_profiles_and_users_and_drops_faults():
    sc = scenario("""
murphy: 1
name: three clients
duration: 100s
warmup: 0s
nodes:
  open: {kind: client, rate: 10/s, calls: [{to: api}]}
  shaped:
    kind: client
    profile: [{at: 0s, rate: 10/s}, {at: 50s, rate: 30/s, ramp: true}]
    calls: [{to: api}]
  closed: {kind: client, users: 3, think_time: {dist: constant, value: 1s}, calls: [{to: api}]}
  api: {kind: service, workers: 4, service_time: {dist: constant, value: 1ms}}
faults: [{kind: crash, target: api, at: 10s, for: 1s}]
""")
    scaled = scale_load(sc, 2.5)
    assert scaled.nodes["open"].rate == pytest.approx(25.0)
    assert [p.rate for p in scaled.nodes["shaped"].profile] == pytest.approx([25.0, 75.0])
    assert scaled.nodes["closed"].users == 8  # round(7.5)
    assert scaled.faults == [] and len(scale_load(sc, 2.5, with_faults=True).faults) == 1
    assert scale_load(sc, 0.01).nodes["closed"].users == 1  # never no users
    rates = offered_rates(sc, 2.0)
    assert rates["open"] == pytest.approx(20.0)
    # 10/s ramped to 30/s over the first 50 s, then 30/s: a mean of 25/s, times 2
    assert rates["shaped"] == pytest.approx(50.0, rel=1e-3)
    assert rates["closed"] is None  # closed loop: measured, not configured
    with pytest.raises(ValueError, match="positive"):
        scale_load(sc, 0.0)


# -- the search on synthetic probes -----------------------------------------------------------


def _run(p99: float, success: float = 1.0, nodes: Any = None, pools: Any = None) -> dict:
    metrics = {
        "mean": p99 / 4,
        "p50": p99 / 5,
        "p90": p99 / 2,
        "p99": p99,
        "p999": p99 * 2,
        "success": success,
    }
    return {
        "seed": 1,
        "metrics": metrics,
        "started_per_s": {"users": 1.0},
        "requests": 100,
        "nodes": nodes or {},
        "pools": pools or {},
    }


def _ramp(points: list[tuple[float, float]], slo: str = "p99<100ms") -> Ramp:
    sc = scenario(TINY)
    objective = parse_slo(slo)
    probes = []
    for m, p99 in points:
        probe = Probe(m, [_run(p99)])
        probe.judge(objective)
        probes.append(probe)
    return Ramp(sc, objective, None, 1, 3, False, probes, 0.02)


def test_breaking_point_knee_and_interpolation_on_a_known_curve():
    ramp = _ramp([(0.1, 10.0), (1.0, 15.0), (2.0, 30.0), (3.0, 80.0), (4.0, 120.0)])
    bp = ramp.breaking_point()
    assert bp["multiplier"] == 3.0 and bp["breaks_at_multiplier"] == 4.0
    assert bp["estimate"] == pytest.approx(3.5)  # margins 0.2 and -0.2: halfway
    assert bp["rate_per_s"] == {"users": pytest.approx(150.0)}
    assert bp["ci"] is None  # one replication: no interval
    knee = ramp.knee()
    assert knee["light_load_p99_ms"] == 10.0
    assert knee["multiplier"] == pytest.approx(1.0 + 5.0 / 15.0, abs=1e-6)  # p99 20 ms
    assert "holds up to x3" in verdict(ramp)


def test_a_closed_loop_knee_has_a_measured_rate():
    """A closed-loop route's offered rate is measured, not configured: at the knee (between
    two probes) it is interpolated between their measured rates, never left unknown."""
    closed = TINY.replace("rate: 50/s", "users: 10, think_time: {dist: constant, value: 1s}")
    sc = scenario(closed)
    objective = parse_slo("p99<100ms")
    probes = []
    for m, p99, rate in [(0.1, 10.0, 1.0), (1.0, 15.0, 10.0), (2.0, 30.0, 18.0)]:
        run = _run(p99)
        run["started_per_s"] = {"users": rate}
        probe = Probe(m, [run])
        probe.judge(objective)
        probes.append(probe)
    knee = Ramp(sc, objective, None, 1, 3, False, probes, 0.02).knee()
    assert knee["multiplier"] == pytest.approx(1.0 + 5.0 / 15.0, abs=1e-6)
    assert knee["rate_per_s"] == {"users": pytest.approx(10.0 + 8.0 / 3.0, abs=1e-3)}


def test_a_slo_that_never_holds_or_never_breaks_says_so():
    broken = _ramp([(0.5, 500.0), (1.0, 600.0)])
    assert broken.breaking_point()["multiplier"] is None
    assert "broken even at" in verdict(broken)
    fine = _ramp([(1.0, 5.0), (2.0, 6.0)])
    fine.probes[1].runs[0]["metrics"]["success"] = 0.5  # fast failures the SLO does not see
    fine.probes[1].judge(fine.slo)
    assert fine.breaking_point() is None
    assert "held at every probe" in verdict(fine)
    assert "success fell to 50.0% at x2" in verdict(fine)


def test_saturated_together_the_deepest_resource_is_first():
    sc = example("breaking-point.yaml")
    busy = {
        "utilization": 0.99,
        "arrivals": 100,
        "rejected": 0,
        "max_queue": 3,
        "oom_kills": 0,
        "peak_memory_pct": None,
        "workers": 64,
        "queue": 200,
        "memory": False,
    }
    idle = {**busy, "utilization": 0.2}
    exhausted = {
        "requests": 1000,
        "acquire_timeouts": 20,
        "rejected": 0,
        "peak_in_use": 10,
        "acquire_wait_p99_ms": 100.0,
        "capacity": 10,
    }
    quiet = {**exhausted, "acquire_timeouts": 0, "acquire_wait_p99_ms": 0.0}
    low = Probe(
        1.0, [_run(10, nodes={"orders": idle, "gateway": idle}, pools={"orders->db": quiet})]
    )
    high = Probe(
        2.0, [_run(10, nodes={"orders": busy, "gateway": idle}, pools={"orders->db": exhausted})]
    )
    order = saturation_order([high, low], sc)
    assert [(s["resource"], s["node"], s["multiplier"]) for s in order] == [
        ("pool", "orders->db", 2.0),
        ("workers", "orders", 2.0),
    ]
    assert "2.00% of calls got no connection" in order[0]["how"]


# -- against theory: M/M/1 --------------------------------------------------------------------


def _mm1(duration: float) -> Any:
    return example("mm1.yaml", duration=duration, warmup=20.0)


def test_mm1_mean_latency_breaking_point_matches_the_closed_form():
    """W = 1/(mu - lambda) < 100 ms  <=>  lambda < 90/s: the multiplier 90/80 = 1.125."""
    ramp = find_breaking_point(
        _mm1(300.0),
        "mean<100ms",
        replications=3,
        executor="serial",
        tolerance=0.005,
        growth=1.25,
        curve=0,
    )
    bp = ramp.breaking_point()
    theory = (MU - 1 / 0.100) / LAMBDA
    assert bp["estimate"] == pytest.approx(theory, rel=0.025)
    assert bp["multiplier"] < bp["breaks_at_multiplier"] <= bp["multiplier"] * 1.006
    assert bp["rate_per_s"]["arrivals"] == pytest.approx(LAMBDA * bp["multiplier"])
    # the server (one worker) is the only resource; it saturates only past the breaking point
    first = ramp.as_dict()["saturated_first"]
    assert first is None or (first["node"] == "server" and first["multiplier"] > theory)


def test_mm1_p99_breaking_point_matches_the_closed_form():
    """The sojourn time of M/M/1 is exponential with rate mu - lambda, so
    p99 = ln(100)/(mu - lambda) < 250 ms  <=>  lambda < mu - ln(100)/0.25 = 81.58/s."""
    ramp = find_breaking_point(
        _mm1(500.0),
        "p99<250ms",
        replications=3,
        executor="serial",
        tolerance=0.005,
        growth=1.25,
        curve=0,
    )
    theory = (MU - math.log(100) / 0.250) / LAMBDA
    assert ramp.breaking_point()["estimate"] == pytest.approx(theory, rel=0.04)


# -- the lesson of scenarios/breaking-point.yaml ----------------------------------------------


@pytest.fixture(scope="module")
def chain_ramp() -> Ramp:
    sc = example("breaking-point.yaml", duration=30.0)
    return find_breaking_point(
        sc, "p99<2s,success>99.9%", replications=2, executor="serial", tolerance=0.05, curve=1
    )


def test_the_pool_saturates_first_and_sets_the_breaking_point(chain_ramp):
    data = ramp_data(chain_ramp)
    first = data["saturated_first"]
    assert (first["resource"], first["node"]) == ("pool", "orders->db")
    bp = data["breaking_point"]
    # 10 connections x ~15 ms per query: about 650 queries a second at most
    assert 450 <= bp["rate_per_s"]["users"] <= 700
    assert first["multiplier"] <= bp["breaks_at_multiplier"]
    assert "success>99.9%" in bp["broken_clauses"]
    # while the SLO held, every worker pool was far from busy: the pool, not the workers
    held = max((p for p in chain_ramp.probes if p.holds), key=lambda p: p.multiplier)
    for name in ("gateway", "orders", "db"):
        utilization = sum(r["nodes"][name]["utilization"] for r in held.runs) / len(held.runs)
        assert utilization < 0.6, name
    assert "First to saturate: pool of orders->db" in data["verdict"]


def test_outputs_are_written_and_json_safe(chain_ramp, tmp_path):
    paths = save_ramp(chain_ramp, tmp_path)
    assert [p.name for p in paths] == ["ramp.png", "ramp.svg", "ramp.csv", "ramp.json"]
    assert all(p.stat().st_size > 0 for p in paths)
    data = json.loads((tmp_path / "ramp.json").read_text())
    assert (
        data["breaking_point"]["multiplier"]
        == ramp_data(chain_ramp)["breaking_point"]["multiplier"]
    )
    assert len(data["probes"]) == len(chain_ramp.probes) == len(ramp_csv_rows(chain_ramp))
    assert [p["multiplier"] for p in data["probes"]] == sorted(
        p["multiplier"] for p in data["probes"]
    )
    svg = (tmp_path / "ramp.svg").read_text()
    assert "load multiplier" in svg and "breaking point" in svg and "SLO" in svg


# -- the command --------------------------------------------------------------------------------


def _write(tmp_path: Path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


def test_cli_json_is_replayable_and_leaves_faults_out(tmp_path):
    file = _write(tmp_path)
    args = [
        "ramp",
        file,
        "--slo",
        "p99<200ms,success>99%",
        "-n",
        "2",
        "--executor",
        "serial",
        "--tolerance",
        "0.1",
        "--json",
    ]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, args)
    assert first.output == again.output  # same seed, same bytes
    data = json.loads(first.output)
    assert data["with_faults"] is False and data["breaking_point"] is not None
    assert all(len(p["replications"]) == 2 for p in data["probes"])
    assert [r["seed"] for r in data["probes"][0]["replications"]] == [3, 4]
    assert "faults were left out" in data["verdict"]
    table = CliRunner().invoke(main, args[:-1])
    assert table.exit_code == 0 and "First to saturate" in table.output


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--slo", "p99 under 2s"], "cannot read"),
        (["--route", "nobody"], "no route 'nobody'"),
    ],
)
def test_cli_rejects_bad_slo_and_route(tmp_path, extra, says):
    result = CliRunner().invoke(main, ["ramp", _write(tmp_path), "--executor", "serial", *extra])
    assert result.exit_code == 2 and says in result.output


def test_a_ramp_over_consumers_and_brokers_runs():
    """A consumer's ``queue`` names a broker's queue, not a capacity (a regression)."""
    sc = example("poison-message.yaml")
    sc = sc.model_copy(update={"duration": sc.warmup + 5.0})
    ramp = find_breaking_point(sc, "p99<1s", replications=1, executor="serial",
                               max_probes=2, curve=0)  # fmt: skip
    assert len(ramp.probes) == 2
    json.dumps(ramp_data(ramp), allow_nan=False)
