"""A client-side connection pool with SQLAlchemy ``QueuePool``'s knobs and meanings.

Up to ``max_size`` idle connections are kept open; under load up to ``overflow``
more are opened, and a connection returned while ``max_size`` are already idle
is closed. A caller finding all ``max_size + overflow`` slots checked out waits,
FIFO, up to ``acquire_timeout`` (0: gives up at once) and then fails.
Connections are opened lazily, as SQLAlchemy does, except the ``min_size`` the
owner opens ahead (``open_idle``).

A connection is an object with its open time and the incarnation (``epoch``)
of the target it was opened against: after the target restarts it is dead.
The pool hands a caller the connection of its grant (``granted``: an idle
one, oldest first, or ``None``: open one) and ``plan`` says what the
checkout must do with it; the engine pays the times (connect, ping) and
checks the target, since the pool sees neither the clock's events nor the
target. Every connection ends in exactly one place: idle, checked out,
leaked or closed, so ``opened == closed + idle + out + leaking``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from simulator.metrics import LogHistogram
from simulator.policies._slots import Slots
from simulator.policies._types import Cancel, Schedule
from simulator.scenario_policies import Pool

__all__ = ["OPEN", "PING", "RECYCLE", "STALE", "USE", "Connection", "ConnectionPool", "WaitTimes"]

# What a checkout does with the connection it was granted (``ConnectionPool.plan``).
USE = "use"  # send on it
OPEN = "open"  # none was idle: open one (pay the connect time)
RECYCLE = "recycle"  # older than ``recycle``: close it and open another
PING = "ping"  # pre_ping: a round trip first, then use it or replace it
STALE = "stale"  # opened against an earlier incarnation of the target: this use fails


class Connection:
    """One open connection: when it was opened, and against which incarnation of the target."""

    __slots__ = ("epoch", "opened_at")

    def __init__(self, opened_at: float, epoch: int) -> None:
        self.opened_at = opened_at
        self.epoch = epoch


class WaitTimes:
    """Acquire waits: most are zero, so zeros are counted and only real waits binned."""

    __slots__ = ("hist", "zeros")

    def __init__(self) -> None:
        self.zeros = 0
        self.hist = LogHistogram()

    def record(self, wait: float) -> None:
        if wait > 0:
            self.hist.record(wait)
        else:
            self.zeros += 1

    @property
    def count(self) -> int:
        return self.zeros + self.hist.count

    def p99(self) -> float:
        """The 99th percentile in seconds (NaN when nothing was recorded)."""
        total = self.count
        if not total:
            return math.nan
        rank = max(1, math.ceil(0.99 * total))
        if rank <= self.zeros:
            return 0.0
        return self.hist.percentile(100.0 * (rank - self.zeros) / self.hist.count)


class ConnectionPool(Slots):
    """``acquire(on_granted, on_rejected)`` a slot; in ``on_granted`` read ``granted``.

    The slot goes back with ``checkin`` (the connection stays idle or closes),
    ``discard`` (the connection died), ``release_bare`` (no connection was
    opened) or never, with ``leak``.
    """

    def __init__(
        self,
        config: Pool,
        schedule: Schedule,
        cancel: Cancel,
        clock: Callable[[], float] = lambda: 0.0,
        on_close: Callable[[Connection], None] | None = None,
    ) -> None:
        super().__init__(
            config.max_size + config.overflow, config.acquire_timeout, None, schedule, cancel
        )
        self.max_size = config.max_size
        self.min_size = config.min_size
        self.connect_time = config.connect_time
        self.recycle = math.inf if config.recycle is None else config.recycle
        self.pre_ping = config.pre_ping
        self.ping_time = config.ping_time
        self.leak_share = config.leak
        self._clock = clock
        self.on_close = on_close  # the target's ledger of its connections, if it keeps one
        self._idle: deque[Connection] = deque()
        # What each slot handed to a waiter carries, in hand-over order (None: no connection,
        # the waiter opens one). Apart from idle: a waiter whose grant is queued (see _slots)
        # must get the connection given back for it, not lose it to a fresh grant meanwhile.
        self._handoff: deque[Connection | None] = deque()
        self._leaking: list[Connection] = []
        self.granted: Connection | None = None
        self.out = 0  # connections checked out and not leaked
        self.opened = self.closed = self.recycled = 0
        self.stale_failures = self.leaked = self.refused_by_database = 0
        self.exhausted_at: float | None = None
        self.by_epoch: dict[int, int] = {}  # open connections per target incarnation
        self.generation = 0  # bumped when the owner crashes: older connections are dead
        self.waits = WaitTimes()  # the whole run
        self.bucket_waits = WaitTimes()  # the time bucket now open (see calls.PoolRecorder)
        # Time integrals of the levels, for the per-bucket means.
        self.in_use_area = self.idle_area = self.waiting_area = 0.0
        self._last = 0.0

    # -- levels ------------------------------------------------------------------------------

    @property
    def idle(self) -> int:
        """Idle connections, open and ready."""
        return len(self._idle)

    @property
    def leaking(self) -> int:
        """Leaked connections still open (until the owner restarts)."""
        return len(self._leaking)

    @property
    def open_connections(self) -> int:
        """Connections open now: checked out, leaked or idle."""
        return self.out + len(self._leaking) + len(self._idle)

    @property
    def timeouts(self) -> int:
        """Acquires that gave up (after ``acquire_timeout``, or at once when it is 0)."""
        return self.rejected

    def _tick(self) -> float:
        """Integrate the levels up to now; call before any of them changes."""
        now = self._clock()
        elapsed = now - self._last
        if elapsed > 0:
            self.in_use_area += self.in_use * elapsed
            self.idle_area += len(self._idle) * elapsed
            self.waiting_area += len(self._waiters) * elapsed
            self._last = now
        return now

    def _record_wait(self, wait: float) -> None:
        self.waits.record(wait)
        self.bucket_waits.record(wait)

    # -- slots -------------------------------------------------------------------------------

    def acquire(self, on_granted: Callable[[], None], on_rejected: Callable[[], None]) -> None:
        now = self._tick()
        if self.in_use < self.capacity:  # granted at once: the common case, kept short
            self.waits.zeros += 1
            self.bucket_waits.zeros += 1
            return super().acquire(on_granted, on_rejected)
        if self.exhausted_at is None:
            self.exhausted_at = now
        if self.max_wait == 0:
            self._record_wait(0.0)
            return super().acquire(on_granted, on_rejected)

        def granted() -> None:
            self._record_wait(self._clock() - now)
            on_granted()

        super().acquire(granted, on_rejected)

    def _expire(self, key: int) -> None:
        self._tick()
        if key in self._waiters:
            self._record_wait(self.max_wait or 0.0)
        super()._expire(key)

    def _on_taken(self, handed_over: bool) -> None:
        if handed_over:
            self.granted = self._handoff.popleft()
        else:
            self.granted = self._idle.popleft() if self._idle else None
        if self.granted is not None:
            self.out += 1

    def _give_back(self, conn: Connection | None) -> None:
        """Free a slot carrying ``conn`` (to the next waiter, if any) or nothing."""
        if self._waiters:
            self._handoff.append(conn)
        elif conn is not None:
            self._idle.append(conn)
        self.release()

    # -- what a checkout does ----------------------------------------------------------------

    def plan(self, conn: Connection | None, now: float, epoch: int) -> str:
        """What to do with the granted ``conn`` at ``now``, the target being at ``epoch``."""
        if conn is None:
            return OPEN
        if now - conn.opened_at > self.recycle:
            return RECYCLE
        if self.pre_ping:
            return PING
        if conn.epoch != epoch:
            return STALE
        return USE

    def open(self, now: float, epoch: int) -> Connection:
        """A new connection for the caller holding a slot without one."""
        self.opened += 1
        self.out += 1
        self.by_epoch[epoch] = self.by_epoch.get(epoch, 0) + 1
        return Connection(now, epoch)

    def open_idle(self, now: float, epoch: int) -> None:
        """Open one connection ahead of need (``min_size``) and keep it idle."""
        self._tick()
        self.opened += 1
        self.by_epoch[epoch] = self.by_epoch.get(epoch, 0) + 1
        self._idle.append(Connection(now, epoch))

    def _close(self, conn: Connection) -> None:
        self.closed += 1
        left = self.by_epoch[conn.epoch] - 1
        if left:
            self.by_epoch[conn.epoch] = left
        else:
            del self.by_epoch[conn.epoch]
        if self.on_close is not None:
            self.on_close(conn)

    def recycle_out(self, conn: Connection) -> None:
        """Close a checked-out connection past its lifetime; the caller opens another."""
        self.recycled += 1
        self.out -= 1
        self._close(conn)

    def drop_out(self, conn: Connection) -> None:
        """Close a checked-out connection found dead by a ping; the caller opens another."""
        self.out -= 1
        self._close(conn)

    def checkin(self, conn: Connection) -> None:
        """The caller is done with a healthy connection: idle again, handed on, or closed."""
        self._tick()
        self.out -= 1
        if self._waiters:
            self._handoff.append(conn)  # the grant release() makes now takes it
        elif len(self._idle) < self.max_size:
            self._idle.append(conn)
        else:
            self._close(conn)  # QueuePool keeps max_size idle; an overflow one closes
        self.release()

    def discard(self, conn: Connection) -> None:
        """The connection died (its target or its owner restarted): close it, free its slot."""
        self._tick()
        self.out -= 1
        self._close(conn)
        self._give_back(None)

    def release_bare(self) -> None:
        """Free a slot whose holder never got a connection (its target was down)."""
        self._tick()
        self._give_back(None)

    def leak(self, conn: Connection) -> None:
        """The caller never returns it: the slot stays taken while the owner lives."""
        self._tick()
        self.out -= 1
        self.leaked += 1
        self._leaking.append(conn)

    def close_idle(self) -> None:
        """The owner crashed: close every idle and leaked connection; its slots come back.

        Connections still out with calls of lost work are dead too; those calls give
        them back through ``discard`` (their generation is older).
        """
        self._tick()
        idle, self._idle = self._idle, deque()
        for conn in idle:
            self._close(conn)
        leaking, self._leaking = self._leaking, []
        self.generation += 1
        for conn in leaking:
            self._close(conn)
            self._give_back(None)  # a waiter, if any, opens a connection of its own

    def problems(self) -> list[str]:
        """Broken books: every connection opened is closed, idle, checked out or leaked."""
        found = []
        held = self.out + len(self._leaking)
        if self._handoff:
            found.append(f"{len(self._handoff)} hand-overs never taken")
        if self.opened != self.closed + len(self._idle) + held:
            found.append(
                f"{self.opened} opened != {self.closed} closed + {len(self._idle)} idle + "
                f"{self.out} checked out + {len(self._leaking)} leaked"
            )
        if not 0 <= held <= self.in_use <= self.capacity:
            found.append(f"{held} connections held in {self.in_use} slots of {self.capacity}")
        if len(self._idle) > max(self.max_size, self.min_size):
            found.append(f"{len(self._idle)} idle, more than max_size {self.max_size}")
        if self._waiters and self.in_use < self.capacity:
            found.append(f"{len(self._waiters)} waiting beside a free slot")
        return found
