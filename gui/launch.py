"""``python -m gui.launch [FILE]``: start the desktop app, or explain why it cannot start.

Qt aborts the whole process with a misleading message when there is no display,
so the display is checked first and the way forward is printed instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

FLAGSHIP = Path(__file__).resolve().parent.parent / "scenarios" / "latency-spike.yaml"

NO_DISPLAY = """\
murphy gui: there is no display to open a window on (DISPLAY, WAYLAND_DISPLAY and
QT_QPA_PLATFORM are all unset).

  - On a machine without a screen, run it under a virtual one:
        xvfb-run -a make run
    (install it with: apt-get install xvfb)
  - To run a scenario without any window, use the headless path:
        murphy run FILE
"""

NO_QT = """\
murphy gui: the desktop app needs PySide6, which is not installed ({error}).

  Install it with:   pip install 'murphy[gui]'   (or: pip install PySide6-Essentials)
  Without it, `murphy run FILE` runs scenarios headless.
"""


def has_display(environ: os._Environ[str] | dict[str, str] = os.environ) -> bool:
    """True if Qt has somewhere to draw: an X or Wayland display, or an explicit platform."""
    if sys.platform in ("win32", "darwin"):
        return True
    return any(environ.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="murphy gui", description="Open the Murphy editor.")
    parser.add_argument("file", nargs="?", type=Path, default=FLAGSHIP, help="scenario to open")
    args = parser.parse_args(argv)
    if not has_display():
        print(NO_DISPLAY, file=sys.stderr, end="")
        return 2
    try:
        from gui.app import run
    except ImportError as exc:
        if "PySide6" not in str(exc):
            raise
        print(NO_QT.format(error=exc), file=sys.stderr, end="")
        return 2
    return run(args.file)


if __name__ == "__main__":
    sys.exit(main())
