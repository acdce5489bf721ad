#!/usr/bin/env python3
"""Peak memory (RSS) of a load simulation of 1,000,000 callbacks.

Two processes, each started fresh by this script and measured from outside:

1. The reference: a Python process that imports the same modules as the run
   (the emulator, the flow, SimPy, numpy, pydantic, YAML) and loads the same
   scenario, then exits: what any run costs before its first callback.
2. The run: the same, then ``emulator.drivers.simulation.simulate`` of the
   load scenario of ``benchmarks/sim_speed.py`` (Poisson arrivals at 2/s,
   three centres of typical agents) sized to ``--callbacks`` expected
   callbacks: whatever ``simulate`` keeps today (``--keep-records yes/no``
   passes that to ``Simulation`` instead).

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
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from harness import MB  # noqa: E402

GOAL_MB = 150.0
DEFAULT_CALLBACKS = 1_000_000
GOAL_CALLBACKS = 1_000_000


# -- the child ---------------------------------------------------------------

def child(callbacks: int, seed: int, keep_records: str) -> None:
    """Import what a run imports, load the scenario; simulate it unless callbacks is 0."""
    import simpy  # noqa: F401
    import numpy  # noqa: F401
    import emulator.drivers.simulation  # noqa: F401
    from emulator.scenario import loads
    import sim_speed

    scenario = loads(sim_speed.scenario_yaml(max(callbacks, 1), seed)).scenario
    out: dict[str, Any] = {"callbacks": 0, "wall_s": 0.0, "records_kept": 0}
    if callbacks:
        result, count, wall = sim_speed.simulate_counted(scenario, keep_records)
        out.update(callbacks=count, wall_s=wall, records_kept=len(result.records),
                   connected=result.metrics.get("outcomes.connected"))
    out["self_maxrss"] = harness.maxrss_bytes(resource.RUSAGE_SELF)
    print(json.dumps(out), flush=True)


# -- the parent --------------------------------------------------------------

def measure(callbacks: int, seed: int, keep_records: str, show_every: float) -> dict[str, Any]:
    """Run one child; its peak RSS from RUSAGE_CHILDREN, and its RSS along the way."""
    cmd = harness.self_command(__file__, "--child", str(callbacks), "--seed", str(seed),
                               "--keep-records", keep_records)
    with tempfile.TemporaryDirectory(prefix="sim-memory-") as tmp:
        proc = harness.Child(cmd, Path(tmp) / "child.out", stderr_to_log=False)
        samples = sample_rss(proc, show_every)
        code = proc.wait()
        stdout = proc.output()
    if code:
        raise SystemExit(f"the child failed ({code}): {' '.join(cmd)}")
    out = json.loads(stdout.strip().splitlines()[-1])
    out["peak_rss"] = harness.maxrss_bytes(resource.RUSAGE_CHILDREN)   # the max over children so far
    out["elapsed_s"] = proc.elapsed()
    out["rss_samples"] = samples
    return out


def sample_rss(proc: harness.Child, show_every: float) -> list[tuple[float, int]]:
    """The child's RSS every 0.25 s until it ends, printed every `show_every` s (0: never)."""
    samples: list[tuple[float, int]] = []
    last_shown = 0.0
    while proc.running():
        rss = proc.rss()
        t = proc.elapsed()
        if rss is not None:
            samples.append((round(t, 2), rss))
            if show_every and t - last_shown >= show_every:
                print(f"    {t:6.0f} s: RSS {rss / MB:,.0f} MB", flush=True)
                last_shown = t
        time.sleep(0.25)
    return samples


# -- the figures -------------------------------------------------------------

def along_the_run(samples: list[tuple[float, int]]) -> str:
    """The RSS at a quarter, half and three quarters of the run, and its highest sample."""
    if len(samples) < 8:
        return ""
    marks = [samples[int(q * (len(samples) - 1))] for q in (0.25, 0.5, 0.75)]
    top = max(samples, key=lambda s: s[1])
    return (", ".join(f"{t:.0f} s {rss / MB:,.0f} MB" for t, rss in marks)
            + f"; highest sample {top[1] / MB:,.0f} MB at {top[0]:.0f} s of {samples[-1][0]:.0f} s")


def goal_line(n: int, run: dict[str, Any], samples: list[tuple[float, int]]) -> str:
    """The goal: judged for 1,000,000 callbacks, else estimated from the growth along the run."""
    peak = run["peak_rss"]
    if n == GOAL_CALLBACKS:
        return (f"goal       peak RSS < {GOAL_MB:g} MB for 1,000,000 callbacks: "
                + ("MET" if peak / MB < GOAL_MB else "NOT MET"))
    guess = ""
    if len(samples) >= 8 and run["callbacks"]:
        # growth between 30 % and 90 % of the run, callbacks taken as even in time
        (_, lo), (_, hi) = samples[int(0.3 * (len(samples) - 1))], samples[int(0.9 * (len(samples) - 1))]
        slope = max(0, hi - lo) / (0.6 * run["callbacks"])
        guess = (f"; from the growth along this run ({slope:,.0f} bytes per callback), "
                 f"1,000,000 would peak near {(peak + slope * (GOAL_CALLBACKS - run['callbacks'])) / MB:,.0f} MB")
    return (f"goal       peak RSS < {GOAL_MB:g} MB for 1,000,000 callbacks: not judged "
            f"(this run: {n:,}){guess}")


def report(n: int, run: dict[str, Any], reference: dict[str, Any], command: str) -> None:
    """The summary lines."""
    peak, base = run["peak_rss"], reference["peak_rss"]
    per_callback = (peak - base) / run["callbacks"] if run["callbacks"] else float("nan")
    samples = [s for s in run["rss_samples"] if s[1] >= MB]
    along = along_the_run(samples)
    info = harness.machine()
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
    print(goal_line(n, run, samples))
    print(f"machine    {info['python']}, {info['platform']}, {info['cpus']} CPUs")
    print(f"command    {command}")


def json_doc(args: Any, run: dict[str, Any], reference: dict[str, Any], command: str) -> dict[str, Any]:
    """Every figure, both children's readings and samples, for `--json`."""
    peak, base = run["peak_rss"], reference["peak_rss"]
    info = harness.machine()
    return {"callbacks": run["callbacks"], "expected_callbacks": args.callbacks, "seed": args.seed,
            "keep_records": args.keep_records, "peak_rss_mb": peak / MB,
            "reference_rss_mb": base / MB,
            "bytes_per_callback": (peak - base) / run["callbacks"] if run["callbacks"] else float("nan"),
            "goal_mb": GOAL_MB,
            "met": peak / MB < GOAL_MB if args.callbacks == GOAL_CALLBACKS else None,
            "run": run, "reference": reference,
            "python": info["python_version"], "platform": info["platform"], "command": command}


# -- main --------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> Any:
    """The command line (and the child's, `--child N`)."""
    parser = harness.make_parser(__doc__, seed=True)
    parser.add_argument("--callbacks", type=int, default=DEFAULT_CALLBACKS,
                        help=f"expected callbacks of the run (default {DEFAULT_CALLBACKS:,})")
    parser.add_argument("--keep-records", choices=("default", "yes", "no"), default="default",
                        help="'default' calls simulate() as is; yes/no pass keep_records to Simulation")
    parser.add_argument("--show-every", type=float, default=30.0,
                        help="print the run's RSS every this many seconds (0: never)")
    parser.add_argument("--child", type=int, metavar="N", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Measure the reference, then the run; print (and write) the figures."""
    args = parse_args(argv)
    if args.child is not None:
        child(args.child, args.seed, args.keep_records)
        return 0
    if harness.maxrss_bytes(resource.RUSAGE_CHILDREN):
        raise SystemExit("this process has already waited for a child: its RUSAGE_CHILDREN "
                         "would not be the reference's")
    n = args.callbacks
    command = harness.command_line("sim_memory.py", [
        "--callbacks", str(n), "--seed", str(args.seed),
        *(["--keep-records", args.keep_records] if args.keep_records != "default" else [])])
    print(f"simulation memory: peak RSS of simulate() over {n:,} callbacks "
          f"(the load of benchmarks/sim_speed.py), beside a process importing the same modules",
          flush=True)
    reference = measure(0, args.seed, args.keep_records, 0)
    print(f"  reference measured: {reference['peak_rss'] / MB:,.1f} MB", flush=True)
    run = measure(n, args.seed, args.keep_records, args.show_every)
    report(n, run, reference, command)
    if args.json:
        harness.write_json(args.json, json_doc(args, run, reference, command),
                           note="json       {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
