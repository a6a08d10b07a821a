"""The problems list: what ``simulator.topology.problems`` finds, kept current while editing."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QWidget

from gui.document import ScenarioDocument
from gui.selection import Selection
from simulator.topology import Problem, problems


class ProblemsPanel(QListWidget):
    """Click a problem to select the node or call it is about."""

    def __init__(
        self, document: ScenarioDocument, selection: Selection, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.document, self.selection = document, selection
        self.problems: list[Problem] = []
        self._pending = False
        for signal in document.content_signals():
            signal.connect(self._on_document_changed)
        self.itemClicked.connect(self._on_item_clicked)
        self.refresh()

    def _on_document_changed(self, *args: object) -> None:
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.refresh)

    def refresh(self) -> None:
        self._pending = False
        self.clear()
        self.problems = problems(self.document.scenario)
        style = self.style()
        icons = {
            "error": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical),
            "warning": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning),
        }
        for problem in self.problems:
            where = problem.node or "scenario"
            if problem.call is not None:
                where += f" call #{problem.call + 1}"
            item = QListWidgetItem(icons[problem.severity], f"{problem.message}  ({where})")
            item.setData(Qt.ItemDataRole.UserRole, problem)
            item.setToolTip(problem.message)  # a long message is cut off by a narrow panel
            self.addItem(item)
        if not self.problems:
            done = QListWidgetItem("No problems found.")
            done.setFlags(Qt.ItemFlag.NoItemFlags)
            self.addItem(done)

    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        problem = item.data(Qt.ItemDataRole.UserRole)
        if problem is None or problem.node not in self.document.scenario.nodes:
            return
        if problem.call is not None:
            self.selection.set([("call", problem.node, problem.call)])
        else:
            self.selection.set([("node", problem.node)])
