"""The atomic write (simulator/atomic_write.py) behind save_scenario, Save and the autosave."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from simulator import atomic_write as atomic
from simulator.atomic_write import remove_stale_temporaries, write_atomically


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_replaces_the_contents_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.yaml"
    target.write_text("old\n")
    assert write_atomically(target, "new\n") == target
    assert target.read_text() == "new\n"
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("kept", [0o644, 0o640, 0o600, 0o664])
def test_the_files_mode_is_kept(tmp_path, kept):
    target = tmp_path / "a.yaml"
    target.write_text("old\n")
    target.chmod(kept)
    write_atomically(target, "new\n")
    assert mode(target) == kept


def test_a_new_file_honours_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        assert atomic.current_umask() == 0o027
        write_atomically(tmp_path / "new.yaml", "x: 1\n")
    finally:
        os.umask(old)
    assert mode(tmp_path / "new.yaml") == 0o640


def test_a_symlink_is_written_through_to_its_target(tmp_path):
    real = tmp_path / "real" / "scenario.yaml"
    real.parent.mkdir()
    real.write_text("old\n")
    real.chmod(0o644)
    link = tmp_path / "link.yaml"
    link.symlink_to(Path("real") / "scenario.yaml")  # relative, as links often are
    chain = tmp_path / "chain.yaml"
    chain.symlink_to(link)
    assert write_atomically(chain, "new\n") == real
    assert chain.is_symlink() and link.is_symlink()
    assert real.read_text() == "new\n" and mode(real) == 0o644
    assert temporaries(tmp_path) == [] and temporaries(real.parent) == []


def test_a_failed_replace_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "a.yaml"
    target.write_text("old\n")

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        write_atomically(target, "new\n")
    assert target.read_text() == "old\n"
    assert temporaries(tmp_path) == []


def test_a_failed_write_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "a.yaml"
    target.write_text("old\n")

    def fail(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(atomic.os, "fsync", fail)
    with pytest.raises(OSError, match="Input/output"):
        write_atomically(target, "new\n")
    assert target.read_text() == "old\n"
    assert temporaries(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_fails_cleanly(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "a.yaml").write_text("old\n")
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            write_atomically(folder / "a.yaml", "new\n")
        assert temporaries(folder) == []
    finally:
        folder.chmod(0o755)


def test_the_file_and_then_its_folder_are_fsynced(tmp_path, monkeypatch):
    synced: list[bool] = []  # True for a directory
    real_fsync = os.fsync

    def spy(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    write_atomically(tmp_path / "a.yaml", "x\n")
    assert synced == [False, True]


def test_temporaries_of_killed_saves_are_removed_when_stale(tmp_path):
    target = tmp_path / "a.yaml"
    target.write_text("old\n")
    long_ago = time.time() - 3600
    stale = [".a.yaml.murphy-save-k1ll3d_x.tmp", ".a.yaml.ab12cd34.tmp"]  # ours, plain mkstemp's
    fresh = ".a.yaml.murphy-save-st1ll_g0.tmp"  # a save going on right now: left alone
    others = [".b.yaml.murphy-save-zzzzzzzz.tmp", "a.tmp", "notes.tmp"]  # not this file's
    for name in [*stale, fresh, *others]:
        (tmp_path / name).write_text("partial")
        if name != fresh:
            os.utime(tmp_path / name, (long_ago, long_ago))
    assert remove_stale_temporaries(target) == 2
    assert temporaries(tmp_path) == sorted([fresh, *others])
    (tmp_path / stale[0]).write_text("partial")
    os.utime(tmp_path / stale[0], (long_ago, long_ago))
    write_atomically(target, "new\n")  # a save cleans up too
    assert temporaries(tmp_path) == sorted([fresh, *others])


def test_a_killed_save_leaves_the_old_file_whole(tmp_path):
    """A writer killed mid-save: the file is the old one, the partial temporary goes later."""
    import signal
    import subprocess
    import sys

    target = tmp_path / "a.yaml"
    target.write_text("old\n")
    script = (
        "import sys, threading\n"
        "from simulator import atomic_write as atomic\n"
        "def stuck(src, dst):\n"
        "    print('writing', flush=True)\n"
        "    threading.Event().wait()  # until killed\n"
        "atomic.os.replace = stuck\n"
        "atomic.write_atomically(sys.argv[1], 'new\\n' * 1000)\n"
    )
    root = Path(__file__).resolve().parents[1]
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(target)], cwd=root, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "writing"  # the temporary is written, not renamed
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert target.read_text() == "old\n"
    [left] = temporaries(tmp_path)
    assert left.startswith(".a.yaml.murphy-save-")
    assert remove_stale_temporaries(target) == 0  # too young: it could be a save going on
    assert remove_stale_temporaries(target, older_than=-1) == 1
    assert temporaries(tmp_path) == []


def test_the_umask_is_read_without_changing_it(umask_022):
    assert atomic.current_umask() == 0o022
    assert os.umask(0o022) == 0o022


def test_save_scenario_goes_through_the_same_atomic_write(tmp_path) -> None:
    """The command line's and the library's save: mode kept, symlink written through."""
    from simulator.scenario import load_scenario, save_scenario

    scenario = load_scenario(Path(__file__).parent.parent / "scenarios" / "mm1.yaml")
    real = tmp_path / "real.yaml"
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    save_scenario(scenario, link)
    assert link.is_symlink()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert load_scenario(real) == scenario
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_line_endings_are_written_as_given_on_every_system(tmp_path, monkeypatch) -> None:
    """A file kept with CRLF line endings: text mode would make them CR CR LF on Windows,
    so the file is opened untranslated (``newline=""``) wherever it runs."""
    opened: list[dict[str, object]] = []
    fdopen = os.fdopen

    def spy(fd: int, *args: object, **kwargs: object) -> object:
        opened.append(kwargs)
        return fdopen(fd, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(atomic.os, "fdopen", spy)
    target = tmp_path / "crlf.yaml"
    atomic.write_atomically(target, "a: 1\r\nb: 2\r\n\n")
    assert target.read_bytes() == b"a: 1\r\nb: 2\r\n\n"
    assert [k.get("newline") for k in opened] == [""]
