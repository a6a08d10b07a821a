"""``murphy ramp``: raise the load until the SLO breaks (see ``simulator.breaking_point``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from simulator.cli_support import (
    check_output_dir,
    check_seeds,
    executor_option,
    fail,
    load_or_exit,
    runs_bar,
    with_overrides,
    write_or_fail,
)

__all__ = ["ramp"]

err = Console(stderr=True)


def _fmt(value: float | None, scale: float = 1.0, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value * scale:,.{digits}f}"


def print_ramp(data: dict[str, Any]) -> None:
    """The probes as a table, lightest first, then the verdict."""
    console = Console(width=None if Console().is_terminal else 120)
    table = Table(
        title=f"{data['scenario']}: probes (SLO {data['slo']}, "
        f"{data['replications']} replications each)",
        title_justify="left",
    )
    for col in ("load x", "purpose", "p99 ms", "± 95%", "mean ms", "success", "SLO"):
        table.add_column(col, justify="left" if col in ("purpose", "SLO") else "right")
    for p in data["probes"]:
        mean, ci = p["mean"], p["ci95"]
        verdict = "[green]meets[/green]" if p["meets_slo"] else "[red]breaks[/red]"
        if p["uncertain"]:
            verdict += " (uncertain)"
        table.add_row(
            f"{p['multiplier']:.4g}",
            p["purpose"],
            _fmt(mean["p99"]),
            _fmt(ci["p99"]),
            _fmt(mean["mean"]),
            _fmt(mean["success"], 100, 2) + "%",
            verdict,
        )
    console.print(table)
    if data["saturation"]:
        sat = Table(title="Saturated along the ramp (first first)", title_justify="left")
        for col in ("from load x", "resource", "where", "how"):
            sat.add_column(col, justify="right" if col == "from load x" else "left")
        for s in data["saturation"]:
            sat.add_row(f"{s['multiplier']:.4g}", s["resource"], s["node"], s["how"])
        console.print(sat)
    console.print(data["verdict"], highlight=False)


@click.command()
@click.argument("file", type=click.Path())
@click.option("--route", help="judge the SLO on this route (a client's name); default: all")
@click.option(
    "--slo",
    default="p99<2s,success>99.9%",
    show_default=True,
    help="clauses separated by commas: mean|p50|p90|p99|p999 < DURATION, success > PERCENT",
)
@click.option(
    "--replications",
    "-n",
    type=click.IntRange(1, 1000),
    default=3,
    show_default=True,
    help="runs per probe (seeds SEED, SEED+1, ...: the same for every probe)",
)
@click.option("--seed", type=int, help="base seed (default: the scenario's)")
@click.option("--duration", help='override the duration of each run, e.g. "120s"')
@click.option(
    "--tolerance",
    type=click.FloatRange(0.001, 0.5),
    default=0.02,
    show_default=True,
    help="stop bisecting when the bracket is this narrow (relative)",
)
@click.option(
    "--max-multiplier",
    type=click.FloatRange(1.0, 1e6),
    default=64.0,
    show_default=True,
    help="the highest load multiplier to try",
)
@click.option("--with-faults", is_flag=True, help="keep the scenario's faults (default: left out)")
@executor_option
@click.option("--json", "as_json", is_flag=True, help="print the ramp as JSON")
@click.option("--out", type=click.Path(), help="write ramp.png/.svg/.csv/.json here (a directory)")
def ramp(
    file: str,
    route: str | None,
    slo: str,
    replications: int,
    seed: int | None,
    duration: str | None,
    tolerance: float,
    max_multiplier: float,
    with_faults: bool,
    executor: str,
    as_json: bool,
    out: str | None,
) -> None:
    """Raise the load until the SLO breaks: the knee, the breaking point, what saturated first."""
    from simulator.breaking_point import SLOError, parse_slo
    from simulator.breaking_point_files import ramp_data, save_ramp

    check_output_dir(out)
    try:
        objective = parse_slo(slo)
    except SLOError as exc:
        raise click.BadParameter(str(exc), param_hint="--slo") from None
    scenario = with_overrides(load_or_exit(file), file, {"duration": duration})
    check_seeds(scenario, file, seed, replications)
    clients = [n for n, node in scenario.nodes.items() if node.kind == "client"]
    if not clients:
        fail(f"{file}: the scenario has no client: nothing to ramp up")
    if route is not None and route not in clients:
        raise click.BadParameter(
            f"no route {route!r}; the routes are {', '.join(clients)}", param_hint="--route"
        )
    bar, update = runs_bar(f"ramp {scenario.name}", remaining=False)
    try:
        with bar if bar is not None else nullcontext():
            result = _search(
                scenario, objective, route, replications, executor, seed, tolerance,
                max_multiplier, with_faults, update,
            )  # fmt: skip
    except ValueError as exc:
        fail(f"{file}: {exc}")
    data = ramp_data(result)
    if out:
        write_or_fail(lambda: save_ramp(result, out), out)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    print_ramp(data)
    if out:
        click.echo(f"plot, CSV and JSON written to {Path(out)}/")


def _search(
    scenario: Any,
    objective: Any,
    route: str | None,
    replications: int,
    executor: str,
    seed: int | None,
    tolerance: float,
    max_multiplier: float,
    with_faults: bool,
    update: Callable[[int, int], None] | None,
) -> Any:
    from simulator.breaking_point import find_breaking_point

    return find_breaking_point(
        scenario,
        objective,
        route,
        replications,
        executor,
        base_seed=seed,
        tolerance=tolerance,
        max_multiplier=max_multiplier,
        with_faults=with_faults,
        progress=update,
    )
