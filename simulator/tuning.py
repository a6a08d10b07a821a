"""``murphy tune``: the best settings of one call under the scenario's faults.

The search is *successive halving* over replications: every candidate (a
combination of the call's timeout, retry attempts, retry budget and breaker
threshold: ``simulator.tuning_space``) runs a few replications; the better half
(by the objective: ``simulator.tuning_objective``) goes on to twice as many, and
so on until one is left, which runs twice as many again for its confidence
intervals. The file's own settings are always a candidate, and are topped up to
the final replications whether they survive or not, so the result says how much
better the best is than what the file has, on the same seeds.

Common random numbers: replication ``k`` of every candidate uses seed
``base_seed + k``, so at each rung all the survivors are judged on exactly the
same arrivals and service times (the engine's streams are per component and
purpose), and a rung's runs are kept and extended by the next rung, never redrawn.

The runs go through any executor of ``simulator.sweep.open_executor`` (local
processes, serial, Dask), a rung's runs submitted together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.compare import mean_ci
from simulator.scenario import Scenario
from simulator.sweep import open_executor, run_one
from simulator.tuning_objective import Objective, parse_objective, run_metrics
from simulator.tuning_space import (
    CallRef,
    Dimension,
    candidate_settings,
    default_space,
    find_call,
    overrides_of,
)
from simulator.variants import apply_overrides

__all__ = [
    "DEFAULT_BUDGET",
    "Candidate",
    "Tuning",
    "min_budget",
    "plan_rungs",
    "successive_halving",
    "tune",
]

DEFAULT_BUDGET = 150  # runs
MAX_BUDGET = 100_000
MAX_START_REPLICATIONS = 8
ETA = 2  # keep the best 1/ETA at each rung

Progress = Callable[[int, int], None]
Evaluate = Callable[[list[tuple[int, int]]], dict[tuple[int, int], dict[str, float]]]


@dataclass
class Candidate:
    """One combination of settings and its runs so far (``runs[k]``: seed base + k)."""

    index: int
    settings: dict[str, Any]
    overrides: dict[str, str]
    runs: list[dict[str, float]] = field(default_factory=list)
    rung: int = -1  # the last rung it was judged at (-1: never)
    baseline: bool = False

    @property
    def replications(self) -> int:
        return len(self.runs)

    def mean(self, metric: str) -> float:
        return mean_ci([r[metric] for r in self.runs])[0]

    def ci95(self, metric: str) -> float:
        return mean_ci([r[metric] for r in self.runs])[1]

    def means(self) -> dict[str, float]:
        names = self.runs[0] if self.runs else {}
        return {m: self.mean(m) for m in names}


def plan_rungs(candidates: int, start: int, eta: int = ETA) -> list[tuple[int, int]]:
    """(candidates, replications) per rung: ``candidates`` at ``start`` replications, then
    the best ceil(n/eta) at twice as many, ..., then the last one at twice as many again."""
    rungs = [(candidates, start)]
    while rungs[-1][0] > 1:
        n, r = rungs[-1]
        rungs.append((math.ceil(n / eta), 2 * r))
    if len(rungs) == 1:  # a single candidate: one rung at twice the start, for its interval
        rungs = [(1, 2 * start)]
    return rungs


def plan_cost(candidates: int, start: int, eta: int = ETA) -> int:
    """Runs the plan needs, counting each replication once (later rungs extend earlier ones)
    and the baseline topped up to the final replications."""
    rungs = plan_rungs(candidates, start, eta)
    cost, before = 0, 0
    for n, r in rungs:
        cost += n * (r - before)
        before = r
    return cost + (rungs[-1][1] - start if candidates > 1 else 0)


def min_budget(space_size: int, eta: int = ETA) -> int:
    """The fewest runs a search of ``space_size`` combinations can use (two candidates, the
    file's settings and one other, at one replication; the survivor and the file's at two)."""
    return plan_cost(min(2, space_size), 1, eta)


def choose_plan(space_size: int, budget: int, eta: int = ETA) -> tuple[int, int]:
    """(candidates, starting replications) that spend as much of ``budget`` as fits.

    The most candidates that fit at one replication set the breadth. When that is the
    whole space, only the starting replications are raised; else, among the plans
    with at least half that many candidates (and up to ``MAX_START_REPLICATIONS``), the
    one that spends the most of the budget, then the one with more candidates. Halving
    rounds up, so the plan with the most candidates can leave much of a small budget
    unspent (20 runs: 4 candidates at one replication use 11; 3 at two use all 20).
    """
    need = min_budget(space_size, eta)
    if need > budget:
        raise ValueError(f"a budget of {budget} runs is too small: give at least {need}")
    widest = 1
    while widest < space_size and plan_cost(widest + 1, 1, eta) <= budget:
        widest += 1
    plans = [
        (plan_cost(n, start, eta), n, -start)
        for n in range(widest if widest == space_size else math.ceil(widest / 2), widest + 1)
        for start in range(1, MAX_START_REPLICATIONS + 1)
        if plan_cost(n, start, eta) <= budget and (n > 1 or space_size == 1)
    ]
    _, n, start = max(plans)
    return n, -start


def successive_halving(
    candidates: list[Candidate],
    objective: Objective,
    start: int,
    evaluate: Evaluate,
    eta: int = ETA,
) -> list[dict[str, Any]]:
    """Run the rungs: each survivor is brought to the rung's replications (the same seeds
    for all), ranked, and the best ceil(n/eta) go on. ``evaluate`` runs (candidate index,
    replication) pairs and returns each run's metrics. Returns the rungs' records."""
    alive = list(candidates)
    records = []
    by_index = {c.index: c for c in candidates}
    for rung, (_, reps) in enumerate(plan_rungs(len(candidates), start, eta)):
        wanted = [(c.index, k) for c in alive for k in range(c.replications, reps)]
        for (i, k), metrics in sorted(evaluate(wanted).items()):
            assert k == by_index[i].replications, "runs come back in seed order"
            by_index[i].runs.append(metrics)
        for c in alive:
            c.rung = rung
        alive.sort(key=lambda c: (objective.sort_key(c.means()), c.index))
        keep = math.ceil(len(alive) / eta)
        records.append({"rung": rung, "replications": reps, "candidates": len(alive),
                        "kept": keep if len(alive) > 1 else 1})  # fmt: skip
        alive = alive[:keep]
    return records


@dataclass
class Tuning:
    """What a search found: every candidate as far as it went, the rungs, the best."""

    scenario: Scenario
    call: CallRef
    objective: Objective
    space: list[Dimension]
    candidates: list[Candidate]
    rungs: list[dict[str, Any]]
    base_seed: int
    budget: int
    space_size: int

    @property
    def ranking(self) -> list[Candidate]:
        """Furthest rung first; within a rung, by the objective (as the search judged them)."""
        judged = [c for c in self.candidates if c.rung >= 0]
        return sorted(
            judged,
            key=lambda c: (-c.rung, self.objective.sort_key(c.means()), c.index),
        )

    @property
    def best(self) -> Candidate:
        return self.ranking[0]

    @property
    def baseline(self) -> Candidate:
        return next(c for c in self.candidates if c.baseline)

    @property
    def runs_used(self) -> int:
        return sum(c.replications for c in self.candidates)

    def clear_gain(self) -> bool:
        """Whether the best beats the file's settings on the objective's metric beyond the
        95% interval of their paired difference (an interval that includes 0 is no clear
        gain: the ranking may be noise, or the winner's curse of picking the luckiest)."""
        if self.best.baseline:
            return False
        diff, half = self.difference(self.objective.metric)
        if not (math.isfinite(diff) and math.isfinite(half)):
            return False
        gain = diff if self.objective.maximize else -diff
        return gain > half

    def difference(self, metric: str) -> tuple[float, float]:
        """Best minus baseline on the seeds both ran: mean and 95% half-width (paired)."""
        best, base = self.best, self.baseline
        n = min(best.replications, base.replications)
        return mean_ci([best.runs[k][metric] - base.runs[k][metric] for k in range(n)])


def _evaluator(
    pool: Executor,
    data: dict[int, dict[str, Any]],
    edge: str,
    seed0: int,
    progress: Callable[[], None],
) -> Evaluate:
    def evaluate(wanted: list[tuple[int, int]]) -> dict[tuple[int, int], dict[str, float]]:
        futures = {pool.submit(run_one, data[i], seed0 + k, False): (i, k) for i, k in wanted}
        out = {}
        for future in as_completed(futures):
            result = future.result()
            if result["invariants"]:
                i, k = futures[future]
                raise RuntimeError(
                    f"invariants broken for candidate {i} at seed {seed0 + k}: "
                    f"{result['invariants'][:3]}"
                )
            out[futures[future]] = run_metrics(result, edge)
            progress()
        return out

    return evaluate


def _sample(settings: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """The baseline and ``n - 1`` others drawn without replacement (a generator of the
    tuner's own, seeded: the same seed samples the same candidates)."""
    if n >= len(settings):
        return settings
    rng = np.random.default_rng([seed, 0x7475_6E65])  # "tune": a stream no run draws from
    picked = sorted(rng.choice(np.arange(1, len(settings)), size=n - 1, replace=False))
    return [settings[0], *(settings[int(i)] for i in picked)]


def tune(
    scenario: Scenario,
    call: str,
    objective: Objective | str,
    *,
    space: Sequence[Dimension] | None = None,
    budget: int = DEFAULT_BUDGET,
    executor: str | Executor | None = None,
    base_seed: int | None = None,
    progress: Progress | None = None,
) -> Tuning:
    """Search ``call``'s settings for the best on ``objective`` within ``budget`` runs."""
    objective = parse_objective(objective) if isinstance(objective, str) else objective
    ref = find_call(scenario, call)
    dims = list(space) if space is not None else default_space(scenario, ref)
    if not 1 <= budget <= MAX_BUDGET:
        raise ValueError(f"the budget is from 1 to {MAX_BUDGET} runs")
    seed0 = scenario.seed if base_seed is None else base_seed
    every = candidate_settings(dims)
    n, start = choose_plan(len(every), budget)
    current = {d.field: d.current for d in dims}
    candidates = []
    data: dict[int, dict[str, Any]] = {}
    for i, settings in enumerate(_sample(every, n, seed0)):
        overrides = overrides_of(ref, settings, current)
        variant = apply_overrides(scenario, overrides)
        data[i] = variant.model_dump(mode="json", by_alias=True)
        candidates.append(Candidate(i, settings, overrides, baseline=i == 0))
    total = plan_cost(n, start)
    done = 0

    def advance() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    with open_executor(executor) as pool:
        evaluate = _evaluator(pool, data, ref.edge, seed0, advance)
        rungs = successive_halving(candidates, objective, start, evaluate)
        base, final = candidates[0], rungs[-1]["replications"]
        top_up = [(0, k) for k in range(base.replications, final)]
        for (_, _k), metrics in sorted(evaluate(top_up).items()):
            base.runs.append(metrics)
    if progress is not None:
        progress(done, done)
    return Tuning(scenario, ref, objective, dims, candidates, rungs, seed0, budget, len(every))
