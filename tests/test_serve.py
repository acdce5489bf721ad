"""`callback-emu serve`: the web app with the emulated PBX in real time.

The app is built as the command builds it (`emulator.serve.build`) and driven
over loopback HTTP: phones behave as the scenario's profiles say, the desk
phones show the code, no emulated agent types it, the hang-up hook ends the
call, and the records land in a real SQLite file. The command's refusals
(bad scenario, bad --db, a port in use) exit 2 with a message. Without
--demo, agents sign in with the accounts `callback-emu agents` keeps in the
same database (a `serve` process is started to check it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from tornado.httpclient import HTTPRequest
from tornado.testing import AsyncHTTPTestCase, gen_test

from emulator import scenario as sc
from emulator.cli import main
from emulator.models.pbx.sipp import SippPhones, sipp_path
from emulator.drivers.serve import DEFAULT_SCENARIO, build
from reference_impl.records import SqliteRecords
from reference_impl.web import WebApp

from .webfakes import until

KEY = "serve-key"
QUICK = """\
name: quick phones
seed: 5
services:
  mortgages: {centres: [madrid], label: Mortgages}
centres:
  madrid: {terminals: ["+34910000001", "+34910000002"], ring_timeout: 20s, agent: quick}
profiles:
  people:
    caller: {answer_delay: {fixed: 50ms}}
  agents:
    quick: {pickup_delay: {fixed: 50ms}, talk_time: {fixed: 30min},
            code_entry_delay: {fixed: 10ms}}
pbx: {post_dial_delay: {fixed: 10ms}}
callbacks:
  - {at: 0s, service: mortgages, person: caller}
"""
CALL = {"phone": "+34612345678", "name": "Ana", "service": "mortgages", "consent": True}


class ServeCase(AsyncHTTPTestCase):
    scenario_text = QUICK

    def get_app(self) -> WebApp:
        self.folder = Path(tempfile.mkdtemp(prefix="serve-test-"))
        self.tmp = self.folder / "records.sqlite3"
        self.records = SqliteRecords(str(self.tmp))
        scenario = sc.loads(self.scenario_text).scenario
        app, self.emulated = build(scenario, self.records, KEY, phones=self.sip_phones(),
                                   loop=self.io_loop.asyncio_loop)  # type: ignore[attr-defined]
        self.app = app
        return app

    def sip_phones(self) -> SippPhones | None:
        """None: the emulated PBX; SIPp phones: the real SIP PBX calling them."""
        return None

    def tearDown(self) -> None:
        super().tearDown()
        self.records.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    async def call(self, path: str, data: Any = None, key: bool = True) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", **({"X-Agent-Key": KEY} if key else {})}
        request = HTTPRequest(self.get_url(path), method="GET" if data is None else "POST",
                              body=None if data is None else json.dumps(data), headers=headers)
        response = await self.http_client.fetch(request, raise_error=False)
        return response.code, json.loads(response.body or b"null")

    async def until(self, check: Callable[[], Any], seconds: float = 5.0) -> Any:
        return await until(check, seconds)

    def desk(self, state: str) -> Any:
        return next((d for d in self.emulated.desk_phones() if d.state == state), None)


class TestServe(ServeCase):
    @gen_test
    async def test_the_desk_phone_shows_the_code_and_nobody_types_it_for_the_human(self) -> None:
        status, answer = await self.call("/api/callbacks", CALL, key=False)
        assert status == 201
        callback_id = answer["id"]
        talking = await self.until(lambda: self.desk("talking"))
        record = self.app.switchboard.record(callback_id)
        assert record is not None and talking.display == record.code
        assert (talking.number, talking.centre, talking.callback_id) == (
            "+34910000001", "madrid", callback_id)
        assert self.desk("ringing") is None
        await asyncio.sleep(0.3)                   # well past the profile's code_entry_delay
        record = self.app.switchboard.record(callback_id)
        assert record is not None and "code_entered" not in record.times

    @gen_test
    async def test_the_hang_up_hook_ends_the_call_and_the_record_is_in_the_file(self) -> None:
        _, answer = await self.call("/api/callbacks", CALL, key=False)
        callback_id = answer["id"]
        await self.until(lambda: self.app.rooms.of_callback(callback_id))
        assert (await self.call(f"/api/callbacks/{callback_id}/hangup", {}, key=False))[0] == 403
        status, _ = await self.call(f"/api/callbacks/{callback_id}/hangup", {})
        assert status == 202
        await self.until(lambda: callback_id not in self.app.switchboard.live)
        assert self.emulated.pbx.legs == {}        # both legs down, trunks free
        assert all(d.state == "idle" for d in self.emulated.desk_phones())
        reopened = SqliteRecords(str(self.tmp))
        try:
            stored = reopened.get(callback_id)
        finally:
            reopened.close()
        assert stored is not None
        assert (stored.outcome, stored.ended_by, stored.person_number) == (
            "connected", "person", "+34612345678")
        status, _ = await self.call(f"/api/callbacks/{callback_id}/hangup", {})
        assert status == 404                       # nothing left to hang up


@pytest.mark.skipif(sipp_path() is None,
                    reason="SIPp not found: install Debian's sip-tester (make test does it as root)")
class TestServeOverSip(ServeCase):
    """`serve --pbx sip`: the same app on the real SIP PBX, calling SIPp phones."""

    def sip_phones(self) -> SippPhones:
        self.phones = SippPhones().start()
        return self.phones

    def tearDown(self) -> None:
        self.emulated.pbx.stop()                  # type: ignore[attr-defined]
        self.phones.stop()
        super().tearDown()

    @gen_test(timeout=30)
    async def test_a_callback_over_sip_shows_the_code_and_hangs_up(self) -> None:
        _, answer = await self.call("/api/callbacks", CALL, key=False)
        callback_id = answer["id"]
        talking = await self.until(lambda: self.desk("talking"), seconds=15)
        record = self.app.switchboard.record(callback_id)
        assert record is not None and talking.display == record.code
        await self.until(lambda: self.app.rooms.of_callback(callback_id), seconds=10)
        status, _ = await self.call(f"/api/callbacks/{callback_id}/hangup", {})
        assert status == 202
        await self.until(lambda: callback_id not in self.app.switchboard.live, seconds=10)
        pbx = self.emulated.pbx
        await self.until(lambda: pbx.legs_up == 0, seconds=10)  # type: ignore[attr-defined]
        _, view = await self.call(f"/api/callbacks/{callback_id}")
        assert (view["outcome"], view["ended_by"]) == ("connected", "person")
        assert all(d.state == "idle" for d in self.emulated.desk_phones())


class TestServeBusy(ServeCase):
    scenario_text = QUICK.replace("caller: {answer_delay: {fixed: 50ms}}",
                                  "caller: {busy_probability: 1.0}")

    @gen_test
    async def test_a_busy_person_is_told_and_no_desk_phone_rings(self) -> None:
        _, answer = await self.call("/api/callbacks", CALL, key=False)
        callback_id = answer["id"]
        await self.until(lambda: callback_id not in self.app.switchboard.live)
        _, view = await self.call(f"/api/callbacks/{callback_id}")
        assert (view["outcome"], view["notices"]) == ("person_busy", ["calling", "busy"])
        assert view["terminal"] is None


def test_a_bad_scenario_is_refused_with_file_and_key(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(QUICK.replace("ring_timeout: 20s", "ring_timout: 20s"))
    assert main(["serve", "--scenario", str(bad), "--db", str(tmp_path / "x.db")]) == 2
    assert "bad.yaml:6: centres.madrid.ring_timout: unknown key" in capsys.readouterr().err


def test_a_bad_records_url_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--db", "mysql://nowhere/x"]) == 2
    assert "--db" in capsys.readouterr().err


def test_a_port_in_use_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--db", str(tmp_path / "x.db")]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_the_default_scenario_loads() -> None:
    scenario = sc.load(DEFAULT_SCENARIO).scenario
    assert {"mortgages", "insurance"} <= set(scenario.services)


def test_no_request_limits_lifts_the_chat_limit_too(tmp_path: Path) -> None:
    scenario = sc.loads(QUICK).scenario
    records = SqliteRecords(str(tmp_path / "r.sqlite3"))
    loop = asyncio.new_event_loop()
    try:
        limited, _ = build(scenario, records, KEY, loop=loop)
        free, _ = build(scenario, records, KEY, loop=loop, request_limits=False)
        assert limited.web.chat_rate == 1.0 and free.web.chat_rate is None
        assert free.web.callbacks_per_number is None and free.web.callbacks_per_client is None
    finally:
        loop.close()
        records.close()


ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a long enough passphrase"


def start_serve(tmp_path: Path, *options: str) -> Iterator[tuple[str, list[str]]]:
    """`callback-emu serve` on a free port: (its base URL, what it printed)."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(QUICK)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "serve", "--port", str(port), "--scenario",
         str(scenario), "--db", str(tmp_path / "cb.sqlite3"), *options],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    printed = []
    for line in process.stdout:
        printed.append(line)
        if "operations:" in line:
            break
    try:
        yield f"http://127.0.0.1:{port}", printed
    finally:
        process.terminate()
        process.wait(timeout=10)


def status(url: str, headers: dict[str, str]) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_without_demo_mode_agents_sign_in_with_their_accounts(tmp_path: Path) -> None:
    added = subprocess.run([sys.executable, "-m", "emulator.cli", "agents", "add", "ana.garcia",
                            "--password-stdin", "--db", str(tmp_path / "cb.sqlite3")],
                           input=PASSWORD + "\n", capture_output=True, text=True, cwd=ROOT,
                           timeout=60)
    assert added.returncode == 0, added.stderr
    for base, printed in start_serve(tmp_path):
        text = "".join(printed)
        assert "agents sign in with their accounts: 1" in text and "agent key" not in text
        page = urllib.request.urlopen(base + "/agent", timeout=5).read().decode()
        assert 'name="password"' in page and 'name="key"' not in page
        basic = base64.b64encode(f"ana.garcia:{PASSWORD}".encode()).decode()
        assert status(base + "/api/rooms", {"Authorization": f"Basic {basic}"}) == 200
        assert status(base + "/api/rooms", {"X-Agent-Key": "demo"}) == 403


def test_demo_mode_prints_its_key_and_an_empty_database_says_how_to_add_an_agent(
        tmp_path: Path) -> None:
    for base, printed in start_serve(tmp_path, "--demo"):
        line = next(line for line in printed if "/agent" in line)
        key = line.rsplit("agent key: ", 1)[1].rstrip(")\n")
        assert len(key) >= 12
        assert status(base + "/api/rooms", {"X-Agent-Key": key}) == 200
    for _, printed in start_serve(tmp_path):
        assert "accounts: 0; add one: callback-emu agents add NAME --db" in "".join(printed)
