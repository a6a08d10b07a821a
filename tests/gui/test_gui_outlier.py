"""Outlier ejection in the app: edited in the inspector, seen on the drawing and the plots."""

from __future__ import annotations

from conftest import ROOT, settle
from PySide6.QtWidgets import QGroupBox

from gui.plots.spec import PlotData, plot_spec
from gui.run.live_items import EdgeLiveOverlay
from gui.run.live_state import edge_tooltip
from simulator.scenario import dump_scenario, load_scenario
from simulator.scenario_policies import OutlierDetection


def show(window, qtbot, key):
    window.selection.set([key] if key else [])
    settle(qtbot, window)


def test_outlier_detection_is_switched_on_and_edited_in_the_inspector(make_window, qtbot):
    window = make_window(ROOT / "scenarios" / "load-balancer.yaml")
    doc = window.document
    show(window, qtbot, ("node", "lb"))
    group = window.inspector.widget().findChild(QGroupBox, "group:outlier_detection")
    assert group is not None and not group.isChecked()
    group.setChecked(True)
    settle(qtbot, window)
    assert doc.scenario.nodes["lb"].outlier_detection == OutlierDetection()  # Envoy's defaults
    for name, text in (("outlier_detection.base_ejection_time", "10s"),
                       ("outlier_detection.max_ejection_percent", "100%"),
                       ("healthy_panic_threshold", "0%")):  # fmt: skip
        editor = window.inspector.editor(name)
        editor.setText(text)
        editor.editingFinished.emit()
        settle(qtbot, window)
    lb = doc.scenario.nodes["lb"]
    assert lb.outlier_detection.base_ejection_time == 10.0
    assert lb.outlier_detection.max_ejection_percent == 1.0
    assert lb.healthy_panic_threshold == 0.0
    editor = window.inspector.editor("outlier_detection.max_ejection_time")
    editor.setText("5s")
    editor.editingFinished.emit()
    assert doc.scenario.nodes["lb"].outlier_detection.max_ejection_time == 300.0
    assert "raise max_ejection_time" in window.inspector.error_text(
        "outlier_detection.max_ejection_time"
    )


def test_an_ejected_backend_is_marked_on_the_drawing_during_a_run(make_window, qtbot, tmp_path):
    sc = load_scenario(ROOT / "scenarios" / "outlier-ejection.yaml")
    path = tmp_path / "outlier.yaml"
    path.write_text(dump_scenario(sc.model_copy(update={"duration": 80.0})), encoding="utf-8")
    window = make_window(path)
    session = window.run_session
    session.toolbar.speed_box.setCurrentIndex(4)  # 100x
    session.toolbar.run_action.trigger()
    with qtbot.waitSignal(session.controller.finished, timeout=60_000):
        pass
    to_app3 = ("call", "lb", 2)  # app3 fails everything from 60 s: ejected at once
    session.scrubber.seek(75.0)
    state = session.overlay.edge_state_of(to_app3)
    assert state["ejected"] and not state["ejected_in_panic"]
    assert "1 ejected" in session.overlay.state_of("lb")["text"]
    overlay = EdgeLiveOverlay.__new__(EdgeLiveOverlay)  # badges() reads only the state
    overlay.state = state
    assert ("EJECTED", "#6a4c93") in EdgeLiveOverlay.badges(overlay)
    assert "no requests go to it" in edge_tooltip("lb → app3", state)
    assert not (session.overlay.edge_state_of(("call", "lb", 0)) or {}).get("ejected")
    session.scrubber.seek(30.0)
    assert not session.overlay.edge_state_of(to_app3).get("ejected")
    assert "ejected" not in session.overlay.state_of("lb")["text"]
    # The breakers plot gains the balancer's ejected hosts over time.
    record = session.controller.record
    data = PlotData(record.columns_at(80.0), record.faults, record.horizon, 80.0)
    spec = plot_spec("breakers", data)
    assert len(spec.panels) == 2
    ejected = spec.panels[1].lines[0].y
    assert ejected[:59].max() == 0 and ejected[62:79].min() == 1.0
