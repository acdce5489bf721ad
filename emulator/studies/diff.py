"""The differential check: one scenario in simulated time and over real SIP, compared.

Call by call the outcomes must be the same (the SIP run replays the very
behaviours the simulation drew); stage by stage the latency distributions
are shown side by side with a two-sample Kolmogorov-Smirnov test. The SIP
run also yields the PBX's own timings, which `calibrate` fits and writes
into a scenario file so the emulator's PBX behaves like the real one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from scipy import stats

from reference_impl import flow as f

from ..drivers.simulation import SimResult, simulate
from ..drivers.sip_replay import run_sip
from ..measure.catalogue import STAGES
from ..scenario import Scenario, edit
from ..units import format_seconds


class PbxTimings:
    """Observes a SIP run: how long the PBX takes to see ringing and answers."""

    def __init__(self) -> None:
        self.dialled: dict[tuple[str, str], float] = {}
        self.rang: dict[tuple[str, str], float] = {}
        self.post_dial: list[float] = []
        self.answer_lag: list[float] = []     # answered - rang - the phone's own delay
        self.plans: dict[tuple[str, str], Any] = {}

    def command(self, callback_id: str, command: f.Command, now: float) -> None:
        """Note when each leg is dialled."""
        if isinstance(command, f.Dial):
            self.dialled[(callback_id, command.leg)] = now

    def event(self, callback_id: str, event: f.Event, now: float) -> None:
        """Time a leg's post-dial delay as it first rings, and its answer's lag past its plan."""
        if not isinstance(event, (f.LegRinging, f.LegAnswered)):
            return
        key = (callback_id, event.leg)
        if isinstance(event, f.LegRinging) and key in self.dialled and key not in self.rang:
            self.rang[key] = now
            self.post_dial.append(now - self.dialled[key])
        elif isinstance(event, f.LegAnswered) and key in self.rang and key in self.plans:
            self.answer_lag.append(max(0.0, now - self.rang[key] - self.plans[key].delay))


@dataclass
class StageRow:
    """One stage's latencies, in simulated time and over SIP."""

    stage: str
    sim: list[float]
    sip: list[float]

    @property
    def p_value(self) -> float | None:
        """The two-sample KS test's p-value; None with fewer than two samples on a side."""
        if len(self.sim) < 2 or len(self.sip) < 2:
            return None
        return float(stats.ks_2samp(self.sim, self.sip).pvalue)


@dataclass
class Diff:
    """Both runs compared: each call's two outcomes, each stage's latencies, the PBX's timings."""

    sim: SimResult
    sip: SimResult
    calls: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    stages: list[StageRow] = field(default_factory=list)
    timings: PbxTimings | None = None

    @property
    def agree(self) -> bool:
        """Whether every call ended the same way in both runs."""
        return all(a == b for _, a, b in self.calls)


def compare(scenario: Scenario, *, time_scale: float = 1.0) -> Diff:
    """Simulate the scenario, replay it over SIP, compare call by call and stage by stage."""
    timings = PbxTimings()
    sim = simulate(scenario, keep_plans=True)
    timings.plans = sim.plans
    sip = run_sip(scenario, time_scale=time_scale, observers=[timings])
    sim_by_id = {r.id: r for r in sim.records}
    sip_by_id = {r.id: r for r in sip.records}
    ids = sorted(set(sim_by_id) | set(sip_by_id), key=int)
    result = Diff(sim, sip, timings=timings)
    result.calls = [(i, _outcome(sim_by_id.get(i)), _outcome(sip_by_id.get(i))) for i in ids]
    for name, stage in STAGES.items():
        start, stop = stage.start, stage.stop
        result.stages.append(StageRow(name, _samples(sim.records, start, stop),
                                      _samples(sip.records, start, stop)))
    return result


def _outcome(record: Any) -> str | None:
    return None if record is None else record.outcome


def _samples(records: list[Any], start: str, stop: str) -> list[float]:
    return [r.times[stop] - r.times[start] for r in records
            if start in r.times and stop in r.times]


def print_diff(diff: Diff, out: TextIO) -> None:
    """Print the outcomes call by call, the stages side by side with a KS p-value, a verdict."""
    print(f"{'call':>6}  {'sim':<24} {'sip':<24}", file=out)
    for call, sim, sip in diff.calls:
        mark = "" if sim == sip else "   <-- differs"
        print(f"{call:>6}  {sim or '(none)':<24} {sip or '(none)':<24}{mark}", file=out)
    print(f"\n{'stage':<18} {'n sim':>6} {'p50 sim':>9} {'p95 sim':>9} {'n sip':>6} "
          f"{'p50 sip':>9} {'p95 sip':>9} {'KS p':>7}", file=out)
    for row in diff.stages:
        p = row.p_value
        print(f"{row.stage:<18} {len(row.sim):>6} {_p(row.sim, 50):>9} {_p(row.sim, 95):>9} "
              f"{len(row.sip):>6} {_p(row.sip, 50):>9} {_p(row.sip, 95):>9} "
              f"{'-' if p is None else f'{p:.3f}':>7}", file=out)
    verdict = "outcomes agree" if diff.agree else "OUTCOMES DISAGREE"
    print(f"\n{sum(a == b for _, a, b in diff.calls)}/{len(diff.calls)} calls with the same "
          f"outcome: {verdict}", file=out)


def _p(samples: list[float], q: int) -> str:
    return format_seconds(float(np.percentile(samples, q))) if samples else "-"


def _lognormal(samples: list[float]) -> dict[str, Any] | None:
    data = np.clip(np.asarray(samples), 1e-4, None)
    if len(data) == 0:
        return None
    logs = np.log(data)
    return {"lognormal": {"median": f"{math.exp(float(logs.mean())) * 1000:.3f}ms",
                          "sigma": round(float(logs.std()), 4)}}


def calibrate(diff: Diff, source: Path, target: Path) -> dict[str, Any]:
    """Write `source` with the PBX timings fitted from the SIP run into `target`."""
    assert diff.timings is not None
    fitted = {"post_dial_delay": _lognormal(diff.timings.post_dial),
              "answer_signalling_delay": _lognormal(diff.timings.answer_lag)}
    header = (f"# Calibrated from a SIP run of {source.name}: the PBX timings under 'pbx'\n"
              f"# were fitted (lognormal) to {len(diff.timings.post_dial)} post-dial and "
              f"{len(diff.timings.answer_lag)} answer delays.\n")
    edit.write_with(source, {f"pbx.{key}": value for key, value in fitted.items()
                             if value is not None}, target, header)
    return fitted
