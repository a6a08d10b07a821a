"""The run controller: a child process that streams frames, stops on demand, fails safely."""

from __future__ import annotations

from processes import alive, cpu_seconds
from run_scenarios import cycle, hang, tiny

from gui.run.controller import (
    FAILED,
    FINISHED,
    PAUSED,
    RUNNING,
    STOPPED,
    STOPPING,
    RunController,
)
from gui.run.record import RunRecord


def test_a_run_streams_frames_to_the_end_then_the_blast_radius(qtbot):
    controller = RunController()
    controller.set_speed(40.0)
    frames = []
    controller.snapshot_ready.connect(frames.append)
    with qtbot.waitSignal(controller.finished, timeout=40_000):
        controller.start(tiny("20s"))
        assert controller.is_live
    record = controller.record
    assert controller.state == FINISHED
    assert record.now == 20.0 and record.rows == 20
    assert len(frames) >= 2
    assert record.summary["routes"]["users"]["requests"] > 0
    crashed = [s for s in record.snapshots if s["nodes"]["db"]["down"]]
    assert crashed and all(8 <= s["time"] <= 14.01 for s in crashed)
    assert record.transitions.get("api->db"), "the breaker should open while db is down"
    assert record.blast and "db" in record.blast[0]["nodes"]


def test_a_run_without_faults_says_so_instead_of_measuring(qtbot):
    controller = RunController()
    controller.set_speed(40.0)
    entries = []
    controller.blast_ready.connect(entries.append)
    with qtbot.waitSignal(controller.finished, timeout=40_000):
        controller.start(tiny("5s").model_copy(update={"faults": []}))
    qtbot.waitUntil(lambda: entries == [[]], timeout=10_000)


def test_stop_ends_a_long_run(qtbot):
    """Stop → stopped, and the child is gone (its latency is measured in bench/)."""
    controller = RunController(blast=False)
    controller.set_speed(50.0)
    controller.start(tiny("3600s"))
    qtbot.waitUntil(lambda: controller.record.now > 1.0, timeout=20_000)
    pid = controller.pid
    with qtbot.waitSignal(controller.state_changed, timeout=5_000):
        controller.stop()
    assert controller.state == STOPPING
    qtbot.waitUntil(lambda: controller.state == STOPPED, timeout=10_000)
    qtbot.waitUntil(lambda: not alive(pid), timeout=10_000)
    assert controller.pid is None
    assert controller.record.now < controller.record.horizon


def test_a_run_that_does_not_answer_is_terminated_on_stop(qtbot):
    """A valid but heavy scenario: the child is deep in its first chunk and deaf to Stop."""
    controller = RunController(blast=False)
    frames = []
    controller.snapshot_ready.connect(frames.append)
    controller.start(hang())
    qtbot.waitUntil(lambda: bool(frames), timeout=30_000)  # the first frame, at time 0
    pid = controller.pid
    busy_from = cpu_seconds(pid)
    # Proof that the child is inside its chunk: it has worked on since its first frame
    # (after which it looked for commands once, long before Stop was sent).
    qtbot.waitUntil(lambda: cpu_seconds(pid) > busy_from + 0.3, timeout=30_000)
    assert len(frames) == 1 and controller.state == RUNNING
    controller.stop()
    qtbot.waitUntil(lambda: controller.state == STOPPED, timeout=10_000)
    qtbot.waitUntil(lambda: not alive(pid), timeout=10_000)
    assert controller.stop_forced and controller.pid is None


def test_an_engine_error_fails_the_run_with_its_message(qtbot):
    controller = RunController()
    with qtbot.waitSignal(controller.failed, timeout=20_000) as blocker:
        controller.start(cycle())
    assert controller.state == FAILED
    assert "cycle" in blocker.args[0]


def test_pause_holds_the_clock_and_resume_moves_it(qtbot):
    controller = RunController(blast=False)
    controller.set_speed(20.0)
    frames = []
    controller.snapshot_ready.connect(frames.append)
    controller.start(tiny("600s"))
    qtbot.waitUntil(lambda: controller.record.now > 0.5, timeout=20_000)
    controller.pause()
    assert controller.state == PAUSED
    qtbot.waitUntil(lambda: controller.pause_beats >= 1, timeout=10_000)  # the child has paused
    held, seen = controller.record.now, len(frames)
    assert held == controller.paused_at  # it showed where its clock stopped
    # the paused child keeps beating: time passes there, and its clock does not move
    qtbot.waitUntil(lambda: controller.pause_beats >= 4, timeout=10_000)
    assert controller.record.now == held and controller.paused_at == held
    assert len(frames) == seen
    controller.resume()
    qtbot.waitUntil(lambda: controller.record.now > held + 1, timeout=10_000)
    controller.reset()
    assert controller.state == "idle"


def test_record_thins_snapshots_evenly_and_keeps_the_last():
    record = RunRecord(max_snapshots=10)
    record.start({"horizon": 100.0, "bucket": 1.0, "rows": 100})
    for i in range(1, 40):
        record.add_frame({
            "rows_from": i - 1, "columns": {"time_s": [float(i - 1)]}, "transitions": {},
            "snapshot": {"time": float(i)},
        })  # fmt: skip
    assert len(record.snapshots) <= 10
    assert record.snapshots[-1]["time"] == 39.0
    assert record.snapshot_at(20.5)["time"] <= 20.5
    assert len(record.columns_at(5.0)["time_s"]) == 5
