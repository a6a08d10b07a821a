"""The ``murphy`` command: run, validate, schema, gui (and compare, sweep, bench)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from simulator.cli_import import import_command
from simulator.cli_map import map_command
from simulator.cli_ramp import ramp
from simulator.cli_support import (
    MurphyGroup,
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
from simulator.cli_tables import print_comparison, print_summary
from simulator.cli_tune import tune_command
from simulator.scenario import (
    Scenario,
    ScenarioError,
    ScenarioProblem,
    format_loc,
    parse_with_lines,
    read_scenario_text,
)
from simulator.scenario_yaml import line_of

__all__ = ["main"]

err = Console(stderr=True)


def progress_bar(label: str) -> tuple[Progress | None, Callable[[float, float], None] | None]:
    """A transient progress bar on a terminal; nothing when output is piped."""
    if not err.is_terminal:
        return None, None
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task(label, total=1.0, clock="")

    def update(now: float, horizon: float) -> None:
        bar.update(task, completed=now / horizon, clock=f"t={now:,.0f}s/{horizon:,.0f}s")

    return bar, update


@click.group(cls=MurphyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="murphy")
@click.option("--debug", is_flag=True, help="show the traceback of an internal error")
def main(debug: bool) -> None:
    """Murphy: simulate the unhappy path of a software architecture.

    Exit status: 0 ok, 1 invalid input (file, override or output path), 2 usage,
    3 internal error (a bug: please report it; MURPHY_DEBUG=1 shows the traceback).
    """


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
def validate(files: tuple[str, ...]) -> None:
    """Check scenario files; print every problem with its line. Exit 1 if any."""
    from simulator.topology import problems

    failed = False
    for path in files:
        try:
            scenario, root = parse_with_lines(read_scenario_text(path), path)
        except ScenarioError as exc:
            failed = True
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            continue
        found = problems(scenario)
        for p in found:
            where = ScenarioProblem(format_loc(p.loc), p.message, line_of(root, p.loc), path)
            click.echo(f"{p.severity}: {where}", err=True)
        if any(p.severity == "error" for p in found):
            failed = True
        else:
            click.echo(f"ok: {path}")
    sys.exit(1 if failed else 0)


@main.command()
def schema() -> None:
    """Print the scenario file's JSON Schema (for editors' YAML plugins)."""
    document = Scenario.model_json_schema(mode="validation", by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "Murphy scenario"
    click.echo(json.dumps(document, indent=2))


@main.command()
@click.argument("file", type=click.Path())
@click.option("--seed", type=int, help="override the scenario's seed")
@click.option("--duration", help='override the duration, e.g. "60s"')
@click.option("--json", "as_json", is_flag=True, help="print the JSON summary")
@click.option("--out", type=click.Path(), help="write CSV and plots here (a directory)")
@click.option("--no-blast-radius", is_flag=True, help="skip the per-fault baseline runs")
def run(
    file: str,
    seed: int | None,
    duration: str | None,
    as_json: bool,
    out: str | None,
    no_blast_radius: bool,
) -> None:
    """Run a scenario headless and summarise it."""
    check_output_dir(out)
    scenario, sim, summary = _simulate(file, seed, duration, not no_blast_radius)
    if out:
        write_or_fail(lambda: _write_outputs(scenario, sim, summary, Path(out)), out)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        print_summary(summary)
        if out:
            click.echo(f"time series, plots and report written to {out}/")


def _simulate(
    file: str, seed: int | None, duration: str | None, with_blast: bool
) -> tuple[Scenario, Any, dict[str, Any]]:
    """Load, run with a progress bar, and summarise (with the blast radius if asked)."""
    from simulator.analysis import summarize
    from simulator.engine import EngineError, Simulation

    # Every override is validated like a file (schema, limits, memory) before running.
    scenario = with_overrides(load_or_exit(file), file, {"duration": duration, "seed": seed})
    try:
        sim = Simulation(scenario)
    except EngineError as exc:
        fail(f"{file}: {exc}")
    bar, update = progress_bar(scenario.name)
    if bar is not None:
        with bar:
            sim.run_to_end(progress=update)
    else:
        sim.run_to_end()
    blast = None
    if scenario.faults and with_blast:
        blast = _blast_with_progress(scenario, sim)
    return scenario, sim, summarize(sim, blast)


def _blast_with_progress(scenario: Scenario, sim: Any) -> list[dict[str, Any]]:
    """The paired baseline runs, one per fault, with a line saying which is running."""
    from simulator.blast_radius import blast_radius

    if not err.is_terminal:
        return blast_radius(scenario, sim.seed, sim)
    with err.status("blast radius") as status:

        def progress(i: int, n: int, fault: Any) -> None:
            status.update(
                f"blast radius: paired run {i}/{n} without {fault.kind} on {fault.target}"
            )

        return blast_radius(scenario, sim.seed, sim, progress=progress)


@main.command()
@click.argument("file", type=click.Path())
@click.option("--seed", type=int, help="override the scenario's seed")
@click.option("--duration", help='override the duration, e.g. "60s"')
@click.option(
    "--html",
    "as_html",
    is_flag=True,
    help="also an HTML page with the plots; with -o NAME: NAME.md and NAME.html",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="write here, not stdout (with --html: the .md and the .html beside it)",
)
def report(
    file: str, seed: int | None, duration: str | None, as_html: bool, output: str | None
) -> None:
    """The failure-mode analysis (FMEA) of a run: failure modes, dependencies, recoveries.

    Without -o the report goes to stdout: Markdown, or the HTML page with --html.
    """
    from simulator.report import report_html, report_markdown

    targets = _report_paths(output, as_html)
    for path in targets.values():
        check_output_file(str(path), "-o")
    scenario, sim, summary = _simulate(file, seed, duration, True)
    if not targets:
        click.echo((report_html if as_html else report_markdown)(scenario, summary, sim), nl=False)
        return
    for kind, path in targets.items():
        text = (report_html if kind == "html" else report_markdown)(scenario, summary, sim)
        write_or_fail(lambda p=path, t=text: p.write_text(t, encoding="utf-8"), str(path))
    click.echo("report written to " + " and ".join(str(p) for p in targets.values()), err=True)


def _report_paths(output: str | None, as_html: bool) -> dict[str, Path]:
    """Where ``murphy report`` writes: -o as given, or with --html its .md and .html pair."""
    if output is None:
        return {}
    path = Path(output)
    if not as_html:
        return {"md": path}
    return {"md": path.with_suffix(".md"), "html": path.with_suffix(".html")}


def _write_outputs(scenario: Scenario, sim: Any, summary: dict[str, Any], out: Path) -> None:
    from simulator.plots import save_run_plots
    from simulator.report import report_markdown
    from simulator.timeseries import time_series, write_csv

    out.mkdir(parents=True, exist_ok=True)
    columns = time_series(sim)
    write_csv(columns, out / "timeseries.csv")
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    save_run_plots(columns, summary["faults"], summary["scenario"], out)
    (out / "report.md").write_text(report_markdown(scenario, summary, sim), encoding="utf-8")


def _sweep_setup(
    file: str, vary: tuple[str, ...], duration: str | None, seed: int | None, replications: int
) -> tuple[Scenario, list[tuple[str, list[str]]]]:
    """The scenario with --duration, and the --vary grid, all validated before any run."""
    from simulator.variants import OverrideError, parse_vary, variant_grid

    scenario = with_overrides(load_or_exit(file), file, {"duration": duration})
    check_seeds(scenario, file, seed, replications)
    try:
        varies = [parse_vary(v) for v in vary]
        variant_grid(scenario, varies)  # every combination must validate before anything runs
    except OverrideError as exc:
        fail(f"{file}: --vary {exc}")
    return scenario, varies


def _run_comparison(scenario: Scenario, varies: list, replications: int, seed: int | None,
                    executor: str) -> Any:  # fmt: skip
    from simulator.compare import run_comparison

    bar, update = runs_bar(scenario.name)
    try:
        with bar if bar is not None else _nothing():
            return run_comparison(scenario, varies, replications, executor, update, seed)
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False)
        raise SystemExit(2) from None


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_SWEEP_OPTIONS = [
    click.option("--vary", multiple=True, metavar="FIELD=V1,V2,...",
                 help="a field path and its values; several --vary make a grid"),
    click.option("--replications", "-n", type=click.IntRange(1, 10_000), default=5,
                 show_default=True, help="runs per variant (seeds SEED, SEED+1, ...)"),
    click.option("--seed", type=int, help="base seed (default: the scenario's)"),
    click.option("--duration", help='override the duration, e.g. "60s"'),
    executor_option,
]  # fmt: skip


def _sweep_options(fn: Callable) -> Callable:
    for option in reversed(_SWEEP_OPTIONS):
        fn = option(fn)
    return fn


@main.command()
@click.argument("file", type=click.Path())
@_sweep_options
@click.option("--json", "as_json", is_flag=True, help="print the comparison as JSON")
@click.option("--out", type=click.Path(), help="write plots, CSV and JSON here (a directory)")
def compare(
    file: str, vary: tuple[str, ...], replications: int, seed: int | None,
    duration: str | None, executor: str, as_json: bool, out: str | None,
) -> None:  # fmt: skip
    """Compare variants of a scenario: mean ± 95% CI per variant, overlay plots."""
    from simulator.compare import comparison_data, comparison_table, judge, save_comparison

    check_output_dir(out)
    scenario, varies = _sweep_setup(file, vary, duration, seed, replications)
    c = _run_comparison(scenario, varies, replications, seed, executor)
    rows = comparison_table(c)
    if out:
        write_or_fail(lambda: save_comparison(c, out), out)
    if as_json:
        click.echo(json.dumps(comparison_data(c, rows), indent=2))
        return
    print_comparison(c, rows, judge(c, rows))
    if out:
        click.echo(f"plots, CSV and JSON written to {out}/")


@main.command()
@click.argument("file", type=click.Path())
@_sweep_options
@click.option("--series", is_flag=True, help="include the time-series columns of every run")
def sweep(file: str, vary: tuple[str, ...], replications: int, seed: int | None,
          duration: str | None, executor: str, series: bool) -> None:  # fmt: skip
    """Run every variant N times; print every run's compact result as JSON."""
    from simulator.sweep import run_many
    from simulator.variants import variant_grid

    scenario, varies = _sweep_setup(file, vary, duration, seed, replications)
    variants = variant_grid(scenario, varies)
    bar, update = runs_bar(scenario.name)
    with bar if bar is not None else _nothing():
        runs = run_many(scenario, variants, replications, seed, executor, update, series)
    data = {
        "scenario": scenario.name,
        "base_seed": scenario.seed if seed is None else seed,
        "replications": replications,
        "varies": [{"field": p, "values": v} for p, v in varies],
        "variants": [{"variant": v.label, "overrides": v.overrides, "runs": r}
                     for v, r in zip(variants, runs, strict=True)],
    }  # fmt: skip
    click.echo(json.dumps(data, indent=2))


@main.command()
@click.argument("file", required=False, type=click.Path())
def gui(file: str | None) -> None:
    """Open the desktop app (on FILE, or on the flagship scenario)."""
    import subprocess
    from importlib.util import find_spec

    # The engine never imports the app (arrows point gui -> simulator): the app runs as
    # its own program, which also explains a missing display or PySide6 by itself.
    if find_spec("gui") is None:
        err.print("the desktop app is not installed with this copy of murphy")
        raise SystemExit(2)
    raise SystemExit(
        subprocess.call([sys.executable, "-m", "gui.launch", *([file] if file else [])])
    )


main.add_command(map_command)  # murphy map: simulator/cli_map.py
main.add_command(ramp)  # murphy ramp: simulator/cli_ramp.py
main.add_command(tune_command)  # murphy tune: simulator/cli_tune.py
main.add_command(import_command)  # murphy import: simulator/cli_import.py


if __name__ == "__main__":  # pragma: no cover
    main()
