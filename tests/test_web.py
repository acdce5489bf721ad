"""The web app over real HTTP and websockets on loopback, with real SQLite records.

Telephony is a scripted fake (tests/webfakes.py: every phone answers at once),
so these tests are about the app: the form and its validation, the API and
its 400s, the live status page, the room server (join, chat, documents,
signalling, deletion), and the safety rules (xsrf, escaping, upload limits,
agent key, rate-limited codes). Bad input must neither crash the server nor
leave a record behind.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Callable

from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
from tornado.testing import AsyncHTTPTestCase, gen_test
from tornado.websocket import WebSocketClientConnection, websocket_connect

from reference_impl.codes import CodePool
from reference_impl.flow import FailReason
from reference_impl.records import SqliteRecords
from reference_impl.web import WebApp, WebSettings, make_app, web_runtime
from reference_impl.web.limits import RequestLimits

from .webfakes import AnsweringPhones, directory, until

KEY = "agent-secret"
PNG = (Path(__file__).resolve().parent.parent / "reference_impl" / "web" / "static" / "catalogue"
       / "mortgages" / "rates.png").read_bytes()
GOOD = {"phone": "+34 612 345 678", "name": "Ana", "service": "mortgages", "consent": True}


class WebCase(AsyncHTTPTestCase):
    def get_app(self) -> WebApp:
        self.records = SqliteRecords(":memory:")
        self.directory = directory()
        self.runtime = web_runtime(directory=self.directory, codes=CodePool(),
                                   telephony=AnsweringPhones, records=self.records,
                                   loop=self.io_loop.asyncio_loop)  # type: ignore[attr-defined]
        self.phones: AnsweringPhones = self.runtime.telephony  # type: ignore[assignment]
        self.settings = WebSettings(agent_keys=frozenset({KEY}), upload_max_bytes=64 * 1024,
                                    code_attempts=3, code_window=60.0,
                                    hangup=self.phones.person_hangs_up)
        return make_app(self.runtime, self.directory, self.records, self.settings)

    def setUp(self) -> None:
        super().setUp()
        self.cookies: dict[str, str] = {}

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
        headers = {"Content-Type": content_type, **({"X-Agent-Key": KEY} if key else {})}
        body = raw if raw is not None else (None if data is None else json.dumps(data))
        response = await self.go(path, "POST" if body is not None else "GET", body, headers)
        return response.code, json.loads(response.body or b"null")

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
        callback_id = response.headers["Location"].rsplit("/", 1)[1]
        assert len(callback_id) >= 16                  # unguessable: it opens the status page
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
        status, view = await self.api(f"/api/callbacks/{callback_id}")
        assert status == 200
        assert (view["state"], view["room"], view["code"]) == ("connected", True, "1000")
        assert view["notices"] == ["calling", "connecting", "connected", "room_ready"]
        stored = self.records.get(callback_id)      # saved at every step, for live pages
        assert stored is not None and stored.state == "connected"

    @gen_test
    async def test_unknown_callbacks_are_404_json(self) -> None:
        status, answer = await self.api("/api/callbacks/nope")
        assert status == 404 and answer["field"] == "id"

    @gen_test
    async def test_rooms_need_the_agent_key(self) -> None:
        _, code = await self.connected_call()
        status, _ = await self.api("/api/rooms")
        assert status == 403
        status, answer = await self.api("/api/rooms", key=True)
        assert status == 200 and answer["codes_in_use"] == [code]
        assert [room["code"] for room in answer["rooms"]] == [code]

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
        assert {"/api/callbacks", "/api/callbacks/{id}", "/api/rooms"} <= set(spec["paths"])
        assert "429" in spec["paths"]["/api/callbacks"]["post"]["responses"]
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
    async def test_a_status_socket_for_an_unknown_callback_is_closed(self) -> None:
        ws = await self.socket("/callbacks/nobody/ws")
        assert await asyncio.wait_for(ws.read_message(), 3) is None

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
        return await self.post_form("/agent", {"key": KEY, "code": code}, page="/agent")

    @gen_test
    async def test_a_wrong_agent_key_opens_nothing(self) -> None:
        _, code = await self.connected_call()
        response = await self.post_form("/agent", {"key": "guess", "code": code}, page="/agent")
        assert response.code == 403 and "agent" not in self.cookies
        status, _ = await self.api("/api/rooms")
        assert status == 403

    @gen_test
    async def test_wrong_codes_are_rate_limited(self) -> None:
        _, code = await self.connected_call()
        for wrong in ("9991", "9992", "9993"):
            assert (await self.sign_in_and_enter(wrong)).code == 403
        response = await self.sign_in_and_enter(code)      # even the right one, for now
        assert response.code == 429 and "Too many" in response.body.decode()

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
        for junk in ("not json", json.dumps([1]), json.dumps({"type": "chat", "text": 5}),
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
    async def test_a_code_typed_while_the_desk_phone_rings_is_not_taken(self) -> None:
        self.phones.ring_only.add("+34910000001")
        _, answer = await self.api("/api/callbacks", GOOD)
        code = await self.until(lambda: self.runtime.switchboard.codes.owner("1000") and "1000")
        for _ in range(4):                           # not a wrong code: never rate-limited
            response = await self.sign_in_and_enter(code)
            assert response.code == 409 and "Pick up" in response.body.decode()
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
