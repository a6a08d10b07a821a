"""The same M/M/c queue in ciw (https://ciw.readthedocs.io), for an outside yardstick."""

from __future__ import annotations

import ciw

__all__ = ["run"]


def run(rate: float, mean_service: float, servers: int, duration: float, seed: int = 1) -> dict:
    """Simulate ``duration`` seconds; return customers served and their mean wait in queue."""
    ciw.seed(seed)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=rate)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / mean_service)],
        number_of_servers=[servers],
    )
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(duration)
    records = sim.get_all_records()
    waits = [r.waiting_time for r in records]
    return {
        "customers": len(records),
        "mean_wait_ms": 1000.0 * sum(waits) / len(waits) if waits else float("nan"),
    }


if __name__ == "__main__":
    import time

    t = time.perf_counter()
    print(run(640.0, 0.010, 8, 60.0), f"{time.perf_counter() - t:.2f}s")
