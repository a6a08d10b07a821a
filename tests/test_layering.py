"""The engine runs where Qt is not installed: it never imports the app or PySide6.

import-linter checks the static imports (``lint-imports`` in ``make test``); this
checks what actually happens when a user runs a scenario with PySide6 missing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEADLESS = """
import sys
for name in ("PySide6", "shiboken6", "pyqtgraph", "gui"):
    sys.modules[name] = None  # any import of these now raises ImportError
import simulator, simulator.cli, simulator.engine, simulator.analysis, simulator.blast_radius
import simulator.compare, simulator.sweep, simulator.report, simulator.plots
from simulator.analysis import summarize
from simulator.engine import Simulation
from simulator.scenario import load_scenario
sim = Simulation(load_scenario(sys.argv[1]))
sim.run_to_end()
out = summarize(sim)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "gui") and sys.modules[m])
assert not loaded, loaded
print(out["overall"]["outcomes"]["ok"] > 0)
"""


def test_the_engine_runs_a_scenario_with_pyside6_blocked() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HEADLESS, str(ROOT / "scenarios" / "three-tier.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_the_layering_contracts_hold() -> None:
    """The same contracts ``make test`` runs, so a plain ``pytest`` catches a broken layer too."""
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
