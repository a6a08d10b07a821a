"""``murphy map``: the metastability map (recovery time over two axes), on the sweep executor.

Registered by ``simulator.cli`` with ``main.add_command``. The helpers it shares
with ``compare``/``sweep`` (the grid's validation, the progress bar) are imported
when the command runs, so this module never imports ``simulator.cli`` while that
module is still loading.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from simulator.cli_support import (
    check_output_dir,
    executor_option,
    fail,
    runs_bar,
    write_or_fail,
)

__all__ = ["map_command", "print_map"]


@click.command("map")
@click.argument("file", type=click.Path())
@click.option(
    "--vary",
    multiple=True,
    metavar="FIELD=V1,V2,...",
    help="an axis: a field path and its values; give exactly two (x, then y)",
)
@click.option(
    "--replications",
    "-n",
    type=click.IntRange(1, 1_000),
    default=3,
    show_default=True,
    help="runs per cell (seeds SEED, SEED+1, ...), each with its pair",
)
@click.option(
    "--fault",
    "fault",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="the trigger: the index of the fault whose recovery is measured",
)
@click.option("--seed", type=int, help="base seed (default: the scenario's)")
@click.option("--duration", help='override the duration, e.g. "120s"')
@executor_option
@click.option(
    "--preview",
    is_flag=True,
    help="also the fluid model's map (milliseconds), and where it disagrees",
)
@click.option("--json", "as_json", is_flag=True, help="print the map as JSON")
@click.option("--out", type=click.Path(), help="write map.png, map.svg, map.csv, map.json here")
def map_command(
    file: str, vary: tuple[str, ...], replications: int, fault: int, seed: int | None,
    duration: str | None, executor: str, preview: bool, as_json: bool, out: str | None,
) -> None:  # fmt: skip
    """The metastability map: recovery time after a fault over two axes (load × trigger).

    Each cell runs the scenario and its pair without the trigger (same seed), and
    measures how long after the trigger ended the routes it degraded answered as
    well as the pair again: the median over replications, "never" when at least
    half never recovered before the end of the run. Example:

    murphy map scenarios/metastable.yaml --vary 'nodes.users.rate=100/s,130/s,160/s'
    --vary 'faults[0].for=2s,5s,10s'
    """
    from simulator.cli import _nothing, _sweep_setup
    from simulator.metastability import map_data, run_map, save_map

    check_output_dir(out)
    if len(vary) != 2:
        fail(f"{file}: a map has two axes: give exactly two --vary (got {len(vary)})")
    scenario, varies = _sweep_setup(file, vary, duration, seed, replications)
    bar, update = runs_bar(scenario.name)
    try:
        with bar if bar is not None else _nothing():
            m = run_map(scenario, varies, replications, executor, update, seed, fault)
    except ValueError as exc:
        fail(f"{file}: {exc}")
    data = map_data(m)
    fluid = None
    if preview:
        from simulator.metastability_fluid import preview_data, preview_map

        fluid = preview_map(scenario, varies, fault)
        data["preview"] = preview_data(data, fluid)
    if out:
        write_or_fail(lambda: save_map(m, out, fluid, data), out)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    print_map(data)
    if out:
        click.echo(f"heat map (PNG, SVG), CSV and JSON written to {out}/")


def _cell(cell: dict[str, Any]) -> str:
    runs = cell["runs"]
    never = sum(r is None for r in runs)
    if cell["recovery_s"] is None:
        recovered = len(runs) - never
        return "[bold red]never[/]" + (f" ({recovered}/{len(runs)} recovered)" if recovered else "")
    text = f"{cell['recovery_s']:g} s"
    return text + (f" ({never}/{len(runs)} never)" if never else "")


def print_map(data: dict[str, Any]) -> None:
    """The map as a table on the terminal: y down, x across, then the boundary in words."""
    console = Console(width=None if Console().is_terminal else 120)
    (xa, ya) = data["axes"]
    f = data["fault"]
    table = Table(
        title=f"Recovery after {f['kind']} on {f['target']} ended "
        f"(median of {data['replications']}; never = not before the end of the run)",
        title_justify="left",
    )
    table.add_column(f"{ya['field']} \\ {xa['field']}")
    for x in xa["values"]:
        table.add_column(x, justify="right")
    cells = {(c["x"], c["y"]): c for c in data["cells"]}
    for y in ya["values"]:
        table.add_row(y, *(_cell(cells[x, y]) for x in xa["values"]))
    console.print(table)
    for b in data["boundary"]:
        where = f"never recovers from {ya['field']}={b['never_from']}" if b["never_from"] else (
            "recovers everywhere on the map")  # fmt: skip
        console.print(f"at {xa['field']}={b['x']}: {where}")
    if "preview" in data:
        _print_preview(console, data)
    problems = sorted({p for c in data["cells"] for p in c["invariants"]})
    if problems:
        console.print("[red]invariant violations:[/red] " + "; ".join(problems))


def _print_preview(console: Console, data: dict[str, Any]) -> None:
    preview = data["preview"]
    if preview["model"] is None:
        console.print(f"no fluid preview: {preview['note']}")
        return
    (xa, ya) = data["axes"]
    table = Table(title="Fluid preview (one service, immediate retries)", title_justify="left")
    table.add_column(f"{ya['field']} \\ {xa['field']}")
    for x in xa["values"]:
        table.add_column(x, justify="right")
    cells = {(c["x"], c["y"]): c["recovery_s"] for c in preview["cells"]}
    for y in ya["values"]:
        row = [cells[x, y] for x in xa["values"]]
        table.add_row(y, *("never" if v is None else f"{v:.3g} s" for v in row))
    console.print(table)
    if not preview["disagree"]:
        console.print("the fluid and the simulation agree on which cells never recover")
    for d in preview["disagree"]:
        sim = "never" if d["simulated"] is None else f"{d['simulated']:g} s"
        fluid = "never" if d["preview"] is None else f"{d['preview']:g} s"
        console.print(f"disagree at {d['x']}, {d['y']}: simulated {sim}, fluid {fluid}")
