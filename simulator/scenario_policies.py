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


_GROWING = ("exponential", "full_jitter", "equal_jitter")
"""The strategies whose backoff grows by ``multiplier`` per retry."""


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
    multiplier: float = Field(
        2.0,
        ge=1.0,
        le=100.0,
        description="exponential, full_jitter, equal_jitter: each backoff is this many times the "
        "one before (2: doubling; resilience4j's exponentialBackoffMultiplier)",
    )
    randomization: Percent = Field(
        0.0,
        description="fixed, exponential: each wait is drawn uniformly within ± this share of "
        "itself (resilience4j's randomizedWaitFactor; the exponential wait is capped after "
        "the draw, as there); 0: no randomness",
    )

    @model_validator(mode="after")
    def _shape_knobs_apply(self) -> Retry:
        if self.multiplier != 2.0 and self.strategy not in _GROWING:
            raise ValueError(
                f"multiplier applies to exponential, full_jitter and equal_jitter, not to "
                f"{self.strategy}: remove it or pick one of those strategies"
            )
        if self.randomization > 0 and self.strategy not in ("fixed", "exponential"):
            raise ValueError(
                f"randomization applies to fixed and exponential waits, not to {self.strategy} "
                "(the jitter strategies draw their own): remove it or pick one of those"
            )
        return self


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
