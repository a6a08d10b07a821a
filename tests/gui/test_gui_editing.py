"""Draw and edit through the views, asserting the document after every step and its undo."""

from __future__ import annotations

from conftest import settle
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication, QGroupBox


def test_palette_add_connect_edit_with_undo_redo(window, qtbot, drag):
    doc, stack = window.document, window.document.undo_stack
    before = doc.scenario

    palette = window.palette_view
    item = palette.findItems("Service", Qt.MatchFlag.MatchExactly)[0]
    palette.itemDoubleClicked.emit(item)
    assert "service" in doc.scenario.nodes
    assert doc.scenario.nodes["service"].kind == "service"
    assert "service" in doc.scenario.layout and "service" in window.scene.nodes
    after_add = doc.scenario

    source, target = window.scene.nodes["users"], window.scene.nodes["service"]
    target.setPos(QPointF(source.pos().x(), source.pos().y() + 400))
    window.canvas_view.centerOn(source)
    window.canvas_view.fit()
    drag(window.canvas_view, source.center(), target.center(), Qt.KeyboardModifier.ShiftModifier)
    calls = doc.scenario.nodes["users"].calls
    assert [c.to for c in calls] == ["naked_api", "service"]
    assert ("call", "users", 1) in window.scene.edges
    after_connect = doc.scenario

    window.selection.set([("node", "service")])
    settle(qtbot, window)
    editor = window.inspector.editor("workers")
    editor.selectAll()
    qtbot.keyClicks(editor, "25")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert doc.scenario.nodes["service"].workers == 25
    after_edit = doc.scenario

    for expected in (after_connect, after_add, before):
        stack.undo()
        assert doc.scenario == expected
    assert "service" not in window.scene.nodes
    for expected in (after_add, after_connect, after_edit):
        stack.redo()
        assert doc.scenario == expected
    assert ("call", "users", 1) in window.scene.edges
    window.selection.set([("node", "service")])
    settle(qtbot, window)
    assert window.inspector.editor("workers").text() == "25"


def test_move_nodes_is_one_undoable_step(window, qtbot, drag):
    doc = window.document
    item = window.scene.nodes["naked_api"]
    window.canvas_view.fit()
    start = item.pos()
    drag(window.canvas_view, item.center(), item.center() + QPointF(60, 90))
    moved = doc.scenario.layout["naked_api"]
    assert moved != (start.x(), start.y())
    doc.undo_stack.undo()
    assert doc.scenario.layout["naked_api"] == (start.x(), start.y())
    assert window.scene.nodes["naked_api"].pos() == start


def test_cannot_connect_into_a_client(window):
    assert not window.canvas_view.connect_nodes("naked_api", "users")
    assert [c.to for c in window.document.scenario.nodes["naked_api"].calls] == ["naked_db"]


def test_delete_copy_paste(window, qtbot, drag):
    doc = window.document
    window.selection.set([("node", "naked_db")])
    window.edit_actions.delete()
    assert "naked_db" not in doc.scenario.nodes
    assert not doc.scenario.nodes["naked_api"].calls
    assert all(f.target != "naked_db" for f in doc.scenario.faults)
    doc.undo_stack.undo()
    assert doc.scenario.nodes["naked_api"].calls[0].to == "naked_db"

    window.selection.set([("node", "naked_api"), ("node", "naked_db")])
    assert "naked_db" in window.edit_actions.copy()
    names = window.edit_actions.paste()
    assert names == ["naked_api_2", "naked_db_2"]
    assert doc.scenario.nodes["naked_api_2"].calls[0].to == "naked_db_2"
    assert set(window.selection.keys) == {("node", "naked_api_2"), ("node", "naked_db_2")}

    window.selection.set([("call", "guarded_api", 0)])
    window.edit_actions.delete()
    assert not doc.scenario.nodes["guarded_api"].calls
    assert QApplication.clipboard().text()


def test_rubber_band_selects_several(window, qtbot, drag):
    view = window.canvas_view
    view.fit()
    rect = window.scene.itemsBoundingRect()
    drag(view, rect.topLeft() - QPointF(20, 20), rect.bottomRight() + QPointF(20, 20))
    assert len(window.selection.of("node")) == len(window.document.scenario.nodes)
    settle(qtbot, window)
    assert window.inspector.form is None


def test_enable_policy_and_switch_distribution(window, qtbot, drag):
    doc = window.document
    window.selection.set([("call", "naked_api", 0)])
    settle(qtbot, window)
    window.inspector.widget().findChild(QGroupBox, "group:breaker").setChecked(True)
    assert doc.scenario.nodes["naked_api"].calls[0].breaker is not None
    settle(qtbot, window)
    editor = window.inspector.editor("breaker.failure_rate")
    editor.setText("25%")
    editor.editingFinished.emit()
    assert doc.scenario.nodes["naked_api"].calls[0].breaker.failure_rate == 0.25

    window.selection.set([("node", "naked_api")])
    settle(qtbot, window)
    window.inspector.editor("service_time.dist").setCurrentText("constant")
    dist = doc.scenario.nodes["naked_api"].service_time
    assert dist.dist == "constant" and abs(dist.value - 0.005) < 1e-12


def test_client_load_model_switch(window, qtbot, drag):
    window.selection.set([("node", "users")])
    settle(qtbot, window)
    editor = window.inspector.editor("users")
    editor.setText("50")
    editor.editingFinished.emit()
    client = window.document.scenario.nodes["users"]
    assert client.users == 50 and client.rate is None


def test_scenario_settings_when_nothing_selected(window, qtbot, drag):
    window.selection.clear()
    settle(qtbot, window)
    editor = window.inspector.editor("duration")
    assert editor.text() == "180s"
    editor.setText("5min")
    editor.editingFinished.emit()
    assert window.document.scenario.duration == 300.0


def test_rename_node_follows_everywhere(window, qtbot, drag):
    window.selection.set([("node", "naked_db")])
    settle(qtbot, window)
    editor = window.inspector.editor("name")
    editor.setText("db")
    editor.editingFinished.emit()
    scenario = window.document.scenario
    assert "db" in scenario.nodes and scenario.nodes["naked_api"].calls[0].to == "db"
    assert scenario.faults[0].target == "db" and "db" in scenario.layout
    assert window.selection.keys == (("node", "db"),)


def test_zoom_shortcuts_and_fit(window):
    view = window.canvas_view
    view.fit()
    zoom = view.zoom()
    view.zoom_by(1.25)
    assert view.zoom() > zoom
    view.zoom_by(0.01)
    assert view.zoom() >= 0.2


def test_balancer_and_cache_from_the_palette(window, qtbot):
    doc, palette = window.document, window.palette_view
    for label in ("Load balancer", "Cache"):
        item = palette.findItems(label, Qt.MatchFlag.MatchExactly)[0]
        assert item.flags() & Qt.ItemFlag.ItemIsEnabled
        palette.itemDoubleClicked.emit(item)
    assert doc.scenario.nodes["balancer"].kind == "balancer"
    assert doc.scenario.nodes["cache"].kind == "cache"
    doc.add_call("balancer", "naked_api")
    assert window.scene.nodes["balancer"].summary == "round robin · 1 backend"
    assert window.scene.nodes["cache"].summary == "80% hits · 1ms"

    window.selection.set([("node", "balancer")])
    settle(qtbot, window)
    window.inspector.editor("strategy").setCurrentText("least_outstanding")
    assert doc.scenario.nodes["balancer"].strategy == "least_outstanding"
    window.selection.set([("node", "cache")])
    settle(qtbot, window)
    editor = window.inspector.editor("hit_ratio")
    editor.setText("95%")
    editor.editingFinished.emit()
    assert doc.scenario.nodes["cache"].hit_ratio == 0.95
    settle(qtbot, window)
    assert window.scene.nodes["cache"].summary == "95% hits · 1ms"


def test_double_clicked_palette_items_land_on_free_spots_in_view(window, qtbot):
    """Issue 12 bug 5: a double-clicked kind was dropped on top of the node at the view's centre."""
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    view, palette = window.canvas_view, window.palette_view
    view.fit()
    view.centerOn(window.scene.nodes["guarded_api"].center())
    item = palette.findItems("Service", Qt.MatchFlag.MatchExactly)[0]
    for _ in range(4):
        palette.itemDoubleClicked.emit(item)
    nodes = window.scene.nodes
    added = [n for n in nodes if n.startswith("service")]
    assert len(added) == 4
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    for name in added:
        rect = nodes[name].sceneBoundingRect()
        assert visible.contains(rect), name
        overlapping = [
            o for o in nodes if o != name and nodes[o].sceneBoundingRect().intersects(rect)
        ]
        assert not overlapping, (name, overlapping)
    assert window.document.scenario.layout[added[0]] == (nodes[added[0]].x(), nodes[added[0]].y())


def test_a_node_added_on_an_empty_canvas_goes_in_the_middle():
    from gui.canvas.layout import free_spot

    assert free_spot((10.0, 20.0), [], (172.0, 58.0)) == (10.0, 20.0)
    assert free_spot((10.0, 20.0), [(500.0, 20.0)], (172.0, 58.0)) == (10.0, 20.0)
    x, y = free_spot((10.0, 20.0), [(10.0, 20.0)], (172.0, 58.0))
    assert abs(x - 10.0) >= 172.0 + 30 or abs(y - 20.0) >= 58.0 + 30
