"""How fast Cancel in the compare dialog returns, and how fast the pool's workers are gone.

Qt-free: it drives ``gui.plots.compare_job.ComparisonJob`` (what the dialog runs) on
a long comparison with the default executor (a killable process pool), and
presses Cancel at three moments: at once, as the first worker appears, and
after the first replication has finished. Goals: ``cancel()`` returns within
10 ms (it never blocks the GUI thread), every worker is gone within 1 s, the
job's thread has ended within 1 s.

    .venv/bin/python bench/gui_cancel_latency.py [--repeat 3] [--hog]

``--hog`` keeps one core busy with a spinning process meanwhile (a loaded machine).
Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "gui"))

from processes import alive, loky_workers  # noqa: E402

from gui.plots.compare_job import ComparisonJob  # noqa: E402
from simulator.scenario import parse_scenario  # noqa: E402

GOALS = {"return_ms": 10.0, "workers_gone_ms": 1000.0, "thread_ended_ms": 1000.0}
MOMENTS = ("at_once", "as_workers_start", "after_first_progress")
SCENARIO = """
murphy: 1
name: Cancel bench
duration: 1800s
nodes:
  users: {kind: client, rate: 80/s, calls: [{to: api, timeout: 2s}]}
  api:
    kind: service
    workers: 8
    queue: 40
    service_time: {dist: exponential, mean: 5ms}
    calls: [{to: db, timeout: 300ms, retry: {strategy: exponential, attempts: 3, base: 20ms}}]
  db: {kind: database, workers: 4, service_time: {dist: exponential, mean: 4ms}}
"""


def until(condition, timeout: float, step: float = 0.002) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def one(moment: str) -> dict[str, float]:
    scenario = parse_scenario(SCENARIO)
    varies = [("nodes.api.calls[0].retry.strategy", ["none", "immediate"])]
    job = ComparisonJob(scenario, varies, replications=6)
    seen: set[int] = set()

    def workers() -> set[int]:
        now = loky_workers()
        seen.update(now)
        return now

    job.start()
    if moment == "as_workers_start":
        until(lambda: bool(workers()), 60)
    elif moment == "after_first_progress":
        until(lambda: job.progress[0] >= 1, 120, step=0.01)
        workers()
    pressed = time.perf_counter()
    job.cancel()
    returned = time.perf_counter()
    until(lambda: not workers() and not any(alive(pid) for pid in seen), 30)
    gone = time.perf_counter()
    until(lambda: not job.running, 30)
    ended = time.perf_counter()
    leftover = [pid for pid in seen if alive(pid)]
    return {
        "return_ms": (returned - pressed) * 1000,
        "workers_gone_ms": (gone - pressed) * 1000,
        "thread_ended_ms": (ended - pressed) * 1000,
        "workers": len(seen),
        "leftover": len(leftover),
        "cancelled": float(job.cancelled),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per moment (default 3)")
    parser.add_argument("--hog", action="store_true", help="keep one core busy meanwhile")
    args = parser.parse_args()
    hog = None
    if args.hog:
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        print(f"{'moment':22} {'cancel() returns':>17} {'workers gone':>13} {'thread ended':>13}"
              f" {'workers':>8} {'left':>5}")  # fmt: skip
        for moment in MOMENTS:
            runs = [one(moment) for _ in range(args.repeat)]
            for r in runs:
                print(f"{moment:22} {r['return_ms']:14.2f} ms {r['workers_gone_ms']:10.0f} ms "
                      f"{r['thread_ended_ms']:10.0f} ms {r['workers']:8d} {r['leftover']:5d}"
                      + ("" if r["cancelled"] else "  (not cancelled!)"))  # fmt: skip
            for key, goal in GOALS.items():
                values = [r[key] for r in runs]
                verdict = "ok" if max(values) <= goal else "OVER GOAL"
                print(
                    f"  {key:18} median {statistics.median(values):8.2f} ms, "
                    f"max {max(values):8.2f} ms  (goal {goal:.0f} ms: {verdict})"
                )
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    print(f"(pid {os.getpid()}, {os.cpu_count()} cores{', one kept busy' if args.hog else ''})")


if __name__ == "__main__":
    main()
