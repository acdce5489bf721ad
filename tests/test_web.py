"""The web app over real HTTP and websockets on loopback, with real SQLite records.

Telephony is a scripted fake (tests/webfakes.py: every phone answers at once),
so these tests are about the app: the form and its validation, the API and
its 400s, the live status page, the room server (join, chat, documents,
signalling, deletion), and the safety rules (xsrf, escaping, upload limits,
agents' accounts and sessions, rate-limited codes, tokens kept out of the
logs). Agents sign in with an account in the records' own SQLite file; one
class runs demo mode's shared key. Bad input must neither crash the server nor
leave a record behind. (Bounded input: tests/test_web_input.py; phone numbers:
tests/test_numbers.py; accounts and their limits: tests/test_accounts.py.)
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import shutil
import tempfile
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Callable

from argon2 import PasswordHasher
from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import AsyncHTTPSTestCase, AsyncHTTPTestCase, gen_test
from tornado.websocket import WebSocketClientConnection, websocket_connect

from reference_impl.accounts import AgentAccounts, open_accounts
from reference_impl.codes import CodePool
from reference_impl.flow import FailReason
from reference_impl.records import SqliteRecords
from reference_impl.web import WebApp, WebSettings, make_app, web_runtime
from reference_impl.web.limits import CodeLimits, RequestLimits

from .webfakes import AnsweringPhones, directory, until

KEY = "agent-secret"                       # demo mode's shared key (TestDemoMode)
AGENT, PASSWORD = "ana.garcia", "a long enough passphrase"
# The tests' accounts hash fast; tests/test_accounts.py uses argon2's defaults.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PNG = (Path(__file__).resolve().parent.parent / "reference_impl" / "web" / "static" / "catalogue"
       / "mortgages" / "rates.png").read_bytes()
GOOD = {"phone": "+34 612 345 678", "name": "Ana", "service": "mortgages", "consent": True}


class WebCase(AsyncHTTPTestCase):
    demo = False                          # True: demo mode's shared key instead of accounts

    def get_app(self) -> WebApp:
        self.folder = Path(tempfile.mkdtemp(prefix="web-test-"))
        db = str(self.folder / "records.sqlite3")
        self.records = SqliteRecords(db)
        self.accounts: AgentAccounts = open_accounts(db, FAST)       # the same database
        self.accounts.add(AGENT, PASSWORD)
        self.directory = directory()
        self.runtime = web_runtime(directory=self.directory, codes=CodePool(),
                                   telephony=AnsweringPhones, records=self.records,
                                   loop=self.io_loop.asyncio_loop)  # type: ignore[attr-defined]
        self.phones: AnsweringPhones = self.runtime.telephony  # type: ignore[assignment]
        self.settings = self.web_settings(
            agent_keys=frozenset({KEY}) if self.demo else frozenset(),
            accounts=None if self.demo else self.accounts, upload_max_bytes=64 * 1024,
            code_attempts=3, code_window=60.0, hangup=self.phones.person_hangs_up)
        return make_app(self.runtime, self.directory, self.records, self.settings)

    def web_settings(self, **values: Any) -> WebSettings:
        return WebSettings(**values)

    def get_http_server(self) -> HTTPServer:
        """The app's own server: its timeouts, header limit and connection cap."""
        return self._app.http_server()    # type: ignore[attr-defined]

    def setUp(self) -> None:
        super().setUp()
        self.cookies: dict[str, str] = {}

    def tearDown(self) -> None:
        super().tearDown()
        self.accounts.close()
        self.records.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- a small browser: cookies, xsrf, forms -------------------------------

    async def go(self, path: str, method: str = "GET", body: bytes | str | None = None,
                 headers: dict[str, str] | None = None) -> HTTPResponse:
        all_headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                       **(headers or {})}
        request = HTTPRequest(self.get_url(path), method=method, body=body, headers=all_headers,
                              follow_redirects=False)
        try:
            response = await self.http_client.fetch(request, raise_error=False)
        except HTTPClientError as error:          # pragma: no cover - raise_error=False
            assert error.response is not None
            response = error.response
        for header in response.headers.get_list("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    async def xsrf(self, page: str = "/") -> str:
        response = await self.go(page)
        found = re.search(r'name="_xsrf" value="([^"]+)"', response.body.decode())
        assert found, "the page has no xsrf field"
        return found.group(1)

    async def post_form(self, path: str, fields: dict[str, str], page: str = "/") -> HTTPResponse:
        token = await self.xsrf(page)
        body = urllib.parse.urlencode({**fields, "_xsrf": token})
        return await self.go(path, "POST", body)

    async def api(self, path: str, data: Any = None, raw: bytes | None = None,
                  content_type: str = "application/json", key: bool = False) -> tuple[int, Any]:
        headers = {"Content-Type": content_type, **(self.credentials() if key else {})}
        body = raw if raw is not None else (None if data is None else json.dumps(data))
        response = await self.go(path, "POST" if body is not None else "GET", body, headers)
        return response.code, json.loads(response.body or b"null")

    def credentials(self, password: str = PASSWORD) -> dict[str, str]:
        """An agent's API credential: demo mode's key, or HTTP Basic."""
        if self.demo:
            return {"X-Agent-Key": KEY}
        basic = base64.b64encode(f"{AGENT}:{password}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}

    def sign_in_fields(self) -> dict[str, str]:
        return {"key": KEY} if self.demo else {"name": AGENT, "password": PASSWORD}

    async def socket(self, path: str) -> WebSocketClientConnection:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        url = self.get_url(path).replace("http://", "ws://")
        return await websocket_connect(HTTPRequest(url, headers={"Cookie": cookie}))

    async def until(self, check: Callable[[], Any], seconds: float = 3.0) -> Any:
        return await until(check, seconds)

    async def connected_call(self) -> tuple[str, str]:
        """A callback through to its open room: (callback id, code)."""
        status, answer = await self.api("/api/callbacks", GOOD)
        assert status == 201
        callback_id = answer["id"]
        await self.until(lambda: self.runtime.rooms.of_callback(callback_id))  # type: ignore[attr-defined]
        record = self.runtime.switchboard.record(callback_id)
        assert record is not None and record.code
        return callback_id, record.code


def status_id(location: str) -> str:
    """The callback id of a status page link, /callbacks/{id}/{token}."""
    return location.split("/")[2]


async def next_message(ws: WebSocketClientConnection, kind: str | None = None,
                       seconds: float = 3.0) -> dict[str, Any]:
    """The next message (of `kind`, skipping others)."""
    while True:
        raw = await asyncio.wait_for(ws.read_message(), seconds)
        assert raw is not None, "the socket closed"
        message: dict[str, Any] = json.loads(raw)
        if kind is None or message.get("type", message.get("notice")) == kind:
            return message


def test_the_web_package_keeps_no_mutable_state_at_module_level() -> None:
    """Two apps in one process share nothing: every module global is immutable."""
    import importlib
    import pkgutil
    import reference_impl.web as web

    mutable = (dict, list, set, bytearray)
    found = []
    for info in pkgutil.iter_modules(web.__path__):
        module = importlib.import_module(f"reference_impl.web.{info.name}")
        found += [f"{info.name}.{name}" for name, value in vars(module).items()
                  if not name.startswith("__") and isinstance(value, mutable)]
    assert found == []


def test_each_service_has_its_own_catalogue_and_the_shared_files() -> None:
    from reference_impl.web.documents import Catalogue
    from reference_impl.web.settings import HERE, UPLOAD_TYPES

    catalogue = Catalogue(HERE / "static" / "catalogue", UPLOAD_TYPES)
    assert catalogue.names("mortgages") == ["checklist.txt", "rates.png", "terms.pdf"]
    assert catalogue.names("insurance") == ["checklist.txt", "cover.png", "terms.pdf"]
    assert catalogue.names("../web") == catalogue.names("nothing") == ["checklist.txt", "terms.pdf"]
    assert catalogue.load("rates.png", "insurance") is None
    loaded = catalogue.load("rates.png", "mortgages")
    assert loaded is not None and loaded.data == PNG and loaded.is_image


class TestForm(WebCase):
    @gen_test
    async def test_the_form_lists_the_directory_services_with_an_xsrf_field(self) -> None:
        page = (await self.go("/")).body.decode()
        assert 'value="mortgages"' in page and ">Insurance<" in page
        assert 'name="_xsrf"' in page

    @gen_test
    async def test_a_post_without_the_xsrf_token_is_refused(self) -> None:
        body = urllib.parse.urlencode({"phone": "+34612345678", "name": "A",
                                       "service": "mortgages", "consent": "yes"})
        response = await self.go("/", "POST", body)
        assert response.code == 403
        assert len(self.records) == 0 and not self.runtime.switchboard.live

    @gen_test
    async def test_a_bad_number_gets_a_clear_message_and_no_callback(self) -> None:
        response = await self.post_form("/", {"phone": "12 34", "name": "Ana",
                                              "service": "mortgages", "consent": "yes"})
        page = response.body.decode()
        assert response.code == 400
        assert "cannot be called" in page or "does not look like a phone number" in page
        assert 'value="12 34"' in page and 'aria-invalid="true"' in page   # kept, marked
        assert len(self.records) == 0

    @gen_test
    async def test_consent_is_required(self) -> None:
        response = await self.post_form("/", {"phone": "+34612345678", "name": "Ana",
                                              "service": "mortgages"})
        assert response.code == 400 and "agree" in response.body.decode()

    @gen_test
    async def test_a_good_form_starts_a_callback_stored_in_e164(self) -> None:
        response = await self.post_form("/", {"phone": "612 34 56 78", "name": "Ana",
                                              "service": "insurance", "consent": "yes"})
        assert response.code == 303
        location = response.headers["Location"]
        callback_id, token = location.split("/")[2:]
        assert len(callback_id) >= 16 and len(token) >= 24   # the token opens the status page
        assert token == self._app.status_token(callback_id)  # type: ignore[attr-defined]
        assert (await self.go(location)).code == 200
        assert (await self.go(f"/callbacks/{callback_id}")).code == 404     # no token: gone
        assert (await self.go(f"/callbacks/{callback_id}/{'A' * 24}")).code == 404
        stored = self.records.get(callback_id)
        assert stored is not None and stored.person_number == "+34612345678"
        assert stored.form == {"service": "insurance", "name": "Ana", "consent": "yes"}

    @gen_test
    async def test_names_are_escaped_on_the_status_page(self) -> None:
        response = await self.post_form("/", {"phone": "+34612345678",
                                              "name": "<script>alert(1)</script>",
                                              "service": "mortgages", "consent": "yes"})
        page = (await self.go(response.headers["Location"])).body.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<script>alert(1)</script>" not in page

    @gen_test
    async def test_pages_carry_safety_headers(self) -> None:
        headers = (await self.go("/")).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


class TestApi(WebCase):
    @gen_test
    async def test_a_bad_body_gets_a_400_naming_the_field(self) -> None:
        cases: list[tuple[Any, str]] = [
            ({**GOOD, "phone": "not a number"}, "phone"),
            ({k: v for k, v in GOOD.items() if k != "phone"}, "phone"),
            ({**GOOD, "phone": 612345678}, "phone"),
            ({**GOOD, "name": ["Ana"]}, "name"),
            ({**GOOD, "name": "x" * 101}, "name"),
            ({**GOOD, "name": "\x00\x07"}, "name"),
            ({**GOOD, "service": "cars"}, "service"),
            ({**GOOD, "service": {"$ne": 1}}, "service"),
            ({**GOOD, "consent": False}, "consent"),
            ([GOOD], "body"),
            ("just text", "body"),
        ]
        for body, field in cases:
            status, answer = await self.api("/api/callbacks", body)
            assert (status, answer["field"]) == (400, field), body
            assert answer["error"]
        status, answer = await self.api("/api/callbacks", raw=b"{not json")
        assert (status, answer["field"]) == (400, "body")
        status, answer = await self.api("/api/callbacks", raw=b"\xff\xfe", content_type="application/json")
        assert (status, answer["field"]) == (400, "body")
        status, answer = await self.api("/api/callbacks", raw=b"phone=1", content_type="text/plain")
        assert (status, answer["field"]) == (415, "body")
        assert len(self.records) == 0 and not self.runtime.switchboard.live
        assert (await self.go("/")).code == 200        # still serving

    @gen_test
    async def test_a_callback_through_the_api_reaches_its_room(self) -> None:
        status, answer = await self.api("/api/callbacks", GOOD)
        assert status == 201 and answer["phone"] == "+34612345678"
        callback_id = answer["id"]
        await self.until(lambda: self.runtime.rooms.of_callback(callback_id))  # type: ignore[attr-defined]
        assert answer["status_api"] == f"/api/callbacks/{callback_id}?token={answer['status_token']}"
        status, view = await self.api(answer["status_api"])
        assert status == 200
        assert (view["state"], view["room"], view["code"]) == ("connected", True, "1000")
        assert view["notices"] == ["calling", "connecting", "connected", "room_ready"]
        assert view["phone"] == "+346•••••678"              # masked, as operators see it
        headers = {"X-Status-Token": answer["status_token"]}
        assert (await self.go(f"/api/callbacks/{callback_id}", headers=headers)).code == 200
        status, refused = await self.api(f"/api/callbacks/{callback_id}")   # the id alone
        assert (status, refused["field"]) == (404, "id")
        status, _ = await self.api(f"/api/callbacks/{callback_id}?token={'x' * 24}")
        assert status == 404
        status, view = await self.api(f"/api/callbacks/{callback_id}", key=True)  # an agent
        assert status == 200 and view["phone"] == "+346•••••678"
        stored = self.records.get(callback_id)      # saved at every step, for live pages
        assert stored is not None and stored.state == "connected"

    @gen_test
    async def test_unknown_callbacks_are_404_json(self) -> None:
        status, answer = await self.api("/api/callbacks/nope")
        assert status == 404 and answer["field"] == "id"

    @gen_test
    async def test_rooms_need_agent_credentials(self) -> None:
        _, code = await self.connected_call()
        status, _ = await self.api("/api/rooms")
        assert status == 403
        response = await self.go("/api/rooms", headers=self.credentials("not the password"))
        assert response.code == 403 and json.loads(response.body)["error"]
        for header in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer x"):
            assert (await self.go("/api/rooms", headers={"Authorization": header})).code == 403
        status, answer = await self.api("/api/rooms", key=True)
        assert status == 200 and answer["codes_in_use"] == [code]
        assert [room["code"] for room in answer["rooms"]] == [code]
        assert answer["rooms"][0]["agent"] is None           # no agent has joined yet

    @gen_test
    async def test_one_number_is_called_back_at_most_three_times_in_ten_minutes(self) -> None:
        now = [1000.0]
        self._app.requests = RequestLimits(3, 600.0, None, 60.0, clock=lambda: now[0])
        for _ in range(3):
            status, _ = await self.api("/api/callbacks", GOOD)
            assert status == 201
        before = len(self.records)
        headers = {"Content-Type": "application/json"}
        response = await self.go("/api/callbacks", "POST", json.dumps(GOOD), headers)
        answer = json.loads(response.body)
        assert (response.code, answer["field"]) == (429, "phone")
        assert "10 minutes" in answer["error"] and response.headers["Retry-After"] == "600"
        assert len(self.records) == before                 # nothing was started
        status, _ = await self.api("/api/callbacks", {**GOOD, "phone": "+34 699 000 111"})
        assert status == 201                               # another number is not held back
        now[0] += 600.0
        status, _ = await self.api("/api/callbacks", GOOD)
        assert status == 201                               # the window has moved on

    @gen_test
    async def test_one_address_cannot_flood_the_form(self) -> None:
        self._app.requests = RequestLimits(None, 600.0, 2, 60.0)
        for n in range(2):
            response = await self.post_form("/", {**GOOD, "phone": f"+3469900011{n}",
                                                  "consent": "yes"})
            assert response.code == 303
        response = await self.post_form("/", {**GOOD, "phone": "+34699000119", "consent": "yes"})
        page = response.body.decode()
        assert response.code == 429 and "too many callback requests from this address" in page
        assert "+34699000119" in page                      # what was typed is kept
        assert response.headers["Retry-After"] in {"60", "61"}

    @gen_test
    async def test_the_openapi_description_lists_the_endpoints(self) -> None:
        status, spec = await self.api("/api/openapi.json")
        assert status == 200 and spec["openapi"].startswith("3.")
        assert set(spec["paths"]) == {"/api/callbacks", "/api/callbacks/{id}", "/api/rooms",
                                      "/api/callbacks/{id}/hangup"}
        responses = {(path, method): set(operation["responses"])
                     for path, item in spec["paths"].items() for method, operation in item.items()}
        assert responses == {
            ("/api/callbacks", "post"): {"200", "201", "400", "413", "415", "429", "500", "503"},
            ("/api/callbacks/{id}", "get"): {"200", "403", "404", "429", "500"},
            ("/api/callbacks/{id}", "delete"): {"200", "404", "500"},
            ("/api/callbacks/{id}", "patch"): {"200", "400", "404", "409", "413", "415", "500"},
            ("/api/rooms", "get"): {"200", "403", "429", "500"},
            ("/api/callbacks/{id}/hangup", "post"): {"202", "403", "404", "429", "500"}}
        schemes = spec["components"]["securitySchemes"]
        assert {"agentSession", "agentLogin", "agentKey", "statusToken"} <= set(schemes)
        assert schemes["agentLogin"] == {"type": "http", "scheme": "basic",
                                         "description": "an agent account's name and password"}
        created = spec["paths"]["/api/callbacks"]["post"]["responses"]["201"]
        assert {"status_token", "status_api"} <= set(
            created["content"]["application/json"]["schema"]["properties"])
        body = spec["paths"]["/api/callbacks"]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"]["required"] == [
            "phone", "name", "service", "consent"]


class TestStatusPage(WebCase):
    @gen_test
    async def test_notices_arrive_live_and_the_room_link_is_unguessable(self) -> None:
        _, answer = await self.api("/api/callbacks", GOOD)
        ws = await self.socket(answer["status_socket"])
        seen = []
        while "room_ready" not in seen:
            seen.append((await next_message(ws))["notice"])
        assert seen == ["calling", "connecting", "connected", "room_ready"]
        room = self.runtime.rooms.of_callback(answer["id"])  # type: ignore[attr-defined]
        ws2 = await self.socket(answer["status_socket"])     # a late page gets the story so far
        history = [await next_message(ws2) for _ in range(4)]
        assert history[-1]["room_url"] == f"/room/{room.person_token}"
        assert len(room.person_token) >= 32
        assert (await self.go(history[-1]["room_url"])).code == 200
        assert (await self.go("/room/" + "A" * 32)).code == 404

    @gen_test
    async def test_a_status_socket_without_the_right_token_is_closed(self) -> None:
        _, answer = await self.api("/api/callbacks", GOOD)
        for path in ("/callbacks/nobody/" + "A" * 24 + "/ws",
                     f"/callbacks/{answer['id']}/{'A' * 24}/ws"):
            ws = await self.socket(path)
            assert await asyncio.wait_for(ws.read_message(), 3) is None
            assert ws.close_code == 1000

    @gen_test
    async def test_a_busy_line_is_told_plainly(self) -> None:
        self.phones.fail["+34612345678"] = FailReason.BUSY
        _, answer = await self.api("/api/callbacks", GOOD)
        ws = await self.socket(answer["status_socket"])
        message = await next_message(ws, "busy")
        assert message["text"] == "We could not reach you: the line was busy."
        assert message["final"] is True


class TestAgentAndRoom(WebCase):
    async def sign_in_and_enter(self, code: str) -> HTTPResponse:
        return await self.post_form("/agent", {**self.sign_in_fields(), "code": code},
                                    page="/agent")

    @gen_test
    async def test_a_wrong_password_opens_nothing(self) -> None:
        _, code = await self.connected_call()
        for name, password in ((AGENT, "guess guess guess"), ("nobody-here", PASSWORD),
                               ("", ""), ("x", "y")):
            response = await self.post_form("/agent", {"name": name, "password": password,
                                                       "code": code}, page="/agent")
            page = response.body.decode()
            assert response.code == 403 and "That name or password is not right." in page
        assert "agent" not in self.cookies
        status, _ = await self.api("/api/rooms")
        assert status == 403
        assert self.runtime.switchboard.accepts_code(code)       # nobody took the code

    @gen_test
    async def test_the_page_asks_for_a_name_and_password_not_a_key(self) -> None:
        page = (await self.go("/agent")).body.decode()
        assert 'name="name"' in page and 'name="password"' in page and 'name="key"' not in page
        response = await self.post_form("/agent", {"key": KEY, "code": ""}, page="/agent")
        assert response.code == 403                          # no shared key outside demo mode
        response = await self.go("/api/rooms", headers={"X-Agent-Key": KEY})
        assert response.code == 403

    @gen_test
    async def test_the_session_cookie_names_a_session_that_sign_out_revokes(self) -> None:
        response = await self.post_form("/agent", {**self.sign_in_fields(), "code": ""},
                                         page="/agent")
        assert response.code == 303
        (header,) = [h for h in response.headers.get_list("Set-Cookie") if h.startswith("agent=")]
        morsel = SimpleCookie(header)["agent"]
        assert morsel["httponly"] and morsel["samesite"] == "Strict"
        assert not morsel["secure"]                          # plain HTTP: see TestTls
        assert morsel.value != "1" and len(morsel.value) >= 40
        me = "demo" if self.demo else AGENT
        signin = self._app.signin  # type: ignore[attr-defined]
        assert signin.session_agent(morsel.value) == me             # the record names her
        if not self.demo:
            assert self.accounts.session_agent(morsel.value) == AGENT   # in the database
        page = (await self.go("/agent")).body.decode()
        assert f"Signed in as {me}" in page
        assert (await self.go("/agent/desks.json")).code == 200
        old = dict(self.cookies)
        token = await self.xsrf("/agent")
        response = await self.go("/agent/logout", "POST", urllib.parse.urlencode({"_xsrf": token}))
        assert response.code == 303
        self.cookies = old                                    # the old cookie, kept by a thief
        assert (await self.go("/agent/desks.json")).code == 403
        assert (await self.go("/ops")).code == 302
        assert (await self.go("/api/rooms")).code == 403
        assert signin.session_agent(morsel.value) is None

    @gen_test
    async def test_a_removed_agent_is_signed_out_at_once(self) -> None:
        assert (await self.post_form("/agent", {**self.sign_in_fields(), "code": ""},
                                     page="/agent")).code == 303
        assert (await self.go("/agent/desks.json")).code == 200
        self.accounts.remove(AGENT)
        assert (await self.go("/agent/desks.json")).code == 403

    @gen_test
    async def test_wrong_codes_are_rate_limited(self) -> None:
        _, code = await self.connected_call()
        for wrong in ("9991", "9992", "9993"):
            assert (await self.sign_in_and_enter(wrong)).code == 403
        response = await self.sign_in_and_enter(code)      # even the right one, for now
        assert response.code == 429 and "Too many" in response.body.decode()
        assert response.headers["Retry-After"] in {"60", "59"}

    @gen_test
    async def test_one_agents_wrong_codes_do_not_hold_back_another_behind_the_same_address(
            self) -> None:
        self.accounts.add("bob.lopez", "another long passphrase")
        _, code = await self.connected_call()
        for wrong in ("9991", "9992", "9993"):
            assert (await self.sign_in_and_enter(wrong)).code == 403
        assert (await self.sign_in_and_enter(code)).code == 429
        self.cookies = {}                                    # Bob, at the next desk
        response = await self.post_form("/agent", {"name": "bob.lopez", "code": code,
                                                   "password": "another long passphrase"},
                                        page="/agent")
        assert response.code == 303 and response.headers["Location"].startswith("/agent/room/")

    @gen_test
    async def test_the_whole_room_chat_documents_signalling_and_hang_up(self) -> None:
        callback_id, code = await self.connected_call()
        room = self.runtime.rooms.of_callback(callback_id)  # type: ignore[attr-defined]
        person = await self.socket(f"/room/{room.person_token}/ws")
        assert (await next_message(person, "joined"))["role"] == "person"

        response = await self.sign_in_and_enter(code)
        assert response.code == 303
        ticket_path = response.headers["Location"]
        assert (await self.go(ticket_path)).code == 200
        agent = await self.socket(ticket_path + "/ws")
        joined = await next_message(agent, "joined")
        assert joined["present"] == ["person", "agent"]
        assert (await next_message(person, "peer")) == {"type": "peer", "role": "agent",
                                                        "present": True}
        _, rooms = await self.api("/api/rooms", key=True)
        assert rooms["rooms"][0]["agent"] == (AGENT if not self.demo else "demo")
        ops = json.loads((await self.go("/ops.json")).body)
        assert ops["rooms"][0]["agent"] == ops["callbacks"][0]["agent"] == rooms["rooms"][0]["agent"]
        stored = self.runtime.switchboard.record(callback_id)
        assert stored is not None and {"person_in_room", "agent_in_room"} <= set(stored.times)

        # Signalling is relayed as is, to the other page only.
        agent.write_message(json.dumps({"type": "signal", "data": {"sdp": {"type": "offer",
                                                                           "sdp": "v=0"}}}))
        assert (await next_message(person, "signal"))["data"]["sdp"]["type"] == "offer"

        # Chat: to both pages, text kept as typed (markup included), control characters dropped.
        person.write_message(json.dumps({"type": "chat", "text": "<b>hi</b>\x00\x1b there"}))
        for ws in (person, agent):
            message = await next_message(ws, "chat")
            assert (message["from"], message["name"], message["text"]) == (
                "person", "Ana", "<b>hi</b> there")
        # Objects of the wrong shape are ignored (anything worse closes: test_web_input.py).
        for junk in (json.dumps({"type": "chat", "text": 5}), json.dumps({"type": "nothing"}),
                     json.dumps({"type": "push", "name": "../../../etc/passwd"}),
                     json.dumps({"type": "signal", "data": "x"})):
            person.write_message(junk)
            agent.write_message(junk)

        # A document from the catalogue, then an upload; the person sees both and can fetch them.
        # Another service's documents are not this call's to share.
        agent.write_message(json.dumps({"type": "push", "name": "cover.png"}))
        agent.write_message(json.dumps({"type": "push", "name": "rates.png"}))
        shown = await next_message(person, "document")
        assert (shown["name"], shown["kind"]) == ("rates.png", "image")
        image = await self.go(f"/room/{room.person_token}/doc/{shown['id']}")
        assert image.code == 200 and image.body == PNG
        assert image.headers["Content-Type"] == "image/png"
        status = await self.upload(ticket_path, "terms.pdf", b"%PDF-1.4 tiny")
        assert status == 201
        shown = await next_message(person, "document")
        pdf = await self.go(f"/room/{room.person_token}/doc/{shown['id']}")
        assert pdf.headers["Content-Disposition"].startswith("attachment")

        # The person hangs up: both pages are told, the room and code are gone.
        assert self.phones.person_hangs_up(callback_id)
        for ws in (person, agent):
            assert (await next_message(ws, "closed"))["reason"]
            assert await ws.read_message() is None          # and the server closes it
        status, rooms = await self.api("/api/rooms", key=True)
        assert rooms == {"rooms": [], "codes_in_use": [], "codes_free": 9000}
        assert (await self.go(ticket_path)).code == 404       # the ticket opens nothing now
        assert (await self.go(f"/room/{room.person_token}")).code == 404
        record = self.records.get(callback_id)
        assert record is not None and (record.outcome, record.ended_by) == ("connected", "person")
        assert record.agent == (AGENT if not self.demo else "demo")     # who joined, kept

    @gen_test
    async def test_a_code_typed_before_the_room_opens_waits_for_it(self) -> None:
        self.phones.hold_bridge = True                  # the agent answered; not bridged yet
        _, answer = await self.api("/api/callbacks", GOOD)
        callback_id = answer["id"]
        await self.until(lambda: callback_id in self.phones.held)
        record = self.runtime.switchboard.record(callback_id)
        assert record is not None and record.code
        ticket_path = (await self.sign_in_and_enter(record.code)).headers["Location"]
        agent = await self.socket(ticket_path + "/ws")
        assert (await next_message(agent))["type"] == "waiting"
        self.phones.release_bridge(callback_id)        # bridged: the room opens, both admitted
        joined = await next_message(agent, "joined")
        assert joined["role"] == "agent" and joined["present"] == ["agent"]

    @gen_test
    async def test_a_ringing_code_is_answered_as_a_wrong_one_and_counted(self) -> None:
        """No oracle for live codes: a code whose desk phone rings gets what a wrong code
        gets, status and text, and both count towards the limit."""
        self.phones.ring_only.add("+34910000001")
        _, answer = await self.api("/api/callbacks", GOOD)
        code = await self.until(lambda: self.runtime.switchboard.codes.owner("1000") and "1000")
        ringing = await self.sign_in_and_enter(code)
        wrong = await self.sign_in_and_enter("9999")
        assert ringing.code == wrong.code == 403
        said = [re.search(r'id="agent-error">([^<]*)<', r.body.decode()).group(1)  # type: ignore[union-attr]
                for r in (ringing, wrong)]
        assert said[0] == said[1] and "Pick up the desk phone first" in said[0]
        assert (await self.sign_in_and_enter(code)).code == 403
        assert (await self.sign_in_and_enter(code)).code == 429      # three failures: held
        record = self.runtime.switchboard.record(answer["id"])
        assert record is not None and record.state == "agent_ringing"

    @gen_test
    async def test_a_waiting_agent_page_is_told_when_the_call_ends(self) -> None:
        self.phones.hold_bridge = True
        _, answer = await self.api("/api/callbacks", GOOD)
        callback_id = answer["id"]
        await self.until(lambda: callback_id in self.phones.held)
        ticket_path = (await self.sign_in_and_enter("1000")).headers["Location"]
        agent = await self.socket(ticket_path + "/ws")
        await next_message(agent, "waiting")
        assert self.phones.person_hangs_up(callback_id)   # gave up before the bridge
        assert (await next_message(agent, "closed"))["reason"] == "The call has ended."
        assert (await self.go(ticket_path)).code == 404

    async def upload(self, ticket_path: str, name: str, data: bytes,
                     xsrf: bool = True) -> int:
        token = await self.xsrf("/agent")
        boundary = "----test"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if xsrf:
            headers["X-XSRFToken"] = token
        response = await self.go(ticket_path + "/upload", "POST", body, headers)
        return response.code

    @gen_test
    async def test_uploads_are_limited_in_size_and_type(self) -> None:
        callback_id, code = await self.connected_call()
        ticket_path = (await self.sign_in_and_enter(code)).headers["Location"]
        room = self.runtime.rooms.of_callback(callback_id)  # type: ignore[attr-defined]
        assert await self.upload(ticket_path, "big.png", PNG[:8] + b"x" * 70_000) == 413
        assert await self.upload(ticket_path, "tool.exe", b"MZ...") == 415
        assert await self.upload(ticket_path, "empty.txt", b"") == 400
        assert await self.upload(ticket_path, "fake.png", b"<html>not an image</html>") == 415
        assert await self.upload(ticket_path, "rates.png", PNG, xsrf=False) == 403
        assert room.documents == {}
        assert await self.upload(ticket_path, "../../rates.png", PNG) == 201
        (document,) = room.documents.values()
        assert document.name == "rates.png"

    @gen_test
    async def test_a_ticket_opens_the_room_for_its_own_agent_only(self) -> None:
        _, code = await self.connected_call()
        ticket_path = (await self.sign_in_and_enter(code)).headers["Location"]
        assert (await self.go(ticket_path)).code == 200
        self.accounts.add("bob.lopez", "another long passphrase")
        self.cookies = {}
        response = await self.post_form("/agent", {"name": "bob.lopez", "code": "",
                                                   "password": "another long passphrase"},
                                        page="/agent")
        assert response.code == 303
        assert (await self.go(ticket_path)).code == 404            # Ana's ticket, Bob's session
        ws = await self.socket(ticket_path + "/ws")
        assert (await next_message(ws, "closed"))["reason"] == "This call has ended."


class TestDemoMode(TestAgentAndRoom):
    """`serve --demo`: one shared key signs every agent in as "demo"; the same rules hold."""

    demo = True

    # Accounts-only tests have no meaning here.
    test_a_wrong_password_opens_nothing = None          # type: ignore[assignment]
    test_the_page_asks_for_a_name_and_password_not_a_key = None  # type: ignore[assignment]
    test_a_removed_agent_is_signed_out_at_once = None   # type: ignore[assignment]
    test_one_agents_wrong_codes_do_not_hold_back_another_behind_the_same_address = None  # type: ignore[assignment]
    test_a_ticket_opens_the_room_for_its_own_agent_only = None  # type: ignore[assignment]

    @gen_test
    async def test_the_key_signs_in_and_a_wrong_one_is_limited(self) -> None:
        page = (await self.go("/agent")).body.decode()
        assert 'name="key"' in page and "Demo mode" in page
        response = await self.post_form("/agent", {"key": "guess", "code": ""}, page="/agent")
        assert response.code == 403 and "agent" not in self.cookies
        assert (await self.go("/api/rooms", headers={"X-Agent-Key": KEY})).code == 200
        codes = [(await self.go("/api/rooms", headers={"X-Agent-Key": f"guess{n}"})).code
                 for n in range(6)]
        assert codes[:2] == [403, 403] and codes[-1] == 429        # guesses are not free
        response = await self.post_form("/agent", {**self.sign_in_fields(), "code": ""},
                                        page="/agent")
        assert response.code == 429                            # the right key waits too
        assert int(response.headers["Retry-After"]) >= 1


class TestTls(WebCase, AsyncHTTPSTestCase):
    """Over TLS the session cookie is Secure."""

    def get_http_server(self) -> HTTPServer:
        return self._app.http_server(ssl_options=self.get_ssl_options())  # type: ignore[attr-defined]

    @gen_test
    async def test_the_session_cookie_is_secure_over_tls(self) -> None:
        token = await self.xsrf("/agent")
        body = urllib.parse.urlencode({**self.sign_in_fields(), "code": "", "_xsrf": token})
        response = await self.go("/agent", "POST", body)
        assert response.code == 303
        (header,) = [h for h in response.headers.get_list("Set-Cookie") if h.startswith("agent=")]
        morsel = SimpleCookie(header)["agent"]
        assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "Strict"


class TestLogs(WebCase):
    """Room tokens, agent tickets and status tokens never reach the logs."""

    @gen_test
    async def test_paths_are_masked_in_access_and_warning_logs(self) -> None:
        lines: list[str] = []

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                lines.append(self.format(record))

        keep = Keep()
        loggers = [logging.getLogger(n) for n in ("tornado.access", "tornado.general",
                                                   "tornado.application")]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.addHandler(keep)
            logger.setLevel(logging.INFO)
        try:
            callback_id, code = await self.connected_call()
            room = self.runtime.rooms.of_callback(callback_id)  # type: ignore[attr-defined]
            status_token = self._app.status_token(callback_id)  # type: ignore[attr-defined]
            ticket_path = (await self.post_form("/agent", {**self.sign_in_fields(), "code": code},
                                                page="/agent")).headers["Location"]
            ticket = ticket_path.rsplit("/", 1)[1]
            paths = [f"/room/{room.person_token}", f"/room/{room.person_token}/doc/nothing",
                     f"/callbacks/{callback_id}/{status_token}", ticket_path,
                     f"{ticket_path}/doc/nothing", f"/api/callbacks/{callback_id}?token={status_token}"]
            for path in paths:
                await self.go(path)
        finally:
            for logger, level in zip(loggers, levels):
                logger.removeHandler(keep)
                logger.setLevel(level)
        text = "\n".join(lines)
        assert f"/room/***" in text and f"/callbacks/{callback_id}/***" in text
        assert "/agent/room/***/doc/nothing" in text and "token=***" in text
        assert " 404 " in text or "404 GET" in text                  # the warnings are there
        for secret in (room.person_token, status_token, ticket):
            assert secret not in text
