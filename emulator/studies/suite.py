"""The scenario suite: run each file in its mode and check its expectations.

The table, the JSON and the JUnit XML of a suite are written by `cli`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..drivers.simulation import SimResult, Simulation
from ..scenario import LoadedScenario
from .expect import Verdict, check_all, check_clean


@dataclass
class ScenarioRun:
    """One scenario file run in one mode: its result and the verdict on each expectation."""

    loaded: LoadedScenario
    mode: str
    result: SimResult | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    skipped: str = ""            # why it did not run
    seconds: float = 0.0

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.loaded.scenario.name

    @property
    def passed(self) -> bool:
        """It ran and every expectation held."""
        return not self.skipped and all(v.passed for v in self.verdicts)

    @property
    def status(self) -> str:
        """PASS, FAIL or SKIP."""
        return "SKIP" if self.skipped else "PASS" if self.passed else "FAIL"

    @property
    def short(self) -> str:
        """The file as `folder/name`, as tables show it."""
        path = self.loaded.path
        return f"{path.parent.name}/{path.stem}" if path.parent.name else path.stem

    def failures(self) -> list[Verdict]:
        """The expectations that did not hold."""
        return [v for v in self.verdicts if not v.passed]


def run_scenario(loaded: LoadedScenario, mode: str = "sim", time_scale: float = 1.0,
                 interval: float = 0.0) -> ScenarioRun:
    """Run a scenario in `mode` (skipped if the file does not list it) and judge it;
    `interval` > 0 (sim): each centre's results per interval that long, too."""
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
        result = Simulation(scenario, per_interval=interval).run()
    run.result = result
    expectations = [e for e in scenario.expect if e.modes is None or mode in e.modes]
    run.verdicts = [*check_all(expectations, result.records, result.metrics),
                    check_clean(result.open_at_end)]
    run.seconds = time.perf_counter() - started
    return run
