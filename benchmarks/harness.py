"""What the four benchmarks share, so that each holds only its own measurement.

- CPU and memory: a process's or thread's CPU seconds (`/proc`), this
  process's and its children's (`getrusage`), the whole machine's busy time,
  RSS and peak RSS, the load average, and `CpuMeter`, which takes all of them
  over one step (so "other load" means the same everywhere);
- percentiles: `percentile` (linear between ranks), `percentiles_ms` and
  `fmt_percentiles` for latencies, `median_of` for repeated runs, `ratio`;
- the machine (`machine`), free loopback ports (`free_port`);
- child processes (`Child`: started from the repository root, output in a
  log file, timed, stopped or killed; `self_command` runs a benchmark's own
  file as a child);
- output: `Say` (progress lines), `print_block` (the framed summary),
  `command_line` (how to reproduce a run), `write_json`;
- the command line: `make_parser` (description, `--json PATH`, `--seed`,
  `--quick`).

The benchmarks run as ``.venv/bin/python benchmarks/NAME.py`` from the
repository root: Python puts ``benchmarks/`` first on `sys.path`, and each
benchmark inserts its own folder as well (so ``python -m benchmarks.NAME``
finds this module too). Importing this module puts the repository root on
`sys.path`, so the product imports even without the editable install.
Standard library only: `sim_memory.py` imports it in the processes it weighs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MB = 1024 * 1024
PYTHON = ".venv/bin/python"          # how the README runs every benchmark
RULE = "=" * 78                      # the frame of a summary block


# -- CPU and memory ------------------------------------------------------------

def proc_cpu(pid: int | str, tid: int | None = None, missing: float = math.nan) -> float:
    """CPU seconds (user + system) of a process, or of one of its threads; `missing` if gone."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return missing


def own_cpu() -> float:
    """CPU seconds (user + system) this process has used."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's children that it has waited for."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def machine_busy() -> float:
    """CPU seconds all processes of the machine have used since boot (/proc/stat); NaN if unknown."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return math.nan
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int | str = "self") -> int | None:
    """A process's resident set size now (/proc), in bytes; None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def maxrss_bytes(who: int = resource.RUSAGE_SELF) -> int:
    """Peak RSS in bytes from `getrusage(who)` (Linux counts kilobytes, macOS bytes)."""
    peak = resource.getrusage(who).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages, to two decimals."""
    return [round(x, 2) for x in os.getloadavg()]


@dataclass
class CpuUsage:
    """CPU used over one step: wall seconds, and CPU seconds by whom."""

    wall: float
    own: float                    # this process
    children: float               # its children waited for meanwhile
    machine: float                # every process of the machine
    procs: dict[str, float] = field(default_factory=dict)   # the processes named to the meter

    def other(self, *known: float) -> float:
        """CPU seconds of the rest of the machine: its busy time less `known`, never below 0."""
        return max(0.0, self.machine - sum(known))

    def cores(self, seconds: float, wall: float | None = None) -> float | None:
        """`seconds` of CPU as a share of one core over the step (or over `wall`)."""
        wall = self.wall if wall is None else wall
        return round(seconds / wall, 2) if wall > 0 else None


class CpuMeter:
    """Takes CPU readings at its start and at `stop`: this process, its children, named
    processes and the whole machine."""

    def __init__(self, pids: Mapping[str, int | None] | None = None,
                 missing: float = math.nan) -> None:
        self.pids = {name: pid for name, pid in (pids or {}).items() if pid}
        self.missing = missing
        self.start = self._read()

    def _read(self) -> tuple[float, float, float, float, dict[str, float]]:
        return (time.monotonic(), own_cpu(), children_cpu(), machine_busy(),
                {name: proc_cpu(pid, missing=self.missing) for name, pid in self.pids.items()})

    def stop(self) -> CpuUsage:
        """What was used since the meter started."""
        t0, own0, kids0, busy0, procs0 = self.start
        t1, own1, kids1, busy1, procs1 = self._read()
        return CpuUsage(wall=max(t1 - t0, 1e-9), own=own1 - own0, children=kids1 - kids0,
                        machine=busy1 - busy0,
                        procs={name: procs1[name] - procs0[name] for name in procs0})


# -- percentiles, medians, ratios -----------------------------------------------

def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between ranks; None for no values."""
    if not values:
        return None
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    k = (len(data) - 1) * q / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def percentiles_ms(values: Sequence[float], *, count_key: str = "count",
                   digits: int = 3) -> dict[str, Any]:
    """p50/p95/p99/max in milliseconds of values in seconds, with their count."""
    data = sorted(values)
    out: dict[str, Any] = {count_key: len(data)}
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)):
        v = percentile(data, q)
        out[name] = None if v is None else round(v * 1000.0, digits)
    return out


def fmt_percentiles(s: Mapping[str, Any] | None, *, count_key: str = "count", spec: str = ".2f",
                    max_spec: str = ".1f", max_unit: str = " ms", count_spec: str = "") -> str:
    """One line for a `percentiles_ms` summary: p50, p95, p99 (max, n); 'n/a' when empty."""
    if not s or not s.get(count_key):
        return "n/a"
    return (f"p50 {s['p50']:{spec}} ms, p95 {s['p95']:{spec}} ms, p99 {s['p99']:{spec}} ms "
            f"(max {s['max']:{max_spec}}{max_unit}, n={s[count_key]:{count_spec}})")


def median_of(runs: Iterable[Mapping[str, Any]], key: str = "per_s") -> float:
    """The median of one figure over repeated runs."""
    return statistics.median(run[key] for run in runs)


def ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    """a / b rounded, or None when either is missing or zero."""
    return round(a / b, digits) if a and b else None


# -- the machine, ports -----------------------------------------------------------

def cpu_model() -> str:
    """The processor's name (/proc/cpuinfo, else what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def module_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Each module's `__version__` ('?' without one), None where it is not installed."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = getattr(__import__(name), "__version__", "?")
        except ImportError:
            versions[name] = None
    return versions


def machine(modules: Iterable[str] = ()) -> dict[str, Any]:
    """This machine and interpreter, the load average now, and the versions of `modules`."""
    cpus = os.cpu_count()
    return {"python": f"{platform.python_implementation()} {platform.python_version()}",
            "python_version": platform.python_version(), "platform": platform.platform(),
            "cpu": cpu_model(), "cpus": cpus,
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus,
            "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "product_code": product_code(), **module_versions(modules)}


def product_code() -> str:
    """How the product's hot modules run here: compiled with mypyc, or pure Python and why."""
    import reference_impl

    return str(reference_impl.NATIVE)


def free_port(host: str = "127.0.0.1", kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port on `host` that nothing holds right now (TCP by default)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# -- child processes ----------------------------------------------------------------

def self_command(script: str | Path, *args: str) -> list[str]:
    """The command that runs a benchmark file again, as a child, with `args`."""
    return [sys.executable, str(Path(script).resolve()), *args]


class Child:
    """A process started from the repository root, its output in a log file, timed from its start.

    stderr goes to the log too unless `stderr_to_log` is false (then it is this
    process's). `preexec` runs in the child before it starts (a resource limit).
    """

    def __init__(self, argv: Sequence[str], log: Path, *, stderr_to_log: bool = True,
                 preexec: Callable[[], object] | None = None) -> None:
        self.argv, self.log = list(argv), log
        self._out = open(log, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdout=self._out,
                                     stderr=subprocess.STDOUT if stderr_to_log else None,
                                     stdin=subprocess.DEVNULL, cwd=str(ROOT), preexec_fn=preexec)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.proc.pid

    def running(self) -> bool:
        """Whether it still runs (reaps it once it has ended)."""
        return self.proc.poll() is None

    def elapsed(self) -> float:
        """Seconds since it was started."""
        return time.monotonic() - self.started

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code, killing it if it runs longer than `timeout` seconds."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._out.close()
        return code

    def cpu(self, missing: float = math.nan) -> float:
        """CPU seconds it has used so far."""
        return proc_cpu(self.proc.pid, missing=missing)

    def rss(self) -> int | None:
        """Its resident set size now, in bytes."""
        return rss_bytes(self.proc.pid)

    def output(self) -> str:
        """Everything it wrote to its log so far."""
        if not self._out.closed:
            self._out.flush()
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 15) -> str:
        """The last lines of its log."""
        return "\n".join(self.output().splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; closes the log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()


# -- output ---------------------------------------------------------------------------

class Say:
    """Progress lines, printed at once; with `stamp`, each starts with the seconds since the start."""

    def __init__(self, stamp: bool = False) -> None:
        self.t0 = time.monotonic()
        self.stamp = stamp

    def elapsed(self) -> float:
        """Seconds since the benchmark started."""
        return time.monotonic() - self.t0

    def __call__(self, text: str) -> None:
        """Print one line now."""
        print(f"[{self.elapsed():6.1f}s] {text}" if self.stamp else text, flush=True)


def print_block(title: str, lines: Iterable[str], elapsed_s: float, command: str) -> None:
    """A framed summary: the title, the lines, the time taken and how to reproduce the run."""
    out = ["", RULE, title, RULE, *lines, f"elapsed    {elapsed_s:.0f} s",
           f"reproduce  {command}", RULE]
    print("\n".join(out), flush=True)


def command_line(script: str, args: Sequence[str]) -> str:
    """How the README runs `benchmarks/<script>` with `args`, quoted for a shell."""
    return " ".join([PYTHON, f"benchmarks/{script}", *map(shlex.quote, args)])


def write_json(path: str | Path, doc: Any, note: str = "JSON: {path}") -> None:
    """Write `doc` as indented JSON to `path` (folders made), then print `note`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, indent=2) + "\n")
    print(note.format(path=path), flush=True)


# -- the command line ----------------------------------------------------------------

def make_parser(doc: str, *, description: str | None = None, seed: bool = False,
                quick: str | None = None) -> argparse.ArgumentParser:
    """A benchmark's parser: its docstring as help, `--json PATH`, and `--seed` / `--quick` if asked."""
    parser = argparse.ArgumentParser(description=description or doc.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="PATH", help="write every figure as JSON to PATH")
    if seed:
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    if quick is not None:
        parser.add_argument("--quick", action="store_true", help=quick)
    return parser
