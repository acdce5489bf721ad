"""Files a load run writes for other tools: metrics CSV and a SIPp-style statistics CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from reference_impl.flow import Outcome

from ..studies.load import Replication


def write_json(document: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n")


def write_metrics_csv(document: dict[str, Any], path: Path) -> None:
    """One row per metric: mean and 95 % confidence interval."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["metric", "mean", "ci95_low", "ci95_high", "replications"])
        for name, value in document["metrics"].items():
            ci = value["ci95"] or [None, None]
            writer.writerow([name, _num(value["mean"]), _num(ci[0]), _num(ci[1]),
                             document["replications"]])


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
