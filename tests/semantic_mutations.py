"""Valid mutations of the example scenarios, for the semantic fuzz (engine, not loader).

The loader fuzz (fuzz_mutations.py) throws hostile text at the parser; this one
throws *valid* scenarios at the engine: every knob within its range, policies
switched on and off, random faults on random targets. Each piece is built through
the scenario's own pydantic classes, and the whole is validated again through
``validate_data`` (schema, cross-references, limits), so a case the engine chokes
on is a scenario ``murphy validate`` would accept.

Case ``i`` of seed ``s`` is ``make_case(i, s)``: deterministic (``random.Random``
seeded from both), so a failure is replayed by its number. Used by
tests/test_fuzz_semantic.py (a few dozen cases in ``make test``) and by
tools/fuzz_semantic.py (thousands).

Load is capped so that a case runs in well under a second: the point is odd
combinations of policies and faults, not volume. Arrival rates are scaled to at
most ``RATE_CAP`` per client, closed-loop users to ``USERS_CAP``, and immediate
retries with many attempts stay rare.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from simulator.scenario import (
    Balancer,
    Cache,
    Call,
    Client,
    Database,
    Scenario,
    Service,
    ThirdParty,
    load_scenario,
    scenario_to_data,
    validate_data,
)
from simulator.scenario_faults import (
    CrashFault,
    ErrorFault,
    LatencyFault,
    PartitionFault,
    SurgeFault,
    ThrottleFault,
)
from simulator.scenario_policies import (
    AdaptiveThrottling,
    Breaker,
    Bulkhead,
    Fallback,
    Limiter,
    Outcome,
    Pool,
    Retry,
    RetryBudget,
    RetryStrategy,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "scenarios").glob("*.yaml"))

DURATION = 20.0  # simulated seconds per case
RATE_CAP = 300.0  # arrivals per second per client, at most
USERS_CAP = 100  # closed-loop users per client, at most
SURGE_CAP = 3.0
OUTCOMES = list(get_args(Outcome))  # the retryable outcomes, as the schema spells them
STRATEGIES = list(get_args(RetryStrategy))

_loaded: dict[Path, Scenario] = {}


@dataclass(frozen=True)
class Case:
    """One mutated scenario and where it came from (for the report of a failure)."""

    index: int
    example: str
    scenario: Scenario


def example(path: Path) -> Scenario:
    if path not in _loaded:
        _loaded[path] = load_scenario(path)
    return _loaded[path]


def make_case(index: int, seed: int = 0) -> Case:
    """Case ``index`` of the run seeded ``seed``: an example, mutated, revalidated."""
    rng = random.Random(f"murphy-semantic:{seed}:{index}")
    path = EXAMPLES[index % len(EXAMPLES)]
    mutated = mutate(example(path), rng)
    return Case(index, path.stem, mutated)


def mutate(scenario: Scenario, rng: random.Random) -> Scenario:
    """A valid variation of ``scenario``, shortened to ``DURATION`` of simulated time."""
    clients = [n for n, node in scenario.nodes.items() if isinstance(node, Client)]
    servers = [n for n in scenario.nodes if n not in clients]
    nodes = {name: _node(node, rng) for name, node in scenario.nodes.items()}
    faults = list(scenario.faults) if rng.random() < 0.5 else []
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        faults.append(_fault(rng, clients, servers))
    shortened = scenario.model_copy(
        update={
            "seed": rng.randrange(2**31),
            "duration": DURATION,
            "warmup": rng.choice([0.0, 0.0, 1.0, 2.0, 5.0]),
            "bucket": rng.choice([0.5, 1.0, 1.0, 2.0]),
            "nodes": nodes,
            "faults": faults,
        }
    )
    # model_copy does not validate: the round trip through the file's spelling runs
    # every check a scenario file gets (schema, references, limits, memory).
    return validate_data(scenario_to_data(shortened), None, "<semantic fuzz>")


# -- nodes ------------------------------------------------------------------------------------


def _node(node: Any, rng: random.Random) -> Any:
    update: dict[str, Any] = {}
    if isinstance(node, Client):
        update = _client(node, rng)
    elif isinstance(node, Database | Service):
        update = _service(node, rng)
    elif isinstance(node, ThirdParty):
        update = {
            "error_rate": _maybe(
                rng, 0.5, lambda: rng.choice([0.0, 0.01, 0.1, 0.5]), node.error_rate
            ),
            "max_concurrent": _maybe(
                rng, 0.5, lambda: rng.choice([None, 1, 5, 50]), node.max_concurrent
            ),
        }
    elif isinstance(node, Balancer):
        update = {
            "strategy": rng.choice(["round_robin", "random", "least_outstanding"]),
            "health_check": rng.random() < 0.5,
        }
    elif isinstance(node, Cache):
        update = {
            "hit_ratio": rng.choice([0.0, 0.5, 0.9, 1.0]),
            "warm_up": rng.choice([0.0, 1.0, 10.0, 60.0]),
        }
    balancer = isinstance(node, Balancer)
    calls = [_call(call, rng, balancer) for call in node.calls]
    return node.model_copy(update={**update, "calls": calls})


def _client(node: Client, rng: random.Random) -> dict[str, Any]:
    scale = rng.choice([0.1, 0.5, 1.0, 1.5, 3.0])
    if node.rate is not None:
        return {"rate": min(RATE_CAP, node.rate * scale)}
    if node.profile is not None:
        points = [
            p.model_copy(update={"rate": min(RATE_CAP, p.rate * scale)}) for p in node.profile
        ]
        return {"profile": points}
    users = max(1, min(USERS_CAP, round((node.users or 1) * scale)))
    return {"users": users}


def _service(node: Service, rng: random.Random) -> dict[str, Any]:
    update: dict[str, Any] = {
        "workers": max(1, round(node.workers * rng.choice([0.25, 0.5, 1.0, 1.0, 2.0]))),
        "queue": rng.choice([node.queue, node.queue, None, 0, 5, 1000]),
        "error_rate": rng.choice([node.error_rate, node.error_rate, 0.0, 0.02, 0.3]),
        "boot_time": rng.choice([0.0, 0.0, 0.5, 3.0]),
        "limiter": _toggle(rng, node.limiter, lambda: _limiter(rng)),
    }
    if isinstance(node, Database):
        update["max_connections"] = _toggle(
            rng, node.max_connections, lambda: rng.choice([1, 10, 100])
        )
    return update


def _limiter(rng: random.Random) -> Limiter:
    if rng.random() < 0.5:
        return Limiter(kind="token_bucket", rate=rng.choice([5.0, 50.0, 500.0]),
                       burst=rng.choice([1, 10, 100]))  # fmt: skip
    return Limiter(kind="max_in_flight", max_in_flight=rng.choice([1, 5, 50]))


# -- calls and their policies -----------------------------------------------------------------


def _call(call: Call, rng: random.Random, balancer: bool) -> Call:
    timeout = _maybe(rng, 0.5, lambda: rng.choice([None, 0.01, 0.1, 1.0, 5.0]), call.timeout)
    update: dict[str, Any] = {
        "timeout": timeout,
        "connect_timeout": _maybe(rng, 0.3, lambda: rng.choice([None, 0.05, 1.0])),
        "retry": _toggle(rng, call.retry, lambda: _retry(rng)),
        "breaker": _toggle(rng, call.breaker, lambda: _breaker(rng)),
        "bulkhead": _toggle(rng, call.bulkhead, lambda: _bulkhead(rng)),
        "pool": _toggle(rng, call.pool, lambda: _pool(rng)),
        "fallback": _toggle(rng, call.fallback, lambda: _fallback(rng)),
        "adaptive_throttling": _toggle(rng, call.adaptive_throttling, lambda: _throttling(rng)),
        "deadline_propagation": rng.random() < 0.3,
    }
    if not balancer:  # a balancer's calls are whole backends
        update["probability"] = rng.choice([call.probability, call.probability, 0.0, 0.5, 1.0])
    return call.model_copy(update=update)


def _retry(rng: random.Random) -> Retry:
    strategy = rng.choice(STRATEGIES)
    attempts = rng.choice([1, 2, 3, 4])
    if strategy in ("none", "immediate") and rng.random() < 0.05:
        attempts = 100  # the longest immediate chain the schema allows
    retry_on = rng.sample(OUTCOMES, rng.randint(1, len(OUTCOMES)))
    budget = RetryBudget(percent=rng.choice([0.0, 0.2, 1.0]), min_concurrency=rng.choice([0, 3]))
    return Retry(
        strategy=strategy,  # type: ignore[arg-type]
        attempts=attempts,
        base=rng.choice([0.0, 0.01, 0.1]),
        cap=rng.choice([0.0, 0.5, 5.0]),
        retry_on=retry_on,  # type: ignore[arg-type]
        budget=budget if rng.random() < 0.3 else None,
    )


def _breaker(rng: random.Random) -> Breaker:
    if rng.random() < 0.3:
        return Breaker(failures=rng.choice([1, 5, 20]), within=rng.choice([1.0, 10.0]),
                       open_for=rng.choice([0.5, 5.0]))  # fmt: skip
    return Breaker(
        failure_rate=rng.choice([0.01, 0.5, 1.0]),
        window=rng.choice([None, 1.0, 10.0]),
        window_calls=rng.choice([1, 10, 100]),
        min_calls=rng.choice([1, 10, 100]),
        slow_call_duration=rng.choice([None, 0.01, 0.5]),
        slow_call_rate=rng.choice([0.5, 1.0]),
        open_for=rng.choice([0.1, 2.0, 10.0]),
        half_open_calls=rng.choice([1, 3, 10]),
        record_on=rng.sample(OUTCOMES, rng.randint(1, 3)),  # type: ignore[arg-type]
    )


def _bulkhead(rng: random.Random) -> Bulkhead:
    if rng.random() < 0.5:
        return Bulkhead(kind="semaphore", max_concurrent=rng.choice([1, 2, 10, 50]),
                        max_wait=rng.choice([0.0, 0.0, 0.05, 2.0]))  # fmt: skip
    return Bulkhead(kind="pool", max_concurrent=rng.choice([1, 2, 10, 50]),
                    queue=rng.choice([0, 1, 10, 1000]),
                    max_wait=rng.choice([0.0, 0.05, 2.0]))  # fmt: skip


def _pool(rng: random.Random) -> Pool:
    return Pool(
        size=rng.choice([0, 1, 5, 20]),
        overflow=rng.choice([0, 0, 2, 10]),
        acquire_timeout=rng.choice([0.0, 0.05, 1.0, 30.0]),
        connect_time=rng.choice([0.0, 0.0, 0.005, 0.2]),
    )


def _fallback(rng: random.Random) -> Fallback:
    return Fallback(kind=rng.choice(["cached", "default", "fail"]),  # type: ignore[arg-type]
                    max_age=rng.choice([0.0, 1.0, 60.0]))  # fmt: skip


def _throttling(rng: random.Random) -> AdaptiveThrottling:
    return AdaptiveThrottling(k=rng.choice([1.0, 1.5, 2.0, 10.0]), window=rng.choice([1.0, 30.0]))


# -- faults -----------------------------------------------------------------------------------


def _fault(rng: random.Random, clients: list[str], servers: list[str]) -> BaseModel:
    at = rng.choice([0.0, rng.uniform(0.0, DURATION)])
    length = rng.choice([None, rng.uniform(0.1, 10.0)])
    kinds = ["latency", "error", "crash", "partition", "throttle"] + (["surge"] if clients else [])
    kind = rng.choice(kinds)
    common: dict[str, Any] = {"at": at, "for": length}
    if kind == "surge":
        multiply = rng.choice([0.0, 0.5, 2.0, SURGE_CAP])
        return SurgeFault(kind="surge", target=rng.choice(clients), multiply=multiply, **common)
    target = rng.choice(servers)
    if kind == "latency":
        return LatencyFault(kind="latency", target=target, add=rng.choice([0.0, 0.05, 1.0]),
                            multiply=rng.choice([1.0, 2.0, 10.0]), **common)  # fmt: skip
    if kind == "error":
        return ErrorFault(kind="error", target=target, rate=rng.choice([0.1, 0.5, 1.0]), **common)
    if kind == "throttle":
        capacity = rng.choice([0.0, 0.1, 0.5])
        return ThrottleFault(kind="throttle", target=target, capacity=capacity, **common)
    if kind == "crash":
        return CrashFault(kind="crash", target=target, **common)
    return PartitionFault(kind="partition", target=target, **common)


# -- helpers ----------------------------------------------------------------------------------


def _maybe(rng: random.Random, chance: float, new: Any, old: Any = None) -> Any:
    """``new()`` with probability ``chance``, else ``old``."""
    return new() if rng.random() < chance else old


def _toggle(rng: random.Random, current: Any, make: Any) -> Any:
    """Switch a policy: keep it, drop it, or put a fresh random one (on or in its place)."""
    roll = rng.random()
    if roll < 0.4:
        return current
    if roll < 0.7:
        return None
    return make()
