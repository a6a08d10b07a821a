"""The minimal, idiomatic hand-written SimPy M/M/c: the baseline a SimPy user would write.

A source process spawns one process per customer; each customer requests one of
``c`` servers from a ``simpy.Resource``, waits, holds it for an exponential
service time and leaves. Random numbers come from ``random.expovariate``.
"""

from __future__ import annotations

import random

import simpy

__all__ = ["run"]


def run(rate: float, mean_service: float, servers: int, duration: float, seed: int = 1) -> dict:
    """Simulate ``duration`` seconds; return customers served and their mean wait in queue."""
    rng = random.Random(seed)
    env = simpy.Environment()
    counter = simpy.Resource(env, capacity=servers)
    mu = 1.0 / mean_service
    served = 0
    wait_sum = 0.0

    def customer():
        nonlocal served, wait_sum
        arrive = env.now
        with counter.request() as req:
            yield req
            wait_sum += env.now - arrive
            yield env.timeout(rng.expovariate(mu))
        served += 1

    def source():
        while True:
            yield env.timeout(rng.expovariate(rate))
            env.process(customer())

    env.process(source())
    env.run(until=duration)
    return {
        "customers": served,
        "mean_wait_ms": 1000.0 * wait_sum / served if served else float("nan"),
    }


if __name__ == "__main__":
    import time

    t = time.perf_counter()
    print(run(640.0, 0.010, 8, 600.0), f"{time.perf_counter() - t:.2f}s")
