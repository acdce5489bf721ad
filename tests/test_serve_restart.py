"""`serve` killed with SIGKILL while calls dial, ring and talk, then started again on the
same SQLite file: nothing is lost, nothing stays open, no code is given twice; and a
SIGTERM drains. Real processes, real HTTP, real SQLite, the emulated PBX in real time.

Over real SIP too (`serve --pbx sip --phones HOST:PORT`): SIPp phones started by the
test outlive the killed `serve`, and the restarted one hangs their calls up with BYEs
(and cancels the desk phones still ringing with CANCELs) built from the dialogs the
first one kept in the records database.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parents[1]
KEY = "restart-key"
SCENARIO = """\
name: calls in every stage
seed: 3
services:
  talk: {centres: [quick], label: Talk}
  wait: {centres: [slow], label: Wait}
centres:
  quick: {terminals: ["+34910000001", "+34910000002", "+34910000003"], ring_timeout: 60s, agent: quick}
  slow: {terminals: ["+34920000001", "+34920000002"], ring_timeout: 60s, agent: slow}
profiles:
  people:
    caller: {answer_delay: {fixed: 1500ms}}
  agents:
    quick: {pickup_delay: {fixed: 100ms}, talk_time: {fixed: 30min}}
    slow: {pickup_delay: {fixed: 50s}, talk_time: {fixed: 30min}}
pbx: {post_dial_delay: {fixed: 200ms}}
callbacks:
  - {at: 0s, service: talk, person: caller}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """A `callback-emu serve` process on a port of its own (`extra`: more options)."""

    def __init__(self, folder: Path, extra: tuple[str, ...] = ()) -> None:
        self.folder, self.port = folder, free_port()
        self.log = (folder / f"serve-{self.port}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "emulator.cli", "serve", "--scenario", str(folder / "s.yaml"),
             "--db", str(folder / "records.db"), "--port", str(self.port), "--agent-key", KEY,
             *extra],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.get("/api/openapi.json")
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("serve did not start: " + self.output())

    def output(self) -> str:
        self.log.flush()
        return (self.folder / f"serve-{self.port}.log").read_text()

    def request(self, path: str, data: Any = None) -> tuple[int, Any]:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body,
                                         headers={"Content-Type": "application/json",
                                                  "X-Agent-Key": KEY})
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def get(self, path: str) -> Any:
        return self.request(path)[1]

    def as_agent(self, path: str) -> Any:
        """A page's JSON as a signed-in agent sees it (demo mode: the key on the agent page)."""
        import http.cookiejar
        import urllib.parse
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{self.port}"
        opener.open(f"{base}/agent", timeout=10).read()
        xsrf = next(c.value for c in jar if c.name == "_xsrf")
        body = urllib.parse.urlencode({"key": KEY, "_xsrf": xsrf}).encode()
        opener.open(f"{base}/agent", data=body, timeout=10).read()
        with opener.open(f"{base}{path}", timeout=10) as answer:
            return json.loads(answer.read())

    def call(self, service: str, phone: str) -> str:
        status, answer = self.request("/api/callbacks", {"phone": phone, "name": "Ana",
                                                         "service": service, "consent": True})
        assert status == 201, answer
        return str(answer["id"])


def records(folder: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(folder / "records.db") as db:
        db.row_factory = sqlite3.Row
        return {row["id"]: dict(row) for row in db.execute("SELECT * FROM callbacks")}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "s.yaml").write_text(SCENARIO)
    return tmp_path


def test_a_kill_9_loses_nothing_and_a_restart_finishes_everything(folder: Path) -> None:
    first = Serve(folder)
    talking = [first.call("talk", f"+3461234560{n}") for n in range(2)]
    ringing = [first.call("wait", f"+3461234570{n}") for n in range(2)]
    time.sleep(3.0)                           # answered: bridged, or the desk phone rings
    dialling = [first.call("talk", f"+3461234580{n}") for n in range(2)]
    acknowledged = set(talking + ringing + dialling)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    left = records(folder)
    assert acknowledged <= set(left), "an acknowledged request is not in the records"
    states = {cid: left[cid]["state"] for cid in acknowledged}
    assert {states[c] for c in talking} == {"connected"}
    assert {states[c] for c in ringing} <= {"agent_ringing", "dialling_agent"}
    assert all(states[c] != "ended" for c in acknowledged)
    codes = [left[c]["code"] for c in talking + ringing]
    assert len(set(codes)) == len(codes)

    second = Serve(folder)
    after = records(folder)
    under_way = talking + ringing
    assert {after[c]["outcome"] for c in under_way} == {"system_restart"}
    assert all(after[c]["state"] == "ended" for c in under_way)
    for cid in dialling:                      # dialled before the kill: ended; never: dialled now
        assert after[cid]["outcome"] == "system_restart" or after[cid]["state"] != "idle"
    assert len(after) == len(left)            # nothing lost, nothing made up
    ops = second.as_agent("/ops.json")
    assert {r["callback"] for r in ops["reconciled"]} == acknowledged & {
        c for c in acknowledged if left[c]["state"] != "ended"}
    new = second.call("talk", "+34612345699")
    time.sleep(2.5)
    live = [r for r in records(folder).values() if r["state"] == "connected"]
    assert any(r["id"] == new for r in live)
    codes = [r["code"] for r in live]
    assert len(codes) == len(set(codes)), "a code is held twice"
    second.process.send_signal(signal.SIGKILL)
    second.process.wait(10)


def closing_code(url: str) -> Callable[[], int | None]:
    """Open a page's websocket in a thread of its own; the returned function waits for the
    socket to end and gives the close code the server sent (None: dropped without one)."""
    import asyncio
    import threading

    from tornado.websocket import websocket_connect

    found: dict[str, int | None] = {}

    async def listen() -> None:
        socket = await websocket_connect(url)
        while await socket.read_message() is not None:
            pass
        found["code"] = socket.close_code

    thread = threading.Thread(target=lambda: asyncio.run(listen()), daemon=True)
    thread.start()

    def code() -> int | None:
        thread.join(30)
        return found.get("code")
    return code


def test_sigterm_drains_refuses_new_requests_and_closes_every_record(folder: Path) -> None:
    serve = Serve(folder, ("--drain-grace", "3s"))
    status, placed = serve.request("/api/callbacks", {"phone": "+34612345601", "name": "Ana",
                                                      "service": "talk", "consent": True})
    assert status == 201, placed
    talking = placed["id"]
    page = closing_code(f"ws://127.0.0.1:{serve.port}/callbacks/{talking}/"
                        f"{placed['status_token']}/ws")
    time.sleep(2.5)
    assert records(folder)[talking]["room"], "the call has a room to delete"
    started = time.monotonic()
    serve.process.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    try:
        status, answer = serve.request("/api/callbacks", {"phone": "+34612345602", "name": "B",
                                                          "service": "talk", "consent": True})
    except OSError:
        status = 503                          # already gone: refused all the same
    assert status == 503
    assert serve.process.wait(40) == 0
    assert 3.0 <= time.monotonic() - started < 18    # the grace, then the polite end
    stored = records(folder)
    assert stored[talking]["state"] == "ended" and stored[talking]["outcome"] == "system_restart"
    assert all(r["state"] in ("ended", "idle") for r in stored.values())
    assert page() == 1001                     # the page was told, with a close frame
    assert "1 page(s) told, 0 room(s) left open" in serve.output()


# -- over real SIP: phones that outlive serve ------------------------------------------

SIP_SCENARIO = """\
name: long talks over SIP
seed: 4
services:
  talk: {centres: [quick], label: Talk}
  wait: {centres: [slow], label: Wait}
centres:
  quick: {terminals: ["+34910000001", "+34910000002", "+34910000003", "+34910000004"], ring_timeout: 30s, agent: quick}
  slow: {terminals: ["+34920000001", "+34920000002"], ring_timeout: 60s, agent: slow}
profiles:
  people:
    caller: {answer_delay: {fixed: 300ms}, talk_time: {fixed: 30min}}
  agents:
    quick: {pickup_delay: {fixed: 200ms}, talk_time: {fixed: 30min}}
    slow: {pickup_delay: {fixed: 50s}, talk_time: {fixed: 30min}}
callbacks:
  - {at: 0s, service: talk, person: caller}
"""


def wait_until(what: str, condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def test_a_kill_9_over_sip_leaves_no_phone_in_a_call(tmp_path: Path) -> None:
    from emulator.models.pbx.sipp import SippPhones, sipp_path

    if sipp_path() is None:
        pytest.skip("SIPp not found (Debian package sip-tester)")
    (tmp_path / "s.yaml").write_text(SIP_SCENARIO)
    with SippPhones() as phones:               # ours: they outlive both serve processes
        sip = ("--pbx", "sip", "--phones", f"{phones.host}:{phones.port}")
        first = Serve(tmp_path, sip)
        talking = [first.call("talk", f"+3461234560{n}") for n in range(3)]
        ringing = [first.call("wait", f"+3461234570{n}") for n in range(2)]
        wait_until("the calls to be connected and the desk phones ringing", lambda: all(
            r.get("state") == want for cs, want in ((talking, "connected"),
                                                    (ringing, "agent_ringing"))
            for r in (records(tmp_path).get(c, {}) for c in cs)), 20)
        # Each leg's dialog is in the database: early while it rings, then confirmed.
        stored = lambda: dialogs(tmp_path)          # noqa: E731
        wait_until("the dialogs to be stored", lambda: len(stored()) == 2 * len(talking + ringing)
                   and sum('"branch":""' not in text for text in stored().values()) == 2, 10)
        wait_until("the phones to count the calls", lambda: phones.counts().current == 10, 10)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        time.sleep(1.5)
        assert phones.counts().current == 10, "the phones hung up without a BYE"
        talking += ringing
        second = Serve(tmp_path, sip)
        try:
            after = records(tmp_path)
            assert {after[c]["outcome"] for c in talking} == {"system_restart"}
            assert all(after[c]["state"] == "ended" for c in talking)
            assert dialogs(tmp_path) == {}, "reconciled dialogs stay stored"
            ops = second.as_agent("/ops.json")
            reconciled = {r["callback"]: r for r in ops["reconciled"]}
            assert set(reconciled) == set(talking)
            for entry in reconciled.values():
                assert entry["action"] == "ended"
                assert entry["legs_hung_up"] == 2
                assert entry["legs_answered"] == entry["legs_hung_up"], entry
            assert "after a restart: 5 ended" in second.output()
            wait_until("the phones to end every call",
                       lambda: phones.counts().current == 0, 10)
            counts = phones.counts()
            assert counts.failed == 0, phones.errors()
            assert counts.successful == 10
        finally:
            second.process.send_signal(signal.SIGKILL)
            second.process.wait(10)


def dialogs(folder: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(folder / "records.db") as db:
        return {(cid, leg): state
                for cid, leg, state in db.execute("SELECT callback_id, leg, state FROM dialogs")}
