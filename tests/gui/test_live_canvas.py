"""The live drawing: figures that say what they count, badges that never cover a node's live
strip, and the compound amplification of the routes on their edges."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import ROOT
from PySide6.QtCore import QRectF

from gui.canvas.scene import CanvasScene
from gui.document import ScenarioDocument
from gui.run.live_items import EdgeLiveOverlay, LiveOverlay
from gui.run.live_state import edge_states, node_states
from gui.selection import Selection
from simulator.amplification import worst_case
from simulator.scenario import load_scenario

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def _columns(rows: int, **series: list[float]) -> dict[str, np.ndarray]:
    out = {"time_s": np.arange(rows) * 1.0}
    out.update({k.replace("__", "."): np.asarray(v, dtype=float) for k, v in series.items()})
    return out


def test_a_client_counts_requests_and_an_edge_counts_attempts_over_the_same_bucket():
    sc = load_scenario(ROOT / "scenarios" / "amplification.yaml")
    # In the second bucket: users sent 20, 16 answered and 4 failed (20% of requests); users'
    # call to web made 44 attempts, 28 of which failed: every retry of a failing call counts.
    columns = _columns(
        3,
        route__users__goodput=[20, 16, 0], route__users__failed=[0, 4, 0],
        route__users__requests=[20, 20, 0],
        edge__users__web__requests=[20, 20, 0], edge__users__web__attempts=[20, 44, 0],
        edge__users__web__failures=[0, 28, 0],
    )  # fmt: skip
    columns = {k.replace("users.web", "users->web"): v for k, v in columns.items()}
    snapshot = {"time": 2.4, "nodes": {}, "edges": {"users->web": {}}}
    client = node_states(sc, snapshot, columns, 1.0)["users"]
    edge = edge_states(snapshot, columns, 1.0, sc)["users->web"]
    assert client["text"] == "16 ok/s · 20% of requests fail"
    assert edge["error_share"] == pytest.approx(28 / 44, abs=0.01)
    window = "t = 1–2 s"
    assert window in client["tooltip"] and window in edge["window"]
    overlay = EdgeLiveOverlay.__new__(EdgeLiveOverlay)  # badges() reads only the state
    overlay.state = edge
    texts = [t for t, _ in EdgeLiveOverlay.badges(overlay)]
    assert "64% of attempts fail" in texts and "×2.2 attempts/call" in texts


def _busy_states(scene: CanvasScene, overlay: LiveOverlay, sc) -> None:
    """Every node busy with two active faults, every edge with every live badge."""
    nodes = {
        name: {"kind": "server", "health": "busy", "utilization": 0.9, "queue": 3,
               "queue_share": 0.5, "text": "10/10 busy · q 3/40 · mem 80%",
               "faults": ["latency +200ms", "errors 50%"]}
        for name in sc.nodes
    }  # fmt: skip
    edges = {
        name: {"error_share": 0.62, "amplification": 2.9, "breaker": "half_open", "width": 4,
               "colour": "#c1121f", "compound_worst": 27, "compound_now": 14.2,
               "compound_route": "a → b", "compound_clients": ["a"], "compound_notes": [],
               "compound_severity": 1.0, "lag_s": 2.0, "lost": 3}
        for name in overlay.names.values()
    } if overlay.names else {}  # fmt: skip
    overlay.show(sc, nodes, edges)
    if not edges:  # names are known after the first show
        _busy_states(scene, overlay, sc)
    overlay.flush(100_000)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_no_badge_covers_a_nodes_live_strip_or_fault_chips(qapp, path):
    sc = load_scenario(path)
    scene = CanvasScene(ScenarioDocument(sc), Selection())
    overlay = LiveOverlay(scene)
    _busy_states(scene, overlay, sc)
    zones = []
    for name, node in scene.nodes.items():
        live = overlay._nodes[name]
        zones += [(name, node.mapRectToScene(r)) for r in [live.strip_rect(), *live.chip_rects()]]
    badges: list[tuple[str, QRectF]] = []
    for key, edge in scene.edges.items():
        badges += [(f"{key} {text}", rect) for rect, _, text in edge._badge_rects()]
        live = overlay._edges[key]
        assert live.state is not None
        badges += [(f"{key} {text}", edge.mapRectToScene(r)) for r, text, _ in live._rects]
    overlaps = [(b, n) for b, rect in badges for n, zone in zones if rect.intersects(zone)]
    assert not overlaps
    assert badges or not scene.edges


def test_compound_amplification_shows_live_on_the_deepest_edge(qtbot, make_window):
    window = make_window(ROOT / "scenarios" / "amplification.yaml")
    session = window.run_session
    session.toolbar.speed_box.setCurrentIndex(session.toolbar.speed_box.count() - 1)
    session.toolbar.run_action.trigger()
    with qtbot.waitSignal(session.controller.finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: session.scrubber.end >= 60, timeout=10_000)
    session.scrubber.seek(35.0)  # mid-fault: the database fails every query
    session.overlay.flush(100_000)
    deep = session.overlay.edge_state_of(("call", "api", 0))
    assert deep["compound_worst"] == 27
    assert 18 < deep["compound_now"] < 36, (deep["window"], session.scrubber.time)  # one bucket
    first = session.overlay.edge_state_of(("call", "users", 0))
    assert "compound_worst" not in first  # its own retries are the whole story
    texts = [t for t, _ in session.overlay._edges[("call", "api", 0)].badges()]
    assert any(t.startswith("route ×") and t.endswith("×27 worst") for t in texts)
    tip = session.overlay._edges[("call", "api", 0)].toolTip()
    assert "users → web → api → db" in tip
    span = re.search(r"t = [\d.]+–[\d.]+ s", tip)
    assert span is not None and 30 <= float(span.group().split()[2].split("–")[0]) <= 35
    client = session.overlay.state_of("users")
    # the client's share and the edge's are counted over the same bucket
    assert "% of requests fail" in client["text"] and span.group() in client["tooltip"]
    # Before the fault, nothing multiplies: the badge says only the worst case.
    session.scrubber.seek(12.0)
    session.overlay.flush(100_000)
    calm = session.overlay.edge_state_of(("call", "api", 0))
    assert calm["compound_now"] == pytest.approx(1.0, abs=0.25)
    assert worst_case(window.document.scenario)["api->db"].worst == 27
    # the finished run reaches the inspector: measured figures beside the theory's
    qtbot.waitUntil(lambda: window.inspector.run is not None, timeout=10_000)


def test_a_replay_shows_the_faults_of_the_time_shown_not_of_an_older_snapshot():
    sc = load_scenario(ROOT / "scenarios" / "latency-spike.yaml")
    start, end = sc.faults[0].window(sc.duration)
    node = {"workers": 20, "busy": 1, "queue": 0}
    older = {"time": start - 10, "nodes": {sc.faults[0].target: node}, "active_faults": []}
    assert node_states(sc, older, {}, 1.0)[sc.faults[0].target]["faults"] == []
    inside = node_states(sc, older, {}, 1.0, at=(start + end) / 2)[sc.faults[0].target]
    assert inside["faults"] == [sc.faults[0].label()]
    after = node_states(sc, older, {}, 1.0, at=end + 1)[sc.faults[0].target]
    assert after["faults"] == []


def test_a_replay_counts_over_the_last_bucket_ended_by_the_time_shown():
    sc = load_scenario(ROOT / "scenarios" / "amplification.yaml")
    goodput = [float(i) for i in range(10)]  # bucket i answered i requests
    columns = _columns(10, route__users__goodput=goodput, route__users__failed=[0.0] * 10,
                       route__users__requests=goodput)  # fmt: skip
    older = {"time": 8.0, "nodes": {}, "edges": {}}
    assert node_states(sc, older, columns, 1.0)["users"]["text"].startswith("8 ok/s")
    shown = node_states(sc, older, columns, 1.0, at=10.0)["users"]
    assert shown["text"].startswith("9 ok/s") and "t = 9–10 s" in shown["tooltip"]
