"""What the commands print on the terminal: figures with their units, nothing cut mid-word."""

from __future__ import annotations

from typing import Any, Iterable, TextIO

from ..measure.summary import outcome_counts
from ..studies.suite import ScenarioRun
from ..units import format_seconds
from . import figures

OUTCOMES_WIDTH = 48      # the run table's outcomes column wraps at this width


def suite(runs: list[ScenarioRun], out: TextIO) -> None:
    """The run table: one row per scenario (outcomes wrap), then each failure, then a count."""
    header = ("scenario", "calls", "outcomes", "latency p50/p95", "expect", "result")
    rows = [_suite_row(run) for run in runs]
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], *(len(part) for part in cell)) if i == 2 else \
                max(widths[i], len(cell))
    line = "  ".join("{:<%d}" % w for w in widths)
    print(line.format(*header).rstrip(), file=out)
    print(line.format(*("-" * w for w in widths)).rstrip(), file=out)
    for row in rows:
        outcomes = row[2]
        print(line.format(*row[:2], outcomes[0], *row[3:]).rstrip(), file=out)
        for more in outcomes[1:]:
            print(line.format("", "", more, "", "", "").rstrip(), file=out)
    for run in runs:
        for verdict in run.failures():
            print(f"FAIL {run.short}: {verdict.expect}: {verdict.detail}", file=out)
    passed = sum(r.passed for r in runs)
    skipped = sum(bool(r.skipped) for r in runs)
    failed = len(runs) - passed - skipped
    print(f"\n{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""),
          file=out)


def _suite_row(run: ScenarioRun) -> tuple[Any, ...]:
    calls = str(len(run.result.records)) if run.result else "-"
    met = f"{sum(v.passed for v in run.verdicts)}/{len(run.verdicts)}" if run.verdicts else "-"
    return (run.short, calls, wrap(_outcomes(run), OUTCOMES_WIDTH), _latency(run), met,
            run.status)


def wrap(items: Iterable[str], width: int) -> list[str]:
    """Comma-separated items on lines of at most `width` (an item is never cut)."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += ", " + item
        else:
            if lines:
                lines[-1] += ","
            lines.append(item)
    return lines or [""]


def _outcomes(run: ScenarioRun) -> list[str]:
    if run.result is None:
        return [run.skipped]
    counts = outcome_counts(run.result.records)
    return [f"{name} {n}" for name, n in sorted(counts.items(), key=lambda x: -x[1])]


def _latency(run: ScenarioRun) -> str:
    if run.result is None:
        return "-"
    p50 = run.result.metrics.get("callback_latency.p50")
    p95 = run.result.metrics.get("callback_latency.p95")
    return "-" if p50 is None or p95 is None else f"{format_seconds(p50)} / {format_seconds(p95)}"


KEY_METRICS = ("callback_latency.p50", "callback_latency.p95", "time_to_agent.p95",
               "outcomes.connected", "outcomes.no_agent", "outcomes.person_abandoned",
               "failovers.mean", "agent_occupancy.mean", "trunk_occupancy.max",
               "concurrent_rooms.max")


def study(document: dict[str, Any], out: TextIO, names: Iterable[str] = KEY_METRICS) -> None:
    """A load run's key figures: mean and 95 % interval, with units."""
    replications = document["replications"]
    print(f"# {document['scenario']}: {replications} replication(s), "
          f"{document['callbacks']} callbacks after the warm-up", file=out)
    print(f"{'metric':<28} {'mean':>12}  95% confidence interval", file=out)
    for name in names:
        value = document["metrics"].get(name) or {"mean": None, "ci95": None}
        band = figures.ci_text(value["ci95"], name)
        print(f"{name:<28} {figures.value(value['mean'], name):>12}  {band}".rstrip(), file=out)
    if replications < 2:
        print("(one replication: a 95 % confidence interval needs at least 2; "
              "add --replications N)", file=out)
    for verdict in document["expectations"]:
        state = "held" if verdict["passed"] else "FAILED"
        metric = verdict["expect"].split(" ", 1)[0]
        print(f"expect {verdict['expect']}: {state} ({figures.value(verdict['value'], metric)})",
              file=out)


INTERVAL_COLUMNS = (("arrivals", "arrivals", "n"), ("service_level", "service level [95% CI]", "ci"),
                    ("wait_mean", "wait mean", "s"), ("wait_p95", "wait p95", "s"),
                    ("abandoned", "abandoned", "share"), ("on_duty", "on duty", "n"),
                    ("busy", "busy", "n"), ("occupancy", "occupancy", "share"))


def intervals(document: dict[str, Any], out: TextIO) -> None:
    """Each centre's results per interval (and every centre's together): means, with the
    service level's 95 % interval."""
    found = document["intervals"]
    print(f"\nper {found['interval'] / 60:g} min, each centre's callers (by the centre their "
          "service tries first) and agents:", file=out)
    for centre, rows in found["centres"].items():
        print(f"\n{centre}" if centre != "all" else "\nall centres", file=out)
        print(f"{'interval':<13} " + " ".join(f"{title:>{_width(kind)}}"
                                               for _, title, kind in INTERVAL_COLUMNS), file=out)
        for row in rows:
            span = f"{figures.clock(row['from'])}-{figures.clock(row['to'])}"
            cells = " ".join(f"{_cell(row[name], kind):>{_width(kind)}}"
                             for name, _, kind in INTERVAL_COLUMNS)
            print(f"{span:<13} {cells}" + ("  (warm-up)" if row["warmup"] else ""), file=out)


def _width(kind: str) -> int:
    return 27 if kind == "ci" else 9


def _cell(value: dict[str, Any], kind: str) -> str:
    mean = value["mean"]
    if mean is None:
        return "-"
    if kind == "ci":
        band = figures.ci_text(value["ci95"], "service_level")
        return figures.percent(mean) + (f" [{band.replace(' – ', '-')}]" if band else "")
    if kind == "share":
        return figures.percent(mean)
    return f"{mean:.1f} s" if kind == "s" else f"{mean:.1f}"


def precision(document: dict[str, Any], out: TextIO) -> None:
    """What --precision reached, and how many replications it took."""
    found = document["precision"]
    shown = ", ".join(f"{name} ±{'-' if share is None else figures.percent(share)}"
                      for name, share in found["metrics"].items())
    state = "reached" if found["met"] else f"NOT reached within {found['max_replications']}"
    print(f"precision {figures.percent(found['share'])}: {state} after {found['replications']} "
          f"replications ({shown} of the mean, 95 %)", file=out)
