from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

BASE = """\
name: one call, one centre
seed: 3
services:
  mortgages: {centres: [madrid, barcelona], room_template: advisor}
centres:
  madrid: {terminals: 2, ring_timeout: 15s, agent: never_answers}
  barcelona:
    terminals: ["+34930000001", "+34930000002"]
    ring_timeout: 15s
    agent: {pickup_delay: {lognormal: {median: 4s, sigma: 0.5}}, talk_time: {fixed: 2min}}
callbacks:
  - {at: 0s, service: mortgages, person: prompt}
  - {at: 1s, service: mortgages, person: busy}
expect:
  - {call: 1, outcome: connected, failovers: 1, centre: barcelona}
  - {call: 2, outcome: person_busy, told: busy}
  - {metric: callback_latency.p95, below: 25s}
"""


@pytest.fixture
def write_scenario(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a scenario file (BASE by default) and return its path."""
    def write(text: str = BASE, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path
    return write
