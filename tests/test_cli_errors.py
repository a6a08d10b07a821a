"""The command line on bad input: exit 1 with one line per problem, before any simulation.

Exit codes: 0 ok, 1 invalid input (file, override, output path), 2 usage (click),
3 internal error (one line; the traceback only with --debug or MURPHY_DEBUG=1).
Most tests run in-process (CliRunner); ``Simulation`` is replaced by a tripwire
where the point is that nothing runs before the input is checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from engine_helpers import ROOT

import simulator.engine
from simulator.cli import main

MM1 = str(ROOT / "scenarios" / "mm1.yaml")
SHORT = ["--duration", "200s"]


def murphy(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(main, list(args))


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything is simulated: the input must be refused before that."""

    def tripwire(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("simulated although the input was invalid")

    monkeypatch.setattr(simulator.engine, "Simulation", tripwire)


def one_error(result: Result, *expected: str) -> str:
    """Exit 1, and every stderr line is an ``error:`` line containing what is expected."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    return result.stderr


# overrides ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--duration", "1e9s"], "time buckets"),
        (["--duration", "1000000s"], "budget is 1.00 GiB"),
        (["--duration", "0s"], "duration: Input should be greater than 0"),
        (["--duration", "100s"], "warm-up must be shorter than the duration"),  # mm1: 100s warmup
        (["--duration", "fast"], 'expected a duration like "250ms"'),
        (["--duration", "!!bool maybe"], "cannot read 'maybe' as a boolean"),
        (["--duration", "!!timestamp 2024-01-01"], "not allowed in a scenario"),
        (["--duration", "[" * 1000], "not a YAML value"),
        (["--duration", "1" * 50_000 + "s"], "at most 1000 characters"),
        (["--seed", "-1"], "seed: Input should be greater than or equal to 0"),
        (["--seed", str(2**70)], "seed: Input should be less than or equal to"),
    ],
)
def test_run_validates_every_override_before_running(args, expected, no_simulation) -> None:
    one_error(murphy("run", MM1, *args), expected)


def test_report_validates_its_overrides_too(no_simulation) -> None:
    one_error(murphy("report", MM1, "--seed", "-5"), "seed")
    one_error(murphy("report", MM1, "--duration", "1e9s"), "time buckets")


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_compare_and_sweep_validate_seeds_durations_and_varies(command, no_simulation) -> None:
    one_error(murphy(command, MM1, "--duration", "0s"), "greater than 0")
    one_error(murphy(command, MM1, "--seed", "-1"), "seed")
    last = str(2**63 - 1)  # valid itself, but replication 2 would use 2**63
    one_error(murphy(command, MM1, "--seed", last, "-n", "2"), "seed=9223372036854775808")
    one_error(murphy(command, MM1, *SHORT, "--vary", "bucket=1ms"), "budget")
    one_error(murphy(command, MM1, "--vary", "nodes.ghost.workers=2"), "no node named 'ghost'")


def test_an_override_that_makes_the_run_fit_is_accepted() -> None:
    result = murphy("run", MM1, *SHORT, "--seed", "3", "--json", "--no-blast-radius")
    assert result.exit_code == 0, result.output
    assert '"seed": 3' in result.stdout


# output paths -------------------------------------------------------------------------------


def test_run_out_under_a_regular_file_is_refused_before_running(tmp_path, no_simulation) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_error(murphy("run", MM1, "--out", str(blocker / "sub")), "is a file, not a directory")
    one_error(murphy("run", MM1, "--out", str(blocker)), "is not a directory")
    one_error(murphy("compare", MM1, "--out", str(blocker / "a" / "b")), "is a file")


def test_report_into_a_missing_directory_or_onto_a_directory_is_refused(
    tmp_path, no_simulation
) -> None:
    one_error(murphy("report", MM1, "-o", str(tmp_path / "missing" / "r.md")), "does not exist")
    one_error(murphy("report", MM1, "-o", str(tmp_path)), "is a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_output_directory_is_refused(tmp_path, no_simulation) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        one_error(murphy("report", MM1, "-o", str(locked / "r.md")), "not writable")
        one_error(murphy("run", MM1, "--out", str(locked / "out")), "not writable")
    finally:
        locked.chmod(0o700)


def test_run_out_creates_missing_parents(tmp_path) -> None:
    out = tmp_path / "a" / "b"
    result = murphy("run", MM1, *SHORT, "--no-blast-radius", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").is_file()


# bad files ----------------------------------------------------------------------------------


def test_bad_files_exit_1_with_file_line_field_message(tmp_path, no_simulation) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(MM1).read_text().replace("name:", "name: !!bool maybe\nx:", 1))
    for command in ("run", "report", "compare", "sweep", "validate"):
        stderr = one_error(murphy(command, str(bad)))
        assert f"{bad}:" in stderr and "cannot read 'maybe' as a boolean" in stderr


def test_validate_reports_the_memory_estimate_of_an_over_budget_file(tmp_path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(Path(MM1).read_text().replace("duration: 2000s", "duration: 400000s"))
    one_error(murphy("validate", str(big)), f"{big}:", "would need about", "use a coarser bucket")


CYCLE = """murphy: 1
name: cycle
duration: 10s
nodes:
  users: {kind: client, rate: 1/s, calls: [{to: a}]}
  a: {kind: service, service_time: {dist: constant, value: 1ms}, calls: [{to: b}]}
  b: {kind: service, service_time: {dist: constant, value: 1ms}, calls: [{to: a}]}
  lonely: {kind: service, service_time: {dist: constant, value: 1ms}}
"""


def test_validate_places_wiring_problems_at_their_line_and_field(tmp_path) -> None:
    wired = tmp_path / "wired.yaml"
    wired.write_text(CYCLE)
    result = murphy("validate", str(wired))
    assert result.exit_code == 1
    assert f"error: {wired}:6: nodes.a.calls[0]: synchronous call cycle: a -> b -> a" in (
        result.stderr
    )
    assert f"warning: {wired}:8: nodes.lonely: lonely is not reached" in result.stderr


def test_validate_refuses_devices_and_fifos(tmp_path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    one_error(murphy("validate", str(fifo), "/dev/zero"), "not a regular file")


# exit codes ---------------------------------------------------------------------------------


def test_usage_errors_are_click_s_exit_2() -> None:
    assert murphy("run", MM1, "--no-such-option").exit_code == 2
    assert murphy("run", MM1, "--seed", "abc").exit_code == 2
    assert murphy("sweep", MM1, "--executor", "bogus").exit_code == 2
    assert murphy("frobnicate").exit_code == 2


@pytest.fixture
def broken_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_path: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("simulator.cli_support.load_scenario", boom)


def test_an_internal_error_exits_3_with_one_line_and_no_traceback(broken_loader) -> None:
    result = murphy("run", MM1)
    assert result.exit_code == 3
    expected = "murphy: internal error, please report: RuntimeError: boom\\nsecond line\n"
    assert result.stderr == expected


@pytest.mark.parametrize(
    ("args", "env"), [(["--debug"], None), ([], {"MURPHY_DEBUG": "1"})], ids=["flag", "env"]
)
def test_the_traceback_is_shown_when_asked(broken_loader, args, env) -> None:
    result = murphy(*args, "run", MM1, env=env)
    assert result.exit_code == 3
    assert "Traceback" in result.stderr and "RuntimeError: boom" in result.stderr


def test_exit_codes_of_the_real_program(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")

    def code(*args: str) -> int:
        cmd = [sys.executable, "-m", "simulator.cli", *args]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, check=False).returncode

    assert code("validate", MM1) == 0
    assert code("validate", str(bad)) == 1
    assert code("validate") == 2


def test_the_runs_bar_draws_before_the_plan_is_known(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal, compare, map, ramp and tune draw their bar before the first update
    says how many runs there are: that first frame used to raise (a total of None formatted
    as a number), an internal error on every terminal run of ``murphy tune``."""
    from simulator.cli_support import runs_bar

    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then takes stderr for a terminal
    bar, update = runs_bar("tune api->db")
    assert bar is not None and update is not None
    with bar:
        bar.refresh()
        update(1, 4)
        bar.refresh()
