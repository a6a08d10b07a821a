"""Every use Murphy makes of SimPy's private attributes, in one place, each with its reason.

SimPy 4's public API is enough to run the engine, but two things on the hot path
cost too much through it: reading the clock (``Environment.now`` is a property,
four times the cost of an attribute read) and scheduling a bare callback
(``env.timeout(d).callbacks.append(f)`` builds a full ``Timeout`` event). A
request touches each a handful of times; on the M/M/c benchmark, reading the
clock through a function instead of an attribute costs 2-3% of the run time.
The private attributes used, all as SimPy 4.1 defines them (``simpy/core.py``
and ``simpy/events.py``):

- ``Environment._now``: the current time (``now`` is a property returning it).
  Our :class:`Environment` stores it in a slot and publishes that same slot as
  ``clock``, an attribute read with no call at all.
- ``Environment._queue``: the heap of ``(time, priority, event id, event)``.
- ``Environment._eid``: the ``itertools.count`` numbering scheduled events.
- ``Event._ok``: read by ``Environment.step`` after the callbacks ran (a failed
  event with ``_ok`` False crashes the run); a :class:`Wake` is always ok.
- ``Event._value``: :func:`run_until` builds the event that ends a run as
  ``Environment.run(until=t)`` does (``_ok`` True, ``_value`` None).

Nothing else in ``simulator/`` touches SimPy internals: grep for ``._now``,
``._queue``, ``._eid`` or ``._value`` should find only this file.
tests/test_simpy_internals.py checks each assumption against the installed
SimPy, so an upgrade that moves one fails there with the attribute's name, not
somewhere deep in a run. (``Event.callbacks`` is public API and used directly.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from heapq import heappush
from itertools import repeat
from typing import Any

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import NORMAL, URGENT

__all__ = ["Environment", "Stalled", "Wake", "run_until", "scheduled_count", "wake_after"]


class Environment(simpy.Environment):
    """A SimPy environment whose clock the hot path reads as ``env.clock``.

    Why private: SimPy keeps the time in ``self._now`` (``__init__`` sets it,
    ``step`` and ``run`` advance it) and reads it through the ``now`` property.
    Declaring ``_now`` as a slot puts that value in a fixed place, and ``clock``
    is the same slot under a public name: reading it is as cheap as reading
    ``_now`` directly, without naming a private attribute outside this module.
    ``clock`` is read-only by convention: only SimPy moves time.
    """

    __slots__ = ("_now",)
    clock: float  # the slot descriptor of _now, aliased just below


# A member descriptor reads its slot by offset, so under a second name it reads the same value.
Environment.clock = Environment.__dict__["_now"]


class Wake:
    """A bare timer event: all that ``Environment.step`` reads is ``callbacks`` and ``_ok``.

    The callback receives the Wake itself; ``value`` is what was passed to
    :func:`wake_after` (Murphy's own attribute, not SimPy's ``_value``).
    """

    __slots__ = ("callbacks", "value")
    _ok = True  # why private: Environment.step tests event._ok after the callbacks

    def __init__(self, callback: Callable[[Wake], None], value: Any):
        self.callbacks: list[Callable[[Wake], None]] | None = [callback]
        self.value = value


def wake_after(
    env: simpy.Environment, delay: float, callback: Callable[[Wake], None], value: Any = None
) -> None:
    """Run ``callback(wake)`` after ``delay``: ``env.timeout(delay, value)`` at about half the cost.

    Why private: pushing onto ``env._queue`` the very entry ``Environment.schedule``
    makes (``env._now + delay``, ``NORMAL``, ``next(env._eid)``, event) skips both the
    ``Timeout`` construction and the method call. The order of events and the event
    count are exactly those of a ``Timeout`` made at the same moment.
    """
    if delay < 0:
        raise ValueError(f"Negative delay {delay}")
    # The heap is typed as holding Events; a Wake stands in for one (see its docstring).
    heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), Wake(callback, value)))  # type: ignore[misc]


def scheduled_count(env: simpy.Environment) -> int:
    """Events scheduled so far in ``env``.

    Why private: SimPy numbers every scheduled event from ``env._eid``, an
    ``itertools.count``, and offers no public count. Its repr, ``count(n)``, shows
    the next number without consuming it (``next`` would shift every later event id).
    """
    text = repr(env._eid)
    return int(text[text.index("(") + 1 : text.rindex(")")])


STALL_BATCH = 4096
"""Events stepped between two looks at the clock in :func:`run_until`."""


class Stalled(Exception):
    """Simulated time stopped: ``events`` in a row at ``now``; ``owners`` did most of them."""

    def __init__(self, now: float, events: int, owners: list[tuple[str, int]]):
        super().__init__(now, events, owners)
        self.now, self.events, self.owners = now, events, owners


def run_until(env: simpy.Environment, at: float, stall_events: int) -> None:
    """``env.run(until=at)``, but raise :class:`Stalled` once ``stall_events`` events in a
    row have happened without the clock moving (a loop of zero-time steps would
    otherwise never return).

    Why private: this is ``Environment.run``'s own loop (an URGENT event at ``at``
    whose callback raises ``StopSimulation``, then ``step`` until it does), stepped in
    batches of ``STALL_BATCH`` with a look at ``env._now`` between batches, so the guard
    costs one comparison per batch, not per event. The events and their order are
    exactly those of ``env.run(until=at)``; the caller ensures ``at`` is in the future.
    """
    until = simpy.Event(env)
    until._ok = True
    until._value = None
    env.schedule(until, URGENT, at - env._now)
    until.callbacks.append(StopSimulation.callback)
    step = env.step
    still = 0
    try:
        while True:
            before = env._now
            for _ in repeat(None, STALL_BATCH):
                step()
            if env._now != before:
                still = 0
                continue
            still += STALL_BATCH
            if still >= stall_events:
                raise Stalled(env._now, still, _owners(env))
    except StopSimulation:
        return
    except EmptySchedule:
        raise RuntimeError(f"no events left before {at}: the run's own end event is gone") from None


def _owners(env: simpy.Environment, sample: int = 2000) -> list[tuple[str, int]]:
    """Whose callbacks the next ``sample`` events run (by the owner's ``name``), most first.

    Only called once a run has stalled: it steps on (the run is abandoned anyway).
    """
    seen: Counter[str] = Counter()
    queue = env._queue
    for _ in range(sample):
        if not queue:
            break
        for callback in queue[0][3].callbacks or ():
            name = getattr(getattr(callback, "__self__", None), "name", None)
            if isinstance(name, str):
                seen[name] += 1
        try:
            env.step()
        except (StopSimulation, EmptySchedule):
            break
    return seen.most_common()
