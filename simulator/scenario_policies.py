"""The resilience policies a call (or a node's entry) carries, as the scenario file spells them.

Defaults follow the references people know: resilience4j for breakers and
bulkheads, Envoy for retry budgets, the Google SRE book for adaptive throttling.
These are plain descriptions; the running state machines live in ``policies/``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, model_validator

from simulator.scenario_types import Duration, Percent, Rate, Strict

__all__ = [
    "AdaptiveThrottling",
    "Breaker",
    "Bulkhead",
    "Fallback",
    "Hedge",
    "Limiter",
    "OutlierDetection",
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
    window: Duration | None = Field(None, gt=0, description="time-based sliding window")
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
    """Load shedding at a node's entry; shed requests end as ``shed``.

    ``aimd``, ``vegas`` and ``gradient2`` are adaptive concurrency limits as Netflix's
    concurrency-limits library names them (``AIMDLimit``, ``VegasLimit``,
    ``Gradient2Limit``): a cap on requests inside the node that moves with their
    observed latency. Their parameters keep that library's names and defaults.
    """

    kind: Literal["token_bucket", "max_in_flight", "aimd", "vegas", "gradient2"] = "token_bucket"
    rate: Rate = Field(100.0, description="token_bucket: refill rate")
    burst: int = Field(100, ge=1, le=10_000_000, description="token_bucket: bucket size")
    max_in_flight: int = Field(100, ge=1, le=10_000_000, description="max_in_flight: limit")
    initial_limit: int = Field(
        20, ge=1, le=1_000_000, description="aimd, vegas, gradient2: the limit at the start "
        "(and after the process restarts)"
    )  # fmt: skip
    min_limit: int = Field(
        20, ge=1, le=1_000_000, description="aimd, gradient2: the limit never goes below this"
    )
    max_limit: int = Field(200, ge=1, le=1_000_000, description="aimd: the limit's ceiling")
    max_concurrency: int | None = Field(
        None, ge=1, le=1_000_000,
        description="vegas, gradient2: the limit's ceiling (none: vegas 1000, gradient2 200)",
    )  # fmt: skip
    backoff_ratio: float = Field(
        0.9, ge=0.5, lt=1.0, description="aimd: a drop multiplies the limit by this"
    )
    timeout: Duration = Field(
        5.0, description="aimd: a request inside longer than this counts as a drop"
    )
    smoothing: float | None = Field(
        None, gt=0.0, le=1.0,
        description="vegas, gradient2: share of each new estimate taken (none: vegas 1.0, "
        "gradient2 0.2)",
    )  # fmt: skip
    alpha: int | None = Field(
        None, ge=1, le=1_000_000,
        description="vegas: queued requests below which the limit grows (none: 3 x log10 limit)",
    )  # fmt: skip
    beta: int | None = Field(
        None, ge=1, le=1_000_000,
        description="vegas: queued requests above which it shrinks (none: 6 x log10 limit)",
    )  # fmt: skip
    probe_multiplier: int = Field(
        30, ge=1, le=1_000_000,
        description="vegas: forget the no-load latency every probe_multiplier x limit samples "
        "(times a jitter of 0.5-1)",
    )  # fmt: skip
    queue_size: int = Field(
        4, ge=0, le=1_000_000, description="gradient2: how far the limit grows while latency holds"
    )
    long_window: int = Field(
        600, ge=1, le=10_000_000,
        description="gradient2: samples in the long (baseline) latency average",
    )  # fmt: skip
    rtt_tolerance: float = Field(
        1.5, ge=1.0, le=100.0,
        description="gradient2: latency may grow by this factor over the baseline before the "
        "limit shrinks",
    )  # fmt: skip

    ADAPTIVE: ClassVar[tuple[str, ...]] = ("aimd", "vegas", "gradient2")
    KIND_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "token_bucket": ("rate", "burst"),
        "max_in_flight": ("max_in_flight",),
        "aimd": ("initial_limit", "min_limit", "max_limit", "backoff_ratio", "timeout"),
        "vegas": ("initial_limit", "max_concurrency", "smoothing", "alpha", "beta",
                  "probe_multiplier"),
        "gradient2": ("initial_limit", "min_limit", "max_concurrency", "smoothing", "queue_size",
                      "long_window", "rtt_tolerance"),
    }  # fmt: skip
    """The fields each kind reads (the app's inspector shows only those)."""

    @property
    def adaptive(self) -> bool:
        """A limit that moves with latency (aimd, vegas, gradient2)."""
        return self.kind in self.ADAPTIVE

    def ceiling(self) -> int:
        """The highest the limit may go, the library's default where none is given."""
        if self.kind == "aimd":
            return self.max_limit
        if self.max_concurrency is not None:
            return self.max_concurrency
        return 1000 if self.kind == "vegas" else 200

    @model_validator(mode="after")
    def _positive_rate(self) -> Limiter:
        if self.kind == "token_bucket" and self.rate <= 0:
            raise ValueError("a token bucket needs a positive rate")
        if self.kind in ("aimd", "gradient2") and self.min_limit > self.ceiling():
            top = "max_limit" if self.kind == "aimd" else "max_concurrency"
            raise ValueError(
                f"min_limit ({self.min_limit}) is above {top} ({self.ceiling()}): lower "
                f"min_limit or raise {top}"
            )
        if self.kind == "aimd" and self.timeout <= 0:
            raise ValueError("aimd's timeout must be positive")
        if self.kind == "vegas" and self.alpha and self.beta and self.alpha > self.beta:
            raise ValueError(f"alpha ({self.alpha}) is above beta ({self.beta}): vegas grows "
                             "below alpha and shrinks above beta")  # fmt: skip
        return self


class OutlierDetection(Strict):
    """Envoy's outlier detection on a balancer (Envoy's cluster): passive health checking.

    Names, meanings and defaults are Envoy's ``config.cluster.v3.OutlierDetection``
    (snake_case as there; Durations and Percents in Murphy's spelling; Envoy's
    ``success_rate_stdev_factor`` of 1900 is 1.9 here). A backend that fails
    ``consecutive_5xx`` times in a row, or whose interval's success rate is an
    outlier, leaves the balancer's candidates for ``base_ejection_time`` × the
    times it was ejected in a row (at most ``max_ejection_time``).
    """

    consecutive_5xx: int = Field(
        5, ge=1, le=1_000_000,
        description="failures in a row (errors, timeouts, refusals: every 5xx) that eject a "
        "backend (Envoy's default: 5)",
    )  # fmt: skip
    consecutive_gateway_failure: int = Field(
        5, ge=1, le=1_000_000,
        description="gateway failures in a row (timeouts, rejections, refused connections: "
        "502/503/504) that eject a backend, if enforcing_consecutive_gateway_failure allows",
    )  # fmt: skip
    enforcing_consecutive_5xx: Percent = Field(
        1.0, description="chance that a consecutive-5xx detection really ejects (100%)"
    )
    enforcing_consecutive_gateway_failure: Percent = Field(
        0.0, description="chance that a consecutive gateway failure detection ejects (Envoy: 0%)"
    )
    interval: Duration = Field(
        10.0,
        description="time between ejection sweeps: success-rate and failure-percentage checks, "
        "and the return of backends whose ejection time has passed",
    )
    base_ejection_time: Duration = Field(
        30.0, description="an ejection lasts this long times the ejections in a row"
    )
    max_ejection_time: Duration = Field(
        300.0, description="the longest an ejection lasts, however often the backend failed"
    )
    max_ejection_percent: Percent = Field(
        0.1,
        description="most backends ejected at once, as a share (of 4 backends, 10% allows "
        "none: set always_eject_one_host or raise this share)",
    )
    always_eject_one_host: bool = Field(
        False,
        description="eject one backend even when max_ejection_percent allows none (Envoy's "
        "option since 1.31, off by default)",
    )
    success_rate_minimum_hosts: int = Field(
        5, ge=1, le=100_000,
        description="success-rate detection needs this many backends with enough requests",
    )  # fmt: skip
    success_rate_request_volume: int = Field(
        100, ge=1, le=100_000_000,
        description="requests in one interval that bring a backend into success-rate detection",
    )  # fmt: skip
    success_rate_stdev_factor: float = Field(
        1.9, ge=0.0, le=1_000.0,
        description="a backend whose success rate is below mean − this × stdev of the backends' "
        "rates is ejected (Envoy writes 1900 for 1.9)",
    )  # fmt: skip
    enforcing_success_rate: Percent = Field(
        1.0, description="chance that a success-rate detection really ejects (100%)"
    )
    failure_percentage_threshold: Percent = Field(
        0.85, description="a backend failing this share of an interval's requests is an outlier"
    )
    enforcing_failure_percentage: Percent = Field(
        0.0, description="chance that a failure-percentage detection ejects (Envoy: 0%, off)"
    )
    failure_percentage_minimum_hosts: int = Field(
        5, ge=1, le=100_000,
        description="failure-percentage detection needs this many backends with enough requests",
    )  # fmt: skip
    failure_percentage_request_volume: int = Field(
        50, ge=1, le=100_000_000,
        description="requests in one interval that bring a backend into failure-percentage "
        "detection",
    )  # fmt: skip

    @model_validator(mode="after")
    def _sane_times(self) -> OutlierDetection:
        if self.interval < 0.01:
            raise ValueError("interval must be at least 10ms (each sweep is an event)")
        if self.base_ejection_time <= 0:
            raise ValueError("base_ejection_time must be positive")
        if self.max_ejection_time < self.base_ejection_time:
            raise ValueError(
                "max_ejection_time cannot be smaller than base_ejection_time (Envoy refuses it "
                "too): raise max_ejection_time"
            )
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
