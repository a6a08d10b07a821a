"""``murphy tune``: the best settings of one call (see ``simulator.tuning``)."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from simulator.cli_support import (
    check_output_dir,
    check_output_file,
    check_seeds,
    executor_option,
    fail,
    load_or_exit,
    runs_bar,
    with_overrides,
    write_or_fail,
)

__all__ = ["tune_command"]

SHOWN = 10  # candidates in the terminal's table


def print_tuning(data: dict[str, Any]) -> None:
    """The best candidates as a table, then the verdict."""
    from simulator.tuning_objective import format_value

    console = Console(width=None if Console().is_terminal else 120)
    metrics = [data["tradeoff"]["y"], data["tradeoff"]["x"]]
    metrics += [m for m in ("success", "p99", "amplification") if m not in metrics]
    table = Table(
        title=f"{data['scenario']}: {data['call']} for {data['objective']} "
        f"({data['runs']} runs, {data['candidates']} of {data['combinations']} combinations)",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    for d in data["space"]:
        table.add_column(d["field"], justify="right")
    table.add_column("runs", justify="right")
    for m in metrics:
        table.add_column(m, justify="right")
    table.add_column("", justify="left")
    rows = data["ranking"][:SHOWN]
    if not any(r["baseline"] for r in rows):
        rows = [*rows, data["baseline"]]
    for r in rows:
        marks = ["best" if r["rank"] == 1 else "", "file" if r["baseline"] else "",
                 "" if r["feasible"] else "misses a bound"]  # fmt: skip
        table.add_row(
            str(r["rank"]),
            *(r["settings"][d["field"]] or "none" for d in data["space"]),
            str(r["replications"]),
            *(format_value(m, r["mean"].get(m)) for m in metrics),
            ", ".join(m for m in marks if m),
            style="bold" if r["rank"] == 1 else None,
        )
    console.print(table)
    console.print(data["verdict"], highlight=False)


@click.command("tune")
@click.argument("file", type=click.Path())
@click.option(
    "--call",
    "call",
    required=True,
    metavar="CALLER->CALLEE",
    help="the call to tune; quote it ('api->db': unquoted, > redirects); a later call to "
    "the same node adds its position in the caller's calls from 0: 'api->db#1' when db is "
    "also its first call",
)
@click.option(
    "--objective",
    default="success max, p99<2s",
    show_default=True,
    help="METRIC max|min and bounds, by commas; metrics: success, goodput, mean, "
    "p50, p90, p99, p999, attempts, amplification",
)
@click.option(
    "--space",
    multiple=True,
    metavar="FIELD=V1,V2|LOW..HIGH",
    help="values of one field to try (timeout, retry.attempts, retry.budget.percent, "
    "breaker.failure_rate, breaker.failures); replaces that field's defaults",
)
@click.option(
    "--budget",
    type=click.IntRange(4, 100_000),
    default=150,
    show_default=True,
    help="the most simulation runs to spend (at least 4: two candidates, then the survivor "
    "and the file's settings again)",
)
@click.option("--seed", type=int, help="base seed (default: the scenario's)")
@click.option("--duration", help='override the duration of each run, e.g. "60s"')
@executor_option
@click.option("--json", "as_json", is_flag=True, help="print the search as JSON")
@click.option("--out", type=click.Path(), help="write tune.png/.svg/.csv/.json here (a directory)")
@click.option(
    "--apply",
    "apply_to",
    type=click.Path(),
    help="write the scenario with the best settings to this file (comments kept)",
)
def tune_command(
    file: str, call: str, objective: str, space: tuple[str, ...], budget: int,
    seed: int | None, duration: str | None, executor: str, as_json: bool,
    out: str | None, apply_to: str | None,
) -> None:  # fmt: skip
    """Search a call's timeout, retries, retry budget and breaker for the best settings."""
    from simulator.tuning_objective import ObjectiveError, parse_objective
    from simulator.tuning_space import SpaceError, find_call, parse_space

    check_output_dir(out)
    check_output_file(apply_to, "--apply")
    try:
        goal = parse_objective(objective)
    except ObjectiveError as exc:
        raise click.BadParameter(str(exc), param_hint="--objective") from None
    for warning in goal.warnings:
        click.echo(f"warning: --objective: {warning}", err=True)
    original = load_or_exit(file)
    scenario = with_overrides(original, file, {"duration": duration})
    try:
        ref = find_call(scenario, call)
        dims = parse_space(space, scenario, ref)
    except SpaceError as exc:
        fail(f"{file}: {exc}")
    check_seeds(scenario, file, seed, budget)
    tuning = _search(scenario, file, ref.edge, goal, dims, budget, executor, seed)
    from simulator.tuning_files import NO_CLEAR_GAIN, save_tuning, tune_data

    data = tune_data(tuning)
    if out:
        write_or_fail(lambda: save_tuning(tuning, out), out)
    if apply_to:
        write_or_fail(lambda: _apply(tuning, original, file, Path(apply_to)), apply_to)
        if not data["clear_gain"]:
            head = NO_CLEAR_GAIN.split(":")[0].lower()
            click.echo(f"--apply: {head}: {apply_to} written as asked", err=True)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    print_tuning(data)
    if out:
        click.echo(f"plot, CSV and JSON written to {Path(out)}/")
    if apply_to:
        click.echo(f"the scenario with the best settings written to {apply_to}")


def _search(scenario: Any, file: str, edge: str, goal: Any, dims: Any, budget: int,
            executor: str, seed: int | None) -> Any:  # fmt: skip
    from simulator.tuning import tune
    from simulator.variants import OverrideError

    bar, update = runs_bar(f"tune {edge}")
    try:
        with bar if bar is not None else nullcontext():
            return tune(scenario, edge, goal, space=dims, budget=budget, executor=executor,
                        base_seed=seed, progress=update)  # fmt: skip
    except (ValueError, OverrideError) as exc:
        fail(f"{file}: {exc}")


def _apply(tuning: Any, original: Any, file: str, target: Path) -> None:
    """The file's own text with the best settings edited in (its comments kept)."""
    from simulator.scenario import read_scenario_text
    from simulator.scenario_roundtrip import saved_text
    from simulator.tuning_files import applied_scenario

    text = saved_text(applied_scenario(tuning, original), read_scenario_text(file)).text
    target.write_text(text, encoding="utf-8")
