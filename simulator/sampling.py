"""Turn a distribution from the scenario into a zero-argument sampler bound to a stream."""

from __future__ import annotations

import math
from collections.abc import Callable

from simulator.randomness import RandomStream
from simulator.scenario_types import (
    Constant,
    Exponential,
    LogNormal,
    Uniform,
    lognormal_sigma,
)

__all__ = ["Sampler", "make_sampler"]

Sampler = Callable[[], float]


def make_sampler(dist: Exponential | Constant | Uniform | LogNormal, rng: RandomStream) -> Sampler:
    """A function returning one draw in seconds per call."""
    if isinstance(dist, Exponential):
        mean = dist.mean
        return lambda: rng.exponential(mean)
    if isinstance(dist, Constant):
        value = dist.value
        return lambda: value
    if isinstance(dist, Uniform):
        low, high = dist.low, dist.high
        return lambda: rng.uniform(low, high)
    if isinstance(dist, LogNormal):
        if dist.median <= 0:
            return lambda: 0.0
        mu, sigma = math.log(dist.median), lognormal_sigma(dist)
        return lambda: rng.lognormal(mu, sigma)
    raise TypeError(f"unknown distribution {dist!r}")
