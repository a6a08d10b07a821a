"""Envoy's retry budget: retries in flight may be at most a share of the requests in flight.

Envoy (``circuit_breakers.thresholds.retry_budget``) allows a retry while the
number of active retries is below ``max(min_retry_concurrency, budget_percent ×
active requests)``, where its active requests are all upstream requests in
flight, retries included. We mirror that: "active requests" here is the
original requests in flight (``request_started``/``request_finished``, once per
request, not per attempt) plus the retries in flight
(``retry_started``/``retry_finished``, once per retry attempt).

Unlike a per-request attempt limit, a budget bounds the *aggregate* extra load
retries can add, which is what stops retry storms.
"""

from __future__ import annotations

from simulator.scenario_policies import RetryBudget as RetryBudgetConfig

__all__ = ["RetryBudget"]


class RetryBudget:
    """Counts requests and retries in flight and answers "may this request retry now?"."""

    def __init__(self, config: RetryBudgetConfig) -> None:
        self.percent = config.percent
        self.min_concurrency = config.min_concurrency
        self.active_requests = 0
        self.active_retries = 0
        self.denied = 0
        self.allowed = 0

    def request_started(self) -> None:
        """An original request (its first attempt) went out."""
        self.active_requests += 1

    def request_finished(self) -> None:
        """An original request is over (whatever its final outcome)."""
        if self.active_requests <= 0:
            raise RuntimeError("request_finished without a matching request_started")
        self.active_requests -= 1

    def retry_started(self) -> None:
        """A retry attempt went out (call only after ``may_retry`` said yes)."""
        self.active_retries += 1

    def retry_finished(self) -> None:
        """A retry attempt ended."""
        if self.active_retries <= 0:
            raise RuntimeError("retry_finished without a matching retry_started")
        self.active_retries -= 1

    def limit(self) -> float:
        """How many retries may be in flight right now."""
        in_flight = self.active_requests + self.active_retries
        return max(float(self.min_concurrency), self.percent * in_flight)

    def may_retry(self) -> bool:
        """True if one more retry fits the budget; a refusal counts in ``denied``."""
        if self.active_retries < self.limit():
            self.allowed += 1
            return True
        self.denied += 1
        return False
