"""A cache in front of an origin: a ``Server`` whose calls are made only on a miss.

Every request pays the lookup (the node's service time); a hit then answers, a
miss calls the origin (the node's calls, in order). The hit ratio is not
modelled from keys: it is a given share, drawn per request from the node's own
random stream so that two variants of a scenario see the same hits and misses.
A crash empties the cache: after the restart the hit ratio climbs linearly
from 0 back to its steady value over ``warm_up``, so for a while the origin sees
most of the traffic it is usually shielded from (the thundering herd).
"""

from __future__ import annotations

import math
from typing import Any

from simulator.components.base import Job
from simulator.components.kind import NodeKind, World
from simulator.components.service import Server, server_options
from simulator.randomness import RandomStream
from simulator.sampling import make_sampler
from simulator.scenario import Cache as CacheSpec

__all__ = ["KIND", "Cache"]


class Cache(Server):
    """Answers a share ``hit_ratio`` of requests itself; a cold restart lowers that share."""

    def __init__(
        self, *args: Any, hit_ratio: float, warm_up: float, hit_rng: RandomStream, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.hit_ratio, self.warm_up, self._hit_rng = hit_ratio, warm_up, hit_rng
        self.restarted_at: float | None = None  # None: warm since the start of the run
        self.hits = self.misses = 0

    def current_hit_ratio(self, now: float) -> float:
        """``hit_ratio``, or less while it refills after a restart."""
        if self.restarted_at is None:
            return self.hit_ratio
        filled = (now - self.restarted_at) / self.warm_up if self.warm_up > 0 else 1.0
        if filled >= 1.0:
            self.restarted_at = None  # warm again: skip the arithmetic from now on
            return self.hit_ratio
        return self.hit_ratio * filled

    def _next_call(self, job: Job) -> None:
        if job.step == 0:  # just looked up: hit or miss
            if self._hit_rng.random() < self.current_hit_ratio(self.env.clock):
                self.hits += 1
                return self._finish(job, "ok", None)
            self.misses += 1
        super()._next_call(job)

    def restart(self) -> None:
        """Back after a crash, and empty: the hit ratio starts again from 0."""
        super().restart()
        self.restarted_at = self.env.clock


def _build(world: World, name: str, spec: CacheSpec) -> Cache:
    """A pass-through: unlimited concurrency, no queue, no errors of its own."""
    return Cache(
        world.env, name, workers=math.inf, queue_limit=0,
        service_time=make_sampler(spec.latency, world.stream(name, "service")),
        error_rate=0.0, hit_ratio=spec.hit_ratio, warm_up=spec.warm_up,
        hit_rng=world.stream(name, "hits"), **server_options(world, name),
    )  # fmt: skip


KIND = NodeKind("cache", _build)
