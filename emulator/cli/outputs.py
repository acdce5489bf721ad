"""Files the commands write for other tools: JSON, metrics CSV, a SIPp-style
statistics CSV, JUnit XML."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Mapping

from reference_impl.flow import Outcome

from reference_impl.records import CallbackRecord

from ..measure.catalogue import metric_names, unit
from ..measure.summary import outcome_counts
from ..studies.load import Replication
from ..studies.suite import ScenarioRun


def write_json(document: dict[str, Any], path: Path) -> None:
    """A study's document, indented."""
    path.write_text(json.dumps(document, indent=2) + "\n")


def write_metrics_csv(document: dict[str, Any], path: Path) -> None:
    """One row per metric: mean, 95 % confidence interval, and its unit (the catalogue's)."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["metric", "mean", "ci95_low", "ci95_high", "replications", "unit"])
        for name, value in document["metrics"].items():
            ci = value["ci95"] or [None, None]
            writer.writerow([name, _num(value["mean"]), _num(ci[0]), _num(ci[1]),
                             document["replications"], unit(name)])


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def sipp_time(seconds: float) -> str:
    """SIPp's duration format in its statistics file: HH:MM:SS:microseconds."""
    micros = int(round(seconds * 1e6))
    hours, rest = divmod(micros, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    secs, micros = divmod(rest, 1_000_000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}:{micros:06d}"


_FAILURES = [o.value for o in Outcome if o is not Outcome.CONNECTED]


def write_stats_csv(run: Replication, interval: float, path: Path) -> None:
    """A periodic statistics file modelled on SIPp's `-trace_stat` (`;`-separated).

    One row per interval of simulated time, periodic (P) and cumulative (C)
    columns as SIPp names them: calls created, current calls, successful
    (connected) and failed calls, failed by cause (one column pair per
    outcome), ResponseTime1 = form to bridge (callback latency) mean. Calls
    are counted in the interval of their request.
    """
    columns = ["StartTime", "LastResetTime", "CurrentTime", "ElapsedTime(P)", "ElapsedTime(C)",
               "CallRate(P)", "CallRate(C)", "OutgoingCall(P)", "OutgoingCall(C)",
               "TotalCallCreated", "CurrentCall", "SuccessfulCall(P)", "SuccessfulCall(C)",
               "FailedCall(P)", "FailedCall(C)"]
    for cause in _FAILURES:
        name = "Failed" + "".join(part.capitalize() for part in cause.split("_"))
        columns += [f"{name}(P)", f"{name}(C)"]
    columns += ["ResponseTime1(P)", "ResponseTime1(C)"]
    totals = {"created": 0, "ok": 0, "failed": 0, "latency": 0.0, "latency_n": 0}
    causes = {cause: 0 for cause in _FAILURES}
    with path.open("w", newline="") as out:
        out.write(";".join(columns) + ";\n")
        for index in range(max(len(run.samples) - 1, 0)):
            sample = run.samples[index + 1]            # the levels at the end of the interval
            start, now = index * interval, (index + 1) * interval
            bucket = run.collector.intervals.get(index)
            created = bucket.created if bucket else 0
            outcomes = bucket.outcomes if bucket else {}
            ok = outcomes.get("connected", 0)
            failed = created - ok - outcomes.get("live", 0)
            totals["created"] += created
            totals["ok"] += ok
            totals["failed"] += failed
            lat_total = bucket.latency_total if bucket else 0.0
            lat_n = bucket.latency_count if bucket else 0
            totals["latency"] += lat_total
            totals["latency_n"] += lat_n
            row = [sipp_time(0), sipp_time(start), sipp_time(now), sipp_time(interval),
                   sipp_time(now), f"{created / interval:.6f}",
                   f"{totals['created'] / now:.6f}", created, totals["created"],
                   totals["created"], sample[3], ok, totals["ok"], failed, totals["failed"]]
            for cause in _FAILURES:
                causes[cause] += outcomes.get(cause, 0)
                row += [outcomes.get(cause, 0), causes[cause]]
            row += [sipp_time(lat_total / lat_n if lat_n else 0.0),
                    sipp_time(totals["latency"] / totals["latency_n"] if totals["latency_n"] else 0.0)]
            out.write(";".join(str(c) for c in row) + ";\n")


# -- a suite's files ------------------------------------------------------------


def suite_json(run: ScenarioRun) -> dict[str, Any]:
    """The JSON document of one scenario's run (one replication: ci95 is null)."""
    result = run.result
    metrics = {name: {"mean": value, "ci95": None}
               for name, value in _metrics(result.metrics if result else {}).items()}
    counts = dict(outcome_counts(result.records)) if result else {}
    total = sum(counts.values())
    return {"scenario": run.name, "file": str(run.loaded.path), "mode": run.mode,
            "seed": result.seed if result else run.loaded.scenario.seed, "replications": 1,
            "callbacks": total,
            "outcomes": {name: n / total for name, n in counts.items()},
            "outcome_counts": counts,
            "status": run.status.lower(), "skipped": run.skipped or None,
            "metrics": metrics, "expectations": [v.json() for v in run.verdicts],
            "calls": [call_json(r) for r in sorted(result.records, key=_call_order)]
            if result else []} | suite_intervals(run)


def suite_intervals(run: ScenarioRun) -> dict[str, Any]:
    """`intervals` of one run (one replication: no interval), when it kept them."""
    result = run.result
    if result is None or result.intervals is None:
        return {}
    from ..studies.intervals import aggregate

    arrivals = run.loaded.scenario.arrivals
    return {"intervals": aggregate([result.intervals], result.per_interval,
                                   arrivals.warmup if arrivals else 0.0)}


# The stage marks a developer picks calls by, in the order a call reaches them.
KEY_TIMES = ("requested", "person_ringing", "person_answered", "queued", "dequeued",
             "agent_ringing", "agent_answered", "bridged", "room_created", "person_in_room",
             "agent_in_room", "code_entered", "ended")


def call_json(record: CallbackRecord) -> dict[str, Any]:
    """One callback of a run, for picking the calls to trace."""
    return {"id": record.id, "outcome": record.outcome, "centre": record.centre,
            "terminal": record.terminal, "failovers": record.failovers,
            "attempts": len(record.attempts),
            "code": record.code, "ended_by": record.ended_by,
            "times": {k: round(record.times[k], 6) for k in KEY_TIMES if k in record.times}}


def _call_order(record: CallbackRecord) -> tuple[int, str]:
    return (int(record.id), record.id) if record.id.isdigit() else (0, record.id)


def _metrics(measured: Mapping[str, float | None]) -> dict[str, float | None]:
    """Every standard metric (None if not measured), then any other measured."""
    out = {name: measured.get(name) for name in metric_names()}
    out.update({name: value for name, value in measured.items() if name not in out})
    return out


def write_suite_json(runs: list[ScenarioRun], path: Path) -> None:
    """One scenario's document, or all of them with a count of passes and failures."""
    docs = [suite_json(run) for run in runs]
    document: Any = docs[0] if len(docs) == 1 else {
        "scenarios": docs, "passed": sum(r.passed for r in runs),
        "failed": sum(not r.passed and not r.skipped for r in runs)}
    path.write_text(json.dumps(document, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    return getattr(value, "value", str(value))


def write_junit(runs: list[ScenarioRun], path: Path) -> None:
    """JUnit XML: a test case per scenario, its failed expectations as the failure."""
    suite = ET.Element("testsuite", name="callback-emu", tests=str(len(runs)),
                       failures=str(sum(not r.passed and not r.skipped for r in runs)),
                       skipped=str(sum(bool(r.skipped) for r in runs)),
                       time=f"{sum(r.seconds for r in runs):.3f}")
    for run in runs:
        case = ET.SubElement(suite, "testcase", classname=f"scenarios.{run.mode}",
                             name=run.short, file=str(run.loaded.path), time=f"{run.seconds:.3f}")
        if run.skipped:
            ET.SubElement(case, "skipped", message=run.skipped)
        elif not run.passed:
            failures = run.failures()
            failure = ET.SubElement(case, "failure", message=f"{len(failures)} expectation(s) failed")
            failure.text = "\n".join(f"{v.expect}: {v.detail}" for v in failures)
    ET.indent(suite)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def intervals_path(path: Path) -> Path:
    """Where `--csv PATH` puts the results per interval: beside it, `PATH-stem.intervals.csv`."""
    return path.with_name(f"{path.stem}.intervals{path.suffix or '.csv'}")


def write_intervals_csv(document: dict[str, Any], path: Path) -> None:
    """One row per centre and interval: each field's mean and 95 % interval."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(_interval_header())
        writer.writerows(_interval_rows(document["intervals"]))


def write_suite_intervals_csv(runs: list[ScenarioRun], path: Path) -> None:
    """`run --interval --csv`: one row per scenario, centre and interval."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["scenario", *_interval_header()])
        for run in runs:
            found = suite_intervals(run).get("intervals")
            if found is not None:
                writer.writerows([run.short, *row] for row in _interval_rows(found))


def _interval_header() -> list[str]:
    from ..measure.intervals import FIELDS

    return ["centre", "from", "to", "warmup",
            *(f"{name}{part}" for name in FIELDS for part in ("", "_ci95_low", "_ci95_high"))]


def _interval_rows(found: dict[str, Any]) -> list[list[Any]]:
    from ..measure.intervals import FIELDS

    out = []
    for centre, rows in found["centres"].items():
        for row in rows:
            cells: list[Any] = [centre, row["from"], row["to"], int(row["warmup"])]
            for name in FIELDS:
                ci = row[name]["ci95"] or [None, None]
                cells += [_num(row[name]["mean"]), _num(ci[0]), _num(ci[1])]
            out.append(cells)
    return out
