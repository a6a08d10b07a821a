"""Small builders shared by the engine tests: scenario text in, summary out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.analysis import summarize
from simulator.engine import Simulation
from simulator.scenario import Scenario, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def scenario(text: str) -> Scenario:
    return parse_scenario(text, "<test>")


def example(name: str, **overrides: Any) -> Scenario:
    return load_scenario(ROOT / "scenarios" / name).model_copy(update=overrides)


def run(sc: Scenario, seed: int | None = None) -> tuple[Simulation, dict[str, Any]]:
    sim = Simulation(sc, seed=seed).run_to_end()
    return sim, summarize(sim)
