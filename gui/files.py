"""New, open, save, recent files, the unsaved-changes prompt, and crash recovery.

Autosave writes the scenario, when it has unsaved changes, to a recovery file in
``recovery_dir`` (one per document, named after it). A clean save, or closing
without saving on purpose, removes it; a recovery file found at start-up means
the app stopped without either, and its contents are offered back.

Save and autosave keep what the user wrote: the document remembers the text it was
read from, and saving writes the edits into that text (``scenario_roundtrip``), keeping
comments, key order and layout; a new document is written plainly (``dump_scenario``).
Both write the same way (``write_atomically``): a unique
temporary beside the file, fsynced, given the file's mode, renamed over it, the
directory fsynced; through a symlink to its target. Temporaries that a killed
save left are removed when that file is next opened or saved.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer, Signal

from gui.dialogs import Dialogs
from gui.document import ScenarioDocument
from simulator.atomic_write import remove_stale_temporaries, write_atomically
from simulator.scenario import (
    Client,
    Scenario,
    ScenarioError,
    parse_scenario,
    read_scenario_text,
)
from simulator.scenario_roundtrip import save_scenario_keeping, saved_text

RECOVERY_SUFFIX = ".murphy-recovery.yaml"
HEADER = "# murphy-recovery-of: "
# Autosave runs on the GUI thread every minute; ruamel's round trip costs about 2.5 ms per
# kilobyte (0.13 s for 50 nodes, 1.3 s for 500). Above this size the recovery file is the
# plain dump: a safety net need not keep comments, and an explicit Save still does.
AUTOSAVE_ROUND_TRIP_LIMIT = 32_000
MAX_RECENT = 8
AUTOSAVE_MS = 60_000
UNTITLED = "untitled.yaml"


def blank_scenario() -> Scenario:
    """What File → New starts from: one client to connect things to."""
    return Scenario(
        name="Untitled",
        duration=60.0,
        nodes={"users": Client(kind="client", rate=10.0)},
        layout={"users": (0.0, 0.0)},
    )


def problems_text(exc: ScenarioError, path: Path | str) -> str:
    """A file's problems for a dialog: the file named once, then one line per problem.

    ``str(exc)`` repeats the whole path on every line, which is right for a terminal and
    hard to read in a dialog."""
    lines = [f"{path}", ""]
    for problem in exc.problems:
        where = f"line {problem.line}: " if problem.line is not None else ""
        what = f"{problem.path}: " if problem.path else ""
        lines.append(f"{where}{what}{problem.message}")
    return "\n".join(lines)


class FileController(QObject):
    """File operations on one document; every question goes through ``dialogs``."""

    recent_changed = Signal()
    message = Signal(str)

    def __init__(
        self,
        document: ScenarioDocument,
        dialogs: Dialogs,
        settings: QSettings,
        recovery_dir: Path,
        scenarios_dir: Path,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.document, self.dialogs, self.settings = document, dialogs, settings
        self.recovery_dir, self.scenarios_dir = Path(recovery_dir), Path(scenarios_dir)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.untitled_name = UNTITLED  # Save As's suggested name while there is no path

    # -- the commands --------------------------------------------------------------------

    def new(self) -> bool:
        if not self.maybe_save():
            return False
        self.document.replace(blank_scenario(), None)
        self.untitled_name = UNTITLED
        return True

    def open(self, path: Path | None = None) -> bool:
        """Open ``path`` (or ask for one); a file that fails to load leaves all as it was."""
        if not self.maybe_save():
            return False
        path = path or self.dialogs.open_path(self._directory())
        if path is None or (loaded := self._read(path)) is None:
            return False
        scenario, text = loaded
        remove_stale_temporaries(path)  # of saves of this file that were killed
        self.document.replace(scenario, Path(path).resolve(), text)
        self.untitled_name = UNTITLED
        self.add_recent(Path(path).resolve())
        self.message.emit(f"Opened {path}")
        return True

    def _read(self, path: Path) -> tuple[Scenario, str] | None:
        """The scenario and the text it was read from; None after showing why it cannot load."""
        try:
            text = read_scenario_text(path)
            return parse_scenario(text, str(path)), text
        except ScenarioError as exc:
            self.dialogs.error(f"Cannot open {Path(path).name}", problems_text(exc, path))
            self.message.emit(f"Cannot open {path}: see the error")
            return None

    def open_example(self, path: Path) -> bool:
        """Open a bundled example as an untitled copy, so saving asks where, never over it."""
        if not self.maybe_save() or (loaded := self._read(path)) is None:
            return False
        scenario, text = loaded
        self.document.replace(scenario, None, text)  # the copy keeps the example's comments
        self.untitled_name = Path(path).name
        self.message.emit(
            f"Opened a copy of the example {Path(path).name}: Save asks where to keep it"
        )
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._write(self.document.path)

    def save_as(self) -> bool:
        current = self.document.path or self._save_directory() / self.untitled_name
        path = self.dialogs.save_path(current)
        if path is None:
            return False
        if path.suffix not in (".yaml", ".yml"):
            path = path.with_suffix(".yaml")
        return self._write(path.resolve())

    def _write(self, path: Path) -> bool:
        try:
            saved = save_scenario_keeping(self.document.scenario, path, self.document.source_text)
        except OSError as exc:
            self.dialogs.error(f"Cannot save {path.name}", str(exc))
            return False
        self.remove_recovery()
        self.document.set_path(path)
        self.document.set_source_text(saved.text)
        self.document.undo_stack.setClean()
        self.add_recent(path)
        if saved.reason:
            which = "some of its comments" if saved.lost else "its comments"
            self.message.emit(f"Saved {path} without {which}: {saved.reason}")
        else:
            self.message.emit(f"Saved {path}")
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False means the user chose to stay."""
        if not self.document.is_modified():
            return True
        answer = self.dialogs.ask_save_changes(self.display_name())
        if answer == "save":
            return self.save()
        if answer == "discard":
            self.remove_recovery()
            return True
        return False

    def close(self) -> bool:
        """On quit: ask, then remove this document's recovery file (the exit is clean)."""
        if not self.maybe_save():
            return False
        self.autosave_timer.stop()
        self.remove_recovery()
        return True

    def display_name(self) -> str:
        return self.document.path.name if self.document.path else "Untitled"

    def _directory(self) -> Path:
        return self.document.path.parent if self.document.path else self.scenarios_dir

    def _save_directory(self) -> Path:
        """Where Save As starts for an untitled document: the last file's folder, else the
        user's documents; never the bundled examples' folder."""
        for recent in self.recent_files():
            if recent.parent.is_dir() and recent.parent != self.scenarios_dir.resolve():
                return recent.parent
        documents = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DocumentsLocation
        )
        return Path(documents) if documents else Path.home()

    # -- recent files --------------------------------------------------------------------

    def recent_files(self) -> list[Path]:
        raw = self.settings.value("recent_files", [])
        items = [raw] if isinstance(raw, str) else list(raw or [])
        return [Path(p) for p in items if p]

    def add_recent(self, path: Path) -> None:
        items = [str(path)] + [str(p) for p in self.recent_files() if p != path]
        self.settings.setValue("recent_files", items[:MAX_RECENT])
        self.settings.sync()
        self.recent_changed.emit()

    # -- autosave and recovery -----------------------------------------------------------

    def recovery_path(self) -> Path:
        original = str(self.document.path) if self.document.path else f"untitled-{os.getpid()}"
        digest = hashlib.sha1(original.encode()).hexdigest()[:10]
        stem = self.document.path.stem if self.document.path else "untitled"
        return self.recovery_dir / f"{stem}-{digest}{RECOVERY_SUFFIX}"

    def autosave(self) -> Path | None:
        """Write the recovery file if there is anything unsaved; return where.

        A failure (a full disk, a read-only folder) is said in the status bar, and the
        previous recovery file, if any, stays as it was.
        """
        if not self.document.is_modified():
            return None
        target = self.recovery_path()
        source = self.document.source_text
        if source is not None and len(source) > AUTOSAVE_ROUND_TRIP_LIMIT:
            source = None
        body = saved_text(self.document.scenario, source).text
        text = f"{HEADER}{self.document.path or ''}\n{body}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(target, text)
            target.with_suffix(".tmp").unlink(missing_ok=True)  # earlier versions' fixed name
        except OSError as exc:
            self.message.emit(f"Autosave failed: {exc}")
            return None
        return target

    def remove_recovery(self) -> None:
        self.recovery_path().unlink(missing_ok=True)

    def pending_recoveries(self) -> list[Path]:
        if not self.recovery_dir.is_dir():
            return []
        found = self.recovery_dir.glob(f"*{RECOVERY_SUFFIX}")
        return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)

    def offer_recovery(self) -> bool:
        """At start-up: offer back the newest recovery file; True if the user took it."""
        for recovery in self.pending_recoveries():
            text = recovery.read_text(encoding="utf-8")
            first, _, body = text.partition("\n")
            original = first[len(HEADER) :].strip() if first.startswith(HEADER) else ""
            when = datetime.fromtimestamp(recovery.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            if not self.dialogs.ask_recover(original or "an untitled scenario", when):
                recovery.unlink(missing_ok=True)
                continue
            try:
                scenario = parse_scenario(text, str(recovery))
            except ScenarioError as exc:
                self.dialogs.error("Cannot recover", problems_text(exc, recovery))
                continue
            kept = body if first.startswith(HEADER) else text
            self.document.replace(scenario, Path(original) if original else None, kept)
            recovery.replace(self.recovery_path())
            self.document.undo_stack.resetClean()
            self.message.emit("Recovered unsaved changes: save them to keep them")
            return True
        return False
