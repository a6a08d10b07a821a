"""``murphy import``: another tool's resilience settings onto a scenario's call or balancer.

The report (what was set, the defaults of that tool used, what is not modelled
and why, unknown fields) goes to stderr; the scenario, with the settings written
into its own text so its comments stay, to ``--output`` or stdout. Unknown
fields are reported and the import still written, unless ``--strict``: then
nothing is written and the exit code is 1.
"""

from __future__ import annotations

import sys

import click

from simulator.atomic_write import write_atomically
from simulator.cli_support import check_output_file, fail, write_or_fail
from simulator.importers import CannotImport, ImportResult, ImportTarget, import_settings
from simulator.importers.apply import describe_target
from simulator.scenario import Scenario, ScenarioError, parse_scenario, read_scenario_text
from simulator.scenario_roundtrip import saved_text

__all__ = ["import_command", "print_report"]


@click.command("import")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--resilience4j",
    "r4j",
    type=click.Path(exists=True, dir_okay=False),
    help="a Spring Boot application.yml with resilience4j settings",
)
@click.option("--instance", help="the resilience4j instance to import (its name under instances)")
@click.option(
    "--envoy",
    type=click.Path(exists=True, dir_okay=False),
    help="an Envoy bootstrap, cluster list, CDS response or cluster (YAML or JSON)",
)
@click.option("--cluster", help="Envoy: the cluster to import (needed if the file has several)")
@click.option("--route", help="Envoy: the route (its name) whose retry policy and timeout apply")
@click.option(
    "--call",
    "call",
    metavar="CALLER->CALLEE",
    help="the call that gets the policies; quote it ('api->db': unquoted, > redirects); "
    "a later call to the same node adds its position in the caller's calls from 0: "
    "'api->db#1' when db is also its first call",
)
@click.option(
    "--balancer",
    metavar="NAME",
    help="Envoy: the balancer that stands for the cluster (outlier detection, lb "
    "policy); a call to a balancer takes it without this",
)
@click.option(
    "-o", "--output", help="write the scenario here (may be SCENARIO itself); default: stdout"
)
@click.option(
    "--processors",
    type=click.IntRange(1, 4096),
    default=4,
    show_default=True,
    help="resilience4j: the JVM's available processors, which size an unset thread-pool bulkhead",
)
@click.option("--strict", is_flag=True, help="exit 1 and write nothing if a field is unknown")
def import_command(
    scenario: str,
    r4j: str | None,
    instance: str | None,
    envoy: str | None,
    cluster: str | None,
    route: str | None,
    call: str | None,
    balancer: str | None,
    output: str | None,
    processors: int,
    strict: bool,
) -> None:
    """Write resilience4j or Envoy settings onto SCENARIO's call (or balancer).

    \b
    murphy import shop.yaml --resilience4j application.yml --instance payments \\
        --call 'orders->payments' -o shop.yaml
    murphy import shop.yaml --envoy envoy.yaml --cluster payments --call 'orders->lb'
    """
    if (r4j is None) == (envoy is None):
        fail("give one source: --resilience4j FILE --instance NAME, or --envoy FILE")
    if r4j is not None and instance is None:
        fail("--resilience4j needs --instance NAME (the instance under resilience4j.*.instances)")
    if r4j is not None and (balancer or cluster or route):
        fail("--balancer, --cluster and --route are Envoy's: resilience4j goes onto a --call")
    check_output_file(output)
    try:
        text = read_scenario_text(scenario)
        loaded = parse_scenario(text, scenario)
    except ScenarioError as exc:
        fail(*(str(p) for p in exc.problems))
    try:
        imported = import_settings(
            loaded,
            "resilience4j" if r4j is not None else "envoy",
            r4j or envoy or "",
            call=call,
            balancer=balancer,
            instance=instance,
            cluster=cluster,
            route=route,
            processors=processors,
        )
    except CannotImport as exc:
        fail(str(exc))
    result, target = imported.result, imported.target
    saved = saved_text(imported.scenario, text)
    print_report(result, target, imported.scenario, imported.changes, source=r4j or envoy or "")
    if not saved.kept and saved.reason:
        click.echo(f"note: written without the file's comments: {saved.reason}", err=True)
    if strict and result.of("unknown"):
        fail(f"{len(result.of('unknown'))} unknown field(s) and --strict: nothing written")
    if output is None:
        sys.stdout.write(saved.text)
        return
    write_or_fail(lambda: write_atomically(output, saved.text), output)
    click.echo(f"wrote {output}", err=True)


def print_report(
    result: ImportResult,
    target: ImportTarget,
    scenario: Scenario,
    changes: list[str],
    source: str = "",
) -> None:
    """What the import did, on stderr: the findings, what it replaced, the policies now."""
    echo = lambda line: click.echo(line, err=True)  # noqa: E731
    echo(f"{result.source} {source}".strip() + ":")
    for line in result.lines():
        echo(f"  {line}")
    for line in changes:
        echo(f"  replaced: {line}")
    for line in describe_target(scenario, target).splitlines():
        echo(f"  {line}")
