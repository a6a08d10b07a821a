"""An adaptive concurrency limit in the app: the inspector edits it (showing its kind's knobs
only), the limits plot draws it against the requests inside, the node's badge reads it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import settle
from PySide6.QtWidgets import QComboBox
from run_scenarios import record_of

from gui.inspector.fields import not_for_kind
from gui.plots.live_view import curve_data
from gui.plots.panel import PlotPanel
from gui.plots.spec import needed_plots
from gui.run.live_state import node_states
from simulator.scenario import load_scenario
from simulator.scenario_policies import Limiter

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "adaptive-concurrency.yaml"


def test_each_limiter_kind_shows_its_own_knobs() -> None:
    assert not_for_kind(Limiter(kind="gradient2")) >= {"rate", "max_in_flight", "backoff_ratio"}
    assert "long_window" not in not_for_kind(Limiter(kind="gradient2"))
    assert not_for_kind(Limiter(kind="max_in_flight")) >= {"rate", "initial_limit"}
    assert "max_in_flight" not in not_for_kind(Limiter(kind="max_in_flight"))


def test_inspector_switches_the_limiter_kind_and_edits_its_knobs(make_window, qtbot) -> None:
    window = make_window(EXAMPLE)
    window.selection.set([("node", "api")])
    settle(qtbot, window)
    inspector = window.inspector
    assert inspector.editor("limiter.long_window").text() == "3000"
    assert inspector.editor("limiter.max_in_flight") is None  # another kind's knob: hidden
    combo = inspector.editor("limiter.kind")
    assert isinstance(combo, QComboBox)
    assert [combo.itemText(i) for i in range(combo.count())][-3:] == ["aimd", "vegas", "gradient2"]
    combo.setCurrentText("aimd")
    settle(qtbot, window)
    assert window.document.scenario.nodes["api"].limiter.kind == "aimd"
    timeout = inspector.editor("limiter.timeout")
    assert timeout is not None and inspector.editor("limiter.long_window") is None
    timeout.setText("500ms")
    timeout.editingFinished.emit()
    assert window.document.scenario.nodes["api"].limiter.timeout == 0.5
    settle(qtbot, window)
    editor = inspector.editor("limiter.min_limit")
    editor.setText("500")
    editor.editingFinished.emit()
    assert "above max_limit" in inspector.error_text("limiter.min_limit")


@pytest.fixture(scope="module")
def record():
    sc = load_scenario(EXAMPLE).model_copy(update={"duration": 40.0})
    return sc, record_of(sc)


def test_limits_plot_draws_the_limit_over_the_requests_inside(qtbot, record) -> None:
    sc, rec = record
    assert "limits" in needed_plots(sc)
    panel = PlotPanel()
    panel.resize(1200, 700)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_record(rec)
    panel.set_extras(needed_plots(sc))
    view = panel.views["limits"]
    assert view.isVisible() and view.error is None
    _, limit = curve_data(view, "api limit")
    np.testing.assert_allclose(limit, rec.columns["node.api.limit"][: rec.rows])
    assert np.nanmax(limit) > 30  # it grew under the surge (from 20 s)
    _, inside = curve_data(view, "api inside")
    assert np.nanmax(inside) <= np.nanmax(limit) + 1e-9  # the limit caps what is inside


def test_node_badge_reads_inside_over_limit(record) -> None:
    sc, rec = record
    snapshot = rec.snapshots[-1]
    state = node_states(sc, snapshot, rec.columns, sc.bucket)["api"]
    limit = snapshot["nodes"]["api"]["limit"]
    assert f"/{limit}" in state["text"] and "lim " in state["text"]


def test_limits_figure_exports(qtbot, record, tmp_path) -> None:
    from gui.plots.figures import build

    _, rec = record
    panel = PlotPanel()
    qtbot.addWidget(panel)
    panel.set_record(rec)
    data = panel.plot_data()
    assert data is not None
    figure = build("limits", data, 800, 500)
    figure.savefig(tmp_path / "limits.svg")
    assert "api limit" in (tmp_path / "limits.svg").read_text()
