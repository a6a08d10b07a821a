"""Write a file atomically: `save_scenario`, the app's Save and its autosave all come here.

``write_atomically(path, text)``: the text goes to a temporary file of a unique
name in the same directory (``.NAME.murphy-save-XXXXXXXX.tmp``), is flushed and
fsynced, gets the mode the file had (a new file: ``0666 & ~umask``, as any
editor would make it, not mkstemp's 0600), and replaces the file with
``os.replace``; then the directory is fsynced so the rename itself survives a
power cut. A crash at any point leaves the old file or the new one, never half
of one.

- A symlink is written through: its target is replaced, the link stays.
- Any failure removes the temporary. A save killed outright cannot, so each
  save (and each open, through ``remove_stale_temporaries``) first removes this
  file's temporaries older than ``STALE_AFTER`` seconds: those of a save that
  is still going are younger.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from pathlib import Path

MARK = ".murphy-save-"
SUFFIX = ".tmp"
STALE_AFTER = 60.0  # seconds: a temporary older than this belongs to a save that died


def temp_prefix(target: Path) -> str:
    return f".{target.name}{MARK}"


def _stale_pattern(target: Path) -> re.Pattern[str]:
    """This file's temporaries: ours, and the older ``.NAME.XXXXXXXX.tmp`` of plain mkstemp."""
    name, mark, suffix = re.escape(target.name), re.escape(MARK), re.escape(SUFFIX)
    return re.compile(rf"^\.{name}({mark}[A-Za-z0-9_]+|\.[a-z0-9_]{{8}}){suffix}$")


def remove_stale_temporaries(path: str | os.PathLike[str], older_than: float = STALE_AFTER) -> int:
    """Delete the temporaries that killed saves of ``path`` left beside it; how many."""
    target = Path(os.path.realpath(path))
    pattern = _stale_pattern(target)
    cutoff = time.time() - older_than
    removed = 0
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return 0
    for entry in entries:
        if not pattern.match(entry.name):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
    return removed


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: the only way to read it is to set it (briefly)
    os.umask(mask)
    return mask


def write_atomically(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Replace ``path`` (through a symlink: its target) with ``text``; return what was written.

    The text is written as it is, its line endings untranslated on every system: the
    round trip gives the file's own (``\r\n`` kept), the plain dump ``\n``."""
    target = Path(os.path.realpath(path))
    directory = target.parent
    remove_stale_temporaries(target)
    try:
        existing: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        existing = None
    mode = stat.S_IMODE(existing.st_mode) if existing else 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target), suffix=SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:  # as given:
            # a file kept with \r\n line endings must not get \r\r\n on Windows
            handle.write(text)
            handle.flush()
            if existing is not None:  # keep the group (and owner) where we are allowed to
                with contextlib.suppress(OSError):
                    os.fchown(handle.fileno(), existing.st_uid, existing.st_gid)
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)
    return target


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (where the system can open a directory)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
