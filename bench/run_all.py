"""``make bench``: Murphy against a hand-written SimPy model and ciw, side by side, in one run.

Every contender runs in a fresh subprocess, so its peak memory (``ru_maxrss`` from
``os.wait4``) is its own. Two speeds are reported:

- *sim* customers/s: customers served per second of the simulation loop alone,
  timed inside the child (no interpreter start-up, imports or reporting);
- *process* customers/s: per second of the whole subprocess, start to exit. For
  ``murphy run`` that is the real end-to-end cost: Python start-up, imports, YAML
  and schema validation, the run, the summary and the JSON.

Contenders on the M/M/c queue of ``scenarios/mmc.yaml`` (640/s, 8 servers, exp
10 ms, 600 s): ``murphy run`` end to end, Murphy's engine alone
(``Simulation(scenario).run_to_end()``), ``bench/simpy_mmc.py`` and
``bench/ciw_mmc.py``. On ``scenarios/three-tier.yaml``: ``murphy run``, the engine
alone and ``bench/simpy_chain.py``. On ``bench/pipeline.yaml`` (producer 200/s ->
broker, 2 ms publish latency -> consumer group of 4, exp 10 ms, 600 s): ``murphy
run``, the engine alone and ``bench/simpy_pipeline.py``, a ``simpy.Store`` model;
there a customer is a message processed and acknowledged. Then the memory test:
``murphy run`` on the M/M/c scenario long enough for about ten million requests.

Each contender runs ``--rounds`` times, interleaved so that a noisy neighbour
hurts all of them alike; the best time counts. Results go to
``bench/results.json`` and ``bench/RESULTS.md``; notes written by hand at the end
of RESULTS.md, after ``NOTES_MARK``, are kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
MMC = "scenarios/mmc.yaml"
CHAIN = "scenarios/three-tier.yaml"
PIPELINE = "bench/pipeline.yaml"
# The M/M/c of scenarios/mmc.yaml, for the models that do not read scenario files.
RATE, MEAN_SERVICE, SERVERS, DURATION = 640.0, 0.010, 8, 600.0
CHAIN_DURATION = 300.0
PIPELINE_DURATION = 600.0
TEN_MILLION_S = 15625.0  # 640/s x 15,625 s = 10,000,000 arrivals
TARGETS = {"vs_simpy": 1.0, "vs_ciw": 3.0, "pipeline_vs_simpy": 1.0, "ten_million_mb": 150.0}


# -- inside a child process -----------------------------------------------------------------


def _child(kind: str, duration: float) -> dict:
    """Run one contender in this (fresh) process and return what it measured."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(BENCH))
    if kind == "simpy_mmc":
        import simpy_mmc

        started = time.perf_counter()
        result = simpy_mmc.run(RATE, MEAN_SERVICE, SERVERS, duration)
    elif kind == "ciw_mmc":
        import ciw_mmc

        started = time.perf_counter()
        result = ciw_mmc.run(RATE, MEAN_SERVICE, SERVERS, duration)
    elif kind == "simpy_chain":
        import simpy_chain

        started = time.perf_counter()
        result = simpy_chain.run(duration)
    elif kind == "simpy_pipeline":
        import simpy_pipeline

        started = time.perf_counter()
        result = simpy_pipeline.run(duration)
    elif kind in ("engine_mmc", "engine_chain", "engine_pipeline"):
        from simulator.engine import Simulation
        from simulator.scenario import load_scenario

        path = ROOT / {"engine_mmc": MMC, "engine_chain": CHAIN, "engine_pipeline": PIPELINE}[kind]
        scenario = load_scenario(path).model_copy(update={"duration": duration})
        sim = Simulation(scenario)
        started = time.perf_counter()
        sim.run_to_end()
        elapsed = time.perf_counter() - started
        ended = sum(sum(c.stats.outcomes_total.values()) for c in sim.clients.values())
        result = {"customers": ended, "events": sim.event_count}
        if kind == "engine_mmc":
            stats = sim.servers["server"].stats
            result["mean_wait_ms"] = 1000.0 * stats.wait_sum / stats.started
        elif kind == "engine_pipeline":  # a customer is a message processed and acknowledged
            consumer = sim.servers["shipping"]
            stats = consumer.stats
            result["published"] = result["customers"]  # the client's acknowledged publishes
            result["customers"] = consumer.processed
            result["mean_sojourn_ms"] = 1000.0 * stats.sojourn_sum / stats.answered
        return {**result, "sim_seconds": elapsed}
    else:
        raise SystemExit(f"unknown contender {kind}")
    result["sim_seconds"] = time.perf_counter() - started
    return result


# -- in the parent --------------------------------------------------------------------------


def _spawn(argv: list[str]) -> tuple[str, float, float]:
    """Run ``argv``; return its stdout, wall seconds and peak RSS in MB (its own, via wait4)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = _drain(proc)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{err}")
    return out, wall, usage.ru_maxrss / 1024.0  # Linux reports kilobytes


def _drain(proc: subprocess.Popen) -> tuple[str, str]:
    # Read both pipes to the end without reaping the child, so wait4 can still read its usage.
    import threading

    chunks: dict[str, str] = {}

    def read(name: str, stream) -> None:
        chunks[name] = stream.read()

    reader = threading.Thread(target=read, args=("err", proc.stderr))
    reader.start()
    out = proc.stdout.read()
    reader.join()
    return out, chunks["err"]


def run_child(kind: str, duration: float) -> dict:
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(duration)]
    out, wall, peak = _spawn(argv)
    result = json.loads(out)
    result.update(process_seconds=wall, peak_mb=peak)
    return result


def run_cli(scenario: str, duration: float) -> dict:
    murphy = Path(sys.executable).with_name("murphy")
    argv = [str(murphy)] if murphy.exists() else [sys.executable, "-m", "simulator.cli"]
    argv += ["run", scenario, "--json", "--no-blast-radius", "--duration", f"{duration:g}s"]
    out, wall, peak = _spawn(argv)
    summary = json.loads(out)
    return {"events": summary["events"], "process_seconds": wall, "peak_mb": peak,
            "sim_seconds": summary["wall_seconds"]}  # fmt: skip


def best_of(runs: list[dict]) -> dict:
    best = dict(min(runs, key=lambda r: r["sim_seconds"]))
    best["process_seconds"] = min(r["process_seconds"] for r in runs)
    best["peak_mb"] = max(r["peak_mb"] for r in runs)
    best["rounds"] = len(runs)
    return best


def rates(result: dict, customers: int) -> dict:
    result["customers"] = customers
    result["sim_cps"] = customers / result["sim_seconds"]
    result["process_cps"] = customers / result["process_seconds"]
    return result


def race(label: str, contenders: dict, rounds: int, single: tuple[str, ...] = ()) -> dict:
    """Run each contender ``rounds`` times, interleaved (those in ``single`` once)."""
    runs: dict[str, list[dict]] = {name: [] for name in contenders}
    for r in range(rounds):
        for name, run in contenders.items():
            if r and name in single:
                continue
            print(f"  {label}: {name} (round {r + 1}/{rounds}) ...", file=sys.stderr, flush=True)
            runs[name].append(run())
    return {name: best_of(results) for name, results in runs.items()}


def table(title: str, results: dict) -> list[str]:
    lines = [
        f"{title}",
        f"  {'contender':<24}{'customers':>12}{'sim s':>9}{'sim c/s':>11}"
        f"{'process s':>11}{'process c/s':>13}{'peak MB':>9}",
    ]
    for name, r in results.items():
        lines.append(
            f"  {name:<24}{r['customers']:>12,}{r['sim_seconds']:>9.2f}{r['sim_cps']:>11,.0f}"
            f"{r['process_seconds']:>11.2f}{r['process_cps']:>13,.0f}{r['peak_mb']:>9.1f}"
        )
    return lines


def ratio_line(label: str, a: dict, b: dict, target: float | None) -> tuple[str, dict]:
    sim, process = a["sim_cps"] / b["sim_cps"], a["process_cps"] / b["process_cps"]
    verdict = ""
    if target is not None:
        verdict = f"   target >= {target:g}: " + ("met" if sim >= target else "MISSED")
    text = f"  {label:<34} sim {sim:5.2f}x   process {process:5.2f}x{verdict}"
    return text, {"sim": round(sim, 3), "process": round(process, 3)}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for module in ("simpy", "numpy", "ciw"):
        try:
            versions[module] = __import__(module).__version__
        except Exception:  # pragma: no cover - reported, not fatal
            versions[module] = "missing"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **versions,
    }


NOTES_MARK = "<!-- notes: kept by bench/run_all.py from here to the end -->"


def markdown(info: dict, report: list[str], results: dict, kept: str = "") -> str:
    """RESULTS.md: this run's figures, then ``kept`` (hand-written notes after ``NOTES_MARK``)."""
    keys = ("date", "cpu", "cores", "load_average", "platform", "python", "simpy", "numpy", "ciw")
    head = "\n".join(f"- {k}: {info[k]}" for k in keys)
    return (
        "# Benchmark results\n\n"
        "Written by `make bench` (`bench/run_all.py`); see that file for what is measured.\n"
        "*sim* = the simulation loop alone, timed inside the child; *process* = the whole\n"
        "subprocess (start-up, imports, scenario loading, run, summary). Best of the rounds;\n"
        "peak memory is the child's own peak RSS.\n\n"
        f"{head}\n\n```\n" + "\n".join(report) + "\n```\n\n"
        "Raw figures: `bench/results.json`.\n" + (f"\n{kept}" if kept else "")
    )


def kept_notes(path: Path) -> str:
    """The notes at the end of the current RESULTS.md, from ``NOTES_MARK`` on ("" if none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    at = text.find(NOTES_MARK)
    return text[at:] if at >= 0 else ""


def gui_latency() -> list[str]:
    """bench/gui_stop_latency.py and bench/gui_cancel_latency.py, run offscreen; their reports."""
    lines = []
    for script in ("gui_stop_latency.py", "gui_cancel_latency.py"):
        print(f"  {script} ...", file=sys.stderr)
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        done = subprocess.run([sys.executable, str(BENCH / script)], capture_output=True,
                              text=True, env=env, cwd=ROOT)  # fmt: skip
        out = [line for line in done.stdout.splitlines() if "propagateSizeHints" not in line]
        lines += ["", f"{script} (goals and figures):", *out]
        if done.returncode:
            lines.append(f"  failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "DURATION"), help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 5)))
    parser.add_argument("--no-10m", action="store_true", help="skip the ten-million-request run")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    parser.add_argument(
        "--gui", action="store_true", help="also the app's Stop and Cancel latency ([gui] extra)"
    )
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child[0], float(args.child[1]))))
        return 0
    if os.environ.get("BENCH_10M", "1") == "0":
        args.no_10m = True

    info = machine()
    started = time.perf_counter()
    print(f"murphy bench on {info['cpu']} ({info['cores']} cores), load {info['load_average']}",
          file=sys.stderr)  # fmt: skip
    mmc = race("M/M/c", {
        "murphy run (end to end)": lambda: run_cli(MMC, DURATION),
        "murphy engine": lambda: run_child("engine_mmc", DURATION),
        "hand-written SimPy": lambda: run_child("simpy_mmc", DURATION),
        "ciw": lambda: run_child("ciw_mmc", DURATION),
    }, args.rounds, single=("ciw",))  # fmt: skip
    engine = mmc["murphy engine"]
    rates(mmc["murphy run (end to end)"], engine["customers"])  # same seed: same customers
    for name in ("murphy engine", "hand-written SimPy", "ciw"):
        rates(mmc[name], mmc[name]["customers"])

    chain = race("three-tier", {
        "murphy run (end to end)": lambda: run_cli(CHAIN, CHAIN_DURATION),
        "murphy engine": lambda: run_child("engine_chain", CHAIN_DURATION),
        "hand-written SimPy": lambda: run_child("simpy_chain", CHAIN_DURATION),
    }, args.rounds)  # fmt: skip
    rates(chain["murphy run (end to end)"], chain["murphy engine"]["customers"])
    for name in ("murphy engine", "hand-written SimPy"):
        rates(chain[name], chain[name]["customers"])

    pipeline = race("pipeline", {
        "murphy run (end to end)": lambda: run_cli(PIPELINE, PIPELINE_DURATION),
        "murphy engine": lambda: run_child("engine_pipeline", PIPELINE_DURATION),
        "hand-written SimPy": lambda: run_child("simpy_pipeline", PIPELINE_DURATION),
    }, args.rounds)  # fmt: skip
    rates(pipeline["murphy run (end to end)"], pipeline["murphy engine"]["customers"])
    for name in ("murphy engine", "hand-written SimPy"):
        rates(pipeline[name], pipeline[name]["customers"])

    report = table(f"M/M/c (640/s, c=8, exp 10 ms, {DURATION:g} s simulated)", mmc)
    waits = ", ".join(
        f"{name} {mmc[name]['mean_wait_ms']:.2f}"
        for name in ("murphy engine", "hand-written SimPy", "ciw")
    )
    report.append(f"  mean wait in queue ms: {waits} (Erlang C: 2.84)")
    report.append("")
    report += table(f"three-tier chain ({CHAIN_DURATION:g} s simulated)", chain)
    report.append("")
    report += table(
        f"pipeline: producer -> broker -> consumer ({PIPELINE_DURATION:g} s simulated; "
        "customers = messages acknowledged)", pipeline)  # fmt: skip
    report.append(
        "  messages published: murphy engine {:,}, hand-written SimPy {:,}; mean enqueue to "
        "ack ms: murphy engine {:.2f}, hand-written SimPy {:.2f} (M/M/4: 10.87)".format(
            pipeline["murphy engine"]["published"],
            pipeline["hand-written SimPy"]["published"],
            pipeline["murphy engine"]["mean_sojourn_ms"],
            pipeline["hand-written SimPy"]["mean_sojourn_ms"],
        )
    )
    report.append("")
    report.append("Ratios (customers/s, higher is better for murphy)")
    ratios = {}
    for key, label, a, b, target in (
        ("mmc_engine_vs_simpy", "M/M/c engine / SimPy", engine, mmc["hand-written SimPy"],
         TARGETS["vs_simpy"]),
        ("mmc_cli_vs_simpy", "M/M/c murphy run / SimPy", mmc["murphy run (end to end)"],
         mmc["hand-written SimPy"], None),
        ("mmc_engine_vs_ciw", "M/M/c engine / ciw", engine, mmc["ciw"], TARGETS["vs_ciw"]),
        ("mmc_cli_vs_ciw", "M/M/c murphy run / ciw", mmc["murphy run (end to end)"], mmc["ciw"],
         None),
        ("chain_engine_vs_simpy", "three-tier engine / SimPy", chain["murphy engine"],
         chain["hand-written SimPy"], TARGETS["vs_simpy"]),
        ("chain_cli_vs_simpy", "three-tier murphy run / SimPy", chain["murphy run (end to end)"],
         chain["hand-written SimPy"], None),
        ("pipeline_engine_vs_simpy", "pipeline engine / SimPy", pipeline["murphy engine"],
         pipeline["hand-written SimPy"], TARGETS["pipeline_vs_simpy"]),
        ("pipeline_cli_vs_simpy", "pipeline murphy run / SimPy",
         pipeline["murphy run (end to end)"], pipeline["hand-written SimPy"], None),
    ):  # fmt: skip
        text, ratios[key] = ratio_line(label, a, b, target)
        report.append(text)

    ten = None
    if not args.no_10m:
        print(f"  memory: murphy run, {TEN_MILLION_S:g} s of M/M/c ...", file=sys.stderr)
        ten = run_cli(MMC, TEN_MILLION_S)
        ten["requests"] = round(RATE * TEN_MILLION_S)
        verdict = "met" if ten["peak_mb"] < TARGETS["ten_million_mb"] else "MISSED"
        report.append("")
        report.append(
            f"Memory: murphy run on M/M/c for {TEN_MILLION_S:,.0f} s (~{ten['requests']:,} "
            f"requests, {ten['events']:,} events): peak {ten['peak_mb']:.1f} MB, "
            f"{ten['process_seconds']:.1f} s wall "
            f"({ten['requests'] / ten['process_seconds']:,.0f} requests/s end to end); "
            f"target < {TARGETS['ten_million_mb']:g} MB: {verdict}"
        )
    if args.gui:
        report += gui_latency()
    total = time.perf_counter() - started
    report.append("")
    report.append(f"bench took {total:.0f} s ({args.rounds} rounds)")
    print("\n".join(report))

    if not args.no_write:
        data = {"machine": info, "mmc": mmc, "chain": chain, "pipeline": pipeline, "ratios": ratios,
                "ten_million": ten, "targets": TARGETS, "seconds": round(total, 1)}  # fmt: skip
        (BENCH / "results.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        results_md = BENCH / "RESULTS.md"
        notes = kept_notes(results_md)
        results_md.write_text(markdown(info, report, data, notes), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
