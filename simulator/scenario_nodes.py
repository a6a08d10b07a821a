"""The nodes of a scenario and the calls between them, as the scenario file spells them.

Plain descriptions, validated once; the running components live in ``components/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from simulator.scenario_data import (
    CALL_LAYERS,
    DATABASE_LAYERS,
    MAX_LAYERS,
    Contention,
    Reconciliation,
    ValidationLayer,
    unique_layers,
)
from simulator.scenario_policies import (
    AdaptiveThrottling,
    Breaker,
    Bulkhead,
    Fallback,
    Hedge,
    Limiter,
    OutlierDetection,
    Pool,
    Retry,
)
from simulator.scenario_types import Constant, Distribution, Duration, Percent, Rate, Strict

__all__ = [
    "Balancer",
    "Cache",
    "Call",
    "Client",
    "Database",
    "Liveness",
    "Memory",
    "NodeBase",
    "ProfilePoint",
    "Publish",
    "Service",
    "ThirdParty",
    "call_edge_names",
    "publish_edge_names",
]


class Call(Strict):
    """A synchronous call to another node, with the policies that guard it."""

    checks_writes: ClassVar[bool] = True  # a publish (a subclass) takes no validation

    to: str = Field(description="name of the called node")
    probability: Percent = Field(1.0, description="share of requests that make this call")
    connect_timeout: Duration | None = Field(
        None, description="give up on an unreachable target after this long (none: never)"
    )
    timeout: Duration | None = Field(None, description="request timeout per attempt (none: wait)")
    retry: Retry | None = None
    adaptive_throttling: AdaptiveThrottling | None = None
    breaker: Breaker | None = None
    bulkhead: Bulkhead | None = None
    pool: Pool | None = None
    fallback: Fallback | None = None
    deadline_propagation: bool = Field(
        False, description="the callee drops work whose caller has already given up"
    )
    only_for: list[str] | None = Field(
        None,
        description="make this call only for requests that entered at these clients "
        "(a gateway's routes); none: for every request",
    )
    writes: bool = Field(
        False,
        description="this call writes to the callee (an insert, an update): a full disk fails "
        "it fast, and a corrupting caller may send it invalid data; reads keep working",
    )
    outbox: str | None = Field(
        None,
        description="transactional outbox: this call is a database transaction that also "
        "writes an outbox row for this relay; the row commits if and only if the call succeeds "
        "at the database",
    )
    validation: list[ValidationLayer] = Field(
        default_factory=list,
        max_length=MAX_LAYERS,
        description="checks the writer runs on this write before it sends it (input_schema, "
        "domain_rules), in order; a bad write caught is refused: the call fails with an error",
    )
    hedge: Hedge | None = Field(
        None,
        description="hedged requests: after a delay with no answer, send another attempt (to "
        "another backend behind a balancer); the first success wins",
    )

    @model_validator(mode="after")
    def _validation_on_writes(self) -> Call:
        if self.validation:
            if not self.checks_writes:
                raise ValueError("a publish is not a database write: validation goes on calls")
            if not self.writes:
                raise ValueError("validation checks writes: set writes: true on this call")
            unique_layers(self.validation, CALL_LAYERS, "a call")
        if self.hedge is not None:
            if not self.checks_writes:
                raise ValueError("a publish is not hedged: a second copy would be a duplicate")
            if self.writes or self.outbox is not None:
                raise ValueError(
                    "a hedge sends the same request twice: hedge reads only (remove writes "
                    "and outbox, or the hedge)"
                )
        return self


class Publish(Call):
    """An asynchronous publish to a broker's queue: the publisher waits for the ack only.

    The same policies as a call guard it (timeout, retry, breaker, bulkhead); the
    message keeps its id across retries, so a retry after a lost ack is a duplicate,
    not a new event. A publish that fails after its last try loses the message.
    """

    checks_writes: ClassVar[bool] = False
    queue: str = Field(description="the broker queue the message goes to")
    after_commit_to: str | None = Field(
        None,
        description="dual write: the message announces the transaction this node commits on "
        "this database (one of its calls); it exists from that commit, and is lost if the "
        "node fails, crashes or gives up before its publish is acknowledged",
    )

    @model_validator(mode="after")
    def _no_fallback(self) -> Publish:
        if self.fallback is not None:
            raise ValueError("a publish has no fallback: a message not acknowledged is lost")
        if self.outbox is not None:
            raise ValueError("outbox belongs on the database call, not on a publish")
        return self


def call_edge_names(caller: str, calls: Sequence[Call]) -> list[str]:
    """The engine's edge name of each call, in order: the first call to a target is
    ``caller->target``, a later one ``caller->target#index`` (its position in ``calls``).

    The one spelling shared by the engine (which records the edges), the analyses that
    read them back (amplification, compare) and the app's canvas, so they cannot drift.
    """
    return _numbered(caller, [call.to for call in calls])


def publish_edge_names(publisher: str, publishes: Sequence[Publish]) -> list[str]:
    """The engine's edge name of each publish: ``publisher->broker.queue``, ``#index`` for a
    later publish to the same queue (as for calls)."""
    return _numbered(publisher, [f"{p.to}.{p.queue}" for p in publishes])


def _numbered(source: str, targets: list[str]) -> list[str]:
    seen: set[str] = set()
    names = []
    for index, target in enumerate(targets):
        names.append(f"{source}->{target}" + (f"#{index}" if target in seen else ""))
        seen.add(target)
    return names


class ProfilePoint(Strict):
    """One point of a client's rate profile; ``ramp`` interpolates from the previous point."""

    at: Duration
    rate: Rate
    ramp: bool = False


class NodeBase(Strict):
    """What every node has: a description, synchronous calls, asynchronous publishes."""

    description: str = Field("", max_length=2_000)
    calls: list[Call] = Field(default_factory=list)
    publishes: list[Publish] = Field(
        default_factory=list,
        description="messages sent to brokers after the calls, in order (dual write when a "
        "call before them wrote to a database)",
    )


class Client(NodeBase):
    """Where requests come from: open loop (``rate`` or ``profile``) or closed loop (``users``)."""

    kind: Literal["client"]
    rate: Rate | None = Field(None, description="open loop: Poisson arrivals at this rate")
    profile: list[ProfilePoint] | None = Field(None, description="open loop: rate over time")
    users: int | None = Field(None, ge=1, le=1_000_000, description="closed loop: user count")
    think_time: Distribution | None = Field(None, description="closed loop: pause between calls")
    requests_per_user: int | None = Field(
        None, ge=1, le=1_000_000,
        description="closed loop: each user makes this many requests (its retries included in "
        "each), then stops; 1 with many users is a crowd that contends once (none: forever)",
    )  # fmt: skip

    @model_validator(mode="after")
    def _one_load_model(self) -> Client:
        given = [k for k in ("rate", "profile", "users") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a client needs exactly one of rate, profile or users")
        if self.profile is not None:
            times = [p.at for p in self.profile]
            if not times or times != sorted(times):
                raise ValueError("profile points must be in time order")
        if self.requests_per_user is not None and self.users is None:
            raise ValueError("requests_per_user counts a closed loop's requests: give users too")
        return self

    def peak_rate(self) -> float:
        if self.rate is not None:
            return self.rate
        if self.profile:
            return max(p.rate for p in self.profile)
        return 0.0


class Memory(Strict):
    """A process's memory: what it holds at rest, per request, and the limit it is killed at.

    Memory used = base + per_request x requests in service + per_queued x requests
    waiting + what a ``memory_leak`` fault has leaked since the last restart. Past
    ``limit_mb`` the process is OOM-killed: a crash (in-flight and queued work
    lost), then back after the node's ``boot_time``.
    """

    limit_mb: float = Field(
        1024.0, gt=0, le=1e9, description="the process is OOM-killed when its memory goes past this"
    )
    base_mb: float = Field(
        0.0, ge=0, le=1e9, description="held at rest (runtime, code, caches), from the start"
    )
    per_request_mb: float = Field(
        0.0, ge=0, le=1e6, description="held by each request in service (holding a worker)"
    )
    per_queued_mb: float = Field(
        0.0, ge=0, le=1e6, description="held by each request waiting in the queue"
    )

    @model_validator(mode="after")
    def _base_fits(self) -> Memory:
        if self.base_mb >= self.limit_mb:
            raise ValueError(
                "base_mb must be below limit_mb (the process could never start): "
                "raise limit_mb or lower base_mb"
            )
        return self


class Liveness(Strict):
    """A liveness probe (as Kubernetes runs one): a process failing it is restarted.

    Every ``interval`` while the node is up, a probe is served like a request on
    the node's workers: it waits in the queue behind the requests already there
    and is answered the moment a worker is free for it (it takes no service time
    of its own). Not answered within ``timeout``: a failure. ``failure_threshold``
    failures in a row: the node is killed (crash semantics) and restarted after
    its ``boot_time``. Probes are not requests: they appear in no request count.
    """

    interval: Duration = Field(10.0, description="time between probes (Kubernetes' periodSeconds)")
    timeout: Duration = Field(
        1.0, description="a probe not answered within this long fails (timeoutSeconds)"
    )
    failure_threshold: int = Field(
        3, ge=1, le=1_000, description="consecutive failures that get the process restarted"
    )

    @model_validator(mode="after")
    def _sane_period(self) -> Liveness:
        if self.interval < 0.1:
            raise ValueError("interval must be at least 100ms (a probe costs an event each)")
        if not 0 < self.timeout <= self.interval:
            raise ValueError("timeout must be positive and at most the interval")
        return self


class Service(NodeBase):
    """Workers serving a bounded FIFO queue; each worker is held through downstream calls."""

    kind: Literal["service"]
    workers: int = Field(1, ge=1, le=1_000_000)
    queue: int | None = Field(100, ge=0, le=10_000_000, description="waiting room (null: no limit)")
    service_time: Distribution
    error_rate: Percent = Field(0.0, description="share of requests that fail on their own")
    limiter: Limiter | None = None
    boot_time: Duration = Field(0.0, description="time to come back after a crash ends")
    memory: Memory | None = Field(
        None,
        description="memory model and limit: past the limit the process is OOM-killed and "
        "restarted after boot_time (none: memory is not modelled)",
    )
    liveness: Liveness | None = Field(
        None,
        description="liveness probe: a process that fails it failure_threshold times in a row "
        "is restarted (none: no probe)",
    )


class Database(Service):
    """A service that stores data: a connection limit, checks on writes, a reconciliation job."""

    kind: Literal["database"]  # type: ignore[assignment]
    max_connections: int | None = Field(
        None, ge=1, le=1_000_000,
        description="connections at most: each request of a caller without a pool while it is "
        "queued or served, plus each pooled connection open against it, idle or in use; "
        "requests past it are rejected, pooled connections past it refused",
    )  # fmt: skip
    validation: list[ValidationLayer] = Field(
        default_factory=list,
        max_length=MAX_LAYERS,
        description="checks the database runs on every write it serves (db_constraint); a bad "
        "write caught is refused with an error, one that slips through is stored corrupt",
    )
    reconciliation: Reconciliation | None = Field(
        None,
        description="a job that sweeps the stored records with a cursor and finds the corrupt "
        "ones; each pass holds some of the database's workers",
    )
    contention: Contention | None = Field(
        None,
        description="optimistic concurrency: a write that overlaps another write to the same "
        "key fails with a conflict and must retry (none: writes never conflict)",
    )

    @model_validator(mode="after")
    def _database_layers(self) -> Database:
        unique_layers(self.validation, DATABASE_LAYERS, "a database")
        return self


class ThirdParty(NodeBase):
    """An external API: its latency and errors are given, its capacity is not ours to see."""

    kind: Literal["third_party"]
    latency: Distribution
    error_rate: Percent = 0.0
    max_concurrent: int | None = Field(
        None, ge=1, le=1_000_000, description="quota on calls in flight; past it: rejected"
    )
    rate_limit: Rate | None = Field(
        None,
        description="quota on calls per second (a token bucket); past it the API answers "
        "429 at once, the outcome rate_limited, which retries may retry (none: no quota)",
    )
    rate_burst: int = Field(
        10, ge=1, le=1_000_000, description="calls the quota lets through at once after a lull"
    )

    @model_validator(mode="after")
    def _positive_quota(self) -> ThirdParty:
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be positive (leave it out for no quota)")
        return self


class Balancer(NodeBase):
    """A load balancer: each request goes to ONE of its backends (its calls), not to all.

    A pass-through: no service time of its own and unlimited concurrency, so it
    never queues; what it adds is the choice of backend. The chosen call's own
    timeout, retries and breaker decide the outcome, as for a service.
    """

    kind: Literal["balancer"]
    strategy: Literal["round_robin", "random", "least_outstanding", "power_of_two"] = Field(
        "round_robin",
        description="how a backend is chosen: in turn, at random, the one with the fewest "
        "of this balancer's requests in flight, or the less busy of two drawn at random "
        "with replacement (power_of_two: Envoy's least_request)",
    )
    health_check: bool = Field(
        False,
        description="skip backends that are down or partitioned (an ideal, instant check: "
        "an upper bound on what a real one achieves); if none is healthy, use all",
    )
    outlier_detection: OutlierDetection | None = Field(
        None,
        description="eject backends that keep failing (Envoy's outlier detection: consecutive "
        "5xx, success rate, failure percentage); none: every backend stays a candidate",
    )
    healthy_panic_threshold: Percent = Field(
        0.5,
        description="with outlier_detection: when fewer than this share of backends are "
        "healthy (not ejected, and not down or partitioned under health_check), route to all "
        "of them, as Envoy's panic mode does (0%: never; route to the healthy ones or none)",
    )

    @model_validator(mode="after")
    def _backends_are_whole(self) -> Balancer:
        if any(call.probability < 1.0 for call in self.calls):
            raise ValueError("a balancer's calls are its backends: probability does not apply")
        if self.publishes:
            raise ValueError(
                "a balancer only passes requests on: publish from the services behind it"
            )
        return self


class Cache(NodeBase):
    """A cache in front of an origin (its calls): a hit answers, a miss calls through.

    A crash empties it: after the restart the hit ratio climbs from 0 back to
    ``hit_ratio`` over ``warm_up``, and the misses land on the origin.
    """

    kind: Literal["cache"]
    hit_ratio: Percent = Field(0.8, description="share of requests answered from the cache")
    latency: Distribution = Field(
        Constant(dist="constant", value=0.001),
        description="lookup time, paid by hits and misses alike (a miss then calls the origin)",
    )
    warm_up: Duration = Field(
        60.0,
        description="after a crash the cache is empty: its hit ratio climbs linearly from 0 "
        "back to hit_ratio over this long (0s: warm at once)",
    )

    @model_validator(mode="after")
    def _no_publishes(self) -> Cache:
        if self.publishes:
            raise ValueError("a cache only answers or calls its origin: publish from the origin")
        return self
