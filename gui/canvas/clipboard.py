"""Copy and paste of nodes as YAML text, in the scenario file's own spelling.

Copied text is a small mapping ``{murphy_clipboard: 1, nodes: …, layout: …}`` so a
paste into a text editor reads like part of a scenario file.
"""

from __future__ import annotations

import atexit
from typing import Any

import yaml
from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication

from gui.document import ScenarioDocument
from simulator.scenario import scenario_to_data

MIME = "application/x-murphy-nodes+yaml"


def copy_nodes(document: ScenarioDocument, names: list[str], positions: dict[str, Any]) -> str:
    """The YAML for ``names``; calls to nodes outside the copy are kept only if they exist."""
    data = scenario_to_data(document.scenario)
    nodes = {name: data["nodes"][name] for name in names if name in data["nodes"]}
    layout = {name: list(positions[name]) for name in nodes if name in positions}
    text = yaml.safe_dump(
        {"murphy_clipboard": 1, "nodes": nodes, "layout": layout}, sort_keys=False
    )
    mime = QMimeData()
    mime.setData(MIME, text.encode())
    mime.setText(text)
    QApplication.clipboard().setMimeData(mime)
    _clear_at_exit()
    return text


_registered = False


def _clear_at_exit() -> None:
    """Hand the clipboard back before Qt tears down.

    Qt (seen with PySide6 6.x, offscreen and xcb) crashes at exit when the
    clipboard still owns a QMimeData the application set. The content would
    leave with the application anyway.
    """
    global _registered
    if not _registered:
        _registered = True
        atexit.register(lambda: QApplication.instance() and QApplication.clipboard().clear())


def paste_nodes(document: ScenarioDocument) -> list[str]:
    """Paste copied nodes under fresh names; returns their names ([] if nothing to paste)."""
    mime = QApplication.clipboard().mimeData()
    if mime is None:
        return []
    text = bytes(mime.data(MIME).data()).decode() if mime.hasFormat(MIME) else mime.text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    if not isinstance(data, dict) or data.get("murphy_clipboard") != 1:
        return []
    return document.paste(data.get("nodes") or {}, data.get("layout") or {})
