"""What every ``murphy`` command shares: exit codes, overrides and output checks.

Exit codes, so a script can tell a bad file from a bug:

- 0: done;
- 1: invalid input (a bad scenario file, a bad override, an unusable output path),
  with one ``file:line: field: message`` line per problem;
- 2: usage (click's own: an unknown option, a malformed number);
- 3: an internal error, one line on stderr; the traceback only with ``--debug`` or
  ``MURPHY_DEBUG=1``.

Every check here runs before anything is simulated: a run must not spend an hour
and then fail to write its report.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from simulator.scenario import ScenarioError, load_scenario
from simulator.scenario_yaml import one_line

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = [
    "EXIT_INPUT",
    "EXIT_INTERNAL",
    "MurphyGroup",
    "check_executor",
    "check_output_dir",
    "check_output_file",
    "check_seeds",
    "executor_option",
    "fail",
    "load_or_exit",
    "runs_bar",
    "with_overrides",
]

EXIT_INPUT = 1
EXIT_INTERNAL = 3
_PASS_THROUGH = (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort)


def _debug_wanted() -> bool:
    ctx = click.get_current_context(silent=True)
    flag = bool(ctx and ctx.find_root().params.get("debug"))
    return flag or os.environ.get("MURPHY_DEBUG", "") not in ("", "0")


class MurphyGroup(click.Group):
    """The command group: an unexpected exception in any command exits 3 on one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            raise
        except Exception as exc:  # anything else is a bug in murphy, not in the input
            from simulator.engine import EngineError

            if isinstance(exc, EngineError):  # the input cannot be simulated (a run stalled)
                fail(str(exc))
            if _debug_wanted():
                traceback.print_exc()
            message = one_line(str(exc), 300)
            click.echo(
                f"murphy: internal error, please report: {type(exc).__name__}: {message}",
                err=True,
            )
            sys.exit(EXIT_INTERNAL)


def fail(*lines: str) -> NoReturn:
    """Report invalid input, one line each, and exit 1."""
    for line in lines:
        click.echo(f"error: {one_line(line, 500)}", err=True)
    sys.exit(EXIT_INPUT)


def load_or_exit(path: str) -> Scenario:
    """The validated scenario at ``path``, or its problems on stderr and exit 1."""
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        fail(*(str(p) for p in exc.problems))


def with_overrides(scenario: Scenario, file: str, overrides: dict[str, Any]) -> Scenario:
    """The scenario with command-line values set, validated in full like a file.

    ``None`` values are options not given. Each override goes through
    ``variants.apply_override``: schema, cross-references, limits and the memory
    estimate, exactly as for a file or a ``--vary`` value.
    """
    from simulator.variants import OverrideError, apply_override

    for path, value in overrides.items():
        if value is None:
            continue
        try:
            scenario = apply_override(scenario, path, str(value))
        except OverrideError as exc:
            fail(f"{file}: --{path} {exc}")
    return scenario


def check_seeds(scenario: Scenario, file: str, seed: int | None, replications: int) -> None:
    """The base seed and the last of the replications' seeds must both be valid seeds."""
    base = scenario.seed if seed is None else seed
    for value in {base, base + replications - 1}:
        with_overrides(scenario, file, {"seed": value})


def _writable_dir(path: Path, option: str) -> None:
    if not path.is_dir():
        fail(f"{option} {path}: {path} is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        fail(f"{option} {path}: the directory {path} is not writable")


def check_output_dir(out: str | None, option: str = "--out") -> None:
    """``out`` is a writable directory, or can be made (its nearest existing parent is one)."""
    if out is None:
        return
    path = Path(out)
    if path.exists():
        _writable_dir(path, option)
        return
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        fail(f"{option} {out}: {parent} is a file, not a directory")
    _writable_dir(parent, option)


def check_output_file(output: str | None, option: str = "--output") -> None:
    """``output`` can be written: its directory exists and is writable, it is no directory."""
    if output is None:
        return
    path = Path(output)
    if path.is_dir():
        fail(f"{option} {output}: is a directory")
    parent = path.absolute().parent
    if not parent.exists():
        fail(f"{option} {output}: the directory {parent} does not exist")
    _writable_dir(parent, option)
    if path.exists() and not os.access(path, os.W_OK):
        fail(f"{option} {output}: the file is not writable")


def write_or_fail(write: Any, target: str) -> Any:
    """Run ``write()``; an OS error (disk full, path removed meanwhile) is exit 1, not a bug."""
    try:
        return write()
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")


def check_executor(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """``--executor``: refused at parse time, before a scenario is even read."""
    if value in ("local", "serial") or (value.startswith("dask://") and len(value) > 7):
        return value
    raise click.BadParameter("use local, serial, dask://HOST:PORT or dask://local")


executor_option = click.option(
    "--executor",
    default="local",
    show_default=True,
    callback=check_executor,
    help="local | serial | dask://HOST:PORT | dask://local",
)
"""Where the runs of compare, sweep, map, ramp and tune go: the same option everywhere."""


def runs_bar(
    label: str, remaining: bool = True
) -> tuple[Progress | None, Callable[[int, int], None] | None]:
    """A progress bar of runs done on a terminal (none when piped), and its update.

    ``remaining=False`` leaves out the time left, for searches whose plan grows as they go
    (the ramp's bracketing) and whose estimate would mislead.
    """
    err = Console(stderr=True)
    if not err.is_terminal:
        return None, None
    columns: list[Any] = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),  # "3/?" until the plan is known (a format of None would raise)
        TextColumn("runs"),
    ]
    if remaining:
        columns.append(TimeRemainingColumn())
    bar = Progress(*columns, console=err, transient=True)
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update
