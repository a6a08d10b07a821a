"""How responsive the app stays during a live run, how far the plots trail the canvas,
and how fast Stop stops it.

Runs offscreen. A 5 ms QTimer probes the GUI event loop while a run streams
into the main window (drawing overlay, plots, status bar); the gaps between its
ticks are what a user would feel as stalls. On the same ticks it samples the
plot lag: the simulated time the canvas clock shows minus the time the plots
reach (the end of the last bucket they drew), in seconds and in buckets; and,
for reference, how far the plots trail the newest data the run has sent. Goals:
event-loop gaps p99 < 50 ms (none over 50 ms), plot lag <= 1 bucket; Stop to
stopped under 0.5 s.

    .venv/bin/python bench/gui_responsiveness.py [--quick] [--repeat 3]

Machine load varies (two cores, other work): ``--repeat N`` runs every case N
times and adds a summary row per case (median and max of each figure).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.main_window import MainWindow  # noqa: E402
from gui.run import controller as states  # noqa: E402

FLAGSHIP = ROOT / "scenarios" / "latency-spike.yaml"
SETTLE = 0.5  # seconds between showing the window and pressing Run


def fifty_nodes(duration: str = "120s") -> str:
    """5 clients → 5 gateways → 20 services → 20 databases, with three faults."""
    lines = ["murphy: 1", "name: Fifty nodes", "seed: 5", f"duration: {duration}",
             "warmup: 10s", "nodes:"]  # fmt: skip
    layout = []
    for c in range(5):
        lines += [f"  users_{c}:", "    kind: client", "    rate: 60/s", "    calls:",
                  f"      - {{to: gw_{c}, timeout: 5s}}"]  # fmt: skip
        lines += [f"  gw_{c}:", "    kind: service", "    workers: 30", "    queue: 100",
                  "    service_time: {dist: exponential, mean: 2ms}", "    calls:"]  # fmt: skip
        for s in range(4):
            lines += [f"      - to: svc_{c}_{s}", "        timeout: 500ms",
                      "        retry: {strategy: full_jitter, attempts: 2, base: 50ms}",
                      "        breaker: {failure_rate: 50%, window: 10s, min_calls: 20, "
                      "open_for: 5s, half_open_calls: 3}"]  # fmt: skip
        layout += [f"  users_{c}: [0, {c * 420}]", f"  gw_{c}: [230, {c * 420 + 150}]"]
        for s in range(4):
            lines += [f"  svc_{c}_{s}:", "    kind: service", "    workers: 10", "    queue: 50",
                      "    service_time: {dist: exponential, mean: 4ms}",
                      f"    calls: [{{to: db_{c}_{s}, timeout: 300ms}}]",
                      f"  db_{c}_{s}:", "    kind: database", "    workers: 8",
                      "    service_time: {dist: lognormal, median: 3ms, p99: 30ms}"]  # fmt: skip
            layout += [f"  svc_{c}_{s}: [470, {c * 420 + s * 100}]",
                       f"  db_{c}_{s}: [710, {c * 420 + s * 100}]"]  # fmt: skip
    lines += ["faults:",
              "  - {kind: latency, target: db_0_0, at: 30s, for: 30s, add: 1s}",
              "  - {kind: crash, target: db_1_1, at: 40s, for: 20s}",
              "  - {kind: partition, target: svc_2_2, at: 50s, for: 20s}",
              "layout:", *layout]  # fmt: skip
    return "\n".join(lines) + "\n"


class Probe:
    """Ticks every 5 ms; the gaps between ticks are the event loop's stalls. Given a run
    session, each tick also samples how far the plots trail the canvas clock."""

    def __init__(self, session=None) -> None:
        self.ticks: list[float] = []
        self.session = session
        self.lags: list[float] = []  # canvas clock - plots' time, simulated seconds
        self.behind_data: list[float] = []  # newest data received - plots' time
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())
        session = self.session
        if session is None or session.clock is None:
            return
        shown = session.plots.shown_time
        if shown is not None:
            self.lags.append(max(0.0, session.clock - shown))
            self.behind_data.append(max(0.0, session.controller.record.now - shown))

    def start(self) -> None:
        self.ticks = [time.perf_counter()]
        self.lags, self.behind_data = [], []
        self.timer.start()

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        gaps = np.diff(self.ticks) * 1000
        out = {
            "ticks": len(gaps),
            "max_ms": float(gaps.max()),
            "p99_ms": float(np.percentile(gaps, 99)),
            "over_50ms": int((gaps > 50).sum()),
        }
        if self.session is not None:
            lags = np.array(self.lags or [np.nan])
            behind = np.array(self.behind_data or [np.nan])
            bucket = float(self.session.controller.record.info.get("bucket", 1.0))
            out |= {
                "lag_samples": len(self.lags),
                "lag_max_s": float(np.max(lags)),
                "lag_p99_s": float(np.percentile(lags, 99)),
                "lag_max_buckets": float(np.max(lags)) / bucket,
                "lag_p99_buckets": float(np.percentile(lags, 99)) / bucket,
                "behind_data_max_s": float(np.max(behind)),
            }
        return out


def wait(app: QApplication, until, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        app.processEvents()
        if until():
            return True
        time.sleep(0.001)
    return False


def make_window(path: Path, tmp: Path) -> MainWindow:
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, recovery_dir=tmp / "recovery")
    window.resize(1400, 900)
    window.show()
    assert window.files.open(path)
    return window


def live_run(app, path: Path, tmp: Path, speed_index: int, limit: float) -> dict:
    window = make_window(path, tmp)
    wait(app, lambda: False, SETTLE)  # the window's first paint is not part of the run
    session = window.run_session
    session.toolbar.speed_box.setCurrentIndex(speed_index)
    probe = Probe(session)
    probe.start()
    started = time.perf_counter()
    session.toolbar.run_action.trigger()
    done = {states.FINISHED, states.FAILED, states.STOPPED}
    wait(app, lambda: session.controller.state in done, limit)
    if session.controller.state not in done:
        session.controller.stop()
        wait(app, lambda: session.controller.state in done, 2)
    result = probe.stop()
    result["wall_s"] = time.perf_counter() - started
    result["sim_s"] = session.controller.record.now
    result["state"] = session.controller.state
    session.shutdown()
    window.close()
    return result


def stop_latency(app, path: Path, tmp: Path, runs: int = 3) -> list[float]:
    out = []
    for _ in range(runs):
        window = make_window(path, tmp)
        session = window.run_session
        session.toolbar.speed_box.setCurrentIndex(5)  # as fast as possible: the busiest child
        session.toolbar.run_action.trigger()
        wait(app, lambda s=session: s.controller.record.now > 5.0, 30)
        started = time.perf_counter()
        session.toolbar.stop_action.trigger()
        wait(app, lambda s=session: s.controller.state == states.STOPPED, 5)
        out.append(time.perf_counter() - started)
        session.shutdown()
        window.close()
    return out


def _print_row(label: str, r: dict) -> None:
    lag = ""
    if "lag_max_s" in r:
        lag = (f"{r['lag_max_s']:5.2f}s {r['lag_max_buckets']:4.1f}b "
               f"{r['lag_p99_s']:5.2f}s {r['lag_p99_buckets']:4.1f}b "
               f"{r['behind_data_max_s']:6.2f}s")  # fmt: skip
    print(f"{label:34} {r['max_ms']:7.1f}ms {r['p99_ms']:7.1f}ms {r['over_50ms']:6d} "
          f"{r['ticks']:6d} {r.get('sim_s', 0):6.0f} {r.get('wall_s', 0):7.1f}  {lag:36} "
          f"({r.get('state', '')})")  # fmt: skip


def _print_summary(label: str, runs: list[dict]) -> None:
    """Median (and max) over repeated runs of one case."""
    cells = []
    keys = (("max_ms", "ms"), ("p99_ms", "ms"), ("over_50ms", ""),
            ("lag_max_buckets", " buckets"), ("lag_p99_buckets", " buckets"))  # fmt: skip
    for key, unit in keys:
        values = [r[key] for r in runs]
        cells.append(f"{float(np.median(values)):.1f}{unit} (max {max(values):.1f}{unit})")
    print(f"  {label:32} median (max): max gap {cells[0]}, p99 {cells[1]}, >50 ms {cells[2]}, "
          f"plot lag max {cells[3]}, p99 {cells[4]}")  # fmt: skip


def idle_baseline(app, seconds: float) -> dict:
    """The same probe with no run: what the machine itself costs (other load, scheduler)."""
    probe = Probe()
    probe.start()
    wait(app, lambda: False, seconds)
    return probe.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case (default 1)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    limit = 20.0 if args.quick else 120.0
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        big = tmp / "fifty.yaml"
        big.write_text(fifty_nodes(), encoding="utf-8")
        long_flagship = tmp / "long.yaml"
        long_flagship.write_text(
            FLAGSHIP.read_text(encoding="utf-8").replace("duration: 180s", "duration: 3600s"),
            encoding="utf-8")  # fmt: skip
        cases = [("flagship, 10x", FLAGSHIP, 2), ("flagship, as fast as possible", FLAGSHIP, 5),
                 ("50 nodes, 10x", big, 2), ("50 nodes, as fast as possible", big, 5)]  # fmt: skip
        print(f"{'case':34} {'max gap':>8} {'p99 gap':>8} {'>50ms':>6} {'ticks':>6} "
              f"{'sim s':>6} {'wall s':>7}  {'plot lag: max':>13} {'p99':>11} "
              f"{'behind data':>11}")  # fmt: skip
        _print_row("idle app, no run (baseline)", idle_baseline(app, 5.0))
        summaries = []
        for label, path, speed in cases:
            runs = [live_run(app, path, tmp, speed, limit) for _ in range(args.repeat)]
            for r in runs:
                _print_row(label, r)
            summaries.append((label, runs))
        if args.repeat > 1:
            for label, runs in summaries:
                _print_summary(label, runs)
        for label, path in (("flagship", long_flagship), ("50 nodes", big)):
            times = stop_latency(app, path, tmp, runs=3 * args.repeat)
            print(f"Stop → stopped, {label}: median {np.median(times) * 1000:.0f} ms, "
                  f"max {max(times) * 1000:.0f} ms ("
                  + ", ".join(f"{t * 1000:.0f}" for t in times) + ")")  # fmt: skip


if __name__ == "__main__":
    main()
