"""Semantic fuzz of the engine: run N valid mutated scenarios; exit 1 on any failure.

    python tools/fuzz_semantic.py [N] [--start K] [--seed S] [--replay-every R]

Case ``i`` is ``semantic_mutations.make_case(i, S)`` (the mutations
tests/test_fuzz_semantic.py runs a few dozen of), so ``--start i`` with ``N=1``
replays one case. Each case runs 20 simulated seconds and must end without an
exception and with the engine's invariants intact (every request ends in exactly
one outcome, every job is accounted for at every node, slot policies in bounds,
every message conserved per flow and the books in step with the components);
every R-th case is run again in uneven chunks, with the invariants checked and a
live snapshot taken after every chunk, and must give the same summary. The counts printed
at the end: cases, ran clean, invariant failures, replay mismatches, crashes;
then how many cases had messaging (a broker) and how many of those ran clean, and
how many draws validate_data refused (skipped, never run).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from semantic_mutations import make_case  # noqa: E402
from test_fuzz_semantic import CHUNKS, comparable, problems, run_case, run_in_chunks  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1000, help="cases to run")
    parser.add_argument("--start", type=int, default=0, help="first case index")
    parser.add_argument("--seed", type=int, default=0, help="seed of the case sequence")
    parser.add_argument("--replay-every", type=int, default=10, help="rerun every R-th case")
    args = parser.parse_args(argv)

    counts = {"cases": 0, "clean": 0, "invariant failures": 0, "replay mismatches": 0,
              "crashes": 0}  # fmt: skip
    messaging = {"cases": 0, "clean": 0}
    skipped = 0
    started = time.perf_counter()
    for index in range(args.start, args.start + args.n):
        counts["cases"] += 1
        where = f"case {index} (seed {args.seed})"
        try:
            case = make_case(index, args.seed)
            skipped += case.skipped
            messaging["cases"] += case.messaging
            where += f" from {case.example}" + (" with messaging" if case.messaging else "")
            sim, summary = run_case(case)
            found = problems(sim, summary)
            if found:
                counts["invariant failures"] += 1
                print(f"{where}: invariants broken: {found[:5]}", flush=True)
                continue
            if args.replay_every > 0 and index % args.replay_every == 0:
                chunk = CHUNKS[index // args.replay_every % len(CHUNKS)]
                _, again, midway = run_in_chunks(case, chunk)
                if midway:
                    counts["invariant failures"] += 1
                    print(f"{where}: invariants broken mid-run: {midway[:5]}", flush=True)
                    continue
                if comparable(again) != comparable(summary):
                    counts["replay mismatches"] += 1
                    print(f"{where}: same seed, different summary", flush=True)
                    continue
            counts["clean"] += 1
            messaging["clean"] += case.messaging
        except Exception:  # a crash of any kind is what we are looking for
            counts["crashes"] += 1
            print(f"{where}: crashed\n{traceback.format_exc(limit=-8)}", flush=True)
        if counts["cases"] % 100 == 0:
            print(f"... {counts['cases']} cases, {time.perf_counter() - started:.0f}s", flush=True)
    elapsed = time.perf_counter() - started
    print(
        f"cases {counts['cases']}, ran clean {counts['clean']}, "
        f"invariant failures {counts['invariant failures']}, "
        f"replay mismatches {counts['replay mismatches']}, crashes {counts['crashes']} "
        f"({elapsed:.0f}s); with messaging {messaging['cases']}, of them clean "
        f"{messaging['clean']}; invalid draws skipped {skipped}"
    )
    return 0 if counts["clean"] == counts["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
