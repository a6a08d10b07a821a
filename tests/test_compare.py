"""Variants by path, statistics with confidence intervals, and the comparison outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure

from simulator.cli import main
from simulator.compare import (
    comparison_figure,
    comparison_table,
    judge,
    mean_ci,
    run_comparison,
    save_comparison,
    t_quantile,
)
from simulator.compare_verdict import (
    COLUMNS,
    Best,
    best_per_column,
    column,
    first_retry_wait,
    judge_rows,
)
from simulator.recovery import recovery_time
from simulator.scenario import load_scenario
from simulator.scenario_policies import Retry
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
    assert data["best"]["success_rate"] == {
        "variant": "kind=cached", "status": "clear", "runner_up": "kind=fail", "tied_with": [],
        "better": "higher",
    }  # fmt: skip
    assert data["verdict"].startswith("kind=cached has the best success, ")
    lines = (tmp_path / "compare.csv").read_text().splitlines()
    assert lines[0].startswith(
        "variant,replications,success_rate,success_rate_ci95,success_rate_best"
    )
    cached = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    assert cached["success_rate_best"] == "best" and cached["variant"] == "kind=cached"


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
    assert data["best"]["amplification:web->api"]["variant"] == "attempts=1"
    assert data["best"]["amplification:web->api"]["better"] == "lower"
    assert isinstance(data["verdict"], str) and isinstance(data["findings"], list)
    assert (tmp_path / "compare.png").exists()


def test_cli_compare_table_and_sweep():
    runner = CliRunner()
    args = [str(SCENARIOS / "metastable.yaml"), "--vary", "nodes.users.calls[0].retry=null",
            "-n", "2", "--duration", "15s", "--executor", "serial"]  # fmt: skip
    table = runner.invoke(main, ["compare", *args])
    assert table.exit_code == 0, table.output
    assert "retry=null" in table.output and "±" in table.output
    assert "\nVerdict: " in table.output and "✓ best in its column" in table.output
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


# -- the verdict: best per column and the reason ---------------------------------------------


def _row(variant, hot="db", **metrics):
    """A comparison_table row from ``name=(mean, ci95)``; ``amp_<a>_<b>`` is amplification:a->b."""
    out = {}
    for name, (mean, half) in metrics.items():
        key = f"amplification:{name[4:].replace('_', '->')}" if name.startswith("amp_") else name
        out[key] = {"mean": mean, "ci95": half, "values": []}
    return {"variant": variant, "overrides": {}, "replications": 3, "hot_node": hot,
            "metrics": out}  # fmt: skip


def test_best_follows_each_columns_direction_and_separates_clear_from_tied():
    rows = [
        _row("a", success_rate=(0.90, 0.01), p99_ms=(800.0, 20.0), total_attempts=(10.0, 0.0)),
        _row("b", success_rate=(0.70, 0.02), p99_ms=(300.0, 10.0), total_attempts=(10.0, 0.0)),
        _row("c", success_rate=(0.89, 0.02), p99_ms=(310.0, 5.0), total_attempts=(10.0, 0.0)),
    ]
    best = best_per_column(rows)
    assert (best["success_rate"].variant, best["success_rate"].status) == ("a", "tied")
    assert best["success_rate"].tied_with == ("c",)
    assert [best["success_rate"].mark(v) for v in "abc"] == ["tied", "", "tied"]
    assert (best["p99_ms"].variant, best["p99_ms"].status) == ("b", "tied")  # lower is better
    assert best["total_attempts"].status == "equal" and best["total_attempts"].variant is None
    assert best["total_attempts"].mark("a") == ""
    rows[2]["metrics"]["success_rate"]["mean"] = 0.80  # 0.88..0.91 against 0.78..0.82: apart
    clear = best_per_column(rows)["success_rate"]
    assert (clear.variant, clear.status, clear.runner_up) == ("a", "clear", "c")
    assert [clear.mark(v) for v in "abc"] == ["best", "", ""]


def test_best_skips_unmeasured_variants_and_one_run_is_never_clear():
    rows = [_row("a", p99_ms=(math.nan, math.nan)), _row("b", p99_ms=(5.0, math.nan)),
            _row("c", p99_ms=(9.0, math.nan))]  # fmt: skip
    best = best_per_column(rows)["p99_ms"]
    assert (best.variant, best.status, best.tied_with) == ("b", "tied", ("c",))
    assert "p99_ms" not in best_per_column(rows[:2])  # one measured variant: nothing to rank
    verdict = judge_rows(rows).verdict
    assert (
        verdict.startswith("b has the best p99, 5.0 ms (next: c, 9.0 ms;")
        and "may be chance" in verdict
    )


def test_columns_say_which_way_is_better():
    assert column("success_rate").better == "higher" and column("p99_ms").better == "lower"
    amp = column("amplification:api->db")
    assert amp.better == "lower" and "api->db" in amp.help and "api->db" in amp.label
    for key, col in COLUMNS.items():
        assert col.help.endswith(".") and col.better in ("higher", "lower"), key


def test_verdict_fewer_attempts_less_load():
    rows = [
        _row("none", success_rate=(0.77, 0.01), peak_load_per_s=(250.0, 10.0),
             amp_api_db=(1.0, 0.0)),
        _row("retry", success_rate=(0.60, 0.03), peak_load_per_s=(900.0, 50.0),
             amp_api_db=(2.5, 0.1)),
    ]  # fmt: skip
    j = judge_rows(rows)
    assert j.verdict == (
        "none has the best success, 77.0% ± 1.0, clearly ahead of retry (60.0% ± 3.0), because it "
        "sends 1.00 attempts per request on api->db against 2.50 for retry, so db, the busiest "
        "node, peaks at 250/s against 900/s."
    )
    assert j.findings == []  # no waits given


def test_verdict_retries_that_help_and_no_reason_when_attempts_do_not_differ():
    rows = [
        _row("once", success_rate=(0.80, 0.01), amp_api_db=(1.0, 0.0)),
        _row("thrice", success_rate=(0.95, 0.01), amp_api_db=(1.3, 0.02)),
    ]
    assert judge_rows(rows).verdict.endswith(
        "because its retries turn failures into answers, 1.30 attempts per request on api->db "
        "against 1.00 for once."
    )
    rows[0]["metrics"]["success_rate"]["mean"] = 0.94  # within the noise: no claim of help
    assert judge_rows(rows).verdict.endswith("more replications may separate them).")
    rows[0]["metrics"]["success_rate"]["mean"] = 0.80
    for r in rows:
        r["metrics"]["amplification:api->db"]["mean"] = 1.0
    assert judge_rows(rows).verdict.endswith("(80.0% ± 1.0).")


def test_verdict_gives_no_reason_when_every_variant_is_within_the_noise():
    rows = [
        _row("a", success_rate=(0.50, 0.05), amp_api_db=(1.0, 0.0), peak_load_per_s=(100, 1)),
        _row("b", success_rate=(0.48, 0.05), amp_api_db=(2.0, 0.1), peak_load_per_s=(300, 1)),
    ]
    assert judge_rows(rows).verdict == (
        "a has the best success, 50.0% ± 5.0 (within the noise: b 48.0% ± 5.0; more "
        "replications may separate them), and clearly the best peak load, 100/s ± 1."
    )
    rows.append(_row("c", success_rate=(0.20, 0.01), amp_api_db=(3.0, 0.1),
                     peak_load_per_s=(900, 1)))  # fmt: skip
    assert "because it sends 1.00 attempts per request" in judge_rows(rows).verdict


def test_findings_name_the_columns_another_variant_clearly_wins():
    rows = [
        _row("a", success_rate=(0.90, 0.01), p99_ms=(900.0, 10.0), p50_ms=(50.0, 20.0)),
        _row("b", success_rate=(0.80, 0.01), p99_ms=(400.0, 10.0), p50_ms=(40.0, 20.0)),
    ]
    assert judge_rows(rows).findings == [
        "Trade-off: b has clearly the best p99, 400 ms ± 10 against 900 ms ± 10 for a."
    ]  # p50's lead is within the noise: no trade-off said


def test_verdict_falls_back_to_the_next_column_and_to_nothing():
    same = {"success_rate": (1.0, 0.0)}
    rows = [_row("a", **same, p99_ms=(10.0, 1.0)), _row("b", **same, p99_ms=(50.0, 1.0))]
    assert judge_rows(rows).verdict.startswith("a has the best p99, 10.0 ms ± 1.0, clearly ahead")
    rows = [_row("a", **same), _row("b", **same)]
    assert judge_rows(rows).verdict == "Every variant measured the same on every column."
    assert judge_rows(rows[:1]).verdict == "One variant: nothing to compare it with."
    rows = [_row("a", goodput_per_s=(100.0, 1.0)), _row("b", success_rate=(0.9, 0.01))]
    assert judge_rows(rows).verdict == (
        "No column was measured for two variants: nothing to compare."
    )


def test_a_leader_within_the_noise_is_also_said_to_lead_clearly_where_it_does():
    rows = [
        _row("a", success_rate=(0.90, 0.02), goodput_per_s=(100.0, 1.0)),
        _row("b", success_rate=(0.91, 0.02), goodput_per_s=(200.0, 1.0)),
    ]
    verdict = judge_rows(rows).verdict
    assert verdict.startswith("b has the best success, 91.0% ± 2.0 (within the noise: a")
    assert ", and clearly the best goodput, 200" in verdict
    rows[1]["metrics"]["goodput_per_s"] = rows[0]["metrics"]["goodput_per_s"]
    assert "clearly the best" not in judge_rows(rows).verdict


def _retrying(label, wait_amp, peak):
    return _row(label, success_rate=(0.5, 0.01), peak_load_per_s=(peak, 5.0),
                amp_api_db=wait_amp)  # fmt: skip


def _waits_said(judgement):
    return [f for f in judgement.findings if f.startswith("Shorter waits")]


def test_wait_finding_only_when_attempts_fall_as_waits_grow():
    rows = [_retrying("imm", (3.2, 0.05), 2000.0), _retrying("full", (2.4, 0.05), 950.0),
            _retrying("exp", (1.8, 0.1), 700.0), _retrying("none", (1.0, 0.0), 250.0)]  # fmt: skip
    waits = {"imm": {"api->db": 0.0}, "full": {"api->db": 0.125}, "exp": {"api->db": 0.25},
             "none": {"api->db": None}}  # fmt: skip
    (finding,) = _waits_said(judge_rows(rows, waits))
    assert finding.startswith(
        "Shorter waits, more attempts on api->db: imm (no wait before its first retry) 3.20 "
        "attempts per request; full (125 ms) 2.40; exp (250 ms) 1.80: a retry that comes back "
        "sooner finds db still overloaded (its peak load, in the same order: 2,000/s, 950/s, "
        "700/s), fails"
    )
    rows[2]["metrics"]["peak_load_per_s"]["mean"] = 1200.0  # load no longer follows the wait
    (finding,) = _waits_said(judge_rows(rows, waits))
    assert finding.endswith("is more likely to fail and be retried again.")
    rows[1]["metrics"]["amplification:api->db"]["mean"] = 1.81  # not clearly more than exp
    assert _waits_said(judge_rows(rows, waits)) == []
    rows[1]["metrics"]["amplification:api->db"]["mean"] = 1.5  # full waits less, sends fewer
    assert _waits_said(judge_rows(rows, waits)) == []
    same = {v: {"api->db": 0.25 if w is not None else None} for v, w in
            ((v, d["api->db"]) for v, d in waits.items())}  # fmt: skip
    assert _waits_said(judge_rows(rows, same)) == []  # every retrying variant waits alike


@pytest.mark.parametrize(
    ("retry", "wait"),
    [
        (None, None),
        ({"strategy": "none"}, None),
        ({"strategy": "exponential", "attempts": 1}, None),
        ({"strategy": "immediate"}, 0.0),
        ({"strategy": "fixed", "base": "200ms"}, 0.2),
        ({"strategy": "exponential", "base": "250ms"}, 0.25),
        ({"strategy": "exponential", "base": "250ms", "cap": "100ms"}, 0.1),
        ({"strategy": "full_jitter", "base": "250ms"}, 0.125),
        ({"strategy": "equal_jitter", "base": "200ms"}, 0.15),
        ({"strategy": "decorrelated_jitter", "base": "250ms"}, 0.5),
        ({"strategy": "decorrelated_jitter", "base": "1s", "cap": "2s"}, 1.75),
    ],
)
def test_first_retry_wait_is_the_policys_mean(retry, wait):
    policy = None if retry is None else Retry.model_validate(retry)
    assert first_retry_wait(policy) == (None if wait is None else pytest.approx(wait))


def test_retry_storm_verdict_names_none_and_explains_full_jitter():
    """Issue 12: why 'none' has the best success, and why full jitter sends more than plain
    exponential, said from the comparison's own numbers."""
    storm = load_scenario(SCENARIOS / "retry-storm.yaml")
    strategies = ["none", "immediate", "exponential", "full_jitter"]
    c = run_comparison(storm, [("nodes.api.calls[0].retry.strategy", strategies)], 3,
                       executor="serial")  # fmt: skip
    j = judge(c)
    assert j.best["success_rate"].variant == "strategy=none"
    assert j.best["total_attempts"].variant == "strategy=none"
    assert j.best["peak_load_per_s"] == Best(
        "peak_load_per_s", "clear", "strategy=none", "strategy=exponential"
    )
    assert j.verdict.startswith("strategy=none has the best success, 7")
    assert "because it sends 1.00 attempts per request on api->inventory" in j.verdict
    assert "so inventory, the busiest node, peaks at" in j.verdict
    (finding,) = _waits_said(j)
    full = finding.index("strategy=full_jitter (125 ms) 2.")
    assert finding.index("strategy=immediate (no wait") < full
    assert full < finding.index("strategy=exponential (250 ms) 1.")
    assert "finds inventory still overloaded" in finding


def test_cli_compare_prints_the_verdict_and_marks_the_best(tmp_path):
    """The retry storm's verdict under the table, the best cell of each column marked."""
    result = CliRunner().invoke(main, [
        "compare", str(SCENARIOS / "retry-storm.yaml"), "--vary",
        "nodes.api.calls[0].retry.strategy=none,immediate", "-n", "2", "--executor", "serial",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.output
    verdict = " ".join(out[out.index("Verdict: ") :].split())  # rich wraps long lines
    assert verdict.startswith("Verdict: strategy=none has the best success, ")
    assert "clearly ahead of strategy=immediate" in verdict
    assert "because it sends 1.00 attempts per request on api->inventory" in verdict
    none = next(line for line in out.splitlines() if "strategy=none" in line and "%" not in line)
    assert none.count("✓") >= 4  # success, goodput, p99, peak load, attempts: its column's best
    immediate = next(line for line in out.splitlines() if line.startswith("│ strategy=immediate"))
    assert "✓" not in immediate  # (≈ where two runs leave the intervals overlapping)


_stats = st.tuples(
    st.floats(0, 1000, allow_nan=False), st.one_of(st.just(math.nan), st.floats(0, 100))
)


@given(st.lists(_stats, min_size=2, max_size=6), st.sampled_from(["success_rate", "p99_ms"]))
def test_best_is_the_leader_by_direction_and_clear_only_when_apart(stats, key):
    rows = [_row(f"v{i}", **{key: s}) for i, s in enumerate(stats)]
    best = best_per_column(rows)[key]
    if best.status == "equal":
        assert all(math.isclose(m, stats[0][0], rel_tol=1e-6, abs_tol=1e-12) for m, _ in stats)
        return
    means = {f"v{i}": m for i, (m, _) in enumerate(stats)}
    pick = max if key == "success_rate" else min
    assert means[best.variant] == pick(means.values())
    marks = [best.mark(r["variant"]) for r in rows]
    if best.status == "clear":
        assert marks.count("best") == 1 and "tied" not in marks
        lead = stats[int(best.variant[1:])]
        for mean, half in stats:
            if (mean, half) != lead:
                assert abs(lead[0] - mean) > lead[1] + half
    else:
        assert "best" not in marks and marks[int(best.variant[1:])] == "tied"
        assert marks.count("tied") == 1 + len(best.tied_with)
