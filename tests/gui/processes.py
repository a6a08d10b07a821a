"""Which processes this test process has started, and whether they are still there (Linux).

Reads ``/proc`` (psutil is not a dependency of the app or its tests). A zombie (killed,
not yet reaped) counts as gone: it holds no CPU and no memory.
"""

from __future__ import annotations

import os
from pathlib import Path

LOKY_WORKER = "loky.backend.popen_loky_posix"  # the command line of every loky worker


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of ``pid``, or None if there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time ``pid`` has used so far (0 if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def descendants(root: int | None = None) -> set[int]:
    """Every live process below ``root`` (this process by default)."""
    root = os.getpid() if root is None else root
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] not in ("Z", "X"):
                parents.setdefault(stat[1], []).append(int(entry.name))
    out: set[int] = set()
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def loky_workers() -> set[int]:
    """The live loky pool workers below this process."""
    return {pid for pid in descendants() if LOKY_WORKER in cmdline(pid)}
