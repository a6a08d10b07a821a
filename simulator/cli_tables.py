"""The tables ``murphy run`` and ``murphy compare`` print on a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from simulator.alerting import describe_value
from simulator.compare_verdict import censored_text
from simulator.recovery import recovery_text

__all__ = ["print_comparison", "print_summary"]


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_summary(summary: dict[str, Any]) -> None:
    console = Console(width=None if Console().is_terminal else 120)
    console.print(
        f"[bold]{summary['scenario']}[/bold]  seed {summary['seed']}, "
        f"{summary['duration_s']:g} s simulated in {summary['wall_seconds']:.2f} s, "
        f"{summary['events']:,} events"
    )
    routes = Table(title="Entry routes (after warm-up)", title_justify="left")
    for col in ("route", "requests", "success", "p50 ms", "p99 ms", "p99.9 ms", "not ok"):
        routes.add_column(col, justify="left" if col in ("route", "not ok") else "right")
    rows = [*summary["routes"].items(), ("overall", summary["overall"])]
    for name, r in rows:
        lat, success = r["latency_ms"], r["success_rate"]
        not_ok = ", ".join(f"{k} {v:,}" for k, v in r["outcomes"].items() if v and k != "ok")
        routes.add_row(
            name, f"{r['requests']:,}", "-" if success is None else f"{100 * success:.2f}%",
            _fmt(lat["p50"]), _fmt(lat["p99"]), _fmt(lat["p999"]), not_ok or "-",
        )  # fmt: skip
    console.print(routes)
    nodes = Table(title="Nodes", title_justify="left")
    for col in ("node", "arrivals", "util", "wait ms", "sojourn ms", "max queue", "errors"):
        nodes.add_column(col, justify="left" if col in ("node", "errors") else "right")
    for name, n in summary["nodes"].items():
        util = n["utilization"]
        errors = ", ".join(f"{k} {v:,}" for k, v in n["errors"].items()) or "-"
        nodes.add_row(
            name, f"{n['arrivals']:,}", "-" if util is None else f"{100 * util:.1f}%",
            _fmt(n["mean_queue_wait_ms"]), _fmt(n["mean_sojourn_ms"]), str(n["max_queue"]), errors,
        )  # fmt: skip
    console.print(nodes)
    edges = Table(title="Calls", title_justify="left")
    for col in ("call", "requests", "attempts", "amplification", "fallbacks", "breaker opens"):
        edges.add_column(col, justify="left" if col == "call" else "right")
    for name, e in summary["edges"].items():
        opens = e.get("breaker", {}).get("opens")
        edges.add_row(
            name, f"{e['requests']:,}", f"{e['attempts']:,}", _fmt(e["amplification"], 2),
            f"{e['fallbacks']:,}", "-" if opens is None else str(opens),
        )  # fmt: skip
    console.print(edges)
    if "messages" in summary:
        _print_messages(console, summary["messages"])
    if "corruption" in summary:
        _print_corruption(console, summary["corruption"]["databases"])
    if "contention" in summary:
        _print_contention(console, summary)
    if "deploys" in summary:
        _print_deploys(console, summary["deploys"])
    _print_alerts(console, summary)
    for entry in summary.get("blast_radius", []):
        console.print(f"[bold]blast radius[/bold] {entry['fault']}: {entry['summary']}")
        if "recovery_s" in entry:
            console.print(f"  {recovery_text(entry)}")
    if summary["invariants"]:
        console.print("[red]invariant violations:[/red] " + "; ".join(summary["invariants"]))


def _print_deploys(console: Console, deploys: list[dict[str, Any]]) -> None:
    """One row per deploy: when it ran, whether an alert rolled it back, what it cost."""
    from simulator.deploys import rollback_text  # the app says it the same way

    table = Table(title="Deploys", title_justify="left")
    for col in ("deploy", "strategy", "started", "completed", "rolled back", "requests failed"):
        table.add_column(col, justify="right" if col == "requests failed" else "left")
    for d in deploys:
        started, completed = d["started_s"], d["completed_s"]
        table.add_row(
            d["target"], d["strategy"], "-" if started is None else f"{started:g} s",
            "-" if completed is None else f"{completed:g} s", rollback_text(d),
            f"{d['requests_failed']:,}",
        )  # fmt: skip
    console.print(table)


def _print_alerts(console: Console, summary: dict[str, Any]) -> None:
    """The alert timeline (one row per firing), then how long each fault took to detect."""
    firings = summary.get("alerts", [])
    if firings:
        table = Table(title="Alerts", title_justify="left")
        for col in ("rule", "target", "severity", "fired s", "resolved s", "value"):
            table.add_column(col, justify="right" if col.endswith(("s", "value")) else "left")
        for a in firings:
            resolved = "still firing" if a["resolved_s"] is None else f"{a['resolved_s']:g}"
            table.add_row(
                a["rule"], a["target"], a["severity"], f"{a['fired_s']:g}", resolved,
                describe_value(a["metric"], a["value"]),
            )  # fmt: skip
        console.print(table)
    elif summary.get("faults"):
        console.print("no alert fired")
    for fault in summary.get("faults", []):
        first = fault.get("detected_by")
        what = f"{fault['kind']} on {fault['target']} at {fault['start_s']:g} s"
        if first is None:
            console.print(f"[bold]time to detect[/bold] {what}: not detected by any alert")
        else:
            console.print(
                f"[bold]time to detect[/bold] {what}: {fault['time_to_detect_s']:g} s "
                f"({first['rule']} on {first['target']})"
            )


def _print_corruption(console: Console, databases: dict[str, Any]) -> None:
    """One row per tracked database: where its bad writes ended, counted over the whole run."""
    table = Table(title="Bad writes (whole run)", title_justify="left")
    columns = ("database", "written", "caught by layer", "lost", "stored", "found",
               "at rest", "detect p99 s", "recon load")  # fmt: skip
    for col in columns:
        table.add_column(col, justify="left" if col in ("database", "caught by layer") else "right")
    for name, d in databases.items():
        caught = ", ".join(f"{k} {v:,}" for k, v in d["caught_by_layer"].items()) or "-"
        load = d.get("reconciliation", {}).get("load_share")
        table.add_row(
            name, f"{d['written_corrupt']:,}", caught, f"{d['lost']:,}",
            f"{d['stored_corrupt']:,}", f"{d['found_by_reconciliation']:,}", f"{d['at_rest']:,}",
            _fmt(d["time_to_detect_s"]["p99"]), "-" if load is None else f"{100 * load:.1f}%",
        )  # fmt: skip
    console.print(table)


def _print_contention(console: Console, summary: dict[str, Any]) -> None:
    """One row per contended database, then the backoff study's two numbers (whole run)."""
    table = Table(title="Contended writes (whole run)", title_justify="left")
    columns = ("database", "keys", "window ms", "writes", "committed", "conflicts", "failed",
               "last commit s")  # fmt: skip
    for col in columns:
        table.add_column(col, justify="left" if col == "database" else "right")
    for name, node in summary["nodes"].items():
        d = node.get("contention")
        if d is not None:
            table.add_row(
                name, f"{d['keys']:,}", _fmt(d["conflict_window_s"] * 1000), f"{d['writes']:,}",
                f"{d['committed']:,}", f"{d['conflicts']:,}", f"{d['failed']:,}",
                _fmt(d["last_commit_s"], 2),
            )  # fmt: skip
    console.print(table)
    c = summary["contention"]
    done = c["completion_s"]
    if done is None:
        when = "some clients were still writing at the end of the run"
    else:
        how = "every request succeeded" if c["all_succeeded"] else "some gave up"
        when = f"the last client was done at {done:,.2f} s ({how})"
    console.print(f"calls: {c['calls']:,} write attempts at contended databases; {when}",
                  highlight=False)  # fmt: skip


def _print_messages(console: Console, flows: dict[str, Any]) -> None:
    """One row per flow (producer -> queue -> consumer group), counted over the whole run.

    ``dead``: dead-lettered; ``dup``: deliveries of an id already delivered; ``twice``:
    duplicates the consumer applied again.
    """
    table = Table(title="Messages (whole run)", title_justify="left", pad_edge=False)
    columns = ("flow", "produced", "delivered", "lost", "dead", "in flight", "dup",
               "twice", "max lag s")  # fmt: skip
    widest = max((len(k) for k in flows), default=4)
    for col in columns:
        if col == "flow":
            table.add_column(col, min_width=min(widest, 60), overflow="fold")
        else:
            table.add_column(col, justify="right")
    for key, f in flows.items():
        table.add_row(
            key, f"{f['produced']:,}", f"{f['delivered']:,}", f"{f['lost']:,}",
            f"{f['dead_lettered']:,}", f"{f['in_flight']:,}", f"{f['duplicates']:,}",
            f"{f['applied_twice']:,}", _fmt(f["max_lag_s"], 3),
        )  # fmt: skip
    console.print(table)
    for key, f in flows.items():
        if f["lost_by"]:
            causes = ", ".join(f"{k} {v:,}" for k, v in f["lost_by"].items())
            console.print(f"lost on {key}: {causes}")


def _pm(metric: dict[str, Any], scale: float = 1.0, digits: int = 1) -> str:
    mean, half = metric["mean"], metric["ci95"]
    if mean is None or mean != mean:
        return "-"
    text = f"{mean * scale:,.{digits}f}"
    return text if half != half else f"{text} ± {half * scale:,.{digits}f}"


_MARKS = {"best": (" ✓", "bold green"), "tied": (" ≈", "yellow")}
"""How a cell is marked: the clear best of its column, or tied for best (the intervals overlap).
The sign survives a pipe, where the colour does not."""


def _cell(row: dict[str, Any], key: str, scale: float, digits: int, best: Any) -> Text:
    mark = best.mark(row["variant"]) if best is not None else ""
    sign, style = _MARKS.get(mark, ("", ""))
    cut = censored_text(row["metrics"][key], key, digits)
    return Text((cut or _pm(row["metrics"][key], scale, digits)) + sign, style=style)


def print_comparison(c: Any, rows: list[dict[str, Any]], judgement: Any = None) -> None:
    """The comparison's tables, the best of each column marked, and the verdict under them.

    ``judgement``: ``simulator.compare.judge(c, rows)`` (a ``Judgement``); without it the
    tables are printed unmarked.
    """
    console = Console(width=None if Console().is_terminal else 160)
    best = judgement.best if judgement is not None else {}
    node = rows[0]["hot_node"] if rows else None
    table = Table(
        title=f"{c.scenario.name}: mean ± 95% CI over {c.replications} runs per variant "
        f"(seeds {c.base_seed}..{c.base_seed + c.replications - 1})",
        title_justify="left",
    )
    columns = [("success % ↑", "success_rate", 100, 2), ("goodput /s ↑", "goodput_per_s", 1, 1),
               ("p50 ms ↓", "p50_ms", 1, 1), ("p99 ms ↓", "p99_ms", 1, 1),
               (f"peak load /s at {node} ↓", "peak_load_per_s", 1, 0),
               ("attempts ↓", "total_attempts", 1, 0)]  # fmt: skip
    if rows and "contention_calls" in rows[0]["metrics"]:
        columns += [("calls ↓", "contention_calls", 1, 0),
                    ("completion s ↓", "completion_s", 1, 2)]  # fmt: skip
    if rows and "messages_lost" in rows[0]["metrics"]:
        columns += [("lost msgs ↓", "messages_lost", 1, 0),
                    ("applied twice ↓", "messages_applied_twice", 1, 0),
                    ("max lag s ↓", "max_lag_s", 1, 2)]  # fmt: skip
    table.add_column("variant")
    for title, *_ in columns:
        table.add_column(title, justify="right")
    for r in rows:
        table.add_row(r["variant"], *(_cell(r, k, s, d, best.get(k)) for _, k, s, d in columns))
    console.print(table)
    edges = Table(title="Amplification (attempts per request) per call ↓", title_justify="left")
    edges.add_column("variant")
    names = [k for k in rows[0]["metrics"] if k.startswith("amplification:")] if rows else []
    for name in names:
        edges.add_column(name.removeprefix("amplification:"), justify="right")
    for r in rows:
        edges.add_row(r["variant"], *(_cell(r, n, 1, 2, best.get(n)) for n in names))
    console.print(edges)
    if judgement is None:
        return
    console.print(
        "↑ higher is better, ↓ lower; ✓ best in its column (its 95% interval clears every "
        "other's), ≈ tied for best (the intervals overlap)",
        style="dim", highlight=False,
    )  # fmt: skip
    console.print(Text("Verdict: ", style="bold") + Text(judgement.verdict), highlight=False)
    for finding in judgement.findings:
        console.print(Text("· ") + Text(finding), highlight=False)
