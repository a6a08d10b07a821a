"""The failure-mode analysis report (FMEA), filled from one run's measurements.

Three sections, the catalogue's template:

* **Failure modes**: one row per injected fault: the component and the mode, the
  effect measured against the paired baseline (requests lost, p99, blast radius),
  the probability from the fault's ``frequency`` (blank without one), the
  severity, the detection (the first alert that fired, after how long), the
  mitigation in place on the calls into the component, and the recovery time.
  Severity, occurrence and detection are rated 1-10 as in an AIAG-style FMEA and
  multiplied into a risk priority number (RPN) that ranks the rows.
* **Dependencies**: each call edge and publish, with what it did in this run
  (failures by outcome, retries and amplification, breaker opens and time open,
  rejections) and its fallback (present, and how often it served).
* **Recovery procedures observed**: restarts (crash faults, OOM kills, liveness
  kills) with their boot, cache warm-ups, breaker fallbacks (open to closed again),
  rollbacks (JSON ``deploys``, when the scenario has deploys) and consumer
  redeliveries, each with when it happened and how long it took.

Every number comes from ``analysis.summarize`` (with the blast radius) or, for the
recovery procedures and the plots, from the finished ``Simulation``; none is typed in.
Keys other parts add to the JSON (``faults[i].detected_by``/``time_to_detect_s``,
``blast_radius[i].recovery_s``, ``deploys``) are read when present and shown as
"—" when absent.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from simulator.analysis import DEGRADED_FAILURE_SHARE
from simulator.scenario import Scenario
from simulator.scenario_deploys import deploy_of_fault
from simulator.scenario_faults import frequency_per_year
from simulator.scenario_nodes import call_edge_names, publish_edge_names

if TYPE_CHECKING:  # the report reads a finished run; it never builds one
    from simulator.engine import Simulation

__all__ = [
    "dependency_rows",
    "detection_rating",
    "fmea_rows",
    "occurrence_rating",
    "procedure_rows",
    "recoveries_observed",
    "report_html",
    "report_markdown",
    "report_svg",
    "severity_rating",
]

GUARDS = ("timeout", "retry", "breaker", "bulkhead", "pool", "fallback", "adaptive_throttling")
DASH = "—"
MAX_EPISODES = 12  # breaker episodes listed per edge; the rest are counted in one line

# Occurrence (O): occurrences per year at or above each bound, the rating it earns.
OCCURRENCE_SCALE = [
    (365.0, 10, "daily or more"),
    (52.0, 9, "weekly"),
    (12.0, 8, "monthly"),
    (4.0, 7, "quarterly"),
    (1.0, 6, "yearly"),
    (0.5, 5, "every two years"),
    (0.2, 4, "every five years"),
    (0.1, 3, "every ten years"),
    (0.01, 2, "every hundred years"),
    (0.0, 1, "rarer"),
]
# Detection (D): time to detect at or below each bound (seconds), the rating it earns.
DETECTION_SCALE = [
    (30.0, 2, "within 30 s"),
    (60.0, 3, "within 1 min"),
    (120.0, 4, "within 2 min"),
    (300.0, 5, "within 5 min"),
    (900.0, 6, "within 15 min"),
    (3600.0, 7, "within 1 h"),
    (math.inf, 8, "later"),
]
UNDETECTED = 10
DATA_HARM_SEVERITY = 8  # a message lost or a corrupt record stored: harm no retry undoes

SCALES_TEXT = (
    "**How to read the ratings** (1 = best, 10 = worst, as in an AIAG-style FMEA). "
    "**S**everity is measured: 1 + 9 × the worst route's degradation against the paired "
    "baseline run without the fault, where 20% more failed requests, 50% more answered by "
    "fallback or a p99 ten times the baseline's each count as the full 9; a message lost or "
    "dead-lettered, applied twice, or a corrupt record stored rates at least "
    f"{DATA_HARM_SEVERITY}. "
    "**O**ccurrence comes from the fault's `frequency:` (e.g. `2/year`): "
    + ", ".join(f"{rating} {text}" for _bound, rating, text in OCCURRENCE_SCALE)
    + "; blank when the scenario gives none (fill it in). **D**etection is measured: the "
    "first alert that fired from the fault's start: "
    + ", ".join(f"{rating} {text}" for _bound, rating, text in DETECTION_SCALE)
    + f", {UNDETECTED} if no alert fired. **RPN** = S × O × D (1–1000) ranks the rows; "
    "rows without an occurrence follow, ranked by S × D."
)


# -- ratings ---------------------------------------------------------------------------------


def severity_rating(entry: dict[str, Any]) -> int:
    """S, 1-10, from a blast-radius entry: the worst route's measured degradation."""
    routes = entry["detail"]["routes"].values()
    worst = max([float(r["severity"]) for r in routes] + [0.0])
    rating = 1 + round(9 * min(1.0, worst))
    if _data_harm(entry):
        rating = max(rating, DATA_HARM_SEVERITY)
    elif rating == 1 and entry["nodes"]:
        rating = 2  # a node got worse, no user saw it: the lowest harm above none
    return rating


def _data_harm(entry: dict[str, Any]) -> bool:
    detail = entry["detail"]
    flows = detail.get("flows", {}).values()
    harmed = any(
        f["extra_lost"] > 0 or f["extra_dead_lettered"] > 0 or f["extra_applied_twice"] > 0
        for f in flows
    )
    return harmed or any(d["degraded"] for d in detail.get("databases", {}).values())


def occurrence_rating(frequency: str | None) -> int | None:
    """O, 1-10, from a fault's ``frequency`` ("2/year"); None without one."""
    if frequency is None:
        return None
    per_year = frequency_per_year(frequency)
    return next(rating for bound, rating, _ in OCCURRENCE_SCALE if per_year >= bound)


def detection_rating(fault: dict[str, Any]) -> int | None:
    """D, 1-10, from a JSON ``faults`` entry's ``time_to_detect_s``; None before alerts exist."""
    if "time_to_detect_s" not in fault:
        return None
    delay = fault["time_to_detect_s"]
    if delay is None:
        return UNDETECTED
    return next(rating for bound, rating, _ in DETECTION_SCALE if delay <= bound)


# -- failure modes ---------------------------------------------------------------------------


def _guards_towards(scenario: Scenario, target: str, edges: dict[str, Any]) -> list[str]:
    """The policies on the calls into ``target``, and how often a fallback served.

    A client (a surge's target) has no calls into it: what guards the rest of the
    system from it are the policies on every call its requests go on to make.
    """
    node = scenario.nodes.get(target)
    downstream = node is not None and node.kind == "client"
    reach = _reachable(scenario, target) if downstream else {target}
    found = []
    for name, caller in scenario.nodes.items():
        for call, edge in zip(caller.calls, call_edge_names(name, caller.calls), strict=True):
            if (name not in reach) if downstream else (call.to != target):
                continue
            on = [g for g in GUARDS if getattr(call, g, None) not in (None, False)]
            text = f"{edge.replace('->', '→')}: {', '.join(on) if on else 'none'}"
            if call.fallback is not None:
                text += f" (fallback served {edges.get(edge, {}).get('fallbacks', 0):,})"
            found.append(text)
    return found


def _rollback_guard(scenario: Scenario, fault: Any) -> list[str]:
    """A bad version's first line of defence: its deploy's automatic rollback, or none."""
    if fault.kind != "bad_deploy":
        return []
    index = deploy_of_fault(scenario, fault)
    if index is None:
        return []
    deploy = scenario.deploys[index]
    rollback = deploy.rollback
    if rollback is None:
        return [f"{deploy.label()}: no automatic rollback"]
    rules = ", ".join(rollback.alerts) if rollback.alerts else f"{rollback.severity} alerts"
    return [f"{deploy.label()}: automatic rollback on {rules} (watch {rollback.watch:g} s)"]


def not_started(scenario: Scenario, summary: dict[str, Any]) -> list[str]:
    """Faults that start after the run ends (a shorter ``--duration``): named, not rated."""
    end = summary["duration_s"]
    return [
        f"{f.label()} on {f.target} starts at {f.window(end)[0]:g} s, after the run's end"
        for f in scenario.faults
        if f.window(end)[0] >= end
    ]


def _reachable(scenario: Scenario, start: str) -> set[str]:
    """The nodes a request from ``start`` can reach through calls (``start`` included)."""
    seen, todo = {start}, [start]
    while todo:
        node = scenario.nodes.get(todo.pop())
        for call in node.calls if node is not None else ():
            if call.to not in seen:
                seen.add(call.to)
                todo.append(call.to)
    return seen


def _effect(entry: dict[str, Any]) -> str:
    parts = []
    for route, d in entry["detail"]["routes"].items():
        if not d["degraded"]:
            lost = d.get("extra_failed") or 0
            if lost > 0:  # harm too small to count as degraded is still harm: say it
                bar = f"{DEGRADED_FAILURE_SHARE:.0%}"
                parts.append(f"{route}: {lost:,} requests lost (under the {bar} bar for degraded)")
            continue
        bits = []
        if d["extra_failure_share"] > 0:
            lost = d.get("extra_failed")
            count = f"{lost:,} requests lost, " if lost is not None else ""
            bits.append(f"{count}{100 * d['extra_failure_share']:.1f}% more failures")
        if d.get("extra_fallback_share", 0) > 0:
            bits.append(f"{100 * d['extra_fallback_share']:.1f}% served by fallback")
        if d["p99_ratio"] > 1.05:
            bits.append(f"p99 ×{d['p99_ratio']:.1f}")
        parts.append(f"{route}: {', '.join(bits) or 'degraded'}")
    for key, f in entry["detail"].get("flows", {}).items():
        if f["degraded"]:
            bits = [
                f"{f[k]:,} {k.removeprefix('extra_').replace('_', ' ')}"
                for k in ("extra_lost", "extra_dead_lettered", "extra_applied_twice")
                if f[k]
            ]
            parts.append(f"messages {key}: {', '.join(bits) or 'lag grew'}")  # fmt: skip
    for name, d in entry["detail"].get("databases", {}).items():
        if d["degraded"]:
            parts.append(f"{name}: {d['extra_stored_corrupt']:,} corrupt records stored")
    return "; ".join(parts) or "no entry route degraded"


def _detection(fault: dict[str, Any]) -> str:
    if "detected_by" not in fault:
        return DASH
    found = fault["detected_by"]
    if found is None:
        return "no alert fired"
    delay = fault.get("time_to_detect_s")
    after = f" after {delay:g} s" if delay is not None else ""
    return f"{found['rule']} on {found['target']}{after} (fired at {found['fired_s']:g} s)"


def _recovery(entry: dict[str, Any]) -> str:
    if "recovery_s" not in entry:
        return DASH
    seconds = entry["recovery_s"]
    if seconds is None:
        return "did not recover before the end"
    if seconds == 0:
        return "back by the fault's end"
    return f"{seconds:g} s after the fault ended"


def fmea_rows(scenario: Scenario, summary: dict[str, Any]) -> list[dict[str, str]]:
    """One FMEA row per fault, ranked by RPN (then S × D), as plain strings."""
    ranked = []
    faults = summary.get("faults", [])
    edges = summary.get("edges", {})
    for entry in summary.get("blast_radius", []):
        if entry["start_s"] >= summary["duration_s"]:
            continue  # never started (a shorter --duration): nothing to rate; see not_started
        fault = scenario.faults[entry["index"]]
        measured = faults[entry["index"]] if entry["index"] < len(faults) else {}
        node = scenario.nodes.get(fault.target)
        s = severity_rating(entry)
        o = occurrence_rating(fault.frequency)
        d = detection_rating(measured)
        rpn = s * o * d if o is not None and d is not None else None
        row = {
            "component": f"{fault.target} ({node.kind})" if node is not None else fault.target,
            "failure mode": f"{fault.label()} ({entry['start_s']:g}–{entry['end_s']:g} s)",
            "effect": _effect(entry),
            "blast radius": ", ".join(entry["nodes"]) or "none",
            "probability": fault.frequency or "",
            "S": str(s),
            "O": "" if o is None else str(o),
            "D": DASH if d is None else str(d),
            "RPN": "" if rpn is None else str(rpn),
            "detection": _detection(measured),
            "mitigation in place": "; ".join(
                _rollback_guard(scenario, fault) + _guards_towards(scenario, fault.target, edges)
            )
            or "none",
            "recovery": _recovery(entry),
        }
        # RPN first; without O (or, until alerts exist, without D) what is known ranks.
        key = (o is None, -s * (o or 1) * (d or 1), entry["index"])
        ranked.append((key, row))
    return [row for _key, row in sorted(ranked, key=lambda kr: kr[0])]


# -- dependencies ----------------------------------------------------------------------------


def _edge_specs(scenario: Scenario) -> dict[str, tuple[str, Any, bool]]:
    """Edge name -> (target node, call or publish spec, is a publish)."""
    out = {}
    for name, node in scenario.nodes.items():
        for call, edge in zip(node.calls, call_edge_names(name, node.calls), strict=True):
            out[edge] = (call.to, call, False)
        publishes = node.publishes
        for pub, edge in zip(publishes, publish_edge_names(name, publishes), strict=True):
            out[edge] = (pub.to, pub, True)
    return out


def _counts(items: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in items if v) or "none"


def dependency_rows(scenario: Scenario, summary: dict[str, Any]) -> list[dict[str, str]]:
    """One row per call edge and publish: what it did in this run, and its fallback."""
    specs = _edge_specs(scenario)
    out = []
    for edge, e in summary.get("edges", {}).items():
        target, spec, publish = specs.get(edge, (edge.split("->")[-1], None, False))
        node = scenario.nodes.get(target)
        kind: str = node.kind if node is not None else "?"
        if publish:
            kind += f" (publish to {spec.queue})"
        failed = [(k, v) for k, v in e["outcomes"].items() if k not in ("ok", "fallback")]
        amp = e["amplification"]
        retries = f"{e['retries']:,}" + (f" (×{amp:.2f})" if amp is not None else "")
        breaker = DASH
        if "breaker" in e:
            b = e["breaker"]
            breaker = (f"opened {b['opens']}×, open {b['time_open_s']:.1f} s, "
                       f"{b['rejected']:,} calls refused")  # fmt: skip
        rejected = []
        if "bulkhead" in e:
            rejected.append(("bulkhead full", e["bulkhead"]["rejected"]))
        if "pool" in e:
            rejected += [("pool full", e["pool"]["rejected"]),
                         ("pool wait timed out", e["pool"]["acquire_timeouts"])]  # fmt: skip
        has_fallback = spec is not None and getattr(spec, "fallback", None) is not None
        out.append({
            "dependency": edge.replace("->", " → "),
            "target kind": kind,
            "calls": f"{e['requests']:,}",
            "failed (by outcome)": _counts(failed),
            "retries (amplification)": retries,
            "breaker": breaker,
            "rejections": _counts(rejected) if rejected else DASH,
            "fallback": f"yes: served {e['fallbacks']:,}" if has_fallback else "none",
        })  # fmt: skip
    return out


# -- recovery procedures ---------------------------------------------------------------------

RESTART_WHY = {
    "crash": "restart after a crash",
    "oom": "restart after an OOM kill",
    "liveness": "restart by the liveness probe",
}


def recoveries_observed(sim: Simulation) -> list[dict[str, Any]]:
    """What the run did to recover, read from the engine's books, in time order.

    Each entry: ``procedure``, ``where``, ``started_s``, ``took_s`` (None: not over by
    the end of the run) and ``detail``. Restarts come from each server's outages,
    cache warm-ups from a cache's restarts, breaker fallbacks from its transitions.
    """
    end = sim.now
    out: list[dict[str, Any]] = []
    for name, server in sim.servers.items():
        for down, back, why in server.outages:
            out.append({
                "procedure": RESTART_WHY.get(why, f"restart after {why}"),
                "where": name,
                "started_s": down,
                "took_s": None if back is None else back - down,
                "detail": f"down {_seconds(down, back, end)}, boot time {server.boot_time:g} s",
            })  # fmt: skip
            warm_up = getattr(server, "warm_up", None)
            if back is not None and warm_up:
                done = back + warm_up
                out.append({
                    "procedure": "cache warm-up",
                    "where": name,
                    "started_s": back,
                    "took_s": warm_up if done <= end else None,
                    "detail": f"hit ratio back from 0 over {warm_up:g} s; the origin took "
                              "the misses",
                })  # fmt: skip
    for edge, site in sim.sites.items():
        if site.breaker is not None:
            out += _breaker_episodes(edge, site.breaker.transitions, end)
    return sorted(out, key=lambda r: (r["started_s"], r["where"], r["procedure"]))


def _seconds(start: float, stop: float | None, end: float) -> str:
    return f"{stop - start:.1f} s" if stop is not None else f"{end - start:.1f} s, to the end"


def _breaker_episodes(
    edge: str, transitions: list[tuple[float, str, str]], end: float
) -> list[dict[str, Any]]:
    """Each stretch from a breaker's opening to its closing again, with its trials."""
    episodes: list[dict[str, Any]] = []
    opened, trials, failed = None, 0, 0
    for at, _was, to in transitions:
        if to == "open" and opened is None:
            opened, trials, failed = at, 0, 0
        elif to == "half_open":
            trials += 1
        elif to == "open":
            failed += 1
        elif to == "closed" and opened is not None:
            episodes.append(_episode(edge, opened, at, trials, failed))
            opened = None
    if opened is not None:
        episodes.append(_episode(edge, opened, None, trials, failed))
    if len(episodes) > MAX_EPISODES:
        rest = episodes[MAX_EPISODES:]
        episodes = episodes[:MAX_EPISODES]
        episodes.append({
            "procedure": "breaker fallback",
            "where": edge,
            "started_s": rest[0]["started_s"],
            "took_s": None if rest[-1]["took_s"] is None else
            sum(r["took_s"] for r in rest),
            "detail": f"{len(rest)} more openings (total time open to closed)",
        })  # fmt: skip
    return episodes


def _episode(edge: str, opened: float, closed: float | None, trials: int, failed: int) -> dict:
    return {
        "procedure": "breaker fallback",
        "where": edge,
        "started_s": opened,
        "took_s": None if closed is None else closed - opened,
        "detail": f"open → half-open {trials}×, {failed} trial(s) failed"
        + ("" if closed is not None else "; still not closed at the end"),
    }


def _from_summary(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Rollbacks (JSON ``deploys``) and consumer redeliveries (JSON ``messages``)."""
    out: list[dict[str, Any]] = []
    for d in summary.get("deploys", []):
        if not d.get("rolled_back"):
            continue
        delay = d.get("time_to_rollback_s")
        alert = d.get("rollback_alert")
        why = f"{alert['rule']} on {alert['target']}" if alert else "an alert"
        started = d["started_s"] + (delay or 0.0)
        ended = d.get("rollback_completed_s")  # the old version serves everything again
        took = None if ended is None else round(ended - started, 6)
        out.append({
            "procedure": f"rollback ({d.get('strategy', 'deploy')})",
            "where": d["target"],
            "started_s": started,
            "took_s": took,
            "took": DASH if took is None else f"{took:g} s",
            "detail": f"{why} fired {delay:g} s into the deploy; "
            f"{d.get('requests_failed', 0):,} requests failed during it"
            if delay is not None else f"triggered by {why}",
        })  # fmt: skip
    for key, flow in summary.get("messages", {}).items():
        again = flow.get("duplicates", 0)
        dead = flow.get("dead_lettered", 0)
        if not again and not dead:
            continue
        lag = flow.get("max_lag_s")
        out.append({
            "procedure": "consumer redeliveries",
            "where": key.replace("->", " → "),
            "started_s": None,
            "took_s": None,
            "detail": f"{again:,} deliveries of an id already delivered "
            f"({flow.get('applied_twice', 0):,} applied twice), {dead:,} dead-lettered"
            + (f"; oldest message waited up to {lag:g} s" if lag is not None else ""),
        })  # fmt: skip
    return out


def procedure_rows(
    summary: dict[str, Any], observed: list[dict[str, Any]] | None
) -> list[dict[str, str]]:
    """The recovery procedures as table rows: the run's (when given) and the summary's."""
    rows = []
    found = [*(observed or []), *_from_summary(summary)]
    found.sort(key=lambda r: (r["started_s"] is None, r["started_s"] or 0.0))  # stable
    for r in found:
        took = r["took_s"]
        rows.append({
            "procedure": r["procedure"],
            "where": r["where"].replace("->", " → "),
            "at (s)": DASH if r["started_s"] is None else f"{r['started_s']:.1f}",
            "took": r.get("took") or (DASH if r["started_s"] is None else
                    "not over by the end" if took is None else f"{took:.1f} s"),
            "detail": r["detail"],
        })  # fmt: skip
    return rows


# -- the documents ---------------------------------------------------------------------------


def _headline(summary: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for name, r in [*summary["routes"].items(), ("overall", summary["overall"])]:
        success = DASH if r["success_rate"] is None else f"{100 * r['success_rate']:.2f}%"
        p99 = r["latency_ms"]["p99"]
        out.append({"route": name, "requests": f"{r['requests']:,}", "success": success,
                    "p99 ms": f"{p99 or 0:,.1f}"})  # fmt: skip
    return out


def _sections(
    scenario: Scenario, summary: dict[str, Any], observed: list[dict[str, Any]] | None
) -> list[tuple[str, list[dict[str, str]], str, str]]:
    """(title, rows, text before, text when empty) of each section."""
    faults_note = (
        "No faults were injected." if not scenario.faults
        else "No blast radius was measured (run without the paired baselines)."
    )  # fmt: skip
    late = not_started(scenario, summary)
    scales = SCALES_TEXT + (
        "\n\nNot rated, never started: " + "; ".join(late) + "." if late else ""
    )
    procedures_note = (
        "Restarts, warm-ups and breaker episodes are read from the run itself."
        if observed is not None
        else "Only rollbacks and redeliveries are listed: the run itself was not given."
    )
    return [
        ("Runs at a glance", _headline(summary), "", ""),
        ("Failure modes", fmea_rows(scenario, summary), scales, faults_note),
        ("Dependencies", dependency_rows(scenario, summary),
         "Every call and publish in this run, from the warm-up on: how it failed, what "
         "guarded it, and whether a fallback answered instead.", "No calls."),
        ("Recovery procedures observed", procedure_rows(summary, observed), procedures_note,
         "Nothing had to recover: no restart, breaker opening, rollback or redelivery."),
    ]  # fmt: skip


def _intro(scenario: Scenario, summary: dict[str, Any]) -> str:
    return (
        f"Seed {summary['seed']}, {summary['duration_s']:g} s simulated "
        f"(warm-up {summary['warmup_s']:g} s excluded from the counts); "
        f"{len(scenario.faults)} fault(s) injected, each measured against a paired run "
        "without it (same seed)."
    )


def _md_table(rows: list[dict[str, str]]) -> list[str]:
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = (row[h].replace("|", "/").replace("\n", " ") for h in headers)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def report_markdown(
    scenario: Scenario, summary: dict[str, Any], sim: Simulation | None = None
) -> str:
    """The report as Markdown: the runs at a glance, failure modes, dependencies, recoveries."""
    observed = recoveries_observed(sim) if sim is not None else None
    lines = [f"# Failure-mode analysis: {_md_text(scenario.name)}", "", _intro(scenario, summary)]
    for title, rows, before, empty in _sections(scenario, summary, observed):
        lines += ["", f"## {title}", ""]
        if before:
            lines += [before, ""]
        lines += _md_table(rows) if rows else [empty]
    return "\n".join(lines) + "\n"


def _md_text(text: str) -> str:
    return text.replace("\n", " ")


def report_svg(sim: Simulation, summary: dict[str, Any]) -> str:
    """The run's latency and throughput/error plots as one inline SVG element (no header)."""
    import matplotlib
    from matplotlib.figure import Figure

    from simulator.plots import draw_latency, draw_throughput
    from simulator.timeseries import time_series

    columns = time_series(sim)
    figure = Figure(figsize=(10, 6.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    draw_latency(top, columns, summary["faults"])
    draw_throughput(bottom, columns, summary["faults"])
    bottom.set_xlabel("simulated time (s)")
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "murphy"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:75em;color:#1d3557;
line-height:1.4;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:2px solid #e9ecef}
table{border-collapse:collapse;width:100%;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ced4da;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#f1f3f5}td.n{text-align:right;white-space:nowrap}
p.note{font-size:.85em;color:#495057}figure{margin:1em 0}figure svg{width:100%;height:auto}
@media print{body{margin:0;max-width:none}tr,figure{page-break-inside:avoid}
h2{page-break-after:avoid}}
"""
NUMERIC = {"requests", "success", "p99 ms", "S", "O", "D", "RPN", "calls", "at (s)", "took"}


def _html_table(rows: list[dict[str, str]]) -> str:
    headers = list(rows[0])
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=n' if h in NUMERIC else ''}>{html.escape(row[h])}</td>" for h in headers
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_note(text: str) -> str:
    """A note with the Markdown emphasis it carries (**bold**, `code`), escaped first."""
    escaped = html.escape(text)
    parts = escaped.split("**")
    escaped = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
    parts = escaped.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def report_html(scenario: Scenario, summary: dict[str, Any], sim: Simulation | None = None) -> str:
    """The same report as one self-contained, printable HTML page, with the run's plots
    inline as SVG when the run is given."""
    observed = recoveries_observed(sim) if sim is not None else None
    name = html.escape(scenario.name)
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Failure-mode analysis: {name}</title><style>{STYLE}</style></head><body>",
        f"<h1>Failure-mode analysis: {name}</h1>",
        f"<p>{html.escape(_intro(scenario, summary))}</p>",
    ]
    if scenario.description:
        parts.append(f"<p class=note>{html.escape(scenario.description)}</p>")
    for title, rows, before, empty in _sections(scenario, summary, observed):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if before:
            parts.append(f"<p class=note>{_html_note(before)}</p>")
        parts.append(_html_table(rows) if rows else f"<p>{html.escape(empty)}</p>")
    if sim is not None:
        parts += [
            "<h2>The run</h2><figure>",
            report_svg(sim, summary),
            "<figcaption class=note>Latency (p50 dashed, p99 solid) and throughput with "
            "failures per route; the shaded bands are the faults.</figcaption></figure>",
        ]
    parts.append("</body></html>\n")
    return "\n".join(parts)
