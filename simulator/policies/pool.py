"""A client-side connection pool with SQLAlchemy ``QueuePool``'s knobs.

Up to ``size`` idle connections are kept open; under load up to ``overflow``
more are opened, and a connection returned while ``size`` are already idle is
closed. A caller finding all
``size + overflow`` connections in use waits, FIFO, up to ``acquire_timeout``
(0: gives up at once) and then fails. Connections are opened lazily, as
SQLAlchemy does, so the first ``size`` grants open new connections too.

Opening a connection costs ``connect_time``, which the engine applies: inside
``on_granted`` (or right after a synchronous grant) ``needs_connect()`` says
whether the connection just granted is a newly opened one (True) or an idle or
handed-over one (False).
"""

from __future__ import annotations

from simulator.policies._slots import Slots
from simulator.policies._types import Cancel, Schedule
from simulator.scenario_policies import Pool

__all__ = ["ConnectionPool"]


class ConnectionPool(Slots):
    """``acquire(on_granted, on_rejected)`` for a connection, ``release()`` to return it."""

    def __init__(self, config: Pool, schedule: Schedule, cancel: Cancel) -> None:
        super().__init__(
            config.size + config.overflow, config.acquire_timeout, None, schedule, cancel
        )
        self.size = config.size
        self.connect_time = config.connect_time
        self.idle = 0
        self.opened = 0
        self.closed = 0
        self.generation = 0  # bumped when the owner crashes: older connections are dead
        self._last_new = False

    @property
    def timeouts(self) -> int:
        """Acquires that gave up (after ``acquire_timeout``, or at once when it is 0)."""
        return self.rejected

    @property
    def open_connections(self) -> int:
        """Connections open now, in use or idle."""
        return self.in_use + self.idle

    def needs_connect(self) -> bool:
        """Whether the most recent grant opened a new connection (pay ``connect_time``)."""
        return self._last_new

    def _on_taken(self, handed_over: bool) -> None:
        if handed_over:
            self._last_new = False
        elif self.idle > 0:
            self.idle -= 1
            self._last_new = False
        else:
            self.opened += 1
            self._last_new = True

    def _on_freed(self) -> None:
        # QueuePool keeps up to ``size`` idle connections; one more is closed on return.
        if self.idle < self.size:
            self.idle += 1
        else:
            self.closed += 1

    def close_idle(self) -> None:
        """The owner crashed: close every idle connection, so it comes back with a cold pool.

        Connections still in use by calls of lost work are dead too; their calls give
        them back through ``release_dead``.
        """
        self.closed += self.idle
        self.idle = 0
        self.generation += 1

    def release_dead(self) -> None:
        """Give back a connection that died in its owner's crash: the slot frees, the
        connection does not go back to the idle set."""
        idle = self.idle
        self.release()
        if self.idle > idle:
            self.idle -= 1
            self.closed += 1
