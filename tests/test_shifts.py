"""Shifts (`centres.<name>.staffing`): agents on duty change at each step, in simulated time
and in `serve`'s real time.

Agents drop from three to one while all three are on long calls: the calls in
progress finish, and no new call reaches an agent until fewer than one are
busy. Before the first step nobody is on duty; more agents than desk phones
is refused with the line.
"""

from __future__ import annotations

import textwrap
from typing import Any, Callable

import pytest

from emulator.drivers import serve
from emulator.drivers.simulation import Simulation
from emulator.models.desks import DAY, Rota
from emulator.scenario import ScenarioError, loads

SHIFT = textwrap.dedent("""\
    name: three agents, then one
    seed: 5
    services: {s: {centres: [desk]}}
    centres:
      desk:
        terminals: 4
        queue: {max_wait: 10h}
        staffing: [{from: 5min, agents: 3}, {from: 30min, agents: 1}]
        agent: {pickup_delay: 0s, talk_time: {uniform: [20min, 40min]}, code_entry_delay: 0s}
    profiles:
      people:
        instant: {answer_delay: 0s}
    pbx: {post_dial_delay: 0s, bridge_delay: 0s}
    arrivals: {rate: 30/h, person: instant, duration: 2h}
    """)


def spans(records: list[Any]) -> list[tuple[float, float]]:
    """(agent answered, call ended) of every call an agent took."""
    return sorted((r.times["agent_answered"], r.times["ended"]) for r in records
                  if "agent_answered" in r.times)


def busy_at(calls: list[tuple[float, float]], t: float) -> int:
    return sum(start <= t < end for start, end in calls)


def test_agents_drop_calls_in_progress_finish_and_no_new_ones() -> None:
    result = Simulation(loads(SHIFT).scenario).run()
    calls = spans(result.records)
    assert result.open_at_end["live"] == 0
    assert min(start for start, _ in calls) >= 300          # before the first step: none
    assert max(busy_at(calls, t) for t in range(300, 1800, 5)) == 3
    at_drop = [c for c in calls if c[0] < 1800 < c[1]]
    assert len(at_drop) == 3                                 # three on calls at the drop ...
    assert all(r.outcome == "connected" for r in result.records
               if "agent_answered" in r.times)               # ... and every call finished
    later = [c for c in calls if c[0] >= 1800]
    assert later, "the one agent left takes calls again"
    for start, _ in later:                                   # a new call only to a free agent
        others = [c for c in calls if c[0] != start]
        assert busy_at(others, start) == 0, start
    assert min(start for start, _ in later) >= min(end for _, end in at_drop)


def test_a_plan_with_none_on_duty_reaches_no_agent_and_occupancy_counts_on_duty() -> None:
    text = SHIFT.replace("[{from: 5min, agents: 3}, {from: 30min, agents: 1}]",
                         "[{from: 0s, agents: 0}, {from: 1h, agents: 2}]")
    result = Simulation(loads(text).scenario, per_interval=1800).run()
    calls = spans(result.records)
    assert min(start for start, _ in calls) >= 3600
    duty = [row["on_duty"] for row in result.intervals["desk"]]
    assert duty == [0.0, 0.0, 2.0, 2.0]
    # busy over the agents on duty (2 for the second hour), not over the 4 desk phones
    assert result.metrics["agent_occupancy.mean"] > 0.5


@pytest.mark.parametrize("staffing,message", [
    ("[{from: 8h, agents: 5}]", "5 agents on duty, more than the centre's 4 desk phones"),
    ("[{from: 8h, agents: 2}, {from: 8h, agents: 3}]", "two steps of the staffing start at"),
    ("[{from: 8h, agent: 2}]", "unknown key 'agent'"),
])
def test_bad_staffing_is_refused_with_its_line(staffing: str, message: str) -> None:
    text = SHIFT.replace("[{from: 5min, agents: 3}, {from: 30min, agents: 1}]", staffing)
    with pytest.raises(ScenarioError) as refused:
        loads(text)
    assert message in str(refused.value)
    assert ":7:" in str(refused.value) or ":8:" in str(refused.value)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 0.0
        self.queue: list[tuple[float, Callable[..., None], tuple[Any, ...]]] = []

    def now(self) -> float:
        return self.t

    def later(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        self.queue.append((self.t + delay, action, args))

    def run_until(self, end: float) -> None:
        while self.queue and min(q[0] for q in self.queue) <= end:
            item = min(self.queue, key=lambda q: q[0])
            self.queue.remove(item)
            self.t = item[0]
            item[1](*item[2])
        self.t = end


def test_a_daily_rota_follows_the_wall_clock_every_day() -> None:
    """serve's shifts: times of day; started at 07:00 the 08:00 step comes an hour later,
    the day's first step again the next morning, nobody from midnight to then."""
    clock, told = FakeClock(), []
    rota = Rota(clock, {"desk": [(8 * 3600, 3), (20 * 3600, 1)]},
                lambda centre, n: told.append((clock.now(), n)), offset=7 * 3600, daily=True)
    rota.start()
    clock.run_until(2 * DAY)
    hours = [(t / 3600, n) for t, n in told]
    assert hours == [(0, 0), (1, 3), (13, 1), (17, 0), (25, 3), (37, 1), (41, 0)]


def test_serve_keeps_no_rota_without_shifts() -> None:
    # With shifts, tests/test_serve_shifts.py runs serve's real runtime through one.
    flat = "".join(line for line in SHIFT.splitlines(keepends=True) if "staffing:" not in line)
    assert serve.shifts(loads(flat).scenario, None) is None      # type: ignore[arg-type]
