"""serve on the wall clock: a callback on hold while nobody is on duty is answered when
the next shift starts, and a request made while the service is closed is called at its
opening. The real web runtime, switchboard and emulated PBX, in real
time; the shift's step and the opening are times of day seconds after the test starts."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from tornado.testing import gen_test

from .test_serve import CALL, ServeCase

AHEAD = 3.0          # s from the test's start to the shift's start
_UTC = timezone.utc
# The phones of both scenarios: the person answers at once (and on hold waits up to a
# minute), the agent picks up at once and talks long.
PHONES = """\
profiles:
  people:
    caller: {answer_delay: {fixed: 50ms}, patience: 1min}
  agents:
    quick: {pickup_delay: {fixed: 50ms}, talk_time: {fixed: 30min}, code_entry_delay: {fixed: 10ms}}
pbx: {post_dial_delay: {fixed: 10ms}}
callbacks:
  - {at: 0s, service: mortgages, person: caller}
"""


def _scenario() -> tuple[str, float]:
    """The scenario, and when its shift starts (epoch seconds)."""
    now = datetime.now()                                # serve's rota: the machine's zone
    start = (now + timedelta(seconds=AHEAD)).replace(microsecond=0)
    if start.date() != now.date():
        pytest.skip("too close to midnight for a shift later today")
    return f"""\
name: nobody on duty until a shift starts in three seconds
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
""" + PHONES, start.timestamp()


class TestShiftsInServe(ServeCase):
    def get_app(self):  # type: ignore[no-untyped-def]
        self.scenario_text, self.shift_at = _scenario()
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
        assert sb.epoch + record.times["queued"] < self.shift_at            # waited for it
        assert sb.epoch + record.times["agent_ringing"] >= self.shift_at - 0.05
        assert self.desk("ringing") is None         # one agent on duty: the second phone rests


def _closed_until_soon() -> str:
    now = datetime.now().astimezone()
    opening = now + timedelta(seconds=AHEAD + 1)
    if opening.date() != now.date():
        pytest.skip("too close to midnight for an opening later today")
    return f"""\
name: closed until an opening four seconds away
seed: 4
calendar: {{timezone: UTC, calling_hours: null}}
services:
  mortgages:
    centres: [madrid]
    label: Mortgages
    hours: {{mon-sun: "{opening.astimezone(_UTC):%H:%M:%S}-23:59"}}
centres:
  madrid: {{terminals: ["+34910000001"], ring_timeout: 15s, agent: quick}}
""" + PHONES


class TestOpeningHoursInServe(ServeCase):
    def get_app(self):  # type: ignore[no-untyped-def]
        self.scenario_text = _closed_until_soon()
        return super().get_app()

    @gen_test(timeout=15)
    async def test_a_request_made_while_closed_is_called_at_the_opening(self) -> None:
        asked = time.time()
        status, answer = await self.call("/api/callbacks", CALL, key=False)
        assert status == 201, answer
        cid = answer["id"]
        sb = self.app.switchboard
        assert sb.record(cid).state == "scheduled"            # not dialled: closed
        due = sb.next_call(cid)
        assert due is not None and asked + AHEAD <= due <= asked + AHEAD + 2
        assert self.emulated.pbx.legs == {}
        talking = await self.until(lambda: self.desk("talking"), AHEAD + 6.0)
        assert talking.callback_id == cid
        await self.until(lambda: sb.record(cid).state == "connected", 3.0)
        record = sb.record(cid)
        assert [round(a.dialled + sb.epoch - due, 1) for a in record.attempts] == [0.0]
