"""Small shared vocabulary of the policy objects: the random stream, the scheduler, a limiter.

Policies never draw from global random state (ciw's global seed is the example
not to follow) and never import SimPy: the engine passes ``now``, a random
stream and, for the waiting policies, a way to schedule and cancel timers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Admission", "Cancel", "Rng", "Schedule"]


class Rng(Protocol):
    """The slice of ``random.Random`` (or numpy's ``Generator``-backed adapter) we use."""

    def random(self) -> float: ...

    def uniform(self, a: float, b: float) -> float: ...


Schedule = Callable[[float, Callable[[], None]], object]
"""``schedule(delay, fn)`` runs ``fn`` after ``delay`` simulated seconds; returns a handle."""

Cancel = Callable[[Any], None]
"""``cancel(handle)`` stops a timer returned by :data:`Schedule` from firing.

The handle is whatever the matching ``schedule`` returned: opaque to the policies,
which only keep it and hand it back, so its type is the scheduler's business.
"""


class Admission(Protocol):
    """A node's entry limiter: ``allow(now)`` per arrival, ``release()`` when one leaves."""

    def allow(self, now: float) -> bool: ...

    def release(self) -> None: ...
