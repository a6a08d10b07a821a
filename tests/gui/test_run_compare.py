"""The compare view: variants of one call's retry strategy, replicated, one line per variant."""

from __future__ import annotations

import pytest
from conftest import ROOT
from processes import alive, loky_workers
from PySide6.QtGui import QColor, QPalette
from run_scenarios import tiny

from gui.plots.compare_dialog import CompareDialog
from gui.plots.compare_table import mark_colours
from simulator.scenario import load_scenario, parse_scenario
from simulator.sweep import SerialExecutor


def _choose(dialog: CompareDialog, target: str, field: str, values: str, replications: int):
    dialog.target_box.setCurrentIndex(dialog.target_box.findText(target))
    dialog.field_box.setCurrentText(field)
    dialog.values_edit.setText(values)
    dialog.replications.setValue(replications)


def _choose_retry_strategies(dialog: CompareDialog, values: str, replications: int) -> None:
    _choose(dialog, "call api → db", "retry.strategy", values, replications)


def test_compare_draws_one_line_per_variant_and_a_row_with_cis(qtbot, tmp_path):
    dialog = CompareDialog(tiny("12s"), executor="serial")
    qtbot.addWidget(dialog)
    _choose_retry_strategies(dialog, "none, exponential, immediate", 2)
    assert not dialog.export_button.isEnabled() and not dialog.figure_button.isEnabled()
    with qtbot.waitSignal(dialog.done, timeout=60_000):
        dialog.run_button.click()
    assert dialog.error is None, dialog.error
    assert dialog.varies() == [("nodes.api.calls[0].retry.strategy",
                                ["none", "exponential", "immediate"])]  # fmt: skip
    assert dialog.lines_per_plot() == 3
    assert dialog.table.rowCount() == 3
    assert "±" in dialog.table.item(0, 1).text()
    # exports: the figure as SVG or PNG, and everything (CSV, JSON too) into a folder
    answers = iter([tmp_path / "fig.svg", tmp_path / "fig.png"])
    dialog.save_path = lambda *args: next(answers)
    dialog.choose_directory = lambda *args: tmp_path / "out"
    assert dialog.export_button.isEnabled() and dialog.figure_button.isEnabled()
    dialog.figure_button.click()
    assert (tmp_path / "fig.svg").read_text().lstrip().startswith("<?xml")
    assert dialog.save_figure().read_bytes().startswith(b"\x89PNG")
    dialog.export_button.click()
    csv = (tmp_path / "out" / "compare.csv").read_text().splitlines()
    assert csv[0].startswith("variant,replications,") and len(csv) == 4
    assert '"variants"' in (tmp_path / "out" / "compare.json").read_text()
    assert "Saved" in dialog.status.text()


def test_a_second_comparison_replaces_the_first(qtbot):
    dialog = CompareDialog(tiny("5s"), executor="serial")
    qtbot.addWidget(dialog)
    for values in ("none, immediate, exponential", "none, immediate"):
        _choose_retry_strategies(dialog, values, 1)
        with qtbot.waitSignal(dialog.done, timeout=60_000):
            dialog.run_button.click()
        assert dialog.error is None, dialog.error
    assert dialog.results.count() == 2 and dialog.results.widget(1) is dialog.figure_canvas
    assert dialog.lines_per_plot() == 2 and dialog.table.rowCount() == 2
    assert "Every variant measured the same" in dialog.results_view.verdict.text()  # no fault


def test_a_bad_value_is_reported_in_the_dialog(qtbot):
    dialog = CompareDialog(tiny("5s"), executor="serial")
    qtbot.addWidget(dialog)
    dialog.field_box.setCurrentText("workers")
    dialog.target_box.setCurrentIndex(dialog.target_box.findText("node api"))
    dialog.values_edit.setText("lots")
    with qtbot.waitSignal(dialog.done, timeout=30_000):
        dialog.start()
    assert dialog.error and "workers" in dialog.error
    assert dialog.run_button.isEnabled()


class CountingSerialExecutor(SerialExecutor):
    """Runs each task at submit, in the job's thread, and counts them."""

    def __init__(self):
        self.count = 0

    def submit(self, fn, /, *args, **kwargs):
        self.count += 1
        return super().submit(fn, *args, **kwargs)


def test_cancel_stops_a_comparison_and_the_dialog_runs_another(qtbot):
    executor = CountingSerialExecutor()
    dialog = CompareDialog(tiny("60s"), executor=executor)
    qtbot.addWidget(dialog)
    _choose_retry_strategies(dialog, "none, exponential, immediate", 20)
    dialog.run_button.click()
    assert dialog.cancel_button.isEnabled() and not dialog.run_button.isEnabled()
    qtbot.waitUntil(lambda: executor.count >= 2, timeout=30_000)  # a replication has ended
    with qtbot.waitSignal(dialog.done, timeout=30_000):
        dialog.cancel_button.click()
        begun = executor.count
    assert executor.count <= begun + 1  # the replication under way at most, not all 60
    assert dialog.cancelled and dialog.comparison is None and dialog.error is None
    assert "Cancelled" in dialog.status.text() and not dialog.export_button.isEnabled()
    assert dialog.run_button.isEnabled() and not dialog.cancel_button.isEnabled()
    _choose_retry_strategies(dialog, "none, immediate", 1)
    dialog.scenario = tiny("5s")
    with qtbot.waitSignal(dialog.done, timeout=30_000):
        dialog.run_button.click()
    assert not dialog.cancelled and dialog.table.rowCount() == 2


@pytest.mark.parametrize("moment", ["at_once", "as_workers_start", "after_first_progress"])
def test_cancel_kills_every_worker_of_the_process_pool(qtbot, moment):
    """Cancel at any moment: every worker the pool started is gone, none starts afterwards."""
    assert not loky_workers()
    dialog = CompareDialog(tiny("1800s"))  # the default executor: a killable process pool
    qtbot.addWidget(dialog)
    _choose_retry_strategies(dialog, "none, immediate", 6)  # 12 runs of a few seconds each
    seen: set[int] = set()

    def workers() -> set[int]:
        now = loky_workers()
        seen.update(now)
        return now

    dialog.run_button.click()
    job = dialog.job
    if moment == "as_workers_start":
        qtbot.waitUntil(lambda: bool(workers()), timeout=30_000)
    elif moment == "after_first_progress":
        qtbot.waitUntil(lambda: job.progress[0] >= 1, timeout=120_000)
        assert workers() and job.progress[0] < job.progress[1]  # runs are still going
    with qtbot.waitSignal(dialog.done, timeout=30_000):
        dialog.cancel()  # returns at once: the pool is killed on another thread
        assert job.cancel_requested and dialog.status.text() == "Cancelling…"
    # a killed worker may linger a moment while the kernel tears it down: wait for the end
    qtbot.waitUntil(lambda: not workers() and not any(alive(p) for p in seen), timeout=10_000)
    assert dialog.cancelled and not job.running and dialog.run_button.isEnabled()
    assert dialog.comparison is None and dialog.error is None


def test_a_scenario_with_messages_gets_message_columns(qtbot):
    scenario = parse_scenario(PIPELINE)
    dialog = CompareDialog(scenario, executor="serial")
    qtbot.addWidget(dialog)
    _choose(dialog, "publish api → bus.q", "retry.attempts", "1, 3", 1)
    with qtbot.waitSignal(dialog.done, timeout=60_000):
        dialog.run_button.click()
    assert dialog.error is None, dialog.error
    headers = [
        dialog.table.horizontalHeaderItem(c).text() for c in range(dialog.table.columnCount())
    ]
    keys = dialog.results_view.keys
    assert keys[6:9] == ["messages_lost", "messages_applied_twice", "max_lag_s"]
    assert headers[6:9] == ["lost msgs ↓", "applied twice ↓", "max lag (s) ↓"]
    once = dialog.table.item(0, keys.index("messages_lost")).text().rstrip(" ✓≈")
    assert once not in ("", "-") and float(once) > 0  # a 30% drop and no retry: lost


PIPELINE = """
murphy: 1
name: publish with or without retry
duration: 10s
nodes:
  users: {kind: client, rate: 50/s, calls: [{to: api}]}
  api:
    kind: service
    service_time: {dist: constant, value: 1ms}
    publishes: [{to: bus, queue: q, timeout: 100ms}]
  bus: {kind: broker, queues: {q: {}}}
  c: {kind: consumer, broker: bus, queue: q}
faults:
  - {kind: message_drop, target: bus, rate: 30%, when: before_ack}
"""


def test_the_dialog_fits_the_screen(qtbot):
    dialog = CompareDialog(tiny("5s"), executor="serial")
    qtbot.addWidget(dialog)
    room = dialog.screen().availableGeometry()
    assert dialog.width() <= room.width() and dialog.height() <= room.height()


def test_the_retry_storm_comparison_marks_the_best_and_says_why(qtbot):
    """Issue 12: the best variant of each column highlighted, the verdict with its reason,
    and what every column measures on its title's tooltip."""
    storm = load_scenario(ROOT / "scenarios" / "retry-storm.yaml")
    dialog = CompareDialog(storm, executor="serial")
    qtbot.addWidget(dialog)
    _choose(dialog, "call api → inventory", "retry.strategy",
            "none, immediate, exponential, full_jitter", 3)  # fmt: skip
    with qtbot.waitSignal(dialog.done, timeout=120_000):
        dialog.run_button.click()
    assert dialog.error is None, dialog.error
    view = dialog.results_view
    assert not view.verdict.isHidden()
    assert "strategy=none has the best success" in view.verdict.text()
    assert "attempts per request on api-&gt;inventory" in view.verdict.text()  # escaped
    assert "strategy=full_jitter (125 ms)" in view.findings.text()
    table = dialog.table
    rows = [table.item(r, 0).text() for r in range(table.rowCount())]
    none = rows.index("strategy=none")
    attempts = table.item(none, view.keys.index("total_attempts"))
    assert view.mark_of(none, "total_attempts") == "best"
    assert attempts.text().endswith("✓") and attempts.font().bold()
    assert attempts.toolTip().startswith("Best attempts:")
    assert view.mark_of(none, "success_rate") in ("best", "tied")
    assert view.mark_of(rows.index("strategy=immediate"), "success_rate") == ""
    tied = [
        (r, key)
        for r in range(len(rows))
        for key in view.keys[1:]
        if view.mark_of(r, key) == "tied"
    ]
    for r, key in tied:  # shown differently from a clear best
        item = table.item(r, view.keys.index(key))
        assert item.text().endswith("≈") and not item.font().bold() and item.font().italic()
    assert "attempts/req\napi→inventory ↓" in [
        table.horizontalHeaderItem(c).text() for c in range(table.columnCount())
    ]
    for c in range(table.columnCount()):
        assert len(table.horizontalHeaderItem(c).toolTip()) > 20, c
    assert (
        "Higher is better" in table.horizontalHeaderItem(view.keys.index("success_rate")).toolTip()
    )
    assert "Lower is better" in table.horizontalHeaderItem(view.keys.index("p99_ms")).toolTip()
    assert "✓" in view.help.text()  # the legend
    table.horizontalHeader().sectionClicked.emit(view.keys.index("peak_load_per_s"))
    assert view.help.text().startswith("peak load/s ↓: The most arrivals per second")
    assert dialog.results.currentIndex() == 0 and dialog.results.isTabEnabled(1)


def _contrast(a: QColor, b: QColor) -> float:
    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())
        )

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("base", ["#ffffff", "#f0f0f0", "#1e1e1e", "#353535"])
def test_the_marks_read_on_light_and_dark_palettes(qapp, base):
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Base, QColor(base))
    colours = mark_colours(palette)
    for mark in ("best", "tied"):
        assert _contrast(colours[mark], QColor(base)) >= 4.5, (mark, base)  # WCAG AA
    assert colours["best"] != colours["tied"]


def test_the_figure_follows_a_dark_palette_and_saves_light(qtbot, tmp_path):
    from matplotlib.colors import to_hex

    dialog = CompareDialog(tiny("5s"), executor="serial")
    qtbot.addWidget(dialog)
    palette = dialog.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor("#2b2b2b"))
    dialog.setPalette(palette)
    _choose_retry_strategies(dialog, "none, immediate", 1)
    with qtbot.waitSignal(dialog.done, timeout=60_000):
        dialog.run_button.click()
    assert dialog.error is None, dialog.error
    shown = dialog.figure_canvas.figure
    assert to_hex(shown.get_facecolor()) == "#000000"
    dialog.save_path = lambda *args: tmp_path / "fig.svg"
    saved = dialog.save_figure().read_text()
    assert "fill: #ffffff" in saved and "fill: #000000" not in saved.split('<g id="axes_1"')[0]


def test_a_contended_scenario_shows_calls_and_completion(qtbot):
    """The backoff study in the app: the table gains calls and completion, the figure its
    two bar panels, and the verdict reads calls (every writer succeeds under both)."""
    sc = load_scenario(ROOT / "scenarios" / "contention.yaml")
    dialog = CompareDialog(sc.model_copy(update={"duration": 80.0}), executor="serial")
    qtbot.addWidget(dialog)
    _choose(dialog, "call writers → store", "retry.strategy", "exponential, full_jitter", 3)
    with qtbot.waitSignal(dialog.done, timeout=60_000):
        dialog.run_button.click()
    assert dialog.error is None, dialog.error
    view = dialog.results_view
    keys = view.keys
    assert "contention_calls" in keys and "completion_s" in keys
    titles = [view.table.horizontalHeaderItem(i).text() for i in range(view.table.columnCount())]
    assert "calls ↓" in titles and "completion (s) ↓" in titles
    column = keys.index("contention_calls")
    assert view.mark_of(1, "contention_calls") == "best"  # full jitter: less than half the work
    assert view.mark_of(0, "completion_s") == ""  # exponential: the slowest by far
    assert "±" in view.table.item(1, column).text()
    assert view.verdict.text().count("calls") >= 1
    axes = dialog.figure_canvas.figure.axes
    assert any("Completion" in ax.get_title(loc="left") for ax in axes)
    assert any("Calls" in ax.get_title(loc="left") for ax in axes)


def test_a_contention_run_not_finished_shows_no_completion_time():
    from gui.plots.compare_table import CONTENTION_TABLE_METRICS, cell_text

    (_, _, fmt, fmt_half) = CONTENTION_TABLE_METRICS[1]
    cut = {"mean": 30.0, "ci95": 0.0, "values": [30.0, 30.0], "unfinished": 2,
           "duration_s": 30.0}  # fmt: skip
    assert cell_text(cut, fmt, fmt_half, "completion_s") == "not finished (≥ 30 s)"
    done = {**cut, "mean": 4.85, "ci95": 0.75, "unfinished": 0}
    assert cell_text(done, fmt, fmt_half, "completion_s") == "4.85 ± 0.75"
