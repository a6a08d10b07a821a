"""The failure-mode analysis report: one FMEA row per injected fault, filled with measurements.

The columns follow the catalogue's FMEA template (failure mode, effect, blast
radius, detection, mitigation in place, residual impact); every number in it
comes from the run's summary (``analysis.summarize`` with its blast radius and
alerts), none is typed in.
"""

from __future__ import annotations

import html
from typing import Any

from simulator.scenario import Scenario

__all__ = ["report_html", "report_markdown"]

GUARDS = ("timeout", "retry", "breaker", "bulkhead", "pool", "fallback", "adaptive_throttling")


def _guards_towards(scenario: Scenario, target: str) -> list[str]:
    """The policies on calls into ``target``: what stands between it and its callers."""
    found = []
    for name, node in scenario.nodes.items():
        for call in node.calls:
            if call.to != target:
                continue
            on = [g for g in GUARDS if getattr(call, g, None) not in (None, False)]
            found.append(f"{name}→{target}: {', '.join(on) if on else 'none'}")
    return found


def _effect(entry: dict[str, Any]) -> str:
    parts = []
    for route, d in entry["detail"]["routes"].items():
        if not d["degraded"]:
            continue
        bits = []
        if d["extra_failure_share"] > 0:
            bits.append(f"{100 * d['extra_failure_share']:.1f}% more failures")
        if d.get("extra_fallback_share", 0) > 0:
            bits.append(f"{100 * d['extra_fallback_share']:.1f}% served by fallback")
        if d["p99_ratio"] > 1.05:
            bits.append(f"p99 ×{d['p99_ratio']:.1f}")
        parts.append(f"{route}: {', '.join(bits) or 'degraded'}")
    return "; ".join(parts) or "no entry route degraded"


def _detection(summary: dict[str, Any], entry: dict[str, Any]) -> str:
    """Which alert fired first while the fault could be its cause (``faults[i].detected_by``)."""
    faults = summary.get("faults", [])
    fault = faults[entry["index"]] if entry["index"] < len(faults) else {}
    first = fault.get("detected_by")
    if first is None:
        return "no alert fired" if entry["routes"] or entry["nodes"] else "nothing to detect"
    return f"{first['rule']} on {first['target']} after {fault['time_to_detect_s']:g} s"


def rows(scenario: Scenario, summary: dict[str, Any]) -> list[dict[str, str]]:
    """One FMEA row per fault, as plain strings."""
    out = []
    for entry in summary.get("blast_radius", []):
        fault = scenario.faults[entry["index"]]
        start, end = entry["start_s"], entry["end_s"]
        severity = max(
            [v["severity"] for v in entry["detail"]["routes"].values()] + [0.0], default=0.0
        )
        out.append({
            "failure mode": f"{fault.kind} on {fault.target} ({start:g}–{end:g} s)",
            "effect": _effect(entry),
            "blast radius": ", ".join(entry["nodes"]) or "none",
            "detection": _detection(summary, entry),
            "mitigation in place": "; ".join(_guards_towards(scenario, fault.target)) or "—",
            "severity": f"{10 * severity:.0f}/10",
        })  # fmt: skip
    return out


def report_markdown(scenario: Scenario, summary: dict[str, Any]) -> str:
    """The report as Markdown: a headline table, then the FMEA table."""
    overall = summary["overall"]
    lines = [
        f"# Failure-mode analysis: {scenario.name}",
        "",
        f"Seed {summary['seed']}, {summary['duration_s']:g} s simulated "
        f"(warm-up {summary['warmup_s']:g} s excluded).",
        "",
        "| route | requests | success | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for name, r in [*summary["routes"].items(), ("overall", overall)]:
        success = "-" if r["success_rate"] is None else f"{100 * r['success_rate']:.2f}%"
        p99 = r["latency_ms"]["p99"]
        lines.append(f"| {name} | {r['requests']:,} | {success} | {p99 or 0:,.1f} |")
    table = rows(scenario, summary)
    lines += ["", "## Failure modes", ""]
    if not table:
        lines.append("No faults were injected.")
    else:
        headers = list(table[0])
        lines.append("| " + " | ".join(headers) + " |")
        lines.append("|" + "---|" * len(headers))
        for row in table:
            lines.append("| " + " | ".join(row[h].replace("|", "/") for h in headers) + " |")
    return "\n".join(lines) + "\n"


def report_html(scenario: Scenario, summary: dict[str, Any]) -> str:
    """The same report as a self-contained HTML page."""
    table = rows(scenario, summary)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in (table[0] if table else []))
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row.values()) + "</tr>"
        for row in table
    )
    style = (
        "body{font-family:sans-serif;margin:2em;color:#1d3557}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
        "vertical-align:top;text-align:left}th{background:#f1f3f5}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(scenario.name)}"
        f"</title><style>{style}</style></head><body><h1>Failure-mode analysis: "
        f"{html.escape(scenario.name)}</h1><p>Seed {summary['seed']}, "
        f"{summary['duration_s']:g} s simulated.</p><table><tr>{head}</tr>{body}</table>"
        "</body></html>\n"
    )
