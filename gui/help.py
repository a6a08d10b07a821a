"""The Help menu: a short Getting started, and About (the version and where the docs are).

Both open as ordinary windows (not modal), so they can stay beside the app while the user
follows the steps; the links open the documents shipped in the repository.
"""

from __future__ import annotations

from html import escape
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QMenu, QVBoxLayout, QWidget

ROOT = Path(__file__).resolve().parent.parent
DOCS = [
    ("README.md", "README: what Murphy models, every knob and its default, the examples"),
    ("docs/architecture.md", "Architecture: how one request runs, the JSON contract"),
    ("docs/compare.md", "Compare: strategies, replications and confidence intervals"),
]

GETTING_STARTED = """
<h3>Getting started</h3>
<ol>
<li><b>Draw.</b> Drag a kind from the <i>Palette</i> onto the canvas (or double-click it).
Shift-drag from one node to another, or drag from a node's port, to add a call.</li>
<li><b>Set it up.</b> Click a node or a call: the <i>Inspector</i> edits it. A call's timeout,
retry and circuit breaker are there; hover a field for what it means.</li>
<li><b>Break something.</b> Select a node and use <i>Add fault</i> under the canvas (or
Insert → Fault): drag the bar to move it, its ends to resize it.</li>
<li><b>Run.</b> Press <i>Run</i> (F5). The drawing shows load, queues and failures live; the
<i>Run</i> panel plots them over time, and the slider replays the run afterwards.</li>
<li><b>Compare.</b> Run → Compare strategies… varies one setting (say the retry strategy) over
the same random numbers and tabulates the outcome with confidence intervals.</li>
</ol>
<p>The examples (File → Open Example) each teach one lesson; their description says which.
Problems with the scenario are listed in the <i>Problems</i> panel as you edit.</p>
"""


def version() -> str:
    """The installed package's version ("unknown" when run from a bare checkout)."""
    try:
        return metadata.version("murphy")
    except metadata.PackageNotFoundError:
        return "unknown"


def about_html() -> str:
    links = "".join(
        f'<li><a href="{QUrl.fromLocalFile(str(ROOT / name)).toString()}">{escape(text)}</a></li>'
        for name, text in DOCS
        if (ROOT / name).is_file()
    )
    docs = f"<p>Documentation:</p><ul>{links}</ul>" if links else ""
    return (
        f"<h3>Murphy {escape(version())}</h3>"
        "<p>A discrete-event simulator of failure in software architectures: draw services, "
        "add faults and resilience policies, and watch what happens to every request.</p>"
        f"{docs}<p>The command line: <code>murphy run FILE</code>, <code>murphy --help</code>.</p>"
    )


def text_window(title: str, html: str, parent: QWidget | None) -> QDialog:
    """A small non-modal window of rich text whose links open in the system's viewer."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    label = QLabel(html)
    label.setObjectName("help:text")
    label.setWordWrap(True)
    label.setOpenExternalLinks(True)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.close)
    column = QVBoxLayout(dialog)
    column.addWidget(label, 1)
    column.addWidget(buttons)
    dialog.setMinimumWidth(520)
    return dialog


class HelpMenu:
    """Help → Getting started, About Murphy; the windows they open are kept in ``shown``."""

    def __init__(self, menu: QMenu, parent: QWidget):
        self.parent = parent
        self.shown: dict[str, QDialog] = {}
        self.getting_started = menu.addAction("&Getting started")
        self.getting_started.triggered.connect(
            lambda _=False: self.show("Getting started", GETTING_STARTED)
        )
        self.about = menu.addAction("&About Murphy")
        self.about.triggered.connect(lambda _=False: self.show("About Murphy", about_html()))

    def show(self, title: str, html: str) -> QDialog:
        dialog = self.shown.get(title)
        if dialog is None:
            dialog = self.shown[title] = text_window(title, html, self.parent)
        dialog.show()
        dialog.activateWindow()
        return dialog
