"""The nodes of a scenario and the calls between them, as the scenario file spells them.

Plain descriptions, validated once; the running components live in ``components/``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from simulator.scenario_policies import (
    AdaptiveThrottling,
    Breaker,
    Bulkhead,
    Fallback,
    Limiter,
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
    "NodeBase",
    "ProfilePoint",
    "Publish",
    "Service",
    "ThirdParty",
]


class Call(Strict):
    """A synchronous call to another node, with the policies that guard it."""

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


class Publish(Call):
    """An asynchronous publish to a broker's queue: the publisher waits for the ack only.

    The same policies as a call guard it (timeout, retry, breaker, bulkhead); the
    message keeps its id across retries, so a retry after a lost ack is a duplicate,
    not a new event. A publish that fails after its last try loses the message.
    """

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

    @model_validator(mode="after")
    def _one_load_model(self) -> Client:
        given = [k for k in ("rate", "profile", "users") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a client needs exactly one of rate, profile or users")
        if self.profile is not None:
            times = [p.at for p in self.profile]
            if not times or times != sorted(times):
                raise ValueError("profile points must be in time order")
        return self

    def peak_rate(self) -> float:
        if self.rate is not None:
            return self.rate
        if self.profile:
            return max(p.rate for p in self.profile)
        return 0.0


class Service(NodeBase):
    """Workers serving a bounded FIFO queue; each worker is held through downstream calls."""

    kind: Literal["service"]
    workers: int = Field(1, ge=1, le=1_000_000)
    queue: int | None = Field(100, ge=0, le=10_000_000, description="waiting room (null: no limit)")
    service_time: Distribution
    error_rate: Percent = Field(0.0, description="share of requests that fail on their own")
    limiter: Limiter | None = None
    boot_time: Duration = Field(0.0, description="time to come back after a crash ends")


class Database(Service):
    """A service with a server-side connection limit: requests past it are refused at once."""

    kind: Literal["database"]  # type: ignore[assignment]
    max_connections: int | None = Field(
        None, ge=1, le=1_000_000,
        description="connections at most: each request of a caller without a pool while it is "
        "queued or served, plus each pooled connection open against it, idle or in use; "
        "requests past it are rejected, pooled connections past it refused",
    )  # fmt: skip


class ThirdParty(NodeBase):
    """An external API: its latency and errors are given, its capacity is not ours to see."""

    kind: Literal["third_party"]
    latency: Distribution
    error_rate: Percent = 0.0
    max_concurrent: int | None = Field(
        None, ge=1, le=1_000_000, description="quota on calls in flight; past it: rejected"
    )


class Balancer(NodeBase):
    """A load balancer: each request goes to ONE of its backends (its calls), not to all.

    A pass-through: no service time of its own and unlimited concurrency, so it
    never queues; what it adds is the choice of backend. The chosen call's own
    timeout, retries and breaker decide the outcome, as for a service.
    """

    kind: Literal["balancer"]
    strategy: Literal["round_robin", "random", "least_outstanding"] = Field(
        "round_robin",
        description="how a backend is chosen: in turn, at random, or the one with the fewest "
        "of this balancer's requests in flight",
    )
    health_check: bool = Field(
        False,
        description="skip backends that are down or partitioned (an ideal, instant check: "
        "an upper bound on what a real one achieves); if none is healthy, use all",
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
