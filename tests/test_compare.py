"""Variants by path, statistics with confidence intervals, and the comparison outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

from simulator.cli import main
from simulator.compare import (
    comparison_figure,
    comparison_table,
    mean_ci,
    run_comparison,
    save_comparison,
    t_quantile,
)
from simulator.recovery import recovery_time
from simulator.scenario import load_scenario
from simulator.variants import OverrideError, apply_override, parse_path, parse_vary, variant_grid

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture(scope="module")
def breaker():
    return load_scenario(SCENARIOS / "circuit-breaker.yaml")


# -- paths and overrides ---------------------------------------------------------------------


def test_parse_path():
    assert parse_path("nodes.api.calls[0].retry.strategy") == [
        "nodes", "api", "calls", 0, "retry", "strategy"]  # fmt: skip
    assert parse_path('nodes["a.b"].workers') == ["nodes", "a.b", "workers"]
    assert parse_path("faults[1].for") == ["faults", 1, "for"]


def test_override_sets_units_creates_policies_and_removes_them(breaker):
    s = apply_override(breaker, "nodes.api.calls[0].retry.strategy", "full_jitter")
    retry = s.nodes["api"].calls[0].retry
    assert retry.strategy == "full_jitter" and retry.attempts == 3  # the other knobs: defaults
    s = apply_override(s, "nodes.api.calls[0].retry.budget.percent", "10%")
    assert s.nodes["api"].calls[0].retry.budget.percent == pytest.approx(0.1)
    s = apply_override(s, "nodes.api.calls[0].retry.strategy", "none")  # a strategy, not null
    assert s.nodes["api"].calls[0].retry.strategy == "none"
    assert (
        apply_override(s, "nodes.api.calls[0].breaker", "null").nodes["api"].calls[0].breaker
        is None
    )
    assert (
        apply_override(s, "nodes.api.calls[0].fallback", "none").nodes["api"].calls[0].fallback
        is None
    )
    assert apply_override(s, "faults[0].for", "5s").faults[0].for_ == 5.0
    assert apply_override(s, "duration", "1min").duration == 60.0
    assert breaker.nodes["api"].calls[0].retry is None, "the original is untouched"


def test_override_removing_inside_an_absent_policy_adds_nothing(breaker):
    s = apply_override(breaker, "nodes.api.calls[0].retry.budget", "null")
    assert s.nodes["api"].calls[0].retry is None


def test_override_joined_paths_share_a_value():
    gateway = load_scenario(SCENARIOS / "bulkheads.yaml")
    paths = "+".join(f"nodes.gateway.calls[{i}].bulkhead" for i in range(3))
    s = apply_override(gateway, paths, "null")
    assert all(c.bulkhead is None for c in s.nodes["gateway"].calls)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("nodes.nope.workers", "3", "no node named 'nope'"),
        ("nodes.api.calls[4].timeout", "1s", "index 4 is out of range"),
        ("nodes.api.calls[0].retyr.strategy", "immediate", "retyr: Extra inputs"),
        ("nodes.api.calls[0].retry.strategy", "sometimes", "retry.strategy: Input should be"),
        ("duration", "soon", 'expected a duration like "250ms"'),
        ("faults[0].target", "ghost", "unknown node 'ghost'"),
        ("nodes.api.workers.count", "3", "is a value, not a section"),
        ("nodes..workers", "3", "cannot read the path"),
        ("nodes.api.calls[0].timeout", "{a: 1}", "give one value"),
    ],
)
def test_override_errors_name_the_path(breaker, path, value, message):
    with pytest.raises(OverrideError) as info:
        apply_override(breaker, path, value)
    assert path.split(".")[0] in str(info.value)
    assert message in str(info.value)


def test_parse_vary_and_grid(breaker):
    assert parse_vary("duration=10s,20s") == ("duration", ["10s", "20s"])
    with pytest.raises(OverrideError):
        parse_vary("duration")
    grid = variant_grid(
        breaker, [("nodes.api.calls[0].timeout", ["1s", "2s"]), ("seed", ["1", "2", "3"])]
    )
    assert len(grid) == 6
    assert grid[0].label == "timeout=1s, seed=1"
    assert grid[-1].overrides == {"nodes.api.calls[0].timeout": "2s", "seed": "3"}
    assert variant_grid(breaker, [])[0].label == "baseline"


# -- statistics ------------------------------------------------------------------------------


def test_t_quantile_table_and_expansion():
    assert t_quantile(1) == pytest.approx(12.706)
    assert t_quantile(30) == pytest.approx(2.042)
    assert t_quantile(40) == pytest.approx(2.021, abs=1e-3)
    assert t_quantile(120) == pytest.approx(1.980, abs=1e-3)
    assert t_quantile(10_000) == pytest.approx(1.96, abs=1e-3)


def test_mean_ci():
    mean, half = mean_ci([1.0, 2.0, 3.0, None])
    assert mean == 2.0
    assert half == pytest.approx(4.303 * 1.0 / math.sqrt(3))
    assert math.isnan(mean_ci([5.0])[1])
    assert math.isnan(mean_ci([])[0])


def test_recovery_time_from_series():
    columns = {
        "time_s": list(range(10)),
        "route.a.goodput": [10, 10, 0, 0, 5, 10, 10, 10, 10, 10],
        "route.a.failed": [0, 0, 10, 10, 5, 0, 0, 0, 0, 0],
    }
    assert recovery_time(columns, 2, 4, hold=3) == 1.0
    assert recovery_time(columns, 2, 4, hold=6) is None


# -- the comparison --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def comparison(breaker):
    short = apply_override(apply_override(breaker, "duration", "50s"), "faults[0].at", "20s")
    varies = [("nodes.api.calls[0].fallback.kind", ["cached", "fail"])]
    return run_comparison(short, varies, 2, executor="serial")


def test_comparison_table(comparison):
    rows = comparison_table(comparison)
    assert [r["variant"] for r in rows] == ["kind=cached", "kind=fail"]
    cached, fail = (r["metrics"] for r in rows)
    assert len(cached["success_rate"]["values"]) == 2
    assert cached["success_rate"]["mean"] > 0.95
    assert fail["success_rate"]["mean"] < cached["success_rate"]["mean"] - 0.1
    assert not math.isnan(cached["success_rate"]["ci95"])
    assert rows[0]["hot_node"] == "api"  # the open breaker spares the database
    assert "amplification:api->db" in cached
    assert cached["goodput_per_s"]["mean"] == pytest.approx(100, rel=0.1)


def test_comparison_figure_and_files(comparison, tmp_path):
    figure = comparison_figure(comparison)
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 4
    load = figure.axes[0]
    assert len(load.get_lines()) == 2
    paths = save_comparison(comparison, tmp_path)
    assert all(p.stat().st_size > 0 for p in paths)
    data = json.loads((tmp_path / "compare.json").read_text())
    assert data["replications"] == 2 and len(data["variants"]) == 2
    header = (tmp_path / "compare.csv").read_text().splitlines()[0]
    assert header.startswith("variant,replications,success_rate,success_rate_ci95")


# -- the commands ----------------------------------------------------------------------------


def test_cli_compare_json_and_out(tmp_path):
    result = CliRunner().invoke(main, [
        "compare", str(SCENARIOS / "amplification.yaml"), "--vary",
        "nodes.web.calls[0].retry.attempts=1,3", "-n", "2", "--duration", "25s",
        "--executor", "serial", "--json", "--out", str(tmp_path),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    one, three = (v["metrics"]["amplification:web->api"]["mean"] for v in data["variants"])
    assert one == 1.0 and three > 1.5
    assert (tmp_path / "compare.png").exists()


def test_cli_compare_table_and_sweep():
    runner = CliRunner()
    args = [str(SCENARIOS / "metastable.yaml"), "--vary", "nodes.users.calls[0].retry=null",
            "-n", "2", "--duration", "15s", "--executor", "serial"]  # fmt: skip
    table = runner.invoke(main, ["compare", *args])
    assert table.exit_code == 0, table.output
    assert "retry=null" in table.output and "±" in table.output
    sweep = runner.invoke(main, ["sweep", *args])
    assert sweep.exit_code == 0, sweep.output
    data = json.loads(sweep.output)
    assert [r["seed"] for r in data["variants"][0]["runs"]] == [3, 4]


def test_cli_compare_bad_vary_exits_1():
    bad = "nodes.users.calls[0].retry.tries=3"
    result = CliRunner().invoke(
        main, ["compare", str(SCENARIOS / "metastable.yaml"), "--vary", bad]
    )
    assert result.exit_code == 1  # invalid input, not usage
