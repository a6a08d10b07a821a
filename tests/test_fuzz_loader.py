"""Fuzzing the scenario loader: any text is accepted or refused with clean one-line errors.

The cases are mutations of every example in ``scenarios/`` (``fuzz_mutations``);
``MURPHY_FUZZ_EXAMPLES`` sets how many (default 2,000, split over the tests
below). Derandomized, so CI sees the same cases every run; ``tools/fuzz.py``
runs the same mutators for longer and measures time and memory per case.
"""

from __future__ import annotations

import os
import random
import re

from fuzz_mutations import make_case, mutate_text, random_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.scenario import ScenarioError, parse_scenario
from simulator.scenario_limits import estimate_memory
from simulator.topology import problems

TOTAL = int(os.environ.get("MURPHY_FUZZ_EXAMPLES", "2000"))
PROBLEM_LINE = re.compile(r"^fuzz\.yaml:\d+: \S")


def _fuzz_settings(share: float) -> settings:
    return settings(
        max_examples=max(1, int(TOTAL * share)),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def check_loader_on(text: str) -> None:
    """Accepted (and then the graph checks run), or a ScenarioError of one-line problems."""
    try:
        scenario = parse_scenario(text, "fuzz.yaml")
    except ScenarioError as exc:
        assert exc.problems, "an error must say what is wrong"
        for problem in exc.problems:
            line = str(problem)
            assert "\n" not in line and "\r" not in line, line
            assert len(line.splitlines()) == 1, line
            assert PROBLEM_LINE.match(line), line
        return
    problems(scenario)
    assert estimate_memory(scenario) > 0


@_fuzz_settings(0.7)
@given(st.randoms(use_true_random=False))
def test_mutated_examples_load_or_fail_cleanly(rng: random.Random) -> None:
    check_loader_on(make_case(rng))


@_fuzz_settings(0.15)
@given(st.randoms(use_true_random=False), st.integers(1, 4))
def test_text_mutations_of_a_good_file_load_or_fail_cleanly(rng: random.Random, n: int) -> None:
    text = make_case(random.Random(rng.random()))
    for _ in range(n):
        text = mutate_text(text, rng)
    check_loader_on(text)


@_fuzz_settings(0.1)
@given(st.randoms(use_true_random=False))
def test_random_yaml_text_loads_or_fails_cleanly(rng: random.Random) -> None:
    check_loader_on(random_text(rng))


@_fuzz_settings(0.05)
@given(st.text(max_size=300))
def test_any_unicode_text_loads_or_fails_cleanly(text: str) -> None:
    check_loader_on(text)
