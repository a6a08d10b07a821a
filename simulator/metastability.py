"""The metastability map: how long a system takes to recover from a trigger, over two axes.

A metastable failure outlives its trigger: the trigger (a throttle, a latency spike,
a surge) pushes the system into a state that a sustaining effect (retries, a cold
cache) keeps it in after the trigger is gone. Whether it comes back depends on how
much load it carries and how big the trigger was, and the line between "recovers"
and "never recovers" moves with retries and retry budgets. The map draws that line::

    from simulator.metastability import run_map, map_figure, map_data, save_map

    m = run_map(
        scenario,
        [("nodes.users.rate", ["80/s", "120/s", "160/s"]),        # x: offered load
         ("faults[0].for", ["2s", "5s", "10s"])],                 # y: trigger duration
        replications=3,
        executor=None,   # "local" (default), "serial", "dask://…", or any Executor
        progress=None,   # progress(done, total) as cells' replications complete
        fault=0,         # the trigger: which fault's recovery is measured
    )
    fig = map_figure(m)            # a matplotlib Figure: the heat map
    data = map_data(m)             # the JSON (axes, cells with recovery_s, boundary)
    save_map(m, "out/")            # map.png, map.svg, map.csv, map.json

Each cell runs the scenario with the cell's settings, and the same scenario without
the trigger (the paired baseline of the blast radius: same seed, so the pair differs
only by the trigger), and measures ``recovery_s`` exactly as ``blast_radius`` does
(``simulator.recovery.fault_recovery``). Replication ``k`` of every cell uses seed
``base_seed + k`` (common random numbers across cells). A cell's ``recovery_s`` is
the median over replications, a replication that never recovered counting as
infinitely long: so the median is null ("never recovers") when at least half of the
replications never recovered; ``never_share`` says how many did.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from simulator.palette import PALETTE
from simulator.plots import style_axes
from simulator.recovery import RECOVERY_HOLD
from simulator.scenario import Scenario
from simulator.sweep import open_executor
from simulator.variants import OverrideError, Variant, variant_grid

__all__ = [
    "MAX_CELLS",
    "MetastabilityMap",
    "Preset",
    "boundary",
    "cell_median",
    "draw_map",
    "map_data",
    "map_figure",
    "map_presets",
    "recovery_run",
    "run_map",
    "save_map",
]

MAX_CELLS = 400
"""Cells of one map: each is 2 × replications whole runs."""

NEVER_COLOUR = PALETTE[1]
_CMAP = LinearSegmentedColormap.from_list(
    "recovery", ["#f1faee", "#a8dadc", PALETTE[5], PALETTE[0]]
)

Progress = Callable[[int, int], None]


def recovery_run(scenario: dict[str, Any], seed: int, fault: int) -> dict[str, Any]:
    """One replication of one cell: the run with every fault, its pair without ``fault``.

    Module-level and plain data in and out, so any executor can ship it (as
    ``sweep.run_one``).
    """
    from simulator.analysis import compare_runs
    from simulator.engine import Simulation
    from simulator.recovery import fault_recovery

    parsed = Scenario.model_validate(scenario)
    faulty = Simulation(parsed, seed=seed).run_to_end()
    rest = [f for i, f in enumerate(parsed.faults) if i != fault]
    baseline = Simulation(parsed.model_copy(update={"faults": rest}), seed=seed).run_to_end()
    start, end = parsed.faults[fault].window(parsed.duration)
    found = compare_runs(faulty, baseline, start)
    routes = [r for r, v in found["routes"].items() if v["degraded"]]
    recovery_s, recovered_at_s = fault_recovery(faulty, baseline, routes, end)
    return {
        "recovery_s": recovery_s,
        "recovered_at_s": recovered_at_s,
        "routes": routes,
        "fault_end_s": end,
        "invariants": faulty.check_invariants() + baseline.check_invariants(),
    }


def cell_median(runs: Sequence[float | None]) -> float | None:
    """The median recovery, a run that never recovered counting as infinitely long."""
    if not runs:
        return None
    value = float(np.median([math.inf if r is None else r for r in runs]))
    return None if math.isinf(value) or math.isnan(value) else round(value, 6)


@dataclass
class MetastabilityMap:
    """Every replication's recovery, per cell: ``runs[i][j]`` is x value i, y value j."""

    scenario: Scenario
    axes: list[tuple[str, list[str]]]  # (x field, its values), (y field, its values)
    runs: list[list[list[dict[str, Any]]]]
    fault: int
    base_seed: int

    @property
    def replications(self) -> int:
        return len(self.runs[0][0]) if self.runs and self.runs[0] else 0

    @property
    def fault_label(self) -> str:
        f = self.scenario.faults[self.fault]
        return f"{f.kind} on {f.target}"

    def recovery(self, i: int, j: int) -> list[float | None]:
        return [r["recovery_s"] for r in self.runs[i][j]]

    def median(self, i: int, j: int) -> float | None:
        return cell_median(self.recovery(i, j))

    def never_share(self, i: int, j: int) -> float:
        runs = self.recovery(i, j)
        return sum(r is None for r in runs) / len(runs) if runs else 0.0

    def never(self) -> np.ndarray:
        """Per cell (x, y): True where the median replication never recovered."""
        xs, ys = (len(values) for _, values in self.axes)
        return np.array([[self.median(i, j) is None for j in range(ys)] for i in range(xs)])


def _check(scenario: Scenario, variants: Sequence[Variant], fault: int) -> None:
    """Every cell must have the trigger, and the trigger must end before the run does."""
    for variant in variants:
        sc = variant.scenario or scenario
        where = f" (at {variant.label})" if variant.overrides else ""
        if not 0 <= fault < len(sc.faults):
            count = len(sc.faults)
            raise ValueError(
                f"the map measures the recovery from a fault, and fault {fault} does not exist"
                f"{where}: the scenario has {count} fault(s); add one or choose another --fault"
            )
        _start, end = sc.faults[fault].window(sc.duration)
        what = f"fault {fault} ({sc.faults[fault].kind} on {sc.faults[fault].target})"
        if end >= sc.duration:
            raise ValueError(
                f"{what} lasts to the end of the run{where}, so nothing can recover after it: "
                "give it a `for:` shorter than the rest of the run"
            )
        # Recovery needs RECOVERY_HOLD good buckets after the fault: with less room left,
        # every cell would read "never" because the run stopped, not because it stayed down.
        room = RECOVERY_HOLD * sc.bucket
        if sc.duration - math.ceil(end / sc.bucket - 1e-9) * sc.bucket < room:
            raise ValueError(
                f"{what} ends at {end:g} s, too close to the end of the run ({sc.duration:g} s)"
                f"{where} to tell recovery from a run that stopped: leave at least {room:g} s "
                "after it (a longer --duration, or an earlier or shorter fault)"
            )


def run_map(
    scenario: Scenario,
    varies: Sequence[tuple[str, Sequence[str]]],
    replications: int = 3,
    executor: str | Executor | None = None,
    progress: Progress | None = None,
    base_seed: int | None = None,
    fault: int = 0,
) -> MetastabilityMap:
    """Run the two-axis grid ``varies``: every cell ``replications`` times, each with its pair.

    Raises ValueError (a message that says what to change) for a grid that is not
    two axes, too big, or whose trigger fault is missing or never ends; OverrideError
    for a field or value that does not apply.
    """
    if len(varies) != 2:
        raise OverrideError(
            f"a map has two axes: give exactly two --vary (got {len(varies)}), e.g. "
            "--vary 'nodes.users.rate=80/s,160/s' --vary 'faults[0].for=5s,10s'"
        )
    if replications < 1:
        raise ValueError("replications must be at least 1")
    cells = len(varies[0][1]) * len(varies[1][1])
    if cells > MAX_CELLS:
        raise ValueError(f"{cells} cells; a map has at most {MAX_CELLS}: use fewer values")
    variants = variant_grid(scenario, varies)
    _check(scenario, variants, fault)
    seed0 = scenario.seed if base_seed is None else base_seed
    ys = len(varies[1][1])
    runs: list[list[list[dict[str, Any]]]] = [
        [[{} for _ in range(replications)] for _ in range(ys)] for _ in varies[0][1]
    ]
    total = len(variants) * replications
    if progress is not None:
        progress(0, total)
    with open_executor(executor) as pool:
        futures = {}
        for v, variant in enumerate(variants):
            data = (variant.scenario or scenario).model_dump(mode="json", by_alias=True)
            for k in range(replications):
                futures[pool.submit(recovery_run, data, seed0 + k, fault)] = (v, k)
        for done, future in enumerate(as_completed(futures), start=1):
            v, k = futures[future]
            runs[v // ys][v % ys][k] = future.result()
            if progress is not None:
                progress(done, total)
    grid = [(path, list(values)) for path, values in varies]
    return MetastabilityMap(scenario, grid, runs, fault, seed0)


def boundary(m: MetastabilityMap) -> list[str | None]:
    """Per x value: the first y value (in the order given) from which it never recovers.

    None where every y value recovers. With y a trigger's size or duration, this is
    the smallest trigger that tips the system over, at each load.
    """
    never = m.never()
    ys = m.axes[1][1]
    return [next((ys[j] for j in range(len(ys)) if never[i, j]), None) for i in range(len(never))]


def _short(path: str) -> str:
    return path if len(path) <= 40 else "…" + path[-39:]


def map_data(m: MetastabilityMap) -> dict[str, Any]:
    """The map as JSON: the axes, one entry per cell (``recovery_s`` null = never), the boundary."""
    fault = m.scenario.faults[m.fault]
    start, end = fault.window(m.scenario.duration)
    (xf, xs), (yf, ys) = m.axes
    cells = []
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            cells.append({
                "x": x, "y": y, "recovery_s": m.median(i, j),
                "never_share": round(m.never_share(i, j), 6),
                "runs": m.recovery(i, j),
                "invariants": sorted({p for r in m.runs[i][j] for p in r["invariants"]}),
            })  # fmt: skip
    return {
        "scenario": m.scenario.name,
        "fault": {"index": m.fault, "kind": fault.kind, "target": fault.target,
                  "start_s": start, "end_s": end},
        "replications": m.replications,
        "base_seed": m.base_seed,
        "axes": [{"field": xf, "values": xs}, {"field": yf, "values": ys}],
        "cells": cells,
        "boundary": [{"x": x, "never_from": b} for x, b in zip(xs, boundary(m), strict=True)],
    }  # fmt: skip


def cell_text(m: MetastabilityMap, i: int, j: int) -> str:
    """'12 s', 'never', '14 s (1/3 never)' or 'never (1/3 recovered)' when replications disagree."""
    runs = m.recovery(i, j)
    median = m.median(i, j)
    never = sum(r is None for r in runs)
    if median is None:
        recovered = len(runs) - never
        return f"never ({recovered}/{len(runs)} recovered)" if recovered else "never"
    text = f"{median:.3g} s"
    return f"{text} ({never}/{len(runs)} never)" if never else text


def draw_map(
    ax: Axes,
    m: MetastabilityMap,
    text_colour: str | None = None,
    preview: list[list[float | None]] | None = None,
) -> Any:
    """The heat map on ``ax``: recovery time per cell, "never" cells hatched, the boundary drawn
    (and, with a fluid ``preview``, the fluid's boundary dashed).

    Returns the colour mesh (for a colour bar).
    """
    (xf, xs), (yf, ys) = m.axes
    never = m.never()
    values = np.array(
        [
            [m.median(i, j) if m.median(i, j) is not None else np.nan for j in range(len(ys))]
            for i in range(len(xs))
        ],
        dtype=float,
    ).T  # rows: y, columns: x
    finite = values[np.isfinite(values)]
    top = max(float(finite.max()) if finite.size else 1.0, 1.0)
    mesh = ax.pcolormesh(
        np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5,
        np.ma.masked_invalid(values), cmap=_CMAP, vmin=0.0, vmax=top, shading="flat",
    )  # fmt: skip
    for i in range(len(xs)):
        for j in range(len(ys)):
            if never[i, j]:
                ax.add_patch(_never_patch(i, j))
            value = values[j, i]
            dark = never[i, j] or (np.isfinite(value) and value > 0.55 * top)
            colour = "white" if dark else (text_colour or "#1d3557")
            box = {"boxstyle": "round,pad=0.2", "fc": NEVER_COLOUR, "ec": "none"}
            ax.text(i, j, cell_text(m, i, j).replace(" (", "\n("), ha="center", va="center",
                    fontsize=8, color=colour, fontweight="bold" if never[i, j] else "normal",
                    bbox=box if never[i, j] else None)  # fmt: skip
    _draw_boundary(ax, never)
    if preview is not None:
        fluid = np.array([[value is None for value in column] for column in preview])
        _draw_boundary(ax, fluid, dashed=True)
    ax.set_xticks(range(len(xs)), xs)
    ax.set_yticks(range(len(ys)), ys)
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xlabel(_short(xf))
    style_axes(ax, _short(yf), f"Recovery after {m.fault_label} (median of {m.replications})")
    ax.grid(False)
    return mesh


def _never_patch(i: int, j: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle(
        (i - 0.5, j - 0.5), 1, 1, facecolor=NEVER_COLOUR, edgecolor="white", hatch="///", lw=0.0,
        alpha=0.9,
    )  # fmt: skip


def _draw_boundary(ax: Axes, never: np.ndarray, dashed: bool = False) -> None:
    """A thick line along every cell edge between a cell that recovers and one that never does."""
    xs, ys = never.shape
    edges = []
    for i in range(xs):
        for j in range(ys):
            if i + 1 < xs and never[i, j] != never[i + 1, j]:
                edges.append(([i + 0.5, i + 0.5], [j - 0.5, j + 0.5]))
            if j + 1 < ys and never[i, j] != never[i, j + 1]:
                edges.append(([i - 0.5, i + 0.5], [j + 0.5, j + 0.5]))
    colour = matplotlib.rcParams["text.color"]  # black on a light figure, white on a dark one
    for x, y in edges:
        if dashed:  # the fluid preview's: thinner, in the palette's teal, over the solid one
            ax.plot(x, y, color=PALETTE[2], lw=2.0, ls=(0, (3, 2)))
        else:
            ax.plot(x, y, color=colour, lw=2.5, solid_capstyle="round")


def map_figure(
    m: MetastabilityMap,
    figure: Figure | None = None,
    preview: list[list[float | None]] | None = None,
) -> Figure:
    """The heat map as a Figure with a colour bar (object API: draw it anywhere)."""
    fig = figure or Figure(figsize=(7.5, 5.0), layout="constrained")
    fig.clear()
    ax = fig.add_subplot()
    mesh = draw_map(ax, m, preview=preview)
    bar = fig.colorbar(mesh, ax=ax, shrink=0.85)
    bar.set_label("recovery (s)")
    note = []
    if m.never().any():
        note.append("hatched: never recovers (before the end of the run); thick line: the boundary")
    if preview is not None:
        note.append("dashed: the fluid preview's boundary")
    if note:
        fig.supxlabel("; ".join(note), fontsize=7, x=0.98, ha="right")
    return fig


def save_map(
    m: MetastabilityMap,
    out: str | os.PathLike[str],
    preview: list[list[float | None]] | None = None,
    data: dict[str, Any] | None = None,
) -> list[Path]:
    """Write map.png, map.svg, map.csv (one row per cell) and map.json into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig = map_figure(m, preview=preview)
    paths = [out / "map.png", out / "map.svg"]
    fig.savefig(paths[0], dpi=130)
    fig.savefig(paths[1])
    data = data or map_data(m)
    paths.append(write_map_csv(data, out / "map.csv"))
    paths.append(out / "map.json")
    paths[-1].write_text(json.dumps(data, indent=2), encoding="utf-8")
    return paths


def write_map_csv(data: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """One row per cell: the two axes' values, the median recovery (empty: never), the share."""
    path = Path(path)
    (xa, ya) = data["axes"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([xa["field"], ya["field"], "recovery_s", "never_share", "runs"])
        for cell in data["cells"]:
            runs = ";".join("never" if r is None else f"{r:g}" for r in cell["runs"])
            value = "" if cell["recovery_s"] is None else f"{cell['recovery_s']:g}"
            writer.writerow([cell["x"], cell["y"], value, f"{cell['never_share']:g}", runs])
    return path


# -- presets: the axes a map of this scenario usually wants ---------------------------------


@dataclass(frozen=True)
class Preset:
    """Two axes to offer for a scenario: a label, and (field, values) for x and y."""

    label: str
    x: tuple[str, list[str]]
    y: tuple[str, list[str]]


def _scaled(value: float, factors: Sequence[float], unit: str) -> list[str]:
    return [f"{round(value * f, 3):g}{unit}" for f in factors]


def map_presets(scenario: Scenario, fault: int = 0) -> list[Preset]:
    """Load on x (the first open-loop client's rate, from half to 110% of it) against the
    trigger's duration, its client's retry attempts, or a retry budget on y.

    Empty when the scenario has no client with a fixed rate or no such fault: the
    user writes the fields by hand.
    """
    client = next((n for n, node in scenario.nodes.items() if getattr(node, "rate", None)), None)
    if client is None or not 0 <= fault < len(scenario.faults):
        return []
    rate = float(getattr(scenario.nodes[client], "rate", 0.0))
    load = (f"nodes.{client}.rate", _scaled(rate, (0.5, 0.75, 0.9, 1.0, 1.1), "/s"))
    trigger = scenario.faults[fault]
    out = []
    if trigger.for_ is not None:
        room = scenario.duration - trigger.at - RECOVERY_HOLD * scenario.bucket  # to recover in
        factors = [f for f in (0.2, 0.5, 1.0, 2.0) if trigger.for_ * f < room] or [1.0]
        length = _scaled(trigger.for_, factors, "s")
        out.append(Preset(f"{client} rate × fault {fault} duration", load,
                          (f"faults[{fault}].for", length)))  # fmt: skip
    if scenario.nodes[client].calls:
        call = f"nodes.{client}.calls[0].retry"
        out.append(Preset(f"{client} rate × retry attempts", load,
                          (f"{call}.attempts", ["1", "2", "3", "5"])))  # fmt: skip
        out.append(Preset(f"{client} rate × retry budget", load,
                          (f"{call}.budget.percent", ["none", "20%", "10%", "5%"])))  # fmt: skip
    return out
