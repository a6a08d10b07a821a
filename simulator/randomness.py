"""Common random numbers: one independent stream per (seed, component, purpose).

Two variants of a scenario that differ only in a retry policy draw the very same
arrival times and service times, because those come from streams named by the
component and the purpose, not from a shared generator whose position would
shift with every extra retry. Numbers are drawn from numpy in batches, which is
what makes a per-request draw cheap in pure Python.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

__all__ = ["RandomStream", "stream_key"]

_BATCH = 2048


def stream_key(name: str) -> int:
    """A stable 32-bit key for a name (Python's ``hash`` changes between processes)."""
    return zlib.crc32(name.encode("utf-8"))


class RandomStream:
    """A reproducible stream of uniforms, exponentials and normals for one purpose."""

    __slots__ = ("_exp", "_gen", "_norm", "_uni")

    def __init__(self, seed: int, component: str, purpose: str):
        sequence = np.random.SeedSequence(
            entropy=seed, spawn_key=(stream_key(component), stream_key(purpose))
        )
        self._gen = np.random.Generator(np.random.PCG64(sequence))
        self._uni: list[float] = []
        self._exp: list[float] = []
        self._norm: list[float] = []

    def random(self) -> float:
        """A uniform draw in [0, 1)."""
        if not self._uni:
            self._uni = self._gen.random(_BATCH).tolist()
        return self._uni.pop()

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def exponential(self, mean: float) -> float:
        if not self._exp:
            self._exp = self._gen.standard_exponential(_BATCH).tolist()
        return self._exp.pop() * mean

    def normal(self) -> float:
        if not self._norm:
            self._norm = self._gen.standard_normal(_BATCH).tolist()
        return self._norm.pop()

    def lognormal(self, mu: float, sigma: float) -> float:
        return math.exp(mu + sigma * self.normal())
