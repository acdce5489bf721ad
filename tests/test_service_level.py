"""The service level (`sla.within`, the metric `service_level`) and patience as a distribution.

Of the people who answered, the share an agent answered within `sla.within`
of their answering; people who gave up, or whom no agent answered, count as
not. Checked on explicit callbacks whose times are fixed, so each value is
known exactly.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from emulator.drivers.simulation import simulate
from emulator.scenario import ScenarioError, loads

BASE = textwrap.dedent("""\
    name: service level by hand
    services: {s: {centres: [desk]}}
    centres:
      desk:
        terminals: 1
        queue: {max_wait: 1h}
        agent: {pickup_delay: 5s, talk_time: 100s, code_entry_delay: 0s}
    profiles:
      people:
        at_once: {answer_delay: 0s}
        gives_up: {answer_delay: 0s, patience: 30s}
    pbx: {post_dial_delay: 0s, bridge_delay: 0s}
    callbacks:
      - {at: 0s, service: s, person: at_once}         # agent at 5 s: in time
      - {at: 1s, service: s, person: at_once}         # waits for the desk: agent at 105 s
      - {at: 2s, service: s, person: gives_up}        # hangs up at 32 s: counts as not
      - {at: 3s, service: s, person: never_answers}   # never answered: not counted
    """)


def level(text: str) -> float | None:
    return simulate(loads(text).scenario).metrics["service_level"]


def test_service_level_counts_the_answered_and_the_ones_who_gave_up() -> None:
    assert level(BASE) == pytest.approx(1 / 3)
    # within 2 min the second caller is in time too; the one who gave up never is
    assert level(BASE + "sla: {within: 2min}\n") == pytest.approx(2 / 3)
    # within 5 s exactly: "within" includes the bound
    assert level(BASE + "sla: {within: 5s}\n") == pytest.approx(1 / 3)
    assert level(BASE + "sla: {within: 4.9s}\n") == 0.0


def test_service_level_is_none_when_nobody_answered() -> None:
    text = BASE.replace("person: at_once}", "person: never_answers}").replace(
        "person: gives_up}", "person: never_answers}")
    assert level(text) is None


def test_a_bad_sla_is_refused() -> None:
    with pytest.raises(ScenarioError) as refused:
        loads(BASE + "sla: {within: 0s}\n")
    assert "sla.within" in str(refused.value)
    with pytest.raises(ScenarioError) as refused:
        loads(BASE + "sla: {inside: 20s}\n")
    assert "unknown key 'inside'" in str(refused.value)


def test_patience_takes_a_distribution() -> None:
    """Exponential patience: people give up after waits drawn anew for each; a fixed
    patience written as a duration stays one number for everybody."""
    text = textwrap.dedent("""\
        name: exponential patience
        seed: 3
        services: {s: {centres: [desk]}}
        centres:
          desk: {terminals: 1, queue: {max_wait: 10h},
                 agent: {pickup_delay: 0s, talk_time: 1h, code_entry_delay: 0s}}
        profiles:
          people:
            waiting: {answer_delay: 0s, patience: {exponential: {mean: 2min}}}
        pbx: {post_dial_delay: 0s, bridge_delay: 0s}
        arrivals: {rate: 600/h, person: waiting, duration: 20min}
        """)
    result = simulate(loads(text).scenario)
    waited = [r.times["ended"] - r.times["person_answered"] for r in result.records
              if r.outcome == "person_abandoned"]
    assert len(waited) > 100
    # one agent on an hour-long call: the rest wait until their patience runs out, so the
    # waits are the patience draws: exponential, mean 2 min (standard error ~ 120/sqrt(n))
    assert np.mean(waited) == pytest.approx(120, abs=4 * 120 / np.sqrt(len(waited)))
    assert np.std(waited) == pytest.approx(np.mean(waited), rel=0.25)
    fixed = simulate(loads(text.replace("{exponential: {mean: 2min}}", "2min")).scenario)
    waits = {round(r.times["ended"] - r.times["person_answered"], 6) for r in fixed.records
             if r.outcome == "person_abandoned"}
    assert waits == {120.0}
