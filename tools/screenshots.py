"""Screenshots of the app: the README's images, and the views a reviewer should look at.

Run it on a display (a real one, or a virtual one):

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python tools/screenshots.py --readme
    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python tools/screenshots.py --review out/

``--readme`` rewrites ``assets/screenshot-editor.png`` and ``assets/screenshot-run.png``.
``--review DIR`` saves one editor and one finished-run screenshot per look a user may
have: 1366×768, 1920×1080, 150 % scale (``QT_SCALE_FACTOR=1.5``) and a dark palette.
Each look runs in a child process because the scale factor is read once, when Qt starts.
Settings and recovery files go to a temporary folder: the user's own are never touched.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "scenarios" / "latency-spike.yaml"

# name: (width, height, scale factor, dark palette, scenario)
LOOKS: dict[str, tuple[int, int, float, bool, Path]] = {
    "1366x768": (1366, 768, 1.0, False, FLAGSHIP),
    "1920x1080": (1920, 1080, 1.0, False, FLAGSHIP),
    "scale150": (1280, 720, 1.5, False, FLAGSHIP),
    "dark": (1920, 1080, 1.0, True, FLAGSHIP),
    "amplification": (1920, 1080, 1.0, False, ROOT / "scenarios" / "amplification.yaml"),
    "messages": (1920, 1080, 1.0, False, ROOT / "scenarios" / "outbox-vs-dual-write.yaml"),
    # Deploy bars, the alert lane and four blast-radius entries on one timeline.
    "game-day": (1366, 768, 1.0, False, ROOT / "scenarios" / "game-day.yaml"),
    "game-day-dark": (1920, 1080, 1.0, True, ROOT / "scenarios" / "game-day.yaml"),
    # The adaptive policies: hedge badges, ejected backends, the concurrency-limits plot.
    "hedging": (1366, 768, 1.0, False, ROOT / "scenarios" / "hedging.yaml"),
    "outlier-ejection": (1920, 1080, 1.0, True, ROOT / "scenarios" / "outlier-ejection.yaml"),
    "adaptive": (1920, 1080, 1.0, False, ROOT / "scenarios" / "adaptive-concurrency.yaml"),
}
README_SIZE = (1600, 1000)
FAST = 5  # index of "As fast as possible" in the speed box
TEN_TIMES = 2
README_LIVE_AT = 75.0  # the flagship's spike runs from 60 s to 90 s


def dark_palette():  # Qt is imported late: the display check comes first
    """A plain dark Fusion palette: what a user with a dark desktop theme gets."""
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    roles = QPalette.ColorRole
    for role, colour in (
        (roles.Window, "#2b2b2b"),
        (roles.WindowText, "#e6e6e6"),
        (roles.Base, "#1e1e1e"),
        (roles.AlternateBase, "#333333"),
        (roles.Text, "#e6e6e6"),
        (roles.Button, "#3a3a3a"),
        (roles.ButtonText, "#e6e6e6"),
        (roles.ToolTipBase, "#3a3a3a"),
        (roles.ToolTipText, "#e6e6e6"),
        (roles.Highlight, "#2f65ca"),
        (roles.HighlightedText, "#ffffff"),
        (roles.PlaceholderText, "#9a9a9a"),
    ):
        palette.setColor(role, QColor(colour))
    return palette


def shoot(
    scenario: Path, width: int, height: int, dark: bool, stem: Path, live_at: float | None = None
) -> list[Path]:
    """Open ``scenario`` in a window of the given size; save the editor, run it, save the run:
    paused at simulated time ``live_at`` (the README shows a fault in progress), else finished."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow
    from gui.run import controller as states

    app = QApplication.instance() or QApplication(sys.argv)
    if dark:
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    scratch = Path(tempfile.mkdtemp(prefix="murphy-shots-"))
    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, recovery_dir=scratch / "recovery")
    window.resize(width, height)
    window.show()
    if not window.files.open(scenario):
        raise SystemExit(f"cannot open {scenario}")

    def wait(condition, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting while shooting {scenario.name}")
            app.processEvents()
            time.sleep(0.01)

    def pause(seconds: float) -> None:
        end = time.monotonic() + seconds
        wait(lambda: time.monotonic() > end, seconds + 1)

    pause(1.0)
    window.canvas_view.fit()
    if live_at is not None:  # the README: the inspector on a call with every policy
        window.selection.set([("call", "protected_api", 0)])
    pause(0.3)
    saved = [stem.with_name(stem.name + "-editor.png")]
    window.grab().save(str(saved[0]))
    window.selection.set([])

    session = window.run_session
    session.toolbar.speed_box.setCurrentIndex(FAST if live_at is None else TEN_TIMES)
    session.run()
    if live_at is not None:
        wait(lambda: session.clock is not None and session.clock >= live_at, 300)
        session.controller.pause()
        pause(1.0)
    else:
        wait(lambda: session.controller.state in (states.FINISHED, states.STOPPED), 300)
        wait(lambda: bool(session.controller.record.blast) or not scenario_has_faults(window), 300)
        pause(1.5)  # the last refresh of the plots and the blast radius
    saved.append(stem.with_name(stem.name + "-run.png"))
    window.grab().save(str(saved[1]))
    window.close()
    return saved


def scenario_has_faults(window) -> bool:
    return bool(window.document.scenario.faults)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="rewrite the README's screenshots")
    parser.add_argument("--review", type=Path, help="save every look into this folder")
    parser.add_argument("--look", help=argparse.SUPPRESS)  # one look, in a child process
    args = parser.parse_args(argv)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("screenshots need a display: run under xvfb-run -a (see the docstring)")
        return 2
    sys.path.insert(0, str(ROOT))
    if args.look:
        out = Path(args.look)
        if out.name == "readme":
            width, height = README_SIZE
            paths = shoot(FLAGSHIP, width, height, False, out.parent / "screenshot",
                          live_at=README_LIVE_AT)  # fmt: skip
        else:
            width, height, _scale, dark, scenario = LOOKS[out.name]
            paths = shoot(scenario, width, height, dark, out)
        print("\n".join(str(p) for p in paths))
        return 0
    jobs: list[tuple[str, dict[str, str]]] = []
    if args.readme:
        jobs.append((str(ROOT / "assets" / "readme"), {}))
    if args.review:
        args.review.mkdir(parents=True, exist_ok=True)
        for name, (_w, _h, scale, _dark, _scenario) in LOOKS.items():
            env = {"QT_SCALE_FACTOR": f"{scale:g}"} if scale != 1.0 else {}
            jobs.append((str(args.review.resolve() / name), env))
    if not jobs:
        parser.error("say --readme, --review DIR, or both")
    for look, env in jobs:
        subprocess.run(
            [sys.executable, __file__, "--look", look],
            env={**os.environ, "QT_QPA_PLATFORM": "xcb", **env},
            check=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
