#!/usr/bin/env python3
"""Peak memory (RSS) of a load simulation of 1,000,000 callbacks.

Two processes, each started fresh by this script and measured from outside:

1. The reference: a Python process that imports the same modules as the run
   (the emulator, the flow, SimPy, numpy, pydantic, YAML) and loads the same
   scenario, then exits: what any run costs before its first callback.
2. The run: the same, then ``emulator.engine.simulate`` of the load scenario
   of ``benchmarks/sim_speed.py`` (Poisson arrivals at 2/s, three centres of
   typical agents) sized to ``--callbacks`` expected callbacks: whatever
   ``simulate`` keeps today (``--keep-records yes/no`` passes that to
   ``Simulation`` instead, where the engine has it).

The peak RSS of each is the child's ``ru_maxrss`` (``resource.getrusage
(RUSAGE_CHILDREN)`` read after the child ends: the reference is run first, so
the second reading is the run's), cross-checked with what each child reads
for itself. While the run goes, its RSS is sampled from ``/proc`` to show
whether it grows with the callbacks (memory kept per callback) or stays flat.

Goal (the issue): peak RSS of the 1,000,000-callback run < 150 MB. This is a
benchmark, not a test: it reports the figure whatever it is.

    .venv/bin/python benchmarks/sim_memory.py                      # 1,000,000 callbacks
    .venv/bin/python benchmarks/sim_memory.py --callbacks 100000   # a quicker look
    .venv/bin/python benchmarks/sim_memory.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOAL_MB = 150.0
DEFAULT_CALLBACKS = 1_000_000
MB = 1024 * 1024


def _maxrss_bytes(usage: resource.struct_rusage) -> int:
    # Linux reports kilobytes, macOS bytes.
    return usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024


# -- the child ---------------------------------------------------------------

def child(callbacks: int, seed: int, keep_records: str) -> None:
    """Import what a run imports, load the scenario; simulate it unless callbacks is 0."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    import simpy  # noqa: F401
    import numpy  # noqa: F401
    from emulator.drivers import simulation as engine
    from emulator.scenario import loads
    import sim_speed

    scenario = loads(sim_speed.scenario_yaml(max(callbacks, 1), seed)).scenario
    out: dict[str, Any] = {"callbacks": 0, "wall_s": 0.0, "records_kept": 0}
    if callbacks:
        closed = sim_speed._Closed()
        start = time.perf_counter()
        if keep_records == "default":
            result = engine.simulate(scenario, observers=[closed])
        else:
            result = engine.Simulation(scenario, observers=[closed],
                                       keep_records=keep_records == "yes").run()
        out.update(callbacks=closed.count or len(result.records),
                   wall_s=time.perf_counter() - start, records_kept=len(result.records),
                   connected=result.metrics.get("outcomes.connected"))
    out["self_maxrss"] = _maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF))
    print(json.dumps(out), flush=True)


# -- the parent --------------------------------------------------------------

def _rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def measure(callbacks: int, seed: int, keep_records: str, show_every: float) -> dict[str, Any]:
    """Run one child; its peak RSS from RUSAGE_CHILDREN, and its RSS along the way."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(callbacks),
           "--seed", str(seed), "--keep-records", keep_records]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    samples: list[tuple[float, int]] = []
    last_shown = 0.0
    while proc.poll() is None:
        rss = _rss(proc.pid)
        t = time.perf_counter() - start
        if rss is not None:
            samples.append((round(t, 2), rss))
            if show_every and t - last_shown >= show_every:
                print(f"    {t:6.0f} s: RSS {rss / MB:,.0f} MB", flush=True)
                last_shown = t
        time.sleep(0.25)
    stdout = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise SystemExit(f"the child failed ({proc.returncode}): {' '.join(cmd)}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = json.loads(stdout.strip().splitlines()[-1])
    out["peak_rss"] = _maxrss_bytes(usage)      # the max over children waited for so far
    out["elapsed_s"] = time.perf_counter() - start
    out["rss_samples"] = samples
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--callbacks", type=int, default=DEFAULT_CALLBACKS,
                        help=f"expected callbacks of the run (default {DEFAULT_CALLBACKS:,})")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-records", choices=("default", "yes", "no"), default="default",
                        help="'default' calls simulate() as is; yes/no pass keep_records to Simulation")
    parser.add_argument("--show-every", type=float, default=30.0,
                        help="print the run's RSS every this many seconds (0: never)")
    parser.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    parser.add_argument("--child", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:
        child(args.child, args.seed, args.keep_records)
        return 0

    if _maxrss_bytes(resource.getrusage(resource.RUSAGE_CHILDREN)):
        raise SystemExit("this process has already waited for a child: its RUSAGE_CHILDREN "
                         "would not be the reference's")
    n = args.callbacks
    command = (f".venv/bin/python benchmarks/sim_memory.py --callbacks {n} --seed {args.seed}"
               + (f" --keep-records {args.keep_records}" if args.keep_records != "default" else ""))
    print(f"simulation memory: peak RSS of simulate() over {n:,} callbacks "
          f"(the load of benchmarks/sim_speed.py), beside a process importing the same modules",
          flush=True)
    reference = measure(0, args.seed, args.keep_records, 0)
    print(f"  reference measured: {reference['peak_rss'] / MB:,.1f} MB", flush=True)
    run = measure(n, args.seed, args.keep_records, args.show_every)

    peak, base = run["peak_rss"], reference["peak_rss"]
    per_callback = (peak - base) / run["callbacks"] if run["callbacks"] else float("nan")
    samples = [s for s in run["rss_samples"] if s[1] >= MB]
    along = ""
    if len(samples) >= 8:
        marks = [samples[int(q * (len(samples) - 1))] for q in (0.25, 0.5, 0.75)]
        top = max(samples, key=lambda s: s[1])
        along = (", ".join(f"{t:.0f} s {rss / MB:,.0f} MB" for t, rss in marks)
                 + f"; highest sample {top[1] / MB:,.0f} MB at {top[0]:.0f} s of {samples[-1][0]:.0f} s")
    met = peak / MB < GOAL_MB
    print()
    print(f"run        peak RSS {peak / MB:,.1f} MB  ({run['callbacks']:,} callbacks in "
          f"{run['wall_s']:.0f} s of simulate, {run['callbacks'] / max(run['wall_s'], 1e-9):,.0f}/s; "
          f"records kept: {run['records_kept']:,}; the child's own reading "
          f"{run['self_maxrss'] / MB:,.1f} MB)")
    print(f"reference  peak RSS {base / MB:,.1f} MB  (imports and the scenario, no simulation; "
          f"its own reading {reference['self_maxrss'] / MB:,.1f} MB)")
    print(f"above the reference: {(peak - base) / MB:,.1f} MB, {per_callback:,.0f} bytes per callback")
    if along:
        print(f"RSS along the run: {along}")
    if n == 1_000_000:
        print(f"goal       peak RSS < {GOAL_MB:g} MB for 1,000,000 callbacks: "
              + ("MET" if met else "NOT MET"))
    else:
        guess = ""
        if len(samples) >= 8 and run["callbacks"]:
            # growth between 30 % and 90 % of the run, callbacks taken as even in time
            (_, lo), (_, hi) = samples[int(0.3 * (len(samples) - 1))], samples[int(0.9 * (len(samples) - 1))]
            slope = max(0, hi - lo) / (0.6 * run["callbacks"])
            guess = (f"; from the growth along this run ({slope:,.0f} bytes per callback), "
                     f"1,000,000 would peak near {(peak + slope * (1_000_000 - run['callbacks'])) / MB:,.0f} MB")
        print(f"goal       peak RSS < {GOAL_MB:g} MB for 1,000,000 callbacks: not judged "
              f"(this run: {n:,}){guess}")
    print(f"machine    {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.platform()}, {os.cpu_count()} CPUs")
    print(f"command    {command}")
    if args.json:
        doc = {"callbacks": run["callbacks"], "expected_callbacks": n, "seed": args.seed,
               "keep_records": args.keep_records, "peak_rss_mb": peak / MB,
               "reference_rss_mb": base / MB, "bytes_per_callback": per_callback,
               "goal_mb": GOAL_MB, "met": met if n == 1_000_000 else None, "run": run, "reference": reference,
               "python": platform.python_version(), "platform": platform.platform(),
               "command": command}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"json       {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
