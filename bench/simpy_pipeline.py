"""A minimal hand-written SimPy model of ``bench/pipeline.yaml``: producer -> broker -> consumer.

A Poisson producer (200/s) publishes each message: a constant publish latency
(2 ms), then the message goes into a ``simpy.Store``, the broker queue. A
consumer group of ``workers`` processes, each one looping ``get()``, an
exponential processing time (mean 10 ms) and an acknowledgement (a count).
What a SimPy user would write: one process per publish (publishes overlap),
one process per worker. No redelivery, visibility timeout or prefetch: with a
FIFO queue and workers that take the next message when free, Murphy's prefetch
buffer changes where a message waits, not when it is processed.
"""

from __future__ import annotations

import random

import simpy

__all__ = ["run"]


def run(
    duration: float,
    rate: float = 200.0,
    publish_latency: float = 0.002,
    mean_processing: float = 0.010,
    workers: int = 4,
    seed: int = 1,
) -> dict:
    """Simulate ``duration`` seconds; return messages produced, published and acknowledged."""
    rng = random.Random(seed)
    env = simpy.Environment()
    queue = simpy.Store(env)
    mu = 1.0 / mean_processing
    produced = published = acked = 0
    sojourn_sum = 0.0

    def publish():
        nonlocal published
        yield env.timeout(publish_latency)
        yield queue.put(env.now)  # the broker holds it: the message is its enqueue time
        published += 1

    def producer():
        nonlocal produced
        while True:
            yield env.timeout(rng.expovariate(rate))
            produced += 1
            env.process(publish())

    def worker():
        nonlocal acked, sojourn_sum
        while True:
            enqueued = yield queue.get()
            yield env.timeout(rng.expovariate(mu))
            acked += 1
            sojourn_sum += env.now - enqueued

    env.process(producer())
    for _ in range(workers):
        env.process(worker())
    env.run(until=duration)
    return {
        "customers": acked,
        "produced": produced,
        "published": published,
        # enqueued to acknowledged: wait in the queue plus processing (M/M/4 at rho 0.5: 10.87 ms)
        "mean_sojourn_ms": 1000.0 * sojourn_sum / acked if acked else float("nan"),
    }


if __name__ == "__main__":
    import time

    t = time.perf_counter()
    print(run(600.0), f"{time.perf_counter() - t:.2f}s")
