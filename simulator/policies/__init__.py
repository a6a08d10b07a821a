"""The running resilience policies: small state machines built from ``scenario_policies``.

Each is a pure object with a tiny API. None imports SimPy: the engine passes
``now``, an explicit random stream and, for the waiting policies, a
``schedule(delay, fn)`` / ``cancel(handle)`` pair.
"""

from simulator.policies._types import Admission, Cancel, Rng, Schedule
from simulator.policies.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from simulator.policies.budget import RetryBudget
from simulator.policies.bulkhead import Bulkhead
from simulator.policies.concurrency import AdaptiveLimiter
from simulator.policies.fallback import FallbackPolicy
from simulator.policies.hedge import HedgePolicy
from simulator.policies.limiter import MaxInFlight, TokenBucket, make_limiter
from simulator.policies.outlier import OutlierDetector
from simulator.policies.pool import ConnectionPool
from simulator.policies.retry import Backoff, RetrySequence, make_backoff
from simulator.policies.throttling import AdaptiveThrottle

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "AdaptiveLimiter",
    "AdaptiveThrottle",
    "Admission",
    "Backoff",
    "Bulkhead",
    "Cancel",
    "CircuitBreaker",
    "ConnectionPool",
    "FallbackPolicy",
    "HedgePolicy",
    "MaxInFlight",
    "OutlierDetector",
    "RetryBudget",
    "RetrySequence",
    "Rng",
    "Schedule",
    "TokenBucket",
    "make_backoff",
    "make_limiter",
]
