"""The metastability map: recovery after a trigger over load × trigger size, and its lesson.

``scenarios/metastable.yaml``: a service at 80% load whose clients retry at once
after a 1 s timeout, and a trigger that halves its capacity. Small grids, two
replications: every map here is a few seconds of CPU.
"""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner
from engine_helpers import ROOT, example

from simulator.cli import main
from simulator.metastability import boundary, cell_median, map_data, run_map, save_map
from simulator.variants import OverrideError, apply_override

RETRY = "nodes.users.calls[0].retry"
GRID = [("nodes.users.rate", ["100/s", "160/s"]), ("faults[0].for", ["2s", "10s"])]
FILE = str(ROOT / "scenarios" / "metastable.yaml")


@pytest.fixture(scope="module")
def retrying():
    return run_map(example("metastable.yaml"), GRID, 2, "serial")


def test_at_low_load_every_trigger_recovers_and_at_high_load_a_big_one_never(retrying) -> None:
    # 100/s: half capacity (100/s) during the trigger just keeps up: nothing to recover from
    for j in range(2):
        assert retrying.never_share(0, j) == 0.0
        assert retrying.median(0, j) <= 3.0
    # 160/s: a 2 s trigger leaves a backlog the service drains; a 10 s one tips it over
    assert retrying.median(1, 0) is not None and retrying.median(1, 0) <= 10.0
    assert retrying.never_share(1, 1) == 1.0 and retrying.median(1, 1) is None
    assert boundary(retrying) == [None, "10s"]
    for row in retrying.runs:
        for cell in row:
            assert all(run["invariants"] == [] for run in cell)


def test_a_retry_budget_or_no_retries_moves_the_boundary() -> None:
    base = example("metastable.yaml")
    budget = run_map(apply_override(base, f"{RETRY}.budget.percent", "10%"), GRID, 2, "serial")
    plain = run_map(apply_override(base, f"{RETRY}.strategy", "none"), GRID, 2, "serial")
    # the cell that never recovered with unbounded retries now recovers with either
    assert boundary(budget) == [None, None] and boundary(plain) == [None, None]
    capped, drained = budget.median(1, 1), plain.median(1, 1)
    assert capped is not None and drained is not None
    # without retries the backlog alone drains (about 15 s); the budget's retries slow it
    assert 5.0 <= drained <= 30.0
    assert drained + 5.0 < capped < 70.0


def test_the_map_saves_json_with_null_for_never_csv_png_and_svg(retrying, tmp_path) -> None:
    paths = save_map(retrying, tmp_path)
    assert sorted(p.name for p in paths) == ["map.csv", "map.json", "map.png", "map.svg"]
    data = json.loads((tmp_path / "map.json").read_text())
    assert data["axes"] == [{"field": p, "values": v} for p, v in GRID]
    assert data["fault"] == {"index": 0, "kind": "throttle", "target": "service",
                             "start_s": 30.0, "end_s": 40.0}  # fmt: skip
    never = next(c for c in data["cells"] if (c["x"], c["y"]) == ("160/s", "10s"))
    assert never["recovery_s"] is None and never["runs"] == [None, None]
    assert never["never_share"] == 1.0
    assert data["boundary"][1] == {"x": "160/s", "never_from": "10s"}
    with (tmp_path / "map.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and rows[-1]["recovery_s"] == "" and rows[-1]["runs"] == "never;never"
    assert (tmp_path / "map.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "map.png").stat().st_size > 10_000


def test_same_seed_same_map() -> None:
    grid = [("nodes.users.rate", ["160/s"]), ("faults[0].for", ["3s"])]
    a = map_data(run_map(example("metastable.yaml"), grid, 1, "serial", base_seed=5))
    b = map_data(run_map(example("metastable.yaml"), grid, 1, "serial", base_seed=5))
    assert a == b


def test_the_median_counts_a_run_that_never_recovered_as_infinitely_long() -> None:
    assert cell_median([3.0, None, 5.0]) == 5.0
    assert cell_median([3.0, None]) is None
    assert cell_median([None, None, 1.0]) is None
    assert cell_median([2.0, 4.0]) == 3.0


def test_a_map_needs_two_axes_and_a_trigger_that_ends() -> None:
    sc = example("metastable.yaml")
    with pytest.raises(OverrideError, match="exactly two"):
        run_map(sc, GRID[:1], 1, "serial")
    endless = apply_override(sc, "faults[0].for", "null")
    load = [("nodes.users.rate", ["100/s"]), ("nodes.service.workers", ["20"])]
    with pytest.raises(ValueError, match="lasts to the end of the run"):
        run_map(endless, load, 1, "serial")
    with pytest.raises(ValueError, match="fault 2 does not exist"):
        run_map(sc, GRID, 1, "serial", fault=2)


def test_murphy_map_prints_the_table_and_the_boundary(tmp_path) -> None:
    args = ["map", FILE, "--vary", "nodes.users.rate=100/s,160/s", "--vary",
            "faults[0].for=10s", "-n", "1", "--executor", "serial"]  # fmt: skip
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "never" in result.output
    assert "at nodes.users.rate=160/s: never recovers from faults[0].for=10s" in result.output
    assert (tmp_path / "map.png").exists()
    as_json = CliRunner().invoke(main, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    cells = json.loads(as_json.output)["cells"]
    assert [c["recovery_s"] is None for c in cells] == [False, True]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--vary", "nodes.users.rate=100/s"], "exactly two --vary"),
        (["--vary", "nodes.users.rate=100/s", "--vary", "faults[0].for=2s", "--fault", "3"],
         "fault 3 does not exist"),
        (["--vary", "nodes.users.rate=100/s", "--vary", "nodes.nope.workers=2"],
         "no node named 'nope'"),
        # A trigger ending 3 s before the run does: "never" would only mean "run over".
        (["--vary", "nodes.users.rate=100/s", "--vary", "faults[0].at=47s", "--duration", "60s"],
         "too close to the end of the run"),
    ],
)  # fmt: skip
def test_murphy_map_rejects_a_bad_grid_with_exit_1(extra: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["map", FILE, "--executor", "serial", "-n", "1", *extra])
    assert result.exit_code == 1, result.output
    assert message in result.output


# -- the fluid preview ----------------------------------------------------------------------


def test_the_fluid_preview_draws_the_same_lesson_in_milliseconds() -> None:
    from simulator.metastability_fluid import preview_map

    grid = [("nodes.users.rate", ["100/s", "160/s"]), ("faults[0].for", ["1s", "10s"])]
    base = example("metastable.yaml")
    fluid = preview_map(base, grid)
    assert fluid is not None
    assert fluid[0] == [0.0, 0.0]  # 100/s: half capacity keeps up, nothing to recover
    assert fluid[1][0] is not None and fluid[1][1] is None  # 160/s: 10 s tips it over
    plain = preview_map(apply_override(base, f"{RETRY}.strategy", "none"), grid)
    # without retries the fluid drains the trigger's backlog, (160 - 100)/s × 10 s = 600,
    # at (200 - 160)/s down to one service time's work (20): (600 - 20) / 40 = 14.5 s
    assert plain is not None and plain[1][1] == pytest.approx(14.5, abs=0.05)
    budget = preview_map(apply_override(base, f"{RETRY}.budget.percent", "10%"), grid)
    assert budget is not None and plain[1][1] < budget[1][1] < 60.0


def test_the_fluid_preview_declines_what_it_does_not_model() -> None:
    from simulator.metastability_fluid import preview_map

    sc = example("latency-spike.yaml")  # a client calling an api calling a database
    grid = [("nodes.users.rate", ["10/s"]), ("faults[0].for", ["5s"])]
    assert preview_map(sc, grid) is None


def test_murphy_map_preview_says_where_the_fluid_disagrees() -> None:
    args = ["map", FILE, "--vary", "nodes.users.rate=100/s,160/s", "--vary",
            "faults[0].for=10s", "-n", "1", "--executor", "serial", "--preview"]  # fmt: skip
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    preview = json.loads(result.output)["preview"]
    assert preview["model"] == "fluid"
    assert [c["recovery_s"] is None for c in preview["cells"]] == [False, True]
    assert preview["disagree"] == []
    text = CliRunner().invoke(main, args)
    assert "Fluid preview" in text.output
    assert "agree on which cells never recover" in text.output
