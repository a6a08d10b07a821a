"""Blast radius: for each fault, what it degraded, against a paired run without it.

This is an experiment, like ``compare`` and ``sweep``: it runs one extra simulation
per fault. ``analysis`` only reads what finished runs recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.analysis import acting_window, compare_runs
from simulator.engine import Simulation
from simulator.recovery import fault_recovery
from simulator.scenario import Fault, Scenario

__all__ = ["blast_radius"]


def blast_radius(
    scenario: Scenario,
    seed: int,
    faulty: Simulation,
    progress: Callable[[int, int, Fault], None] | None = None,
) -> list[dict[str, Any]]:
    """For each fault: the nodes and routes it degraded, against a paired run without it,
    and how long after its end those routes answered as well as the paired run again
    (``recovery_s``; None: not before the run ended).

    Common random numbers make the pair differ only by the fault, so a route that
    fails more in the faulty run failed because of it. ``progress(i, n, fault)`` is
    called as the i-th of n paired runs starts (each is a whole run).
    """
    out = []
    for index, fault in enumerate(scenario.faults):
        if progress is not None:
            progress(index + 1, len(scenario.faults), fault)
        rest = [f for i, f in enumerate(scenario.faults) if i != index]
        baseline = Simulation(scenario.model_copy(update={"faults": rest}), seed=seed)
        baseline.run_to_end()
        start, end = acting_window(faulty, fault)
        found = compare_runs(faulty, baseline, start)
        hit_nodes = [n for n, v in found["nodes"].items() if v["degraded"]]
        hit_routes = [r for r, v in found["routes"].items() if v["degraded"]]
        spared = [r for r, v in found["routes"].items() if not v["degraded"]]
        label = f"{fault.kind} on {fault.target} at {start:g}s"
        flows = found.get("flows", {})
        hit_flows = [k for k, v in flows.items() if v["degraded"]]
        harm = [_flow_harm(k, flows[k]) for k in hit_flows]
        stores = found.get("databases", {})
        hit_stores = [k for k, v in stores.items() if v["degraded"]]
        harm += [_store_harm(k, stores[k]) for k in hit_stores]
        text = ", ".join(hit_nodes + [f"route {r}" for r in hit_routes] + harm) or (
            "nothing degraded"
        )
        if spared and hit_routes:
            text += "; " + ", ".join(spared) + " unaffected"
        recovery_s, recovered_at_s = fault_recovery(faulty, baseline, hit_routes, end)
        entry = {
            "fault": label, "index": index, "start_s": start, "end_s": end,
            "nodes": hit_nodes, "routes": hit_routes, "summary": text, "detail": found,
            "recovery_s": recovery_s, "recovered_at_s": recovered_at_s,
        }  # fmt: skip
        if "flows" in found:
            entry["flows"] = hit_flows
        if "databases" in found:
            entry["databases"] = hit_stores
        out.append(entry)
    return out


def _store_harm(name: str, found: dict[str, Any]) -> str:
    """'db: 258 stored corrupt (14 still at rest)'."""
    return (
        f"{name}: {found['extra_stored_corrupt']} stored corrupt "
        f"({found['extra_at_rest']} still at rest)"
    )


def _flow_harm(key: str, found: dict[str, Any]) -> str:
    """'flow a->bus.q->c: 12 lost, 3 applied twice'."""
    parts = [
        f"{found[field]} {words}"
        for field, words in (
            ("extra_lost", "lost"),
            ("extra_dead_lettered", "dead-lettered"),
            ("extra_applied_twice", "applied twice"),
        )
        if found[field] > 0
    ]
    return f"flow {key}: " + (", ".join(parts) or "slower")
