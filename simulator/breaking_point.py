"""The breaking point: raise the offered load until a service level objective (SLO) breaks.

A *load multiplier* ``m`` scales every client of the scenario: an open-loop
``rate`` becomes ``m x rate``, every point of a ``profile`` is multiplied (the
shape over time is kept), and a closed-loop client gets ``round(m x users)``
users (at least one; think times unchanged, so its offered rate is whatever the
users achieve, measured). The scenario's faults are left out unless asked for:
a ramp is a load test of the healthy system.

Each *probe* (one multiplier) is ``replications`` runs over a sweep executor
(``simulator.sweep.open_executor``); replication ``k`` of every probe uses seed
``base_seed + k``, so with the engine's per-component streams two probes draw
the same arrival and service-time sequences, only spaced by the multiplier
(common random numbers: the measured curve is smooth in ``m``). The SLO is
judged on the mean over the replications; a 95% Student-t interval says how
sure that verdict is.

The search brackets first (``start``, then times ``growth`` until the SLO
breaks, or divided by it until it holds), then bisects the bracket until its
width is below ``tolerance`` (relative). Then a light-load probe (a tenth of the
highest multiplier that held) and a few probes spread below the breaking point
draw the curve and find the knee.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from simulator.compare import mean_ci
from simulator.scenario import Scenario
from simulator.scenario_limits import limit_problems
from simulator.scenario_nodes import call_edge_names
from simulator.units import holds, parse_duration, parse_percent

__all__ = [
    "SLO",
    "Clause",
    "Probe",
    "Ramp",
    "SLOError",
    "find_breaking_point",
    "parse_slo",
    "probe_run",
    "scale_load",
]

LATENCY_METRICS = ("mean", "p50", "p90", "p99", "p999")
METRICS = (*LATENCY_METRICS, "success")
KNEE_FACTOR = 2.0  # the knee: where p99 reaches this many times its light-load value
UTILIZATION_SATURATED = 0.95
REJECTED_SHARE_SATURATED = 0.001
POOL_WAIT_SATURATED_MS = 100.0
MEMORY_SATURATED_PCT = 95.0
MAX_PROBES = 40
MAX_SLO_TEXT = 200

Progress = Callable[[int, int], None]


class SLOError(ValueError):
    """An SLO string that cannot be read; the message says what to write instead."""


@dataclass(frozen=True)
class Clause:
    """One objective: ``metric`` (``p99``, ``mean``, ... in ms; ``success`` a fraction)
    compared with ``threshold`` by ``op``."""

    metric: str
    op: str
    threshold: float
    text: str

    @property
    def latency(self) -> bool:
        return self.metric != "success"

    def holds(self, value: float) -> bool:
        return holds(value, self.op, self.threshold)

    def margin(self, value: float) -> float:
        """How far inside the objective ``value`` is, relative (>= 0 holds; NaN: broken)."""
        if math.isnan(value):
            return -math.inf
        if self.latency:
            return (self.threshold - value) / self.threshold
        room = max(1e-9, 1.0 - self.threshold)
        return (value - self.threshold) / room


@dataclass(frozen=True)
class SLO:
    """Every clause must hold."""

    clauses: tuple[Clause, ...]

    @property
    def text(self) -> str:
        return ",".join(c.text for c in self.clauses)

    def margin(self, values: dict[str, float]) -> float:
        """The worst clause's margin (>= 0: the SLO holds)."""
        return min(c.margin(values[c.metric]) for c in self.clauses)

    def holds(self, values: dict[str, float]) -> bool:
        return all(c.holds(values[c.metric]) for c in self.clauses)

    def pessimistic(self, means: dict[str, float], halves: dict[str, float]) -> dict[str, float]:
        """Each metric moved to the bad end of its confidence interval."""
        return {m: means[m] + (1 if m != "success" else -1) * halves[m] for m in means}

    def optimistic(self, means: dict[str, float], halves: dict[str, float]) -> dict[str, float]:
        return {m: means[m] - (1 if m != "success" else -1) * halves[m] for m in means}


_CLAUSE = re.compile(r"^\s*([a-z0-9]+)\s*(<=|>=|<|>)\s*(\S.*?)\s*$")


def parse_slo(text: str) -> SLO:
    """``"p99<2s,success>99.9%"``: clauses separated by commas.

    Latency metrics (``mean``, ``p50``, ``p90``, ``p99``, ``p999``) take ``<``/``<=`` and a
    duration (``500ms``, ``2s``); ``success`` takes ``>``/``>=`` and a percentage or a fraction.
    """
    if not isinstance(text, str) or not text.strip():
        raise SLOError('an SLO is needed, e.g. "p99<2s,success>99.9%"')
    if len(text) > MAX_SLO_TEXT:
        raise SLOError(f"the SLO is longer than {MAX_SLO_TEXT} characters")
    clauses: list[Clause] = []
    for part in text.split(","):
        match = _CLAUSE.match(part.lower())
        if not match:
            raise SLOError(
                f"cannot read {part.strip()!r}: write METRIC<VALUE or success>PERCENT, "
                'e.g. "p99<2s" or "success>99.9%"'
            )
        metric, op, raw = match.groups()
        if metric not in METRICS:
            raise SLOError(
                f"unknown metric {metric!r} in {part.strip()!r}: use one of {', '.join(METRICS)}"
            )
        if metric == "success":
            if op.startswith("<"):
                raise SLOError(f"{part.strip()!r}: success must be above a floor (success>99%)")
            try:
                value = parse_percent(raw)
            except ValueError as exc:
                raise SLOError(f"{part.strip()!r}: {exc}") from None
            if not 0.0 <= value < 1.0:
                raise SLOError(f"{part.strip()!r}: the success floor must be below 100%")
        else:
            if op.startswith(">"):
                raise SLOError(
                    f"{part.strip()!r}: a latency must stay below a ceiling ({metric}<2s)"
                )
            try:
                value = parse_duration(raw) * 1000.0
            except ValueError as exc:
                raise SLOError(f"{part.strip()!r}: {exc} (a duration: 500ms, 2s)") from None
            if value <= 0:
                raise SLOError(f"{part.strip()!r}: the latency ceiling must be above zero")
        if any(c.metric == metric for c in clauses):
            raise SLOError(f"{metric} appears twice in the SLO: keep one clause per metric")
        clauses.append(Clause(metric, op, value, f"{metric}{op}{raw.strip()}"))
    return SLO(tuple(clauses))


# -- the load ---------------------------------------------------------------------------------


def scale_load(scenario: Scenario, multiplier: float, with_faults: bool = False) -> Scenario:
    """The scenario with every client's load times ``multiplier`` (and no faults unless kept)."""
    if not multiplier > 0 or not math.isfinite(multiplier):
        raise ValueError(f"the load multiplier must be a positive number, not {multiplier!r}")
    nodes = dict(scenario.nodes)
    for name, node in scenario.nodes.items():
        if node.kind != "client":
            continue
        if node.rate is not None:
            nodes[name] = node.model_copy(update={"rate": node.rate * multiplier})
        elif node.profile is not None:
            points = [p.model_copy(update={"rate": p.rate * multiplier}) for p in node.profile]
            nodes[name] = node.model_copy(update={"profile": points})
        elif node.users is not None:
            nodes[name] = node.model_copy(update={"users": max(1, round(node.users * multiplier))})
    update: dict[str, Any] = {"nodes": nodes}
    if not with_faults:
        update["faults"] = []
    return scenario.model_copy(update=update)


def _profile_mean(points: Sequence[Any], start: float, end: float) -> float:
    """The time-average of a profile's rate over [start, end] (steps, or ramps where asked)."""
    if end <= start:
        return 0.0

    def rate_at(t: float) -> float:
        before = [p for p in points if p.at <= t]
        if not before:
            return 0.0
        last = before[-1]
        after = [p for p in points if p.at > t]
        if after and after[0].ramp:
            nxt = after[0]
            share = (t - last.at) / (nxt.at - last.at)
            return last.rate + share * (nxt.rate - last.rate)
        return float(last.rate)

    steps = 2000
    width = (end - start) / steps
    return sum(rate_at(start + (i + 0.5) * width) for i in range(steps)) / steps


def offered_rates(scenario: Scenario, multiplier: float) -> dict[str, float | None]:
    """Requests per second each open-loop route is offered at ``multiplier`` over the measured
    window (after the warm-up); None for a closed-loop route (its rate is measured instead)."""
    out: dict[str, float | None] = {}
    for name, node in scenario.nodes.items():
        if node.kind != "client":
            continue
        if node.rate is not None:
            out[name] = node.rate * multiplier
        elif node.profile is not None:
            out[name] = multiplier * _profile_mean(node.profile, scenario.warmup, scenario.duration)
        else:
            out[name] = None
    return out


# -- one run ----------------------------------------------------------------------------------


def _resources(scenario: Scenario) -> dict[str, Any]:
    """What can saturate, with its capacity: workers and queues per node, pools per edge."""
    nodes, pools = {}, {}
    for name, node in scenario.nodes.items():
        workers = getattr(node, "workers", None)
        queue = getattr(node, "queue", None)  # a consumer's ``queue`` names a broker's queue
        if isinstance(workers, int):
            nodes[name] = {
                "workers": workers,
                "queue": queue if isinstance(queue, int) else None,
                "memory": getattr(node, "memory", None) is not None,
            }
        for edge, call in zip(call_edge_names(name, node.calls), node.calls, strict=True):
            if call.pool is not None:
                pools[edge] = {"capacity": call.pool.max_size + call.pool.overflow}
    return {"nodes": nodes, "pools": pools}


def probe_run(scenario: dict[str, Any], seed: int, route: str | None) -> dict[str, Any]:
    """One replication of one probe: the SLO's figures and what each resource went through.

    Module-level, plain data in and out, so any executor can ship it.
    """
    from simulator.analysis import summarize
    from simulator.engine import Simulation

    parsed = Scenario.model_validate(scenario)
    sim = Simulation(parsed, seed=seed)
    sim.run_to_end()
    summary = summarize(sim)
    if summary["invariants"]:
        raise RuntimeError(f"invariants broken at seed {seed}: {summary['invariants'][:3]}")
    where = summary["overall"] if route is None else summary["routes"][route]
    latency = where["latency_ms"]
    metrics = {m: latency.get(m) for m in LATENCY_METRICS}
    metrics["success"] = where["success_rate"]
    window = max(parsed.duration - parsed.warmup, 1e-9)
    resources = _resources(parsed)
    nodes = {}
    for name, cap in resources["nodes"].items():
        n = summary["nodes"][name]
        nodes[name] = {
            "utilization": n.get("utilization"),
            "arrivals": n.get("arrivals", 0),
            "rejected": n.get("rejected", 0),
            "max_queue": n.get("max_queue", 0),
            "oom_kills": n.get("oom_kills", 0),
            "peak_memory_pct": n.get("peak_memory_pct"),
            **cap,
        }
    pools = {}
    for edge, cap in resources["pools"].items():
        e = summary["edges"][edge]
        pool = e["pool"]
        pools[edge] = {
            "requests": e["requests"],
            "acquire_timeouts": pool["acquire_timeouts"],
            "rejected": pool["rejected"],
            "peak_in_use": pool["peak_in_use"],
            "acquire_wait_p99_ms": pool["acquire_wait_p99_ms"],
            **cap,
        }
    return {
        "seed": seed,
        "metrics": metrics,
        "started_per_s": {r: v["started"] / window for r, v in summary["routes"].items()},
        "requests": where["requests"],
        "nodes": nodes,
        "pools": pools,
    }


# -- a probe: N replications --------------------------------------------------------------------


@dataclass
class Probe:
    """One multiplier's replications and their means (with 95% CI half-widths)."""

    multiplier: float
    runs: list[dict[str, Any]]
    mean: dict[str, float] = field(default_factory=dict)
    ci95: dict[str, float] = field(default_factory=dict)
    holds: bool = False
    uncertain: bool = False  # the SLO's verdict flips somewhere inside the intervals
    purpose: str = "search"  # search | light | curve

    def judge(self, slo: SLO) -> None:
        for metric in METRICS:
            values = [r["metrics"][metric] for r in self.runs]
            mean, half = mean_ci([math.nan if v is None else v for v in values])
            self.mean[metric], self.ci95[metric] = mean, half
        self.holds = slo.holds(self.mean)
        halves = {m: 0.0 if math.isnan(h) else h for m, h in self.ci95.items()}
        pessimistic = slo.holds(slo.pessimistic(self.mean, halves))
        optimistic = slo.holds(slo.optimistic(self.mean, halves))
        self.uncertain = pessimistic != optimistic

    def margins(self, slo: SLO) -> tuple[float, float, float]:
        """The SLO's margin at the mean, at the pessimistic and at the optimistic CI ends."""
        halves = {m: 0.0 if math.isnan(h) else h for m, h in self.ci95.items()}
        return (
            slo.margin(self.mean),
            slo.margin(slo.pessimistic(self.mean, halves)),
            slo.margin(slo.optimistic(self.mean, halves)),
        )

    def started_per_s(self) -> dict[str, float]:
        routes = self.runs[0]["started_per_s"]
        return {
            r: sum(run["started_per_s"][r] for run in self.runs) / len(self.runs) for r in routes
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "multiplier": round(self.multiplier, 6),
            "purpose": self.purpose,
            "meets_slo": self.holds,
            "uncertain": self.uncertain,
            "mean": {m: _round(v) for m, v in self.mean.items()},
            "ci95": {m: _round(v) for m, v in self.ci95.items()},
            "replications": [
                {
                    "seed": r["seed"],
                    "p99_ms": r["metrics"]["p99"],
                    "success": r["metrics"]["success"],
                    "mean_ms": r["metrics"]["mean"],
                }
                for r in self.runs
            ],
        }


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 6)


# -- saturation -------------------------------------------------------------------------------


def _mean(values: Sequence[float | None]) -> float:
    data = [v for v in values if v is not None]
    return sum(data) / len(data) if data else math.nan


def _workers(count: int) -> str:
    return "1 worker" if count == 1 else f"{count} workers"


def saturation_signals(probe: Probe) -> list[dict[str, Any]]:
    """Every resource saturated at this probe (means over the replications), and how."""
    found = []
    runs = probe.runs
    for name, first in runs[0]["nodes"].items():
        rows = [r["nodes"][name] for r in runs]
        utilization = _mean([r["utilization"] for r in rows])
        if utilization >= UTILIZATION_SATURATED:
            found.append(
                {
                    "resource": "workers",
                    "node": name,
                    "value": round(utilization, 4),
                    "how": f"{_workers(first['workers'])} {utilization:.0%} busy",
                }
            )
        arrivals = sum(r["arrivals"] for r in rows)
        rejected = sum(r["rejected"] for r in rows)
        full = (
            first["queue"] is not None and _mean([r["max_queue"] for r in rows]) >= first["queue"]
        )
        if arrivals and (rejected / arrivals >= REJECTED_SHARE_SATURATED or (full and rejected)):
            share = rejected / arrivals
            found.append(
                {
                    "resource": "queue",
                    "node": name,
                    "value": round(share, 6),
                    "how": f"queue of {first['queue']} full: {share:.2%} of arrivals rejected",
                }
            )
        kills = _mean([r["oom_kills"] for r in rows])
        peak = _mean([r["peak_memory_pct"] for r in rows])
        if kills > 0 or (first["memory"] and peak >= MEMORY_SATURATED_PCT):
            found.append(
                {
                    "resource": "memory",
                    "node": name,
                    "value": round(kills, 3),
                    "how": f"{kills:g} OOM kills per run (peak {peak:.0f}% of the limit)",
                }
            )
    for edge, first in runs[0]["pools"].items():
        rows = [r["pools"][edge] for r in runs]
        requests = sum(r["requests"] for r in rows)
        refused = sum(r["acquire_timeouts"] + r["rejected"] for r in rows)
        wait = _mean([r["acquire_wait_p99_ms"] for r in rows])
        if (requests and refused / requests >= REJECTED_SHARE_SATURATED) or (
            wait >= POOL_WAIT_SATURATED_MS
        ):
            share = refused / requests if requests else 0.0
            found.append(
                {
                    "resource": "pool",
                    "node": edge,
                    "value": round(share, 6),
                    "how": f"pool of {first['capacity']} exhausted: {share:.2%} of calls got no "
                    f"connection, p99 wait for one {wait:,.0f} ms",
                }
            )
    return found


def _depths(scenario: Scenario) -> dict[str, float]:
    """Distance of each node from the clients along calls; a pool sits half a step below
    its caller. The deepest of resources saturated together is the cause: the callers above
    it hold their workers while they wait for it."""
    depth: dict[str, float] = {
        n: 0.0 for n, node in scenario.nodes.items() if node.kind == "client"
    }
    frontier = list(depth)
    while frontier:
        nxt = []
        for name in frontier:
            for call in scenario.nodes[name].calls:
                if call.to not in depth and call.to in scenario.nodes:
                    depth[call.to] = depth[name] + 1
                    nxt.append(call.to)
        frontier = nxt
    for name, node in scenario.nodes.items():
        for edge, call in zip(call_edge_names(name, node.calls), node.calls, strict=True):
            if call.pool is not None:
                depth[edge] = depth.get(name, 0.0) + 0.5
    return depth


def saturation_order(probes: Sequence[Probe], scenario: Scenario) -> list[dict[str, Any]]:
    """Each resource that saturated along the ramp, the lowest multiplier it did at, first first.

    Ties (saturated at the same probe) go deepest first (see ``_depths``)."""
    depth = _depths(scenario)
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for probe in sorted(probes, key=lambda p: p.multiplier):
        for signal in saturation_signals(probe):
            key = (signal["resource"], signal["node"])
            if key not in first:
                first[key] = {**signal, "multiplier": round(probe.multiplier, 6)}
    return sorted(
        first.values(), key=lambda s: (s["multiplier"], -depth.get(s["node"], 0.0), s["resource"])
    )


# -- the search -------------------------------------------------------------------------------


@dataclass
class Ramp:
    """The ramp's probes and what they found."""

    scenario: Scenario
    slo: SLO
    route: str | None
    replications: int
    base_seed: int
    with_faults: bool
    probes: list[Probe]
    tolerance: float
    limit_reason: str | None = None  # why the search stopped before breaking, if it did

    @property
    def sorted_probes(self) -> list[Probe]:
        return sorted(self.probes, key=lambda p: p.multiplier)

    def highest_holding(self) -> Probe | None:
        """The highest multiplier that met the SLO below the lowest that broke it."""
        breaking = self.lowest_breaking()
        below = [
            p
            for p in self.sorted_probes
            if p.holds and (breaking is None or p.multiplier < breaking.multiplier)
        ]
        return below[-1] if below else None

    def lowest_breaking(self) -> Probe | None:
        broken = [p for p in self.sorted_probes if not p.holds]
        return broken[0] if broken else None

    def crossing(self, which: int) -> float | None:
        """Where the SLO's margin (0: mean, 1: pessimistic, 2: optimistic) crosses zero,
        interpolated linearly between the probes around its first sign change."""
        probes = self.sorted_probes
        for a, b in itertools.pairwise(probes):
            ma, mb = a.margins(self.slo)[which], b.margins(self.slo)[which]
            if ma >= 0 > mb:
                if not math.isfinite(mb):
                    return (
                        b.multiplier
                        if a.multiplier == b.multiplier
                        else (a.multiplier + b.multiplier) / 2
                    )
                return a.multiplier + (b.multiplier - a.multiplier) * ma / (ma - mb)
            if ma < 0:
                return None if which else a.multiplier
        return None

    def light_p99(self) -> float | None:
        light = [p for p in self.sorted_probes if not math.isnan(p.mean["p99"])]
        return light[0].mean["p99"] if light else None

    def knee(self) -> dict[str, Any] | None:
        """The lowest multiplier where p99 reaches KNEE_FACTOR times its value at the lightest
        probe, interpolated between the probes around it."""
        probes = [p for p in self.sorted_probes if not math.isnan(p.mean["p99"])]
        if len(probes) < 2:
            return None
        reference = probes[0].mean["p99"]
        target = KNEE_FACTOR * reference
        for a, b in itertools.pairwise(probes):
            if b.mean["p99"] >= target > a.mean["p99"]:
                share = (target - a.mean["p99"]) / (b.mean["p99"] - a.mean["p99"])
                m = a.multiplier + share * (b.multiplier - a.multiplier)
                return {
                    "multiplier": round(m, 6),
                    "p99_ms": round(target, 3),
                    "light_load_p99_ms": round(reference, 3),
                    "light_load_multiplier": round(probes[0].multiplier, 6),
                    "rate_per_s": _knee_rates(self.scenario, m, a, b, share),
                }
        return None

    def breaking_point(self) -> dict[str, Any] | None:
        good, bad = self.highest_holding(), self.lowest_breaking()
        if bad is None:
            return None
        estimate = self.crossing(0)
        low, high = self.crossing(1), self.crossing(2)
        return {
            "multiplier": _round(good.multiplier) if good else None,
            "rate_per_s": _rates(self.scenario, good.multiplier, good) if good else None,
            "breaks_at_multiplier": _round(bad.multiplier),
            "breaks_at_rate_per_s": _rates(self.scenario, bad.multiplier, bad),
            "estimate": _round(estimate),
            "ci": [_round(low), _round(high)] if self.replications > 1 else None,
            "uncertain": bool((good and good.uncertain) or bad.uncertain),
            "broken_clauses": [c.text for c in self.slo.clauses if not c.holds(bad.mean[c.metric])],
        }

    def saturation(self) -> list[dict[str, Any]]:
        return saturation_order(self.probes, self.scenario)

    def as_dict(self) -> dict[str, Any]:
        order = self.saturation()
        return {
            "scenario": self.scenario.name,
            "route": self.route,
            "slo": self.slo.text,
            "replications": self.replications,
            "base_seed": self.base_seed,
            "with_faults": self.with_faults,
            "tolerance": self.tolerance,
            "breaking_point": self.breaking_point(),
            "did_not_break": self.limit_reason,
            "knee": self.knee(),
            "saturated_first": order[0] if order else None,
            "saturation": order,
            "probes": [p.as_dict() for p in self.sorted_probes],
        }


def _rates(scenario: Scenario, multiplier: float, probe: Probe | None) -> dict[str, float | None]:
    """Offered req/s per route: configured for open loop, measured for closed loop."""
    rates = offered_rates(scenario, multiplier)
    measured = probe.started_per_s() if probe is not None else {}
    return {
        r: round(v, 3) if v is not None else (round(measured[r], 3) if r in measured else None)
        for r, v in rates.items()
    }


def _knee_rates(
    scenario: Scenario, multiplier: float, a: Probe, b: Probe, share: float
) -> dict[str, float | None]:
    """Offered req/s at a knee between probes ``a`` and ``b``: configured for open loop,
    interpolated between the two probes' measured rates for closed loop (users)."""
    below, above = _rates(scenario, a.multiplier, a), _rates(scenario, b.multiplier, b)
    out = {}
    for route, rate in offered_rates(scenario, multiplier).items():
        lo, hi = below.get(route), above.get(route)
        if rate is None and lo is not None and hi is not None:
            rate = lo + share * (hi - lo)
        out[route] = None if rate is None else round(rate, 3)
    return out


def _max_multiplier(
    scenario: Scenario, requested: float, with_faults: bool
) -> tuple[float, str | None]:
    """The largest multiplier the scenario's request limit lets run, up to ``requested``."""
    scaled = scale_load(scenario, requested, with_faults)
    if not any(loc == ("duration",) for loc, _ in limit_problems(scaled)):
        return requested, None
    low, high = 0.0, requested
    for _ in range(40):
        mid = (low + high) / 2
        if any(
            loc == ("duration",)
            for loc, _ in limit_problems(scale_load(scenario, mid, with_faults))
        ):
            high = mid
        else:
            low = mid
    return low, f"the scenario's request limit caps the load at x{low:.3g}"


def find_breaking_point(
    scenario: Scenario,
    slo: SLO | str,
    route: str | None = None,
    replications: int = 3,
    executor: str | Executor | None = None,
    *,
    base_seed: int | None = None,
    start: float = 1.0,
    growth: float = 2.0,
    tolerance: float = 0.02,
    max_multiplier: float = 64.0,
    max_probes: int = 24,
    with_faults: bool = False,
    curve: int = 3,
    progress: Progress | None = None,
) -> Ramp:
    """Bracket, then bisect the load multiplier at which ``slo`` breaks (see the module doc).

    ``curve``: how many probes to spread below the breaking point for the plot and the knee
    (besides the light-load probe); 0 for none (and no light-load probe either).
    """
    from simulator.sweep import open_executor

    slo = parse_slo(slo) if isinstance(slo, str) else slo
    clients = [n for n, node in scenario.nodes.items() if node.kind == "client"]
    if not clients:
        raise ValueError("the scenario has no client: nothing to ramp up")
    if route is not None and route not in clients:
        raise ValueError(f"no route {route!r}: the routes are {', '.join(clients)}")
    if replications < 1:
        raise ValueError("replications must be at least 1")
    if not (growth > 1 and 0 < tolerance < 1 and start > 0 and max_multiplier >= start):
        raise ValueError("need growth > 1, 0 < tolerance < 1 and 0 < start <= max_multiplier")
    max_probes = max(2, min(max_probes, MAX_PROBES))
    seed0 = scenario.seed if base_seed is None else base_seed
    top, limit_reason = _max_multiplier(scenario, max_multiplier, with_faults)
    start = min(start, top)
    probes: list[Probe] = []
    done = 0

    def report(remaining_probes: int) -> None:
        if progress is not None:
            progress(done, done + remaining_probes * replications)

    def planned_after(low: float, high: float) -> int:
        steps = max(0, math.ceil(math.log2(max(1.0, (high - low) / (tolerance * low)))))
        return steps + (1 + curve if curve else 0)

    with open_executor(executor) as pool:

        def probe(multiplier: float, purpose: str, remaining: int) -> Probe:
            nonlocal done
            data = scale_load(scenario, multiplier, with_faults).model_dump(
                mode="json", by_alias=True
            )
            futures = [pool.submit(probe_run, data, seed0 + k, route) for k in range(replications)]
            runs = []
            for future in futures:
                runs.append(future.result())
                done += 1
                report(remaining)
            p = Probe(multiplier, runs, purpose=purpose)
            p.judge(slo)
            probes.append(p)
            return p

        report(2 + planned_after(1.0, 2.0))
        first = probe(start, "search", 2 + planned_after(1.0, 2.0))
        low: float | None = first.multiplier if first.holds else None
        high: float | None = None if first.holds else first.multiplier
        # bracket
        while len(probes) < max_probes:
            if low is not None and high is not None:
                break
            if high is None:
                assert low is not None
                if low >= top:
                    limit_reason = (
                        limit_reason or f"the SLO still held at x{top:g} (--max-multiplier)"
                    )
                    break
                p = probe(min(low * growth, top), "search", 1 + planned_after(low, low * growth))
            else:
                if high <= start / growth**12:
                    break
                p = probe(high / growth, "search", 1 + planned_after(high / growth, high))
            if p.holds:
                low = p.multiplier
            else:
                high = p.multiplier
        # bisect
        while low is not None and high is not None and len(probes) < max_probes:
            if (high - low) / low <= tolerance:
                break
            mid = (low + high) / 2
            p = probe(mid, "search", planned_after(low, high))
            if p.holds:
                low = mid
            else:
                high = mid
        if high is not None:
            limit_reason = None
        # the curve: a light-load probe and a few below the breaking point
        anchor = low if low is not None else None
        if curve and anchor is not None:
            lightest = min(p.multiplier for p in probes)
            wanted = [lightest / 10] + [anchor * (i + 1) / (curve + 1) for i in range(curve)]
            for i, m in enumerate(wanted):
                if any(abs(p.multiplier - m) <= 0.05 * m for p in probes):
                    continue
                probe(m, "light" if i == 0 else "curve", len(wanted) - i - 1)
    if progress is not None:
        progress(done, done)
    return Ramp(
        scenario, slo, route, replications, seed0, with_faults, probes, tolerance, limit_reason
    )
