"""The plot panel: native views that hold the record's data, filter, follow the time and the
palette, share one x range and one cursor, and export matplotlib figures of the same spec."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from run_scenarios import record_of, tiny

from gui.plots.figures import PLOTS, PlotFilter
from gui.plots.live_view import curve_data
from gui.plots.panel import PlotPanel


@pytest.fixture(scope="module")
def record():
    return record_of(tiny("20s"))


@pytest.fixture
def panel(qtbot, record):
    panel = PlotPanel()
    panel.resize(1100, 600)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_record(record)
    return panel


def test_every_plot_draws_the_run(panel, record):
    assert "messages" not in panel.shown  # no broker in the tiny chain
    assert not panel.views["messages"].isVisible()
    assert panel.frames >= 1
    for kind in panel.shown:
        assert panel.views[kind].error is None, panel.views[kind].error
        assert panel.views[kind].panels
    x, y = curve_data(panel.views["latency"], "users.p99")
    np.testing.assert_array_equal(x, record.columns["time_s"][: record.rows])
    np.testing.assert_allclose(y, record.columns["route.users.p99_ms"][: record.rows])
    x, busy = curve_data(panel.views["pools"], "db")
    assert np.allclose(busy, 100 * record.columns["node.db.utilization"][: record.rows])
    _, queued = curve_data(panel.views["pools"], "node.api.queue", panel=1)
    assert np.nanmax(queued) > 0  # the api queues while the db is down
    bars = panel.views["breakers"].panels[0].bars
    assert bars is not None and bars.isVisible()


def test_a_route_without_answers_gets_its_band_and_faults_their_names(panel):
    overlay = panel.views["latency"].panels[0].overlay
    (band,) = overlay.bands  # the db is down from 8 s to 14 s: the users get no answers
    assert band[0] == pytest.approx(8.0, abs=1.0) and band[1] == pytest.approx(14.0, abs=2.0)
    assert "users: no answers" in band[3]
    assert overlay.labels == [(8.0, "crash on db")]
    assert panel.views["pools"].panels[1].overlay.labels == []  # named on the upper half


def test_failures_are_stacked_per_route_and_named(panel, record):
    view = panel.views["throughput"]
    low, high = view.panels[0].fills["users.failed"]
    width = 1.0
    failed = np.nan_to_num(record.columns["route.users.failed"][: record.rows]) / width
    np.testing.assert_allclose(high.getData()[1] - low.getData()[1], failed)
    assert "users failed" in [e.label for e in view.spec.panels[0].legend]


def test_the_extra_plots_are_shown_on_demand(panel):
    panel.set_extras(("messages", "resources"))
    assert panel.shown == tuple(k for k in PLOTS if k != "limits")
    for kind in ("messages", "resources"):
        assert panel.views[kind].isVisible()
        assert panel.views[kind].frames >= 1 and panel.views[kind].error is None
    empty = panel.views["messages"].spec.panels[0].empty
    assert empty == "no broker queue yet"
    panel.set_extras(("resources",))
    assert "messages" not in panel.shown and not panel.views["messages"].isVisible()
    assert panel.views["resources"].isVisible()
    panel.set_extras(())
    assert not set(panel.shown) & {"messages", "resources"}


def test_the_filter_changes_what_is_shown(panel):
    panel.set_filter(PlotFilter("db", routes={"users"}, nodes={"db"}, edges={"api->db"},
                                focus=("node", "db")))  # fmt: skip
    traffic = panel.views["throughput"]
    assert set(traffic.panels[0].curves) == {"arrivals/s", "errors/s", "rejected/s"}
    assert traffic.spec.panels[0].title == "Traffic at db"
    assert set(panel.views["pools"].panels[0].curves) == {"db"}
    panel.set_filter(PlotFilter("nothing", edges=set()))
    assert panel.views["breakers"].spec.panels[0].empty == "no circuit breaker on these calls"
    panel.set_filter(PlotFilter())
    assert set(panel.views["pools"].panels[0].curves) == {"api", "db"}


def test_the_cursor_follows_the_clock_and_the_scrubber(panel, record):
    for kind in panel.shown:
        for items in panel.views[kind].panels:
            assert items.cursor.value() == pytest.approx(record.now)
    panel.set_time(10.0)
    data = panel.plot_data()
    assert data.now == 10.0 and len(data.columns["time_s"]) == 10
    for kind in panel.shown:
        for items in panel.views[kind].panels:
            assert items.cursor.value() == 10.0
    x, _ = curve_data(panel.views["latency"], "users.p99")
    assert x[-1] == 9.0 and panel.shown_time == 10.0  # the bucket 9-10 s is the last drawn
    panel.set_time(None)
    assert panel.views["latency"].panels[0].cursor.value() == pytest.approx(record.now)


def test_the_plots_share_one_x_range(qtbot, panel):
    panel.views["latency"].panels[0].plot.setXRange(5.0, 10.0, padding=0)
    for kind in panel.shown:
        for items in panel.views[kind].panels:
            qtbot.waitUntil(lambda vb=items.plot.vb: vb.viewRange()[0] == pytest.approx(
                [5.0, 10.0]))  # fmt: skip


def test_a_dark_palette_recolours_the_plots(panel):
    light = panel.views["latency"].backgroundBrush().color()
    assert light.lightness() > 128
    dark = QPalette(panel.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e0e0e0"))
    panel.setPalette(dark)
    view = panel.views["latency"]
    assert view.backgroundBrush().color().lightness() < 64
    assert view.panels[0].plot.getAxis("left").textPen().color().lightness() > 192
    navy = view.panels[0].curves["users.p99"].opts["pen"].color()  # a PlotCurveItem's pen
    assert navy.lightness() > 100  # the first route's navy turns to a light blue on dark
    assert view.frames >= 2 and view.error is None


def test_a_plot_offers_its_exports(panel):
    seen = []
    panel.on_save = lambda kind, fmt: seen.append((kind, fmt))
    menu = panel.views["latency"].context_menu()
    next(a for a in menu.actions() if "SVG" in a.text()).trigger()
    assert seen == [("latency", "svg")]


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_a_plot_saves_as_png_or_svg(panel, tmp_path, suffix):
    path = panel.save_plot("latency", tmp_path / f"latency.{suffix}")
    assert path.stat().st_size > 1000


def test_a_double_click_shows_the_whole_run_again(qtbot, panel, record):
    panel.views["throughput"].panels[0].plot.setXRange(5.0, 10.0, padding=0)
    qtbot.mouseDClick(panel.views["breakers"].viewport(), Qt.MouseButton.LeftButton)
    box = panel.views["latency"].panels[0].plot.vb
    qtbot.waitUntil(lambda: box.viewRange()[0] == pytest.approx([0.0, record.horizon]))


def test_a_plot_out_of_sight_catches_up_when_seen(qtbot, record):
    from PySide6.QtWidgets import QScrollArea

    panel = PlotPanel()
    scroller = QScrollArea()
    scroller.setWidgetResizable(True)
    scroller.setWidget(panel)
    scroller.resize(900, 150)  # the lower row of plots is out of sight
    qtbot.addWidget(scroller)
    scroller.show()
    qtbot.waitExposed(scroller)
    panel.set_record(record)
    panel.set_time(5.0)
    lower = panel.views["pools"]
    assert not lower.on_screen and lower.spec.now == pytest.approx(record.now)
    assert panel.shown_time == 5.0  # what can be seen is up to date
    scroller.ensureWidgetVisible(lower)
    qtbot.waitUntil(lambda: lower.spec.now == 5.0)
