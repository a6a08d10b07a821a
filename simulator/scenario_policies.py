"""The resilience policies a call (or a node's entry) carries, as the scenario file spells them.

Defaults follow the references people know: resilience4j for breakers and
bulkheads, Envoy for retry budgets, the Google SRE book for adaptive throttling.
These are plain descriptions; the running state machines live in ``policies/``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, model_validator

from simulator.scenario_types import Duration, Percent, Rate, Strict

__all__ = [
    "AdaptiveThrottling",
    "Breaker",
    "Bulkhead",
    "Fallback",
    "Hedge",
    "Limiter",
    "Pool",
    "Retry",
    "RetryBudget",
    "RetryStrategy",
]

Outcome = Literal["error", "timeout", "rejected", "breaker_open", "shed", "rate_limited"]
"""Failed outcomes of an attempt; ``rate_limited`` is a third party's 429 (its ``rate_limit``)."""
RetryStrategy = Literal[
    "none",
    "immediate",
    "fixed",
    "exponential",
    "full_jitter",
    "equal_jitter",
    "decorrelated_jitter",
]


def _usual_failures() -> list[Outcome]:
    """What is retried, and what a breaker counts, unless the scenario says otherwise."""
    return ["error", "timeout", "rejected"]


def _retryable_failures() -> list[Outcome]:
    """What is retried unless the scenario says otherwise: the usual failures and a 429.

    A 429 says "not now", so HTTP clients retry it by default; a breaker does not
    count it unless told (the API is up, it is pacing us).
    """
    return ["error", "timeout", "rejected", "rate_limited"]


class RetryBudget(Strict):
    """Envoy's retry budget: retries may be at most ``percent`` of active requests."""

    percent: Percent = Field(0.2, description="retries allowed as a share of active requests")
    min_concurrency: int = Field(3, ge=0, description="retries always allowed up to this many")


class Retry(Strict):
    """How a failed attempt is tried again. ``attempts`` counts the first try too."""

    strategy: RetryStrategy = "exponential"
    attempts: int = Field(3, ge=1, le=100, description="total tries, the first included")
    base: Duration = Field(0.1, description="first backoff (fixed: every backoff)")
    cap: Duration = Field(30.0, description="longest backoff")
    retry_on: list[Outcome] = Field(
        default_factory=_retryable_failures,
        description="outcomes worth another try; breaker_open only if listed",
    )
    budget: RetryBudget | None = Field(None, description="cap retries as a share of requests")


class AdaptiveThrottling(Strict):
    """Google SRE client-side throttling: reject locally when the backend keeps refusing."""

    k: float = Field(2.0, ge=1.0, le=100.0, description="accepts multiplier; lower sheds sooner")
    window: Duration = Field(120.0, gt=0, description="sliding window of requests and accepts")


class Breaker(Strict):
    """A circuit breaker with resilience4j's knobs, or the simple "N failures in T" form.

    ``window_calls`` gives a count-based window; ``window`` a time-based one (it wins
    when both are given). ``failures`` + ``within`` is the simple form and overrides
    the rate-based thresholds.
    """

    failure_rate: Percent = Field(0.5, description="open at or above this failure share")
    window: Duration | None = Field(None, description="time-based sliding window")
    window_calls: int = Field(100, ge=1, le=100_000, description="count-based sliding window")
    min_calls: int = Field(100, ge=1, description="calls needed before rates are judged")
    slow_call_duration: Duration | None = Field(None, description="a call this slow is 'slow'")
    slow_call_rate: Percent = Field(1.0, description="open at or above this slow-call share")
    open_for: Duration = Field(60.0, description="wait in open state before half-open")
    half_open_calls: int = Field(10, ge=1, description="trial calls permitted in half-open")
    failures: int | None = Field(None, ge=1, description="simple form: open after N failures…")
    within: Duration = Field(30.0, gt=0, description="…within this long")
    record_on: list[Outcome] = Field(
        default_factory=_usual_failures,
        description="outcomes that count as failures",
    )


class Bulkhead(Strict):
    """Per-dependency concurrency limit; a ``pool`` also queues up to ``queue`` calls."""

    kind: Literal["semaphore", "pool"] = "semaphore"
    max_concurrent: int = Field(25, ge=1, le=1_000_000)
    max_wait: Duration = Field(0.0, description="semaphore: how long a call may wait for a slot")
    queue: int = Field(100, ge=0, le=1_000_000, description="pool: waiting calls before rejection")


class Pool(Strict):
    """A client-side connection pool with SQLAlchemy's knobs and meanings (its ``QueuePool``).

    Up to ``max_size`` idle connections are kept; under load up to ``overflow``
    more are opened and closed again on return. A caller finding all of them
    checked out waits up to ``acquire_timeout``. A connection is bound to one
    incarnation of its target: after the target restarts it is dead, and its
    first use fails unless ``pre_ping`` checks it first.
    """

    min_size: int = Field(
        0, ge=0, le=100_000,
        description="connections opened at start (and when the caller restarts), before any "
        "request needs them; 0: opened lazily, as SQLAlchemy does",
    )  # fmt: skip
    max_size: int = Field(
        5, ge=0, le=100_000, validation_alias=AliasChoices("max_size", "size"),
        description="idle connections kept open (SQLAlchemy's pool_size); a connection returned "
        "while this many are idle is closed. Older files call it size",
    )  # fmt: skip
    overflow: int = Field(
        10, ge=0, le=100_000, description="extra connections opened under load (max_overflow)"
    )
    acquire_timeout: Duration = Field(
        30.0, description="wait for a free connection, then fail (0: fail at once)"
    )
    connect_time: Duration = Field(0.0, description="cost of opening a new connection")
    recycle: Duration | None = Field(
        None,
        description="maximum lifetime: a connection older than this is closed on checkout and "
        "replaced, paying the connect time (none: kept forever; SQLAlchemy's pool_recycle)",
    )
    pre_ping: bool = Field(
        False,
        description="test each connection with a round trip on checkout; a dead one (its "
        "database restarted) is replaced instead of failing the call",
    )
    ping_time: Duration = Field(0.001, description="pre_ping: the round trip's cost")
    leak: Percent = Field(
        0.0,
        description="share of checkouts never returned (a bug): the pool drains until the "
        "caller restarts",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_name_for_max_size(cls, data: Any) -> Any:
        if isinstance(data, dict) and "size" in data and "max_size" in data:
            raise ValueError("give max_size only (size is its old name)")
        return data

    @model_validator(mode="after")
    def _sizes_agree(self) -> Pool:
        if self.min_size > self.max_size:
            raise ValueError(
                f"min_size ({self.min_size}) is more than max_size ({self.max_size}): "
                "raise max_size or lower min_size"
            )
        if self.recycle is not None and self.recycle <= 0:
            raise ValueError("recycle must be a positive lifetime (or none: never recycle)")
        return self


class Fallback(Strict):
    """What a failed call answers instead: a cached value (if fresh enough), a default, or fail."""

    kind: Literal["cached", "default", "fail"] = "cached"
    max_age: Duration = Field(60.0, description="cached: oldest acceptable success")


class Limiter(Strict):
    """Load shedding at a node's entry; shed requests end as ``shed``."""

    kind: Literal["token_bucket", "max_in_flight"] = "token_bucket"
    rate: Rate = Field(100.0, description="token_bucket: refill rate")
    burst: int = Field(100, ge=1, le=10_000_000, description="token_bucket: bucket size")
    max_in_flight: int = Field(100, ge=1, le=10_000_000, description="max_in_flight: limit")

    @model_validator(mode="after")
    def _positive_rate(self) -> Limiter:
        if self.kind == "token_bucket" and self.rate <= 0:
            raise ValueError("a token bucket needs a positive rate")
        return self


HEDGE_WINDOW = 1000
"""Attempt latencies a percentile hedge delay is read from (the most recent ones)."""
HEDGE_MIN_SAMPLES = 100
"""A percentile hedge sends nothing until the call has observed this many attempt latencies."""


class Hedge(Strict):
    """Hedged requests (Dean and Barroso's "tail at scale"; Finagle's backup requests).

    After ``delay`` (or the ``percentile`` of the call's recent attempt latencies)
    with no answer, send another attempt, through a balancer to a backend this
    request has not tried; up to ``max_hedges`` per request. The first success
    wins; a failure waits for the attempts still out. ``budget`` caps hedges as a
    share of the call's requests over the last 10 s (Finagle's ``maxExtraLoad``).
    """

    delay: Duration | None = Field(
        None,
        description="fixed hedge delay: send a hedge when an attempt has had no answer for "
        "this long (instead of percentile)",
    )
    percentile: Percent | None = Field(
        None,
        description=f"hedge delay read from the call's last {HEDGE_WINDOW} attempt latencies, "
        f"e.g. 95% (the default without a delay); no hedge until {HEDGE_MIN_SAMPLES} were "
        "observed",
    )
    max_hedges: int = Field(
        1, ge=1, le=10, description="extra attempts at most per request, each one delay apart"
    )
    budget: Percent = Field(
        0.1,
        description="hedges at most this share of the call's requests over the last 10 s "
        "(100%: no budget)",
    )
    cancel_loser: bool = Field(
        True,
        description="when one attempt answers, cancel the others: with deadline_propagation "
        "the callee drops their queued work; without, it keeps working on them",
    )

    @model_validator(mode="before")
    @classmethod
    def _p95_unless_told(cls, data: Any) -> Any:
        """Neither delay nor percentile: the 95th percentile, Dean and Barroso's suggestion."""
        if isinstance(data, dict) and data.get("delay") is None and data.get("percentile") is None:
            return {**data, "percentile": 0.95}
        return data

    @model_validator(mode="after")
    def _one_delay(self) -> Hedge:
        if self.delay is not None and self.percentile is not None:
            raise ValueError(
                "a hedge waits either a fixed delay or a percentile: give one of delay (e.g. "
                "50ms) and percentile (e.g. 95%), not both"
            )
        if self.delay is not None and self.delay <= 0:
            raise ValueError("a hedge delay must be positive (e.g. 50ms)")
        if self.percentile is not None and not 0 < self.percentile < 1:
            raise ValueError("a hedge percentile must be between 0% and 100%, e.g. 95%")
        if self.budget <= 0:
            raise ValueError("a hedge budget of 0% sends no hedge: remove the hedge instead")
        return self
