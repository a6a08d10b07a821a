"""Tiny scenarios for the run tests: quick to spawn, quick to simulate."""

from __future__ import annotations

from simulator.scenario import Scenario, dump_scenario, parse_scenario

TINY = """
murphy: 1
name: Tiny chain
seed: 7
duration: {duration}
warmup: 2s
nodes:
  users:
    kind: client
    rate: 80/s
    calls:
      - {{to: api, timeout: 2s}}
  api:
    kind: service
    workers: 8
    queue: 40
    service_time: {{dist: exponential, mean: 5ms}}
    calls:
      - to: db
        timeout: 300ms
        retry: {{strategy: exponential, attempts: 3, base: 20ms}}
        breaker: {{failure_rate: 50%, window: 5s, min_calls: 10, open_for: 3s, half_open_calls: 3}}
  db:
    kind: database
    workers: 4
    service_time: {{dist: exponential, mean: 4ms}}
faults:
  - {{kind: crash, target: db, at: 8s, for: 6s}}
layout: {{users: [0, 0], api: [240, 0], db: [480, 0]}}
"""

CYCLE = """
murphy: 1
name: Cycle
duration: 10s
nodes:
  users:
    kind: client
    rate: 10/s
    calls: [{to: a}]
  a:
    kind: service
    workers: 2
    service_time: {dist: exponential, mean: 5ms}
    calls: [{to: b}]
  b:
    kind: service
    workers: 2
    service_time: {dist: exponential, mean: 5ms}
    calls: [{to: a}]
"""


def tiny(duration: str = "20s") -> Scenario:
    return parse_scenario(TINY.format(duration=duration))


def cycle() -> Scenario:
    return parse_scenario(CYCLE)


class FakeConn:
    """Collects what a worker sends; never has a command for it."""

    def __init__(self):
        self.sent: list[tuple[str, object]] = []

    def send(self, message):
        self.sent.append(message)

    def poll(self, timeout=0.0):
        return False

    def close(self):
        pass


def record_of(scenario: Scenario, blast: bool = False):
    """Run ``scenario`` in this process through the worker's loop; return the filled record."""
    from gui.run.record import RunRecord
    from gui.run.worker import run_worker

    conn = FakeConn()
    run_worker(conn, dump_scenario(scenario), blast=blast)
    record = RunRecord()
    for kind, payload in conn.sent:
        if kind == "ready":
            record.start(payload)
        elif kind == "snapshot":
            record.add_frame(payload)
        elif kind == "finished":
            record.summary = payload
        elif kind == "blast":
            record.blast = payload
        elif kind == "error":
            raise AssertionError(payload["message"])
    return record


HANG = """
murphy: 1
name: Hangs
duration: 3600s
bucket: 600s
nodes:
  users:
    kind: client
    rate: 100000/s
    calls:
      - {to: api, timeout: 2s}
  api:
    kind: service
    workers: 8
    queue: 40
    service_time: {dist: exponential, mean: 5ms}
"""


def hang() -> Scenario:
    """Valid, and so heavy that its child does not answer for a long time.

    The child's first engine chunk is a twentieth of a bucket (30 s simulated), so
    three million arrivals: tens of seconds of CPU before it next hears a command.
    Six buckets and two nodes keep it far under the memory budget, and 3.6e8 expected
    requests under the request ceiling.
    """
    return parse_scenario(HANG)
