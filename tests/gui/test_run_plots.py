"""The plot panel: renders off the GUI thread, filters, follows the time, exports."""

from __future__ import annotations

import pytest
from run_scenarios import record_of, tiny

from gui.plots.figures import PLOTS, PlotFilter
from gui.plots.panel import PlotPanel


@pytest.fixture(scope="module")
def record():
    return record_of(tiny("20s"))


@pytest.fixture
def panel(qtbot, record):
    panel = PlotPanel()
    panel.resize(900, 600)
    qtbot.addWidget(panel)
    panel.show()
    panel.set_record(record)
    yield panel
    panel.shutdown()


def test_every_plot_draws_the_run(qtbot, panel):
    assert "messages" not in panel.shown  # no broker in the tiny chain
    assert not panel.views["messages"].isVisible()
    qtbot.waitUntil(lambda: panel.frames >= 1, timeout=15_000)
    for kind in panel.shown:
        view = panel.views[kind]
        assert view.error is None, view.error
        assert view.image is not None and view.image.width() > 100


def test_the_extra_plots_are_shown_on_demand(qtbot, panel):
    panel.set_extras(("messages", "resources"))
    assert panel.shown == PLOTS
    for kind in ("messages", "resources"):
        assert panel.views[kind].isVisible()
        qtbot.waitUntil(lambda k=kind: panel.views[k].frames >= 1, timeout=15_000)
        assert panel.views[kind].error is None
    panel.set_extras(("resources",))
    assert "messages" not in panel.shown and not panel.views["messages"].isVisible()
    assert panel.views["resources"].isVisible()
    panel.set_extras(())
    assert not set(panel.shown) & {"messages", "resources"}


def test_filter_and_time_redraw_the_plots(qtbot, panel):
    qtbot.waitUntil(lambda: panel.frames >= 1, timeout=15_000)
    before = panel.frames
    panel.set_filter(PlotFilter("db", routes={"users"}, nodes={"db"}, edges={"api->db"},
                                focus=("node", "db")))  # fmt: skip
    panel.set_time(10.0)
    qtbot.waitUntil(lambda: panel.frames > before, timeout=15_000)
    data = panel.plot_data()
    assert data.now == 10.0 and len(data.columns["time_s"]) == 10
    assert all(panel.views[k].error is None for k in PLOTS)


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_a_plot_saves_as_png_or_svg(panel, tmp_path, suffix):
    path = panel.save_plot("latency", tmp_path / f"latency.{suffix}")
    assert path.stat().st_size > 1000
