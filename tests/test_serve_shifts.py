"""serve's shifts on the wall clock: a callback on hold while nobody is on duty is answered
when the next shift starts. The real web runtime, switchboard and emulated PBX, in real
time; the shift's step is a time of day two seconds after the test starts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from tornado.testing import gen_test

from .test_serve import CALL, ServeCase

AHEAD = 2.0          # s from the test's start to the shift's start


def _scenario() -> str:
    now = datetime.now()                                # serve's rota: the machine's zone
    start = now + timedelta(seconds=AHEAD)
    if start.date() != now.date():
        pytest.skip("too close to midnight for a shift later today")
    return f"""\
name: nobody on duty until a shift starts in two seconds
seed: 3
services:
  mortgages: {{centres: [madrid], label: Mortgages}}
centres:
  madrid:
    terminals: ["+34910000001", "+34910000002"]
    ring_timeout: 15s
    queue: {{max_wait: 1min}}
    agent: quick
    staffing: [{{from: "00:00", agents: 0}}, {{from: "{start:%H:%M:%S}", agents: 1}}]
profiles:
  people:
    caller: {{answer_delay: {{fixed: 50ms}}, patience: 1min}}
  agents:
    quick: {{pickup_delay: {{fixed: 50ms}}, talk_time: {{fixed: 30min}},
            code_entry_delay: {{fixed: 10ms}}}}
pbx: {{post_dial_delay: {{fixed: 10ms}}}}
callbacks:
  - {{at: 0s, service: mortgages, person: caller}}
"""


class TestShiftsInServe(ServeCase):
    def get_app(self):  # type: ignore[no-untyped-def]
        self.scenario_text = _scenario()
        return super().get_app()

    @gen_test(timeout=15)
    async def test_a_caller_on_hold_is_answered_when_the_shift_starts(self) -> None:
        status, answer = await self.call("/api/callbacks", CALL, key=False)
        assert status == 201, answer
        callback_id = answer["id"]
        sb = self.app.switchboard
        await self.until(lambda: (sb.record(callback_id) or None) is not None
                         and sb.record(callback_id).state == "queued", 3.0)
        assert self.desk("ringing") is None and self.desk("talking") is None   # none on duty
        talking = await self.until(lambda: self.desk("talking"), AHEAD + 5.0)
        record = sb.record(callback_id)
        assert record is not None and talking.callback_id == callback_id
        assert record.times["agent_answered"] - record.times["queued"] >= AHEAD - 1.0
        assert self.desk("ringing") is None         # one agent on duty: the second phone rests
