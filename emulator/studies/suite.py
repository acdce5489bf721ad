"""Run scenario files and report: the table, JUnit XML and the JSON of SCENARIOS.md."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..drivers.simulation import SimResult, simulate
from ..measure.catalogue import metric_names
from ..measure.summary import outcome_counts
from ..scenario import LoadedScenario
from ..units import format_seconds
from .expect import Verdict, check_all, check_clean


@dataclass
class ScenarioRun:
    loaded: LoadedScenario
    mode: str
    result: SimResult | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    skipped: str = ""            # why it did not run
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.loaded.scenario.name

    @property
    def passed(self) -> bool:
        return not self.skipped and all(v.passed for v in self.verdicts)

    @property
    def status(self) -> str:
        return "SKIP" if self.skipped else "PASS" if self.passed else "FAIL"

    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.passed]


def run_scenario(loaded: LoadedScenario, mode: str = "sim", time_scale: float = 1.0) -> ScenarioRun:
    scenario = loaded.scenario
    run = ScenarioRun(loaded, mode)
    if mode not in scenario.mode:
        run.skipped = f"mode {mode} not in the scenario's modes ({', '.join(scenario.mode)})"
        return run
    started = time.perf_counter()
    if mode == "sip":
        from ..drivers.sip_replay import run_sip
        from ..models.pbx.sipp import SippError
        try:
            result = run_sip(scenario, time_scale=time_scale)
        except SippError as error:       # the phones could not run: this run failed
            run.verdicts = [Verdict("the SIP phones run", False, None, str(error))]
            run.seconds = time.perf_counter() - started
            return run
    else:
        result = simulate(scenario)
    run.result = result
    expectations = [e for e in scenario.expect if e.modes is None or mode in e.modes]
    run.verdicts = [*check_all(expectations, result.records, result.metrics),
                    check_clean(result.open_at_end)]
    run.seconds = time.perf_counter() - started
    return run


# -- the table -----------------------------------------------------------------

def _outcomes(run: ScenarioRun) -> str:
    if run.result is None:
        return run.skipped
    counts = outcome_counts(run.result.records)
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items(), key=lambda x: -x[1]))


def _latency(run: ScenarioRun) -> str:
    if run.result is None:
        return "-"
    p50 = run.result.metrics.get("callback_latency.p50")
    p95 = run.result.metrics.get("callback_latency.p95")
    return "-" if p50 is None or p95 is None else f"{format_seconds(p50)} / {format_seconds(p95)}"


def print_table(runs: list[ScenarioRun], out: TextIO) -> None:
    header = ("scenario", "calls", "outcomes", "latency p50/p95", "expect", "result")
    rows = []
    for run in runs:
        calls = str(len(run.result.records)) if run.result else "-"
        met = f"{sum(v.passed for v in run.verdicts)}/{len(run.verdicts)}" if run.verdicts else "-"
        rows.append((_short(run), calls, _outcomes(run), _latency(run), met, run.status))
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    widths[2] = min(widths[2], 48)
    line = "  ".join("{:<%d}" % w for w in widths)
    print(line.format(*header), file=out)
    print(line.format(*("-" * w for w in widths)), file=out)
    for row in rows:
        print(line.format(*(str(c)[:w] for c, w in zip(row, widths))), file=out)
    for run in runs:
        for verdict in run.failures():
            print(f"FAIL {_short(run)}: {verdict.expect}: {verdict.detail}", file=out)
    passed = sum(r.passed for r in runs)
    skipped = sum(bool(r.skipped) for r in runs)
    failed = len(runs) - passed - skipped
    print(f"\n{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""),
          file=out)


def _short(run: ScenarioRun) -> str:
    path = run.loaded.path
    return f"{path.parent.name}/{path.stem}" if path.parent.name else path.stem


# -- JSON and JUnit ------------------------------------------------------------

def scenario_json(run: ScenarioRun) -> dict[str, Any]:
    """The JSON document of SCENARIOS.md for one run (one replication: ci95 is null)."""
    result = run.result
    metrics = {name: {"mean": result.metrics.get(name) if result else None, "ci95": None}
               for name in metric_names()}
    return {"scenario": run.name, "file": str(run.loaded.path), "mode": run.mode,
            "seed": result.seed if result else run.loaded.scenario.seed, "replications": 1,
            "callbacks": len(result.records) if result else 0,
            "outcomes": dict(outcome_counts(result.records)) if result else {},
            "status": run.status.lower(), "skipped": run.skipped or None,
            "metrics": metrics, "expectations": [v.json() for v in run.verdicts]}


def write_json(runs: list[ScenarioRun], path: Path) -> None:
    docs = [scenario_json(run) for run in runs]
    document: Any = docs[0] if len(docs) == 1 else {
        "scenarios": docs, "passed": sum(r.passed for r in runs),
        "failed": sum(not r.passed and not r.skipped for r in runs)}
    path.write_text(json.dumps(document, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    return getattr(value, "value", str(value))


def write_junit(runs: list[ScenarioRun], path: Path) -> None:
    suite = ET.Element("testsuite", name="callback-emu", tests=str(len(runs)),
                       failures=str(sum(not r.passed and not r.skipped for r in runs)),
                       skipped=str(sum(bool(r.skipped) for r in runs)),
                       time=f"{sum(r.seconds for r in runs):.3f}")
    for run in runs:
        case = ET.SubElement(suite, "testcase", classname=f"scenarios.{run.mode}",
                             name=_short(run), file=str(run.loaded.path), time=f"{run.seconds:.3f}")
        if run.skipped:
            ET.SubElement(case, "skipped", message=run.skipped)
        elif not run.passed:
            failures = run.failures()
            failure = ET.SubElement(case, "failure", message=f"{len(failures)} expectation(s) failed")
            failure.text = "\n".join(f"{v.expect}: {v.detail}" for v in failures)
    ET.indent(suite)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
