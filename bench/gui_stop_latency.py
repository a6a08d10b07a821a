"""How fast Stop stops a run: a run that answers, and a run too busy to answer.

The tests check that Stop stops (they wait on conditions); the figures live here.
Offscreen, several runs per case, median and max against the goals:

- Stop → stopped, a live run that answers (the app's toolbar, the flagship at
  3600 s as fast as possible; and the controller alone, the tiny chain at 50x):
  goal 0.5 s.
- Stop → stopped and the process gone, a run deaf to Stop (the test suite's
  ``hang`` scenario: its child is deep in a first engine chunk of tens of
  seconds): goal 0.6 s (the controller's grace, then terminate).

    .venv/bin/python bench/gui_stop_latency.py [--runs 5] [--hog]

``--hog`` keeps one core busy with a spinning process meanwhile. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "gui"))

from gui_responsiveness import FLAGSHIP, make_window, wait  # noqa: E402
from processes import alive, cpu_seconds  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from run_scenarios import hang, tiny  # noqa: E402

from gui.run import controller as states  # noqa: E402
from gui.run.controller import RunController  # noqa: E402

GOALS = {"answering": 0.5, "deaf": 0.6}


def app_stop(app: QApplication, path: Path, tmp: Path) -> dict[str, float]:
    """The toolbar's Stop on a long run as fast as possible: to stopped, to the process gone."""
    window = make_window(path, tmp)
    session = window.run_session
    session.toolbar.speed_box.setCurrentIndex(5)  # as fast as possible: the busiest child
    session.toolbar.run_action.trigger()
    wait(app, lambda: session.controller.record.now > 5.0, 60)
    pid = session.controller.pid
    pressed = time.perf_counter()
    session.toolbar.stop_action.trigger()
    wait(app, lambda: session.controller.state == states.STOPPED, 10)
    stopped = time.perf_counter()
    wait(app, lambda: pid is None or not alive(pid), 10)
    gone = time.perf_counter()
    forced = session.controller.stop_forced
    session.shutdown()
    window.close()
    return {"stopped": stopped - pressed, "gone": gone - pressed, "forced": forced}


def controller_stop(app: QApplication, scenario, speed: float | None, deaf: bool) -> dict:
    """RunController alone; for a deaf run, Stop once the child is inside its long chunk."""
    controller = RunController(blast=False)
    controller.set_speed(speed)
    frames: list[dict] = []
    controller.snapshot_ready.connect(frames.append)
    controller.start(scenario)
    if deaf:
        wait(app, lambda: bool(frames), 60)
        pid = controller.pid
        busy_from = cpu_seconds(pid)
        wait(app, lambda: cpu_seconds(pid) > busy_from + 0.3, 60)
    else:
        wait(app, lambda: controller.record.now > 1.0, 60)
        pid = controller.pid
    pressed = time.perf_counter()
    controller.stop()
    wait(app, lambda: controller.state == states.STOPPED, 10)
    stopped = time.perf_counter()
    wait(app, lambda: pid is None or not alive(pid), 10)
    gone = time.perf_counter()
    result = {"stopped": stopped - pressed, "gone": gone - pressed}
    result["forced"] = controller.stop_forced
    controller.shutdown()
    controller.deleteLater()
    return result


def report(label: str, runs: list[dict], goal: float) -> None:
    for key in ("stopped", "gone"):
        values = [r[key] * 1000 for r in runs]
        verdict = "ok" if max(values) <= goal * 1000 else "OVER GOAL"
        print(
            f"{label:44} {key:8} median {statistics.median(values):6.0f} ms, "
            f"max {max(values):6.0f} ms  (goal {goal * 1000:.0f} ms: {verdict})  "
            + ", ".join(f"{v:.0f}" for v in values)
        )
    forced = sum(bool(r["forced"]) for r in runs)
    print(f"{'':44} terminated (did not answer in time): {forced} of {len(runs)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per case (default 5)")
    parser.add_argument("--hog", action="store_true", help="keep one core busy meanwhile")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    hog = None
    if args.hog:
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            long_flagship = tmp / "long.yaml"
            long_flagship.write_text(
                FLAGSHIP.read_text(encoding="utf-8").replace("duration: 180s", "duration: 3600s"),
                encoding="utf-8",
            )
            cases = [
                ("app: flagship 3600 s, as fast as possible", "answering",
                 lambda: app_stop(app, long_flagship, tmp)),
                ("controller: tiny chain 3600 s at 50x", "answering",
                 lambda: controller_stop(app, tiny("3600s"), 50.0, deaf=False)),
                ("controller: hang scenario, deaf to Stop", "deaf",
                 lambda: controller_stop(app, hang(), None, deaf=True)),
            ]  # fmt: skip
            for label, goal, case in cases:
                report(label, [case() for _ in range(args.runs)], GOALS[goal])
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    print(f"({os.cpu_count()} cores{', one kept busy' if args.hog else ''})")


if __name__ == "__main__":
    main()
