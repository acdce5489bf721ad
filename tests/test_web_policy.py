"""The callback policy on the web: a time asked for, cancel, duplicates, the next call's
time on the status page. `serve`'s app on the emulated PBX, over loopback HTTP."""

from __future__ import annotations

import json
import time
from datetime import datetime

from tornado.httpclient import HTTPRequest
from tornado.testing import gen_test
from tornado.websocket import websocket_connect

from tests.test_serve import CALL, ServeCase

POLICY = """\
name: policy on the web
seed: 5
services:
  mortgages: {centres: [madrid], label: Mortgages}
centres:
  madrid: {terminals: ["+34910000001", "+34910000002"], ring_timeout: 20s, agent: quick}
profiles:
  people:
    slow: {answer_delay: {fixed: 20s}}
  agents:
    quick: {pickup_delay: {fixed: 50ms}, talk_time: {fixed: 30min}}
pbx: {post_dial_delay: {fixed: 10ms}}
policy: {dedupe: true, retry: {person_busy: {after: 10min, attempts: 2}}}
callbacks:
  - {at: 0s, service: mortgages, person: slow}
"""


class TestPolicyOnTheWeb(ServeCase):
    scenario_text = POLICY

    async def patch(self, path: str, data: dict) -> tuple[int, dict]:  # type: ignore[type-arg]
        response = await self.http_client.fetch(HTTPRequest(
            self.get_url(path), method="PATCH", body=json.dumps(data),
            headers={"Content-Type": "application/json"}), raise_error=False)
        return response.code, json.loads(response.body or b"null")

    async def delete(self, path: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        response = await self.http_client.fetch(HTTPRequest(self.get_url(path), method="DELETE"),
                                                raise_error=False)
        return response.code, json.loads(response.body or b"null")

    @gen_test
    async def test_a_second_request_for_the_same_number_is_the_first_one(self) -> None:
        status, first = await self.call("/api/callbacks", CALL, key=False)
        assert status == 201 and first["duplicate"] is False
        status, again = await self.call("/api/callbacks", CALL, key=False)
        assert status == 200 and again["duplicate"] is True and again["id"] == first["id"]
        assert again["status_token"] == first["status_token"]
        outcomes = [r.outcome for r in self.app.switchboard.records or []]  # type: ignore[union-attr]
        assert "duplicate" in outcomes                   # the second request's own record

    @gen_test
    async def test_the_person_cancels_while_the_phone_rings(self) -> None:
        _, placed = await self.call("/api/callbacks", CALL, key=False)
        cid, token = placed["id"], placed["status_token"]
        await self.until(lambda: self.app.switchboard.record(cid).state == "person_ringing")
        assert (await self.delete(f"/api/callbacks/{cid}?token=nope"))[0] == 404
        status, answer = await self.delete(f"/api/callbacks/{cid}?token={token}")
        assert status == 200 and answer["cancelled"] is True and answer["outcome"] == "cancelled"
        assert self.emulated.pbx.legs == {}              # the ringing phone was hung up
        status, answer = await self.delete(f"/api/callbacks/{cid}?token={token}")
        assert status == 200 and answer["cancelled"] is False
        status, answer = await self.patch(f"/api/callbacks/{cid}?token={token}",
                                          {"schedule_in": 60})
        assert status == 409 and answer["field"] == "id"          # over: nothing to move

    @gen_test
    async def test_a_time_asked_for_waits_and_the_page_says_when(self) -> None:
        body = {**CALL, "schedule_in": 7200}
        status, placed = await self.call("/api/callbacks", body, key=False)
        assert status == 201
        cid, token = placed["id"], placed["status_token"]
        assert self.emulated.pbx.legs == {}              # nothing dialled yet
        status, view = await self.call(f"/api/callbacks/{cid}?token={token}", key=False)
        assert view["state"] == "scheduled" and view["next_call"] is not None
        socket = await websocket_connect(self.get_url(f"/callbacks/{cid}/{token}/ws")
                                         .replace("http", "ws"))
        told = json.loads(await socket.read_message())   # type: ignore[arg-type]
        assert told["notice"] == "scheduled" and told["at"] == view["next_call"]
        assert told["text"].startswith("We will call you on ")
        socket.close()
        moved = await self.patch(f"/api/callbacks/{cid}?token={token}", {"schedule_in": 600})
        assert moved[0] == 200 and moved[1]["rescheduled"] is True
        due = self.app.switchboard.next_call(cid)
        assert due is not None and abs(due - (time.time() + 600)) < 5   # two hours -> ten min
        assert self.emulated.pbx.legs == {}              # still nothing dialled
        assert (await self.patch(f"/api/callbacks/{cid}?token=nope", {"schedule_in": 60}))[0] \
            == 404
        assert (await self.patch(f"/api/callbacks/{cid}?token={token}", {}))[0] == 400
        assert (await self.patch(f"/api/callbacks/{cid}?token={token}",
                                 {"schedule_in": -5}))[1]["field"] == "schedule_in"
        late = {**CALL, "phone": "+34612345679", "schedule_in": 40 * 86400}
        status, refused = await self.call("/api/callbacks", late, key=False)
        assert status == 400 and refused["field"] == "schedule"
        both = {**CALL, "phone": "+34612345670", "schedule_in": 60,
                "schedule": "2026-12-07T15:00+01:00"}
        assert (await self.call("/api/callbacks", both, key=False))[0] == 400
        at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 3600))
        status, placed = await self.call("/api/callbacks", {**CALL, "phone": "+34612345671",
                                                           "schedule": at}, key=False)
        assert status == 201


TODAY = time.strftime("%Y-%m-%d", time.gmtime())
CLOSED_TODAY = f"""\
name: closed today on the web
seed: 5
calendar: {{timezone: UTC}}
services:
  mortgages:
    centres: [madrid]
    label: Mortgages
    holidays: [{TODAY}]
    slots: {{every: 1h, capacity: 2}}
  loans: {{centres: [madrid], label: Loans}}
centres:
  madrid: {{terminals: ["+34910000001"], ring_timeout: 20s}}
callbacks:
  - {{at: 0s, service: mortgages, person: prompt}}
"""


class TestTheFormSaysWhenWeCall(ServeCase):
    """A service closed today: the form says when we will call, and offers only open slots."""

    scenario_text = CLOSED_TODAY

    @gen_test
    async def test_the_form_says_we_are_closed_and_when_we_call(self) -> None:
        page = (await self.http_client.fetch(self.get_url("/"))).body.decode()
        assert "We are closed now; we will call you on" in page
        assert "at 00:00" in page                           # tomorrow's first open moment
        times = json.loads(_form_times(page))
        assert times["mortgages"]["closed"] and not times["loans"]["closed"]
        slots = [value for value, _ in times["mortgages"]["choices"] if value[:2] == "20"]
        assert slots and all(not value.startswith(TODAY) for value in slots)
        assert [value for value, _ in times["loans"]["choices"]] == ["", "in:7200"]

    @gen_test
    async def test_a_slot_picked_on_the_form_is_when_the_call_is_due(self) -> None:
        page = (await self.http_client.fetch(self.get_url("/"))).body.decode()
        slot = [value for value, _ in json.loads(_form_times(page))["mortgages"]["choices"]
                if value[:2] == "20"][1]
        status, answer = await self.call("/api/callbacks", {**CALL, "schedule": slot}, key=False)
        assert status == 201
        status, view = await self.call(f"/api/callbacks/{answer['id']}?token="
                                       f"{answer['status_token']}", key=False)
        assert view["state"] == "scheduled" and view["next_call"] == slot


def _form_times(page: str) -> str:
    """The form's data-times attribute, unescaped."""
    import html
    import re
    found = re.search(r'data-times="([^"]*)"', page)
    assert found, "the form carries no times"
    return html.unescape(found.group(1))


ONE_DESK = """\
name: one desk phone and a queue
seed: 5
services:
  mortgages: {centres: [madrid], label: Mortgages}
centres:
  madrid: {terminals: ["+34910000001"], ring_timeout: 20s, agent: quick, queue: {max_wait: 30min}}
profiles:
  agents:
    quick: {pickup_delay: {fixed: 50ms}, talk_time: {fixed: 30min}}
pbx: {post_dial_delay: {fixed: 10ms}}
callbacks:
  - {at: 0s, service: mortgages, person: prompt}
"""


class TestThePageSaysHowLongTheWaitIs(ServeCase):
    """A queued and a scheduled callback: their status pages are told a place and a wait."""

    scenario_text = ONE_DESK

    async def waits(self, placed: dict, count: int = 1) -> list[dict]:  # type: ignore[type-arg]
        socket = await websocket_connect(self.get_url(
            f"/callbacks/{placed['id']}/{placed['status_token']}/ws").replace("http", "ws"))
        found: list[dict] = []                                            # type: ignore[type-arg]
        while len(found) < count:
            message = json.loads(await socket.read_message())             # type: ignore[arg-type]
            if message.get("type") == "wait":
                found.append(message)
        socket.close()
        return found

    @gen_test(timeout=20)
    async def test_the_second_caller_is_told_their_place_and_wait(self) -> None:
        status, first = await self.call("/api/callbacks", CALL, key=False)
        await self.until(lambda: self.app.switchboard.record(first["id"]).times.get("bridged"))
        status, second = await self.call("/api/callbacks", {**CALL, "phone": "+34612345671"},
                                         key=False)
        await self.until(lambda: self.app.wait_of(second["id"]))
        [wait] = await self.waits(second)
        assert wait["position"] == 1 and wait["seconds"] == 180         # the prior handling time
        assert wait["text"].startswith("You are next in the queue")
        assert self.app.wait_of(first["id"]) is None                    # talking: no wait

    @gen_test(timeout=20)
    async def test_a_scheduled_caller_is_told_when_an_advisor_is_expected(self) -> None:
        status, placed = await self.call("/api/callbacks", {**CALL, "schedule_in": 3600},
                                         key=False)
        [wait] = await self.waits(placed)
        assert wait["position"] is None and 3600 <= wait["seconds"] <= 3630
        assert wait["text"] == "An advisor should be on the line in about 1 hour."


BUSY_LINE = POLICY.replace("slow: {answer_delay: {fixed: 20s}}",
                           "slow: {answer_delay: {fixed: 20s}, busy_probability: 1.0}")


class TestThePageSaysWhenWeTryAgain(ServeCase):
    """The person's line is busy; the policy calls again in 10 minutes: the status page
    and the API say so, and nothing is dialled meanwhile."""

    scenario_text = BUSY_LINE

    @gen_test(timeout=20)
    async def test_a_busy_line_is_told_when_the_next_attempt_comes(self) -> None:
        asked = time.time()
        status, placed = await self.call("/api/callbacks", CALL, key=False)
        assert status == 201
        cid, token = placed["id"], placed["status_token"]
        await self.until(lambda: self.app.switchboard.record(cid).state == "scheduled")
        status, view = await self.call(f"/api/callbacks/{cid}?token={token}", key=False)
        assert view["state"] == "scheduled" and view["outcome"] is None
        due = self.app.switchboard.next_call(cid)
        assert due is not None and asked + 600 <= due <= time.time() + 600
        shown = datetime.fromisoformat(view["next_call"]).timestamp()
        assert 0 <= due - shown < 60                     # said to the minute
        record = self.app.switchboard.record(cid)
        assert [a.outcome for a in record.attempts] == ["person_busy"]
        assert self.emulated.pbx.legs == {}              # nothing dialled until then
        socket = await websocket_connect(self.get_url(f"/callbacks/{cid}/{token}/ws")
                                         .replace("http", "ws"))
        told = {"notice": None}
        for _ in range(5):                               # what the page was told, in order
            told = json.loads(await socket.read_message())   # type: ignore[arg-type]
            if told.get("notice") == "retry_later":
                break
        socket.close()
        assert told["notice"] == "retry_later" and told["at"] == view["next_call"]
        assert told["text"].startswith("We could not reach you. We will try again ")
