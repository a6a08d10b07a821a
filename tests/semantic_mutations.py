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

Messaging is fuzzed too: the examples' brokers, relays and consumers have their
knobs moved like any node, and about half the cases (``MESSAGING_CHANCE``) get a
broker of their own on top of whatever the example is: 1-3 queues, publishes from
existing nodes (plain or dual write), outbox calls drained by relays, consumer
groups with their own calls and publishes, and faults on all of them. The base
pool is the example files plus ``EXTRA_BASES`` (a dense messaging scenario).

Load is capped so that a case runs in well under a second: the point is odd
combinations of policies and faults, not volume. Arrival rates are scaled to at
most ``RATE_CAP`` per client, closed-loop users to ``USERS_CAP``, immediate
retries with many attempts stay rare, and consumers that publish are slow enough
(``REPUBLISH_RATE_CAP``) that a queue feeding itself cannot snowball.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from simulator.scenario import (
    FAULT_SPECS,
    Balancer,
    Broker,
    BrokerQueue,
    Cache,
    Call,
    Client,
    Consumer,
    Database,
    Dedupe,
    Publish,
    Relay,
    Scenario,
    ScenarioError,
    Service,
    ThirdParty,
    load_scenario,
    parse_scenario,
    scenario_to_data,
    validate_data,
)
from simulator.scenario_alerts import (
    DEFAULT_RULES,
    METRICS,
    AlertRule,
    Alerts,
    scenario_targets,
    watched_targets,
)
from simulator.scenario_data import CALL_LAYERS, Contention, Reconciliation, ValidationLayer
from simulator.scenario_deploys import (
    BlueGreenDeploy,
    CanaryDeploy,
    CanaryStep,
    Rollback,
    RollingDeploy,
    planned_end,
)
from simulator.scenario_faults import (
    BadDeployFault,
    CorruptionFault,
    CrashFault,
    DiskFullFault,
    ErrorFault,
    LatencyFault,
    MemoryLeakFault,
    MessageDropFault,
    PartitionFault,
    SurgeFault,
    ThrottleFault,
)
from simulator.scenario_nodes import Liveness, Memory
from simulator.scenario_policies import (
    AdaptiveThrottling,
    Breaker,
    Bulkhead,
    Fallback,
    Hedge,
    Limiter,
    Outcome,
    OutlierDetection,
    Pool,
    Retry,
    RetryBudget,
    RetryStrategy,
)
from simulator.scenario_types import Constant, Exponential, LogNormal, Uniform

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "scenarios").glob("*.yaml"))

DURATION = 20.0  # simulated seconds per case
RATE_CAP = 300.0  # arrivals per second per client, at most
USERS_CAP = 100  # closed-loop users per client, at most
SURGE_CAP = 3.0
REPUBLISH_RATE_CAP = 200.0  # messages per second a consumer that publishes can process, at most
MESSAGING_CHANCE = 0.5  # share of cases given a broker, publishers, relays and consumers
CORRUPTION_CHANCE = 0.4  # share of cases whose database calls write, checked and corrupted
THIRD_PARTY_CHANCE = 0.3  # share of cases given a third party (a rate quota, mostly) to call
DEPLOY_CHANCE = 0.35  # share of cases given deploys (and bad versions) of their services
ALERTS_CHANCE = 0.5  # share of cases whose alert rules are overridden, switched off or added
CONTENTION_CHANCE = 0.3  # share of cases whose databases' writes contend, from finite crowds
HEDGE_CHANCE = 0.4  # share of cases whose reads may be hedged (each read: a third of the time)
DRAWS = 20  # draws per case before giving up (a draw validate_data refuses is skipped)
OUTCOMES = list(get_args(Outcome))  # the retryable outcomes, as the schema spells them
STRATEGIES = list(get_args(RetryStrategy))

EXTRA_BASES = {
    # Every messaging feature at once: dual write with retries, two relays (polling and
    # log tailing) on one database, a non-durable broker, a tiny capacity, retention, a
    # queue nobody consumes, poison, a small dedupe store, a consumer that publishes.
    "messaging-stress": (Path(__file__).parent / "data" / "message-stress.yaml").read_text(),
}
"""Bases that are not example files, by name: drawn like the examples."""

BASES = [p.stem for p in EXAMPLES] + list(EXTRA_BASES)

_loaded: dict[str, Scenario] = {}


@dataclass(frozen=True)
class Case:
    """One mutated scenario and where it came from (for the report of a failure)."""

    index: int
    example: str
    scenario: Scenario
    skipped: int = 0  # draws refused by validate_data before this one

    @property
    def messaging(self) -> bool:
        """Whether the case has a broker (so messages are produced, or could be)."""
        return any(isinstance(node, Broker) for node in self.scenario.nodes.values())


def example(name: str) -> Scenario:
    if name not in _loaded:
        if name in EXTRA_BASES:
            _loaded[name] = parse_scenario(EXTRA_BASES[name], f"<{name}>")
        else:
            _loaded[name] = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    return _loaded[name]


def make_case(index: int, seed: int = 0) -> Case:
    """Case ``index`` of the run seeded ``seed``: an example, mutated, revalidated.

    A draw that ``validate_data`` refuses is skipped (counted in ``Case.skipped``) and
    the next one from the same random sequence taken: the checks are never loosened.
    """
    rng = random.Random(f"murphy-semantic:{seed}:{index}")
    name = BASES[index % len(BASES)]
    for skipped in range(DRAWS):
        try:
            return Case(index, name, mutate(example(name), rng), skipped)
        except ScenarioError:
            continue
    raise RuntimeError(f"case {index} (seed {seed}): {DRAWS} draws from {name}, all invalid")


def mutate(scenario: Scenario, rng: random.Random) -> Scenario:
    """A valid variation of ``scenario``, shortened to ``DURATION`` of simulated time."""
    nodes = {name: _node(node, rng) for name, node in scenario.nodes.items()}
    # An example's bad_deploy faults belong to its deploys, which shortening would push past
    # the end: the deploys are drawn afresh below.
    faults = [f for f in scenario.faults if f.kind != "bad_deploy"] if rng.random() < 0.5 else []
    deploys: list[BaseModel] = []
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        faults.append(_fault(rng, nodes))
    if rng.random() < MESSAGING_CHANCE:
        faults += _add_messaging(nodes, rng)
    if rng.random() < CORRUPTION_CHANCE:
        faults += _add_corruption(nodes, rng)
    if rng.random() < THIRD_PARTY_CHANCE:
        faults += _add_third_party(nodes, rng)
    if rng.random() < DEPLOY_CHANCE:
        deploys, bad = _add_deploys(nodes, rng)
        faults += bad
    if rng.random() < CONTENTION_CHANCE:
        _add_contention(nodes, rng)
    if rng.random() < HEDGE_CHANCE:
        _add_hedges(nodes, rng)
    shortened = scenario.model_copy(
        update={
            "seed": rng.randrange(2**31),
            "duration": DURATION,
            "warmup": rng.choice([0.0, 0.0, 1.0, 2.0, 5.0]),
            "bucket": rng.choice([0.5, 1.0, 1.0, 2.0]),
            "nodes": nodes,
            "faults": faults,
            "deploys": deploys,
        }
    )
    if rng.random() < ALERTS_CHANCE:
        shortened = shortened.model_copy(update={"alerts": _alerts(shortened, rng)})
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
            "rate_limit": _maybe(
                rng, 0.5, lambda: rng.choice([None, 0.5, 5.0, 50.0, 1000.0]), node.rate_limit
            ),
            "rate_burst": _maybe(rng, 0.3, lambda: rng.choice([1, 10, 100]), node.rate_burst),
        }
    elif isinstance(node, Balancer):
        update = {
            "strategy": rng.choice(["round_robin", "random", "least_outstanding", "power_of_two"]),
            "health_check": rng.random() < 0.5,
        }
        update.update(_outlier_knobs(node, rng))
    elif isinstance(node, Cache):
        update = {
            "hit_ratio": rng.choice([0.0, 0.5, 0.9, 1.0]),
            "warm_up": rng.choice([0.0, 1.0, 10.0, 60.0]),
        }
    elif isinstance(node, Broker):
        update = _maybe(rng, 0.7, lambda: _broker_knobs(rng, node.queues), {})
    elif isinstance(node, Relay):
        update = _maybe(rng, 0.7, lambda: _relay_knobs(rng), {})
        update["publish"] = _publish(node.publish, rng)
    elif isinstance(node, Consumer):
        update = _maybe(rng, 0.7, lambda: _consumer_knobs(rng, bool(node.publishes)), {})
    balancer = isinstance(node, Balancer)
    calls = [_call(call, rng, balancer) for call in node.calls]
    publishes = [_publish(publish, rng) for publish in node.publishes]
    return node.model_copy(update={**update, "calls": calls, "publishes": publishes})


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
        "memory": _toggle(rng, node.memory, lambda: _memory(rng)),
        "liveness": _toggle(rng, node.liveness, lambda: _liveness(rng)),
    }
    if isinstance(node, Database):
        update["max_connections"] = _toggle(
            rng, node.max_connections, lambda: rng.choice([1, 10, 100])
        )
    return update


def _memory(rng: random.Random) -> Memory:
    """Limits from roomy to tight: a tight one OOM-kills under a few queued requests."""
    limit = rng.choice([20.0, 100.0, 1000.0])
    return Memory(
        limit_mb=limit,
        base_mb=limit * rng.choice([0.0, 0.5, 0.9]),
        per_request_mb=rng.choice([0.0, 0.5, 5.0]),
        per_queued_mb=rng.choice([0.0, 0.1, 1.0]),
    )


def _liveness(rng: random.Random) -> Liveness:
    interval = rng.choice([0.5, 1.0, 5.0])
    return Liveness(
        interval=interval,
        timeout=interval * rng.choice([0.1, 0.5, 1.0]),
        failure_threshold=rng.choice([1, 2, 3]),
    )


def _limiter(rng: random.Random) -> Limiter:
    roll = rng.random()
    if roll < 0.35:
        return Limiter(kind="token_bucket", rate=rng.choice([5.0, 50.0, 500.0]),
                       burst=rng.choice([1, 10, 100]))  # fmt: skip
    if roll < 0.7:
        return Limiter(kind="max_in_flight", max_in_flight=rng.choice([1, 5, 50]))
    return _adaptive_limiter(rng)


def _adaptive_limiter(rng: random.Random) -> Limiter:
    """An adaptive limit, from a limit of one that sheds nearly everything to a roomy one;
    short windows and full smoothing make it swing on every sample."""
    kind = rng.choice(["aimd", "vegas", "gradient2"])
    ceiling = rng.choice([1, 10, 200])
    return Limiter.model_validate({
        "kind": kind,
        "initial_limit": rng.choice([1, 5, 20, 300]),
        "min_limit": min(ceiling, rng.choice([1, 5, 20])),
        "max_limit": ceiling,
        "max_concurrency": rng.choice([None, ceiling]),
        "backoff_ratio": rng.choice([0.5, 0.9]),
        "timeout": rng.choice([0.01, 0.5, 5.0]),
        "smoothing": rng.choice([None, 0.1, 1.0]),
        "alpha": rng.choice([None, 1, 3]),
        "beta": rng.choice([None, 3, 10]),
        "probe_multiplier": rng.choice([1, 30]),
        "queue_size": rng.choice([0, 4, 50]),
        "long_window": rng.choice([1, 10, 600]),
        "rtt_tolerance": rng.choice([1.0, 1.5, 4.0]),
    })  # fmt: skip


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
        "writes": _maybe(rng, 0.5, lambda: rng.random() < 0.5, call.writes),
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
    retry = Retry(
        strategy=strategy,  # type: ignore[arg-type]
        attempts=attempts,
        base=rng.choice([0.0, 0.01, 0.1]),
        cap=rng.choice([0.0, 0.5, 5.0]),
        retry_on=retry_on,  # type: ignore[arg-type]
        budget=budget if rng.random() < 0.3 else None,
    )
    return _backoff_shape(retry)


def _backoff_shape(retry: Retry) -> Retry:
    """The multiplier and randomization of an imported retry (murphy import), on some
    retries. Drawn from a generator seeded by the retry itself, not from ``rng``, so the
    cases from before these knobs are unchanged."""
    shape = random.Random(f"{retry.strategy} {retry.attempts} {retry.base} {retry.cap}")
    update: dict[str, Any] = {}
    if retry.strategy in ("exponential", "full_jitter", "equal_jitter") and shape.random() < 0.5:
        update["multiplier"] = shape.choice([1.0, 1.5, 3.0, 100.0])
    if retry.strategy in ("fixed", "exponential") and shape.random() < 0.5:
        update["randomization"] = shape.choice([0.0, 0.5, 1.0])
    return retry.model_copy(update=update) if update else retry


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
    max_size = rng.choice([0, 1, 5, 20])
    return Pool(
        min_size=rng.choice([0, 0, min(max_size, 1), max_size]),
        max_size=max_size,
        overflow=rng.choice([0, 0, 2, 10]),
        acquire_timeout=rng.choice([0.0, 0.05, 1.0, 30.0]),
        connect_time=rng.choice([0.0, 0.0, 0.005, 0.2]),
        recycle=rng.choice([None, None, 0.5, 10.0]),
        pre_ping=rng.random() < 0.4,
        ping_time=rng.choice([0.0, 0.001, 0.05]),
        leak=rng.choice([0.0, 0.0, 0.0, 0.01, 0.3]),
    )


def _fallback(rng: random.Random) -> Fallback:
    return Fallback(kind=rng.choice(["cached", "default", "fail"]),  # type: ignore[arg-type]
                    max_age=rng.choice([0.0, 1.0, 60.0]))  # fmt: skip


def _throttling(rng: random.Random) -> AdaptiveThrottling:
    return AdaptiveThrottling(k=rng.choice([1.0, 1.5, 2.0, 10.0]), window=rng.choice([1.0, 30.0]))


# -- messaging: the examples' brokers, relays, consumers and publishes ------------------------


def _publish(publish: Publish, rng: random.Random) -> Publish:
    """A publish with its policies moved like a call's (a publish has no fallback)."""
    moved = _call(publish, rng, balancer=False)
    update: dict[str, Any] = {"fallback": None}
    if publish.after_commit_to is not None and rng.random() < 0.2:
        update["after_commit_to"] = None  # the dual write becomes a plain publish
    return moved.model_copy(update=update)  # type: ignore[return-value]


def _latency(rng: random.Random, scale: float) -> Any:
    """A short random distribution around ``scale`` seconds (0: instantaneous)."""
    kind = rng.choice(["constant", "exponential", "uniform", "lognormal"])
    if kind == "constant":
        return Constant(dist="constant", value=rng.choice([0.0, scale]))
    if kind == "exponential":
        return Exponential(dist="exponential", mean=scale)
    if kind == "uniform":
        return Uniform(dist="uniform", low=0.0, high=2 * scale)
    return LogNormal(dist="lognormal", median=scale, p99=scale * rng.choice([1.0, 10.0, 50.0]))


def _queue(rng: random.Random) -> BrokerQueue:
    return BrokerQueue(
        capacity=rng.choice([1, 5, 50, 1000, 100_000]),
        visibility_timeout=rng.choice([0.01, 0.2, 1.0, 30.0]),
        # Not 1000: a poison message at a consumer with no processing time would cycle a
        # thousand times in no simulated time (valid, and a case that takes seconds).
        max_deliveries=rng.choice([1, 2, 3, 5, 50]),
        retention=rng.choice([None, None, 0.05, 1.0, 5.0]),
    )


def _broker_knobs(rng: random.Random, queues: dict[str, BrokerQueue]) -> dict[str, Any]:
    return {
        "queues": {q: _queue(rng) if rng.random() < 0.5 else spec for q, spec in queues.items()},
        "durable": rng.random() < 0.5,
        "publish_latency": _latency(rng, rng.choice([0.0005, 0.002, 0.02])),
        "boot_time": rng.choice([0.0, 0.0, 0.5, 2.0]),
    }


def _relay_knobs(rng: random.Random) -> dict[str, Any]:
    return {
        "mode": rng.choice(["polling", "log_tailing"]),
        # A relay whose publishes all fail at once (refused by its own throttle, its broker
        # down) republishes its whole batch every interval: cycles x batch bounds the cost.
        "interval": rng.choice([0.05, 0.1, 0.5, 2.0]),
        "batch": rng.choice([1, 5, 50, 500]),
        "lag": rng.choice([0.0, 0.0, 0.05, 0.5, 3.0]),
        "query_timeout": rng.choice([None, 0.005, 0.1, 5.0]),
        "boot_time": rng.choice([0.0, 0.0, 0.5, 2.0]),
    }


def _consumer_knobs(rng: random.Random, publishes: bool) -> dict[str, Any]:
    workers = rng.choice([1, 1, 2, 4, 8])
    mean = rng.choice([0.001, 0.005, 0.02])
    if publishes:  # a consumer that publishes may feed its own queue: keep it slow
        workers = min(workers, 2)
        mean = max(mean, workers / REPUBLISH_RATE_CAP)
    dedupe = None
    if rng.random() < 0.5:
        small = Dedupe(capacity=rng.choice([1, 3, 20]), window=rng.choice([0.05, 0.5, 3.0]))
        dedupe = small if rng.random() < 0.6 else Dedupe()  # the default: every id, an hour
    return {
        "workers": workers,
        "prefetch": rng.choice([1, 2, 10, 100]),
        "processing_time": _latency(rng, mean),
        "error_rate": rng.choice([0.0, 0.0, 0.05, 0.3]),
        "poison_rate": rng.choice([0.0, 0.0, 0.01, 0.2]),
        "dedupe": dedupe,
        "boot_time": rng.choice([0.0, 0.0, 0.5, 2.0]),
    }


# -- messaging: added to any example ----------------------------------------------------------


def _add_messaging(nodes: dict[str, Any], rng: random.Random) -> list[BaseModel]:
    """Add a broker, publishers, relays and consumers to ``nodes``; return faults on them.

    ``nodes`` is changed in place (existing nodes are replaced by copies with the new
    publishes, outbox marks and calls). Queues of the example's own brokers may be
    published to and consumed from as well.
    """
    broker = _fresh(nodes, "fz_broker")
    fresh = {f"q{i}": BrokerQueue() for i in range(rng.randint(1, 3))}
    knobs = _broker_knobs(rng, fresh)
    knobs["queues"] = {q: _queue(rng) for q in fresh}  # every queue of its own
    nodes[broker] = Broker(kind="broker", **knobs)
    queues = [(broker, q) for q in nodes[broker].queues]
    for name, node in nodes.items():
        if isinstance(node, Broker) and name != broker and rng.random() < 0.5:
            queues += [(name, q) for q in node.queues]
    added = {broker}

    # Publishers: existing nodes (mostly services and clients) publish after their calls.
    # Not the example's consumers: one that publishes is slowed down first (the new ones are).
    producers = [n for n, node in nodes.items() if not isinstance(node, Broker | Relay | Consumer)]
    chosen = [n for n in producers if rng.random() < _publish_chance(nodes[n])]
    if not chosen and producers:
        chosen = [rng.choice(producers)]
    for name in chosen:
        node = nodes[name]
        new = [_new_publish(rng, nodes, node, queues) for _ in range(rng.choice([1, 1, 1, 2]))]
        nodes[name] = node.model_copy(update={"publishes": [*node.publishes, *new]})

    # Outbox: a database call commits a row that a new relay drains. Without any call to a
    # database, one is added: a new database, called by an existing service or client.
    if rng.random() < 0.7:
        added |= _add_relays(nodes, rng, queues)

    # Consumer groups: 0 leaves a queue nobody consumes (its group is "(none)").
    callable_ = [n for n, node in nodes.items() if _takes_calls(node)]
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        name = _fresh(nodes, "fz_consumer")
        target, queue = rng.choice(queues)
        calls = []
        if callable_ and rng.random() < 0.3:
            call = _call(Call(to=rng.choice(callable_)), rng, balancer=False)
            relays = [n for n, r in nodes.items() if isinstance(r, Relay) and r.database == call.to]
            if relays and rng.random() < 0.5:  # the consumer's transaction writes an outbox row
                call = call.model_copy(update={"outbox": rng.choice(relays)})
            calls = [call]
        consumer = Consumer(kind="consumer", broker=target, queue=queue, calls=calls)
        publishes = []
        if rng.random() < 0.3:
            publishes = [_new_publish(rng, nodes, consumer, queues)]
        knobs = _consumer_knobs(rng, bool(publishes))
        nodes[name] = consumer.model_copy(update={**knobs, "publishes": publishes})
        added.add(name)

    faults: list[BaseModel] = []
    for _ in range(rng.choice([0, 1, 2, 3, 4])):
        faults.append(_fault(rng, nodes, among=sorted(added) + [b for b, _ in queues]))
    return faults


def _publish_chance(node: Any) -> float:
    if isinstance(node, Client | Service):  # Service includes Database
        return 0.4 if not isinstance(node, Database) else 0.1
    return 0.1  # a third party, balancer or cache that publishes: valid, and rarer


def _takes_calls(node: Any) -> bool:
    return not isinstance(node, Client | Broker | Relay | Consumer)


def _new_publish(
    rng: random.Random, nodes: dict[str, Any], node: Any, queues: list[tuple[str, str]]
) -> Publish:
    broker, queue = rng.choice(queues)
    databases = sorted({c.to for c in node.calls if isinstance(nodes.get(c.to), Database)})
    after = rng.choice(databases) if databases and rng.random() < 0.6 else None
    return Publish(
        to=broker,
        queue=queue,
        after_commit_to=after,
        probability=rng.choice([1.0, 1.0, 1.0, 0.5, 0.0]),
        timeout=rng.choice([None, 0.005, 0.05, 0.5]),
        connect_timeout=rng.choice([None, None, 0.05]),
        retry=_retry(rng) if rng.random() < 0.5 else None,
        breaker=_breaker(rng) if rng.random() < 0.15 else None,
        bulkhead=_bulkhead(rng) if rng.random() < 0.15 else None,
        pool=_pool(rng) if rng.random() < 0.1 else None,
        deadline_propagation=rng.random() < 0.2,
        only_for=_only_for(rng, nodes) if rng.random() < 0.1 else None,
    )


def _only_for(rng: random.Random, nodes: dict[str, Any]) -> list[str] | None:
    """Some of the clients (a publish made only for requests that entered there), or none."""
    clients = sorted(n for n, node in nodes.items() if isinstance(node, Client))
    return rng.sample(clients, rng.randint(1, len(clients))) if clients else None


def _add_relays(
    nodes: dict[str, Any], rng: random.Random, queues: list[tuple[str, str]]
) -> set[str]:
    """Mark database calls as outbox writes and add the relays that drain them."""
    sites = _database_calls(nodes)
    if not sites:
        callers = [n for n, node in nodes.items() if isinstance(node, Client | Service)
                   and not isinstance(node, Database)]  # fmt: skip
        if not callers:
            return set()
        database = _fresh(nodes, "fz_db")
        nodes[database] = Database(
            kind="database", workers=rng.choice([1, 4, 8]),
            service_time=_latency(rng, rng.choice([0.001, 0.004])),
            max_connections=rng.choice([None, None, 5]),
        )  # fmt: skip
        caller = rng.choice(callers)
        call = _call(Call(to=database), rng, balancer=isinstance(nodes[caller], Balancer))
        nodes[caller] = nodes[caller].model_copy(update={"calls": [*nodes[caller].calls, call]})
        sites = _database_calls(nodes)
    added = set()
    for _ in range(rng.choice([1, 1, 2])):
        owner, index = rng.choice(sites)
        database = nodes[owner].calls[index].to
        relay = _fresh(nodes, "fz_relay")
        # This call and, sometimes, the other unmarked calls to the same database write rows.
        for name, i in sites:
            call = nodes[name].calls[i]
            if (
                call.outbox is None
                and call.to == database
                and ((name, i) == (owner, index) or rng.random() < 0.3)
            ):
                calls = list(nodes[name].calls)
                calls[i] = call.model_copy(update={"outbox": relay})
                nodes[name] = nodes[name].model_copy(update={"calls": calls})
        broker, queue = rng.choice(queues)
        publish = Publish(
            to=broker, queue=queue, timeout=rng.choice([None, 0.005, 0.05, 0.5]),
            retry=_retry(rng) if rng.random() < 0.5 else None,
            breaker=_breaker(rng) if rng.random() < 0.1 else None,
            bulkhead=_bulkhead(rng) if rng.random() < 0.1 else None,
        )  # fmt: skip
        nodes[relay] = Relay(kind="relay", database=database, publish=publish,
                             **_relay_knobs(rng))  # fmt: skip
        added.add(relay)
        sites = [(n, i) for n, i in sites if nodes[n].calls[i].outbox is None]
        if not sites:
            break
    return added


def _database_calls(nodes: dict[str, Any]) -> list[tuple[str, int]]:
    """(node, call index) of every call to a database that writes no outbox row yet."""
    return [
        (name, i)
        for name, node in nodes.items()
        for i, call in enumerate(node.calls)
        if isinstance(nodes.get(call.to), Database) and call.outbox is None
    ]


def _add_third_party(nodes: dict[str, Any], rng: random.Random) -> list[BaseModel]:
    """A third party (mostly with a rate quota) called by a random service or client.

    The examples have few third parties; this puts quotas, 429s and the retries of
    them into any example. Returns faults on the new node.
    """
    callers = [n for n, node in nodes.items() if isinstance(node, Client | Service)]
    if not callers:
        return []
    name = _fresh(nodes, "fz_api")
    nodes[name] = ThirdParty(
        kind="third_party",
        latency=_latency(rng, rng.choice([0.001, 0.01, 0.1])),
        error_rate=rng.choice([0.0, 0.0, 0.1]),
        max_concurrent=rng.choice([None, None, 2, 20]),
        rate_limit=rng.choice([None, 0.5, 5.0, 20.0, 200.0]),
        rate_burst=rng.choice([1, 5, 50]),
    )
    caller = rng.choice(callers)
    call = _call(Call(to=name), rng, balancer=False)
    if rng.random() < 0.5:  # retries that may (or may not) retry a 429
        call = call.model_copy(update={"retry": _retry(rng)})
    nodes[caller] = nodes[caller].model_copy(update={"calls": [*nodes[caller].calls, call]})
    return [_fault(rng, nodes, [name]) for _ in range(rng.choice([0, 0, 1]))]


def _fresh(nodes: dict[str, Any], stem: str) -> str:
    return next(f"{stem}{i}" for i in range(len(nodes) + 1) if f"{stem}{i}" not in nodes)


# -- alert rules ------------------------------------------------------------------------------

_THRESHOLDS = {
    "error_rate": ["0%", "1%", "50%"],
    "p99_latency": ["1ms", "100ms", "2s"],
    "utilization": ["0%", "50%", "90%"],
    "memory": ["10%", "85%"],
    "pool": ["0%", "80%"],
    "queue_growing": [0, 1, 10],
}


_WINDOWS = [0.0, 0.05, 0.3, 1.0, 7.5, 60.0, 3600.0]
"""Rule windows: under a bucket, not a whole number of buckets, longer than the run."""


def _alerts(scenario: Scenario, rng: random.Random) -> Alerts:
    """Defaults kept or not, some overridden or switched off, rules of every metric added."""
    keep = rng.random() < 0.7
    rules = []
    for default in DEFAULT_RULES:
        if keep and rng.random() < 0.3:
            if rng.random() < 0.3:
                rules.append(AlertRule(name=default.name, enabled=False))
            else:
                override: dict[str, Any] = {
                    "name": default.name, "for": rng.choice([0.0, 0.5, 3.0]),
                    "severity": rng.choice(["critical", "warning", "info"]),
                }  # fmt: skip
                if rng.random() < 0.5:
                    override["window"] = rng.choice(_WINDOWS)
                rules.append(AlertRule.model_validate(override))
    targets = scenario_targets(scenario)
    for i in range(rng.choice([0, 1, 2, 4])):
        metric = rng.choice([*_THRESHOLDS, "breaker_open"])
        kind = METRICS[metric][0]
        named = watched_targets(metric, targets)  # queue growing: broker queues, outboxes too
        target = rng.choice(named) if named and rng.random() < 0.6 else f"every {kind}"
        fields: dict[str, Any] = {"name": f"fuzz-{i}", "metric": metric, "target": target,
                                  "for": rng.choice([0.0, 0.5, 2.0, 10.0])}  # fmt: skip
        if metric in _THRESHOLDS:
            side = "above" if rng.random() < 0.8 else "below"
            # below: 0% can never hold (a fraction is never under 0%): refused, so not drawn
            fields[side] = rng.choice(
                [t for t in _THRESHOLDS[metric] if (side, t) != ("below", "0%")]
            )
        if rng.random() < 0.5:
            fields["window"] = rng.choice(_WINDOWS)
        rules.append(AlertRule.model_validate(fields))
    return Alerts(defaults=keep, rules=rules)


# -- faults -----------------------------------------------------------------------------------


def _fault(rng: random.Random, nodes: dict[str, Any], among: list[str] | None = None) -> BaseModel:
    """A random fault on a node it may target (of ``among``, if given: other nodes if none)."""
    names = among if among is not None else list(nodes)
    kinds = [k for k in FAULT_SPECS if _targets(k, nodes, names)]
    if not kinds:
        names = list(nodes)
        kinds = [k for k in FAULT_SPECS if _targets(k, nodes, names)]
    kind = rng.choice(kinds)
    target = rng.choice(_targets(kind, nodes, names))
    at = rng.choice([0.0, rng.uniform(0.0, DURATION)])
    length = rng.choice([None, rng.uniform(0.1, 10.0)])
    common: dict[str, Any] = {"target": target, "at": at, "for": length}
    if rng.random() < 0.3:  # the report's probability: no effect on the run
        common["frequency"] = rng.choice(["2/year", "1/month", "0.5/year", "3/week", "1/day"])
    if kind == "surge":
        multiply = rng.choice([0.0, 0.5, 2.0, SURGE_CAP])
        return SurgeFault(kind="surge", multiply=multiply, **common)
    if kind == "latency":
        return LatencyFault(kind="latency", add=rng.choice([0.0, 0.05, 1.0]),
                            multiply=rng.choice([1.0, 2.0, 10.0]), **common)  # fmt: skip
    if kind == "error":
        return ErrorFault(kind="error", rate=rng.choice([0.1, 0.5, 1.0]), **common)
    if kind == "throttle":
        capacity = rng.choice([0.0, 0.1, 0.5])
        return ThrottleFault(kind="throttle", capacity=capacity, **common)
    if kind == "crash":
        return CrashFault(kind="crash", **common)
    if kind == "corruption":
        return CorruptionFault(kind="corruption", rate=rng.choice([0.01, 0.2, 1.0]), **common)
    if kind == "disk_full":
        return DiskFullFault(kind="disk_full", **common)
    if kind == "message_drop":
        return MessageDropFault(kind="message_drop", rate=rng.choice([0.01, 0.1, 0.5, 1.0]),
                                when=rng.choice(["after_ack", "before_ack"]), **common)  # fmt: skip
    if kind == "memory_leak":
        rate = rng.choice([1.0, 10.0, 100.0, 1000.0])
        return MemoryLeakFault(kind="memory_leak", mb_per_s=rate, **common)
    return PartitionFault(kind="partition", **common)


def _targets(kind: str, nodes: dict[str, Any], names: list[str]) -> list[str]:
    """The nodes of ``names`` a ``kind`` fault may target (as ``reference_problems`` checks)."""
    allowed = FAULT_SPECS[kind].targets
    if kind == "bad_deploy":  # only with a deploy of its target: drawn by _add_deploys
        return []
    if kind == "corruption":  # only a node that writes to a database
        return [n for n in names if nodes[n].kind in allowed and _writes_to_database(nodes, n)]
    if kind == "memory_leak":  # only a node with a memory model can leak
        return [n for n in names if getattr(nodes[n], "memory", None) is not None]
    if allowed is None:
        return [n for n in names if not isinstance(nodes[n], Client)]
    return [n for n in names if nodes[n].kind in allowed]


# -- deploys: versions, strategies, rollbacks, bad versions -----------------------------------


def _add_deploys(
    nodes: dict[str, Any], rng: random.Random
) -> tuple[list[BaseModel], list[BaseModel]]:
    """One or two deploys of services, any strategy, with or without rollback, and bad
    versions (errors, latency, crash loop, leak) for some of them."""
    services = [n for n, node in nodes.items() if node.kind == "service"]
    deploys: list[BaseModel] = []
    faults: list[BaseModel] = []
    for target in rng.sample(services, min(len(services), rng.choice([1, 1, 2]))):
        at = rng.choice([0.0, rng.uniform(0.0, DURATION * 0.6)])
        rollback: Any = rng.choice([
            None, Rollback(), Rollback(severity="warning", watch=rng.choice([0.0, 5.0])),
            Rollback(alerts=["error-rate", "p99-latency"]),
        ])  # fmt: skip
        common: dict[str, Any] = {"target": target, "at": at, "rollback": rollback}
        strategy = rng.choice(["blue_green", "canary", "rolling"])
        if strategy == "blue_green":
            deploy: BaseModel = BlueGreenDeploy(
                strategy="blue_green", keep_old=rng.choice([0.0, 2.0, 8.0]), **common
            )
        elif strategy == "canary":
            shares = sorted(rng.choice([0.0, 0.05, 0.5, 1.0]) for _ in range(rng.randint(1, 3)))
            steps = [CanaryStep(share=s, hold=rng.choice([0.0, 1.0, 4.0])) for s in shares]
            deploy = CanaryDeploy(strategy="canary", steps=steps, **common)
        else:
            instances = rng.randint(1, min(6, nodes[target].workers))
            deploy = RollingDeploy(
                strategy="rolling", instances=instances, batch=rng.randint(1, instances),
                boot_time=rng.choice([0.0, 0.5, 3.0]), **common,
            )  # fmt: skip
        deploys.append(deploy)
        deploys += _sequel(deploy)
        if rng.random() < 0.7:
            leak = getattr(nodes[target], "memory", None) is not None and rng.random() < 0.4
            faults.append(BadDeployFault(
                kind="bad_deploy", target=target, at=at, error_rate=rng.choice([0.0, 0.1, 1.0]),
                add=rng.choice([0.0, 0.05]), multiply=rng.choice([1.0, 5.0]),
                crash_loop=rng.random() < 0.25, leak_mb_per_s=rng.choice([10.0, 500.0]) if leak
                else 0.0, **{"for": rng.choice([None, rng.uniform(0.5, 10.0)])},
            ))  # fmt: skip
    return deploys, faults


def _sequel(first: Any) -> list[BaseModel]:
    """Sometimes a newer deploy of the same service, from the instant the first completes
    (it supersedes the first's watch and late rollback). Drawn from a generator of its own,
    seeded by the first deploy, so the other cases' draws do not shift."""
    sub = random.Random(f"sequel {first.target} {first.at} {first.strategy}")
    if sub.random() >= 0.3:
        return []
    at = planned_end(first) + sub.choice([0.0, 1.0, 3.0])
    if at >= DURATION:
        return []
    common: dict[str, Any] = {"target": first.target, "at": at, "rollback": Rollback()}
    if sub.random() < 0.5:
        return [BlueGreenDeploy(strategy="blue_green", keep_old=sub.choice([0.0, 4.0]), **common)]
    steps = [CanaryStep(share=sub.choice([0.05, 0.5]), hold=sub.choice([1.0, 4.0]))]
    return [CanaryDeploy(strategy="canary", steps=steps, **common)]


# -- corruption: writes, validation layers, reconciliation -----------------------------------


def _add_corruption(nodes: dict[str, Any], rng: random.Random) -> list[BaseModel]:
    """Make some database calls writes with random layers; check and reconcile the databases.

    ``nodes`` is changed in place; returns corruption faults on some of the writers.
    """
    writers: set[str] = set()
    for name, i in _database_calls(nodes):
        if rng.random() < 0.15:
            continue
        call = nodes[name].calls[i]
        layers = [
            ValidationLayer(layer=layer, catches=rng.choice([0.0, 0.5, 1.0]),  # type: ignore[arg-type]
                            latency=rng.choice([0.0, 0.0, 0.001, 0.05]))
            for layer in CALL_LAYERS if rng.random() < 0.4
        ]  # fmt: skip
        calls = list(nodes[name].calls)
        calls[i] = call.model_copy(update={"writes": True, "validation": layers})
        nodes[name] = nodes[name].model_copy(update={"calls": calls})
        writers.add(name)
    for name, node in list(nodes.items()):
        if not isinstance(node, Database):
            continue
        update: dict[str, Any] = {}
        if rng.random() < 0.5:
            update["validation"] = [ValidationLayer(
                layer="db_constraint", catches=rng.choice([0.0, 0.5, 1.0]),
                latency=rng.choice([0.0, 0.002]),
            )]  # fmt: skip
        if rng.random() < 0.6:
            update["reconciliation"] = Reconciliation(
                interval=rng.choice([0.01, 0.5, 2.0, 5.0]),
                scan_share=rng.choice([0.01, 0.3, 1.0]),
                load=rng.choice([0.0, 0.5, 1.0]),
                scan_rate=rng.choice([10.0, 1000.0, 1e6]),
            )
        nodes[name] = node.model_copy(update=update)
    faults: list[BaseModel] = []
    for name in sorted(writers):
        if nodes[name].kind in CorruptionFault.targets and rng.random() < 0.9:  # type: ignore[operator]
            at = rng.choice([0.0, rng.uniform(0.0, DURATION)])
            faults.append(CorruptionFault(
                kind="corruption", target=name, at=at, rate=rng.choice([0.05, 0.5, 1.0]),
                **{"for": rng.choice([None, rng.uniform(0.1, 10.0)])},
            ))  # fmt: skip
    return faults


def _writes_to_database(nodes: dict[str, Any], name: str) -> bool:
    return any(
        call.writes and call.outbox is None and isinstance(nodes.get(call.to), Database)
        for call in nodes[name].calls
    )


# -- contention: conflicting writes, crowds that write once ----------------------------------


def _add_contention(nodes: dict[str, Any], rng: random.Random) -> None:
    """Make databases contended and some calls to them writes; give closed loops a quota.

    ``nodes`` is changed in place. Keys from one row to many, windows from shorter than
    any service to longer than most; closed-loop users may stop after a few requests.
    """
    for name, i in _database_calls(nodes):
        if rng.random() < 0.5:
            calls = list(nodes[name].calls)
            calls[i] = calls[i].model_copy(update={"writes": True})
            nodes[name] = nodes[name].model_copy(update={"calls": calls})
    for name, node in list(nodes.items()):
        if isinstance(node, Database) and rng.random() < 0.7:
            spec = Contention(keys=rng.choice([1, 1, 2, 50, 1_000_000]),
                              conflict_window=rng.choice([0.0005, 0.02, 0.2, 2.0]))  # fmt: skip
            nodes[name] = node.model_copy(update={"contention": spec})
        elif isinstance(node, Client) and node.users is not None and rng.random() < 0.5:
            quota = rng.choice([1, 1, 3, 20])
            nodes[name] = node.model_copy(update={"requests_per_user": quota})


# -- hedged requests --------------------------------------------------------------------------


def _add_hedges(nodes: dict[str, Any], rng: random.Random) -> None:
    """Hedge some reads (never a write, an outbox call or a dual-write transaction): a fixed
    delay or a percentile, one to three hedges, budgets from tight to none, cancelling or not."""
    for name, node in list(nodes.items()):
        committed = {p.after_commit_to for p in node.publishes}
        calls = list(node.calls)
        for i, call in enumerate(calls):
            if call.writes or call.outbox is not None or call.to in committed:
                continue
            if rng.random() < 1 / 3:
                fixed = rng.random() < 0.5
                calls[i] = call.model_copy(update={"hedge": Hedge(
                    delay=rng.choice([0.001, 0.01, 0.05, 0.5]) if fixed else None,
                    percentile=None if fixed else rng.choice([0.5, 0.9, 0.99]),
                    max_hedges=rng.choice([1, 1, 2, 3]),
                    budget=rng.choice([0.05, 0.1, 0.5, 1.0]),
                    cancel_loser=rng.random() < 0.7,
                )})  # fmt: skip
        nodes[name] = node.model_copy(update={"calls": calls})


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


# -- outlier ejection (a balancer's outlier_detection and panic threshold) ---------------------


def _outlier_knobs(node: Balancer, rng: random.Random) -> dict[str, Any]:
    """Outlier detection switched on, off or redrawn, fast enough to act within a case:
    sweeps and ejections of seconds, low thresholds and volumes, fractional enforcement
    (so the balancer's own stream is drawn), any ejection cap and panic threshold."""
    return {
        "outlier_detection": _toggle(rng, node.outlier_detection, lambda: _outlier(rng)),
        "healthy_panic_threshold": rng.choice([0.0, 0.5, 0.5, 1.0]),
    }


def _outlier(rng: random.Random) -> OutlierDetection:
    base = rng.choice([0.5, 2.0, 10.0])
    return OutlierDetection(
        consecutive_5xx=rng.choice([1, 2, 5]),
        consecutive_gateway_failure=rng.choice([1, 3, 5]),
        enforcing_consecutive_5xx=rng.choice([0.0, 0.5, 1.0, 1.0]),
        enforcing_consecutive_gateway_failure=rng.choice([0.0, 0.5, 1.0]),
        interval=rng.choice([0.1, 1.0, 3.0]),
        base_ejection_time=base,
        max_ejection_time=base * rng.choice([1.0, 3.0, 30.0]),
        max_ejection_percent=rng.choice([0.0, 0.1, 0.5, 1.0]),
        always_eject_one_host=rng.random() < 0.7,
        success_rate_minimum_hosts=rng.choice([1, 2, 5]),
        success_rate_request_volume=rng.choice([1, 10, 100]),
        success_rate_stdev_factor=rng.choice([0.0, 1.0, 1.9]),
        enforcing_success_rate=rng.choice([0.0, 0.5, 1.0]),
        failure_percentage_threshold=rng.choice([0.0, 0.5, 0.85]),
        enforcing_failure_percentage=rng.choice([0.0, 0.5, 1.0]),
        failure_percentage_minimum_hosts=rng.choice([1, 2, 5]),
        failure_percentage_request_volume=rng.choice([1, 10, 50]),
    )
