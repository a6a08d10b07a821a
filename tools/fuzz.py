"""Fuzz the scenario loader with N hostile files; exit 1 if any case crashes.

    python tools/fuzz.py [N] [--start K] [--crashes DIR]

Case ``i`` is ``fuzz_mutations.make_case(random.Random(i))`` (the mutators the
test suite uses), so ``--start i`` with ``N=1`` replays one case. Each case must
end in an accepted scenario or a ``ScenarioError`` whose problems are one line
each, ``file:line: ...``; anything else is a crash, saved to DIR with its
traceback. A case that takes over a second or grows the peak RSS by over
200 MB is counted and saved too (a catastrophic regex or an unbounded read), and
fails the run, since limits are the point of the loader.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fuzz_mutations import make_case  # noqa: E402

from simulator.scenario import ScenarioError, parse_scenario  # noqa: E402
from simulator.scenario_limits import estimate_memory  # noqa: E402
from simulator.topology import problems  # noqa: E402

SLOW_SECONDS = 1.0
BIG_BYTES = 200 * 1024 * 1024
HANG_SECONDS = 30  # a case still running after this is stopped and counted as a crash
SAVED = 5  # examples kept per kind
_LINE = re.compile(r"^fuzz\.yaml:\d+: \S")


class _Hang(Exception):
    pass


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _Hang(f"still running after {HANG_SECONDS}s")


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def classify(text: str) -> tuple[str, str]:
    """("accepted" | "error" | "crash", detail) for one case."""
    try:
        scenario = parse_scenario(text, "fuzz.yaml")
    except ScenarioError as exc:
        for problem in exc.problems:
            line = str(problem)
            if len(line.splitlines()) != 1 or not _LINE.match(line):
                return "crash", f"badly formed error line: {line!r}"
        return "error", str(exc.problems[0]) if exc.problems else ""
    except Exception:
        return "crash", traceback.format_exc()
    try:
        problems(scenario)
        estimate_memory(scenario)
    except Exception:
        return "crash", traceback.format_exc()
    return "accepted", ""


def _save(folder: Path, kind: str, index: int, text: str, detail: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{kind}-{index}.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    (folder / f"{kind}-{index}.txt").write_text(detail, encoding="utf-8", errors="replace")


class _Tally:
    """Counts per outcome, the slowest and most memory-hungry case, saved examples."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.counts = {"accepted": 0, "error": 0, "crash": 0, "slow": 0, "big": 0}
        self.slowest, self.slowest_case = 0.0, -1
        self.biggest, self.biggest_case = 0, -1

    def add(
        self, index: int, text: str, kind: str, detail: str, seconds: float, grown: int
    ) -> None:
        self._count(kind, index, text, detail)
        if seconds > SLOW_SECONDS:
            self._count("slow", index, text, f"{seconds:.2f}s")
        if grown > BIG_BYTES:
            self._count("big", index, text, f"{grown >> 20} MB")
        if seconds > self.slowest:
            self.slowest, self.slowest_case = seconds, index
        if grown > self.biggest:
            self.biggest, self.biggest_case = grown, index

    def _count(self, kind: str, index: int, text: str, detail: str) -> None:
        self.counts[kind] += 1
        if kind in ("crash", "slow", "big") and self.counts[kind] <= SAVED:
            _save(self.folder, kind, index, text, detail)

    @property
    def failures(self) -> int:
        return self.counts["crash"] + self.counts["slow"] + self.counts["big"]


def _one(text: str) -> tuple[str, str, float, int]:
    before = _rss_bytes()
    signal.alarm(HANG_SECONDS)
    t0 = time.perf_counter()
    try:
        kind, detail = classify(text)
    except _Hang as exc:
        kind, detail = "crash", str(exc)
    finally:
        signal.alarm(0)
    return kind, detail, time.perf_counter() - t0, _rss_bytes() - before


def run(count: int, start: int, folder: Path) -> int:
    """Run the cases, print the counts, and return the exit status."""
    signal.signal(signal.SIGALRM, _on_alarm)
    tally = _Tally(folder)
    baseline, began = _rss_bytes(), time.perf_counter()
    for index in range(start, start + count):
        text = make_case(random.Random(index))
        tally.add(index, text, *_one(text))
    c, wall = tally.counts, time.perf_counter() - began
    print(f"cases: {count} (case numbers {start}..{start + count - 1}) in {wall:.1f}s")
    print(f"clean errors: {c['error']}")
    print(f"accepted: {c['accepted']}")
    print(f"crashes: {c['crash']}")
    print(f"slower than {SLOW_SECONDS:g}s: {c['slow']}; slowest case "
          f"{tally.slowest * 1000:.1f} ms (case {tally.slowest_case})")  # fmt: skip
    print(f"over {BIG_BYTES >> 20} MB: {c['big']}; peak RSS increase "
          f"{(_rss_bytes() - baseline) / 2**20:.1f} MB overall, at most "
          f"{tally.biggest / 2**20:.1f} MB in one case (case {tally.biggest_case})")  # fmt: skip
    if tally.failures:
        print(f"examples saved in {folder}/ (replay one: python tools/fuzz.py 1 --start CASE)")
    return 1 if tally.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=100_000, help="cases to run")
    parser.add_argument("--start", type=int, default=0, help="first case number (its seed)")
    parser.add_argument("--crashes", type=Path, default=Path("fuzz-crashes"),
                        help="where failing cases are saved")  # fmt: skip
    args = parser.parse_args(argv)
    return run(args.count, args.start, args.crashes)


if __name__ == "__main__":
    sys.exit(main())
