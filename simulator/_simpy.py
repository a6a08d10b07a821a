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

Nothing else in ``simulator/`` touches SimPy internals: grep for ``._now``,
``._queue``, ``._eid`` or ``._value`` should find only this file.
tests/test_simpy_internals.py checks each assumption against the installed
SimPy, so an upgrade that moves one fails there with the attribute's name, not
somewhere deep in a run. (``Event.callbacks`` is public API and used directly.)
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL

__all__ = ["Environment", "Wake", "scheduled_count", "wake_after"]


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
