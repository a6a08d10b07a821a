"""The main window: palette left, canvas centre with the fault timeline below, inspector right.

It only assembles the views around one document and one selection, and owns the
menus. New panels (a Run toolbar, plots) are added with ``addToolBar`` and
``add_dock`` without touching the rest.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMenu,
    QSplitter,
    QStyle,
    QToolBar,
    QWidget,
)

from gui import clipboard_actions
from gui.canvas.palette import PaletteView
from gui.canvas.scene import CanvasScene
from gui.canvas.view import CanvasView
from gui.dialogs import Dialogs
from gui.document import ScenarioDocument
from gui.files import FileController, blank_scenario
from gui.help import HelpMenu
from gui.icons import kind_icon
from gui.inspector.panel import InspectorPanel
from gui.kinds import KINDS
from gui.problems import ProblemsPanel
from gui.run.session import RunSession
from gui.selection import Selection
from gui.timeline.deploy_items import add_deploy_menu
from gui.timeline.panel import TimelinePanel
from simulator.scenario import FAULT_KINDS, NODE_KINDS

SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"
LAYOUT_VERSION = 1
"""Of the docks and toolbars saved in the settings; raise it when they change."""


def default_recovery_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".murphy") / "recovery"


class MainWindow(QMainWindow):
    """Murphy's editor window around one ScenarioDocument."""

    def __init__(
        self,
        settings: QSettings | None = None,
        dialogs: Dialogs | None = None,
        recovery_dir: Path | None = None,
        scenarios_dir: Path = SCENARIOS_DIR,
    ):
        super().__init__()
        self.document = ScenarioDocument(blank_scenario(), None, self)
        self.selection = Selection(self)
        self.dialogs = dialogs or Dialogs(self)
        self.settings = settings or QSettings()
        self.files = FileController(
            self.document,
            self.dialogs,
            self.settings,
            recovery_dir or default_recovery_dir(),
            scenarios_dir,
            self,
        )
        self._build_views()
        self._build_menus()
        self.document.path_changed.connect(self._on_title_changed)
        self.document.scenario_changed.connect(self._on_title_changed)
        self.document.reset.connect(self._on_reset)
        self.document.undo_stack.cleanChanged.connect(self._on_title_changed)
        self.files.message.connect(self._on_message)
        self.canvas_view.message.connect(self._on_message)
        self.timeline.message.connect(self._on_message)
        self.run_session = RunSession(self)
        self.help = HelpMenu(self.menuBar().addMenu("&Help"), self)
        self.resize(1400, 900)
        self._space_shared = self._restore_settings()
        self._on_title_changed()

    # -- views ---------------------------------------------------------------------------

    def _build_views(self) -> None:
        self.scene = CanvasScene(self.document, self.selection, self)
        self.canvas_view = CanvasView(self.scene)
        self.timeline = TimelinePanel(self.document, self.selection)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.canvas_view)
        splitter.addWidget(self.timeline)
        splitter.setStretchFactor(0, 1)  # the canvas takes what the window gains or loses
        splitter.setStretchFactor(1, 0)
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)
        self.palette_view = PaletteView()
        self.palette_view.add_requested.connect(self._on_add_requested)
        self.inspector = InspectorPanel(self.document, self.selection)
        self.problems = ProblemsPanel(self.document, self.selection)
        self.palette_dock = self.add_dock(
            self.palette_view, "Palette", Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.inspector_dock = self.add_dock(
            self.inspector, "Inspector", Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.problems_dock = self.add_dock(
            self.problems, "Problems", Qt.DockWidgetArea.RightDockWidgetArea
        )
        # The side columns run the full height; the Run dock sits under the canvas only.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitter = splitter
        self.statusBar().showMessage(
            "Drag a kind from the palette; Shift-drag between nodes to connect"
        )

    def add_dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea) -> QDockWidget:
        """Dock a panel and list it in the View menu (once the menus exist)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock:{title}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if hasattr(self, "view_menu"):
            self.view_menu.addAction(dock.toggleViewAction())
        return dock

    # -- menus ---------------------------------------------------------------------------

    def _action(self, menu: QMenu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda checked=False: slot())
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])
        action.setStatusTip(tip)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&New", self.files.new, QKeySequence.StandardKey.New)
        self._action(file, "&Open…", self.files.open, QKeySequence.StandardKey.Open)
        self.examples_menu = file.addMenu("Open &Example")
        for path in sorted(self.files.scenarios_dir.glob("*.yaml")):
            self._action(self.examples_menu, path.stem, lambda p=path: self.files.open_example(p))
        self.recent_menu = file.addMenu("Open &Recent")
        self.files.recent_changed.connect(self._on_recent_changed)
        self._on_recent_changed()
        file.addSeparator()
        self._action(file, "&Save", self.files.save, QKeySequence.StandardKey.Save)
        self._action(file, "Save &As…", self.files.save_as, "Ctrl+Shift+S")
        file.addSeparator()
        self.import_action = self._action(
            file, "&Import Resilience Settings…", self._on_import,
            tip="resilience4j or Envoy settings onto a call (murphy import)",
        )  # fmt: skip
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self._build_edit_menu(bar.addMenu("&Edit"))
        self._build_view_menu(bar.addMenu("&View"))
        self._build_insert_menu(bar.addMenu("&Insert"))
        self._build_toolbar()

    def _build_edit_menu(self, edit: QMenu) -> None:
        stack = self.document.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit.addActions([self.undo_action, self.redo_action])
        edit.addSeparator()
        actions = clipboard_actions.EditActions(self)
        self.edit_actions = actions
        self._action(edit, "&Copy", actions.copy, QKeySequence.StandardKey.Copy)
        self._action(edit, "&Paste", actions.paste, QKeySequence.StandardKey.Paste)
        self._action(
            edit, "&Delete", actions.delete, [QKeySequence.StandardKey.Delete, "Backspace"]
        )
        self._action(edit, "Select &All", actions.select_all, QKeySequence.StandardKey.SelectAll)

    def _build_view_menu(self, view: QMenu) -> None:
        self.view_menu = view
        self._action(view, "Zoom &In", lambda: self.canvas_view.zoom_by(1.25), ["Ctrl+=", "Ctrl++"])
        self._action(view, "Zoom &Out", lambda: self.canvas_view.zoom_by(0.8), "Ctrl+-")
        self._action(view, "&Fit to View", self.canvas_view.fit, "Ctrl+0")
        view.addSeparator()
        for dock in (self.palette_dock, self.inspector_dock, self.problems_dock):
            view.addAction(dock.toggleViewAction())

    def _build_insert_menu(self, insert: QMenu) -> None:
        for kind in NODE_KINDS:
            action = self._action(insert, KINDS[kind].label,
                                  lambda k=kind: self.canvas_view.add_node_at(k),
                                  tip=KINDS[kind].hint)  # fmt: skip
            action.setIcon(kind_icon(kind))
        insert.addSeparator()
        faults = insert.addMenu("&Fault")
        for kind in FAULT_KINDS:
            self._action(faults, kind, lambda k=kind: self.timeline.add_fault(k))
        add_deploy_menu(insert.addMenu("&Deploy"), self.timeline.add_deploy)

    def _build_toolbar(self) -> None:
        tools = QToolBar("Edit")
        tools.setObjectName("toolbar:edit")
        self.addToolBar(tools)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tools.addAction(self._icon("SP_FileIcon"), "New", self.files.new)
        tools.addAction(self._icon("SP_DialogOpenButton"), "Open…", self.files.open)
        tools.addAction(self._icon("SP_DialogSaveButton"), "Save", self.files.save)
        tools.addSeparator()
        stack = self.document.undo_stack
        undo = tools.addAction(self._icon("SP_ArrowBack"), "Undo", stack.undo)
        redo = tools.addAction(self._icon("SP_ArrowForward"), "Redo", stack.redo)
        undo.setEnabled(False)
        redo.setEnabled(False)
        stack.canUndoChanged.connect(undo.setEnabled)
        stack.canRedoChanged.connect(redo.setEnabled)
        tools.addSeparator()
        tools.addAction("Fit", self.canvas_view.fit)

    def _icon(self, name: str) -> QIcon:
        return self.style().standardIcon(getattr(QStyle.StandardPixmap, name))

    # -- handlers ------------------------------------------------------------------------

    def _on_add_requested(self, kind: str) -> None:
        self.canvas_view.add_node_at(kind)

    def _on_recent_changed(self) -> None:
        self.recent_menu.clear()
        for path in self.files.recent_files():
            self._action(self.recent_menu, str(path), lambda p=path: self.files.open(p))
        self.recent_menu.setEnabled(not self.recent_menu.isEmpty())

    def _on_import(self) -> None:
        from gui.import_dialog import ImportDialog

        self.import_dialog = ImportDialog(self.document, self)
        self.import_dialog.open()

    def _on_reset(self) -> None:
        self.selection.clear()
        self.statusBar().showMessage(f"{self.files.display_name()}: {self.document.scenario.name}")
        self.canvas_view.fit()
        self._on_title_changed()

    def _on_title_changed(self, *args: object) -> None:
        self.setWindowModified(self.document.is_modified())
        name = self.files.display_name()
        self.setWindowTitle(f"{self.document.scenario.name} — {name}[*] — Murphy")

    def _on_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # -- remembered from one launch to the next -----------------------------------------

    def _restore_settings(self) -> bool:
        """The window's size and place, the docks and toolbars, and the run speed, as the
        user left them; a layout saved by another version of the window is ignored. True if
        the docks' layout was restored."""
        settings = self.settings
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(QByteArray(geometry))
        state = settings.value("window/state")
        restored = isinstance(state, QByteArray | bytes) and self.restoreState(
            QByteArray(state), LAYOUT_VERSION
        )
        speed = settings.value("run/speed")
        box = self.run_session.toolbar.speed_box
        if isinstance(speed, str) and (index := box.findText(speed)) >= 0:
            box.setCurrentIndex(index)
        return restored

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._space_shared:
            self._space_shared = True
            QTimer.singleShot(0, self.share_space)  # once the window has its real size

    def share_space(self) -> None:
        """First sizes for the docks, in proportion to the window, so that on a laptop
        (1366×768) the canvas keeps most of it: the Run dock about a third of the height, the
        fault timeline a strip, the side columns no wider than they need."""
        width, height = self.width(), self.height()
        palette, inspector = (
            (190, 380) if width >= 1600 else (150, 330) if width >= 1200 else (120, 300)
        )
        self.resizeDocks([self.palette_dock], [palette], Qt.Orientation.Horizontal)
        self.resizeDocks([self.inspector_dock], [inspector], Qt.Orientation.Horizontal)
        run = max(150, min(330, int(height * 0.3)))
        self.resizeDocks([self.run_session.plots_dock], [run], Qt.Orientation.Vertical)
        column = max(height - 120, 300)
        shares = [int(column * 0.7), int(column * 0.3)]
        self.resizeDocks([self.inspector_dock, self.problems_dock], shares, Qt.Orientation.Vertical)
        timeline = max(self.timeline.minimumSizeHint().height(), min(190, int(height * 0.16)))
        self.splitter.setSizes([max(self.splitter.height() - timeline, 1), timeline])
        QTimer.singleShot(0, self.canvas_view.fit)  # the drawing, in the canvas it now has

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.setValue("run/speed", self.run_session.toolbar.speed_box.currentText())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.files.close():
            self.save_settings()
            self.run_session.shutdown()
            event.accept()
        else:
            event.ignore()
