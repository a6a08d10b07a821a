"""A minimal hand-written SimPy model of ``scenarios/three-tier.yaml``.

client (Poisson 300/s, timeout 2 s) -> gateway (50 workers, queue 200, exp 2 ms,
timeout 1 s) -> orders (30 workers, queue 200, exp 5 ms, timeout 500 ms) -> db
(20 workers, at most 100 connections, lognormal median 4 ms p99 40 ms; +300 ms
from 60 s for 30 s). What a SimPy user would write: one process per request per
tier, a ``simpy.Resource`` per tier, ``AnyOf(reply, timeout)`` for each call. The
caller holds its worker through the call; a timeout does not cancel the callee.
"""

from __future__ import annotations

import math
import random

import simpy

__all__ = ["run"]

Z99 = 2.3263478740408408


class Tier:
    def __init__(self, env, workers, queue, service, max_connections=math.inf):
        self.res = simpy.Resource(env, capacity=workers)
        self.queue, self.service, self.max_connections = queue, service, max_connections
        self.next: Tier | None = None
        self.timeout = math.inf

    def full(self) -> bool:
        res = self.res
        if res.count + len(res.queue) >= self.max_connections:
            return True
        return res.count >= res.capacity and len(res.queue) >= self.queue


def run(duration: float = 300.0, seed: int = 7, rate: float = 300.0) -> dict:
    rng = random.Random(seed)
    env = simpy.Environment()
    db_mu, db_sigma = math.log(0.004), math.log(0.040 / 0.004) / Z99

    def db_time():
        extra = 0.3 if 60.0 <= env.now < 90.0 else 0.0
        return rng.lognormvariate(db_mu, db_sigma) + extra

    gateway = Tier(env, 50, 200, lambda: rng.expovariate(1 / 0.002))
    orders = Tier(env, 30, 200, lambda: rng.expovariate(1 / 0.005))
    db = Tier(env, 20, 100, db_time, max_connections=100)
    gateway.next, gateway.timeout = orders, 1.0
    orders.next, orders.timeout = db, 0.5
    outcomes = {"ok": 0, "error": 0, "timeout": 0, "rejected": 0}
    ok_latency = 0.0

    def serve(tier: Tier, reply: simpy.Event):
        if tier.full():
            reply.succeed("rejected")
            return
        with tier.res.request() as req:
            yield req
            yield env.timeout(tier.service())
            outcome = "ok"
            if tier.next is not None:
                answer = env.event()
                env.process(serve(tier.next, answer))
                timer = env.timeout(tier.timeout)
                yield answer | timer
                outcome = "ok" if answer.triggered and answer.value == "ok" else "error"
        reply.succeed(outcome)

    def request():
        nonlocal ok_latency
        start = env.now
        answer = env.event()
        env.process(serve(gateway, answer))
        yield answer | env.timeout(2.0)
        if answer.triggered:
            outcome = answer.value
            if outcome == "ok":
                ok_latency += env.now - start
        else:
            outcome = "timeout"
        outcomes[outcome] += 1

    def source():
        while True:
            yield env.timeout(rng.expovariate(rate))
            env.process(request())

    env.process(source())
    env.run(until=duration)
    customers = sum(outcomes.values())
    return {
        "customers": customers,
        "outcomes": outcomes,
        "mean_ok_latency_ms": 1000.0 * ok_latency / outcomes["ok"] if outcomes["ok"] else None,
    }


if __name__ == "__main__":
    import time

    t = time.perf_counter()
    print(run(), f"{time.perf_counter() - t:.2f}s")
