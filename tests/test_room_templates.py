"""Room templates from the database: the rooms of each service look as its template says,
and agents change the templates (and the rest of the directory) through the API.

The app is `callback-emu serve`'s own (`emulator.drivers.serve.build`): the
emulated PBX in real time, records and the directory in one real SQLite file,
seeded from a scenario as serve seeds it; driven over loopback HTTP and
websockets. The pages render the template the room was created from (title,
greeting, colours, logo, the catalogue documents the agent may push, the chat
on or off) and the server holds the same rules for what the pages do not
offer; a template changed through the API shows in the next room without a
restart; bad input is a 400 naming the field, a failing database a 503, and a
room opens with the default look rather than not at all.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import tempfile
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from tornado.httpclient import HTTPRequest, HTTPResponse
from tornado.testing import AsyncHTTPTestCase, gen_test
from tornado.websocket import WebSocketClientConnection, websocket_connect

from emulator import scenario as sc
from emulator.drivers.serve import build, stored_directory
from reference_impl.records import DirectoryStore, SqliteRecords
from reference_impl.web import WebApp

from .test_web import next_message
from .webfakes import until

ROOT = Path(__file__).resolve().parents[1]
LOGOS = ROOT / "scenarios" / "serve" / "logos"
KEY = "templates-key"
SCENARIO = """\
name: two services, two looks
seed: 5
services:
  mortgages: {centres: [madrid], room_template: advisor, label: Mortgages}
  insurance: {centres: [madrid], room_template: home_cover, label: Home insurance}
  cards: {centres: [madrid], label: Cards}
centres:
  madrid: {terminals: ["+34910000001", "+34910000002", "+34910000003"], ring_timeout: 20s,
           agent: quick}
room_templates:
  advisor:
    title: Your mortgage advisor
    greeting: "Welcome, <b>Ana</b>! We will go through the rates."
    colours: {accent: "#1e40af", background: "#eef2ff"}
    logo: logos/mortgages.png
    documents: [rates.png, terms.pdf]
  home_cover:
    title: Home insurance claims
    colours: {accent: "#0f766e", text: "#134e4a"}
    logo: logos/insurance.png
    documents: [cover.png]
    chat: false
profiles:
  people:
    caller: {answer_delay: {fixed: 50ms}}
  agents:
    quick: {pickup_delay: {fixed: 50ms}, talk_time: {fixed: 30min}}
pbx: {post_dial_delay: {fixed: 10ms}}
callbacks:
  - {at: 0s, service: mortgages, person: caller}
"""
PHONES = iter(f"+3461234{n:04d}" for n in range(10_000))      # a number per callback


class TemplatesCase(AsyncHTTPTestCase):
    """serve's app on a SQLite file whose directory was seeded from SCENARIO."""

    def get_app(self) -> WebApp:
        self.folder = Path(tempfile.mkdtemp(prefix="templates-test-"))
        db = str(self.folder / "records.sqlite3")
        self.records = SqliteRecords(db)
        scenario = sc.loads(SCENARIO, ROOT / "scenarios" / "serve" / "test.yaml").scenario
        self.store: DirectoryStore = stored_directory(db, scenario, "test.yaml")
        app, self.emulated = build(scenario, self.records, KEY, directory_store=self.store,
                                   loop=self.io_loop.asyncio_loop)  # type: ignore[attr-defined]
        self.app = app
        self.cookies: dict[str, str] = {}
        return app

    def tearDown(self) -> None:
        super().tearDown()
        self.store.close()
        self.records.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- a small browser ---------------------------------------------------------------

    async def go(self, path: str, method: str = "GET", body: bytes | str | None = None,
                 headers: dict[str, str] | None = None) -> HTTPResponse:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        request = HTTPRequest(self.get_url(path), method=method, body=body,
                              headers={"Cookie": cookie, **(headers or {})},
                              follow_redirects=False)
        response = await self.http_client.fetch(request, raise_error=False)
        for header in response.headers.get_list("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    async def api(self, path: str, method: str = "GET", data: Any = None, key: bool = True,
                  raw: bytes | None = None,
                  content_type: str = "application/json") -> tuple[int, Any]:
        body = raw if raw is not None else None if data is None else json.dumps(data)
        headers = {"Content-Type": content_type, **({"X-Agent-Key": KEY} if key else {})}
        response = await self.go(path, method, body, headers)
        return response.code, json.loads(response.body or b"null")

    async def socket(self, path: str) -> WebSocketClientConnection:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        url = self.get_url(path).replace("http://", "ws://")
        return await websocket_connect(HTTPRequest(url, headers={"Cookie": cookie}))

    async def room_of(self, service: str) -> tuple[str, Any]:
        """A callback for `service`, through to its open room: (callback id, room)."""
        status, answer = await self.api("/api/callbacks", "POST", {
            "phone": next(PHONES), "name": "Ana", "service": service, "consent": True},
            key=False)
        assert status == 201, answer
        room = await until(lambda: self.app.rooms.of_callback(answer["id"]), 5.0)
        return answer["id"], room

    async def person_page(self, room: Any) -> str:
        response = await self.go(f"/room/{room.person_token}")
        assert response.code == 200
        return response.body.decode()

    async def agent_enters(self, callback_id: str) -> str:
        """The agent (demo mode's key) types the call's code: the agent room's path."""
        page = (await self.go("/agent")).body.decode()
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page)
        assert xsrf
        code = await until(lambda: self.typable_code(callback_id), 5.0)
        body = urllib.parse.urlencode({"key": KEY, "code": code, "_xsrf": xsrf[1]})
        response = await self.go("/agent", "POST", body)
        assert response.code == 303, response.body
        return str(response.headers["Location"])


    def typable_code(self, callback_id: str) -> str | None:
        """The call's code once the flow takes it (its desk phone answered)."""
        record = self.app.switchboard.record(callback_id)
        code = record.code if record is not None else None
        return code if code and self.app.switchboard.accepts_code(code) else None


def heading(page: str) -> str:
    found = re.search(r'<h1 class="h2" id="room-title">(.*?)</h1>', page)
    assert found, "the page has no title"
    return found[1]


class TestTheRoomsLook(TemplatesCase):
    @gen_test
    async def test_two_services_rooms_render_their_own_templates(self) -> None:
        _, mortgage_room = await self.room_of("mortgages")
        _, insurance_room = await self.room_of("insurance")
        mortgages = await self.person_page(mortgage_room)
        insurance = await self.person_page(insurance_room)

        assert heading(mortgages) == "Your mortgage advisor"
        assert heading(insurance) == "Home insurance claims"
        assert "<title>Your mortgage advisor · " in mortgages
        # The greeting is text: the markup in it is escaped, never rendered.
        assert "Welcome, &lt;b&gt;Ana&lt;/b&gt;! We will go through the rates." in mortgages
        assert 'id="greeting"' not in insurance
        assert 'id="chat-form"' in mortgages and 'id="chat-form"' not in insurance
        assert "room no-chat" in insurance and "room no-chat" not in mortgages

        for page, name, logo in ((mortgages, "advisor", "mortgages.png"),
                                 (insurance, "home_cover", "insurance.png")):
            style = re.search(rf'href="(/rooms/looks/{name}\.css\?v=\w+)"', page)
            image = re.search(rf'src="(/rooms/looks/{name}/logo\?v=\w+)"', page)
            assert style and image, page
            fetched = await self.go(image[1])
            assert fetched.code == 200 and fetched.body == (LOGOS / logo).read_bytes()
            assert fetched.headers["Content-Type"] == "image/png"
            css = (await self.go(style[1])).body.decode()
            assert css.startswith(f"/* the colours of room template {name} */")
        advisor = (await self.go("/rooms/looks/advisor.css")).body.decode()
        assert "--brand: #1e40af;" in advisor and "--bg: #eef2ff;" in advisor
        assert "--brand-dark: #193490;" in advisor and "--ink" not in advisor
        claims = (await self.go("/rooms/looks/home_cover.css")).body.decode()
        assert "--brand: #0f766e;" in claims and "--ink: #134e4a;" in claims

    @gen_test
    async def test_a_service_whose_template_nobody_defined_looks_as_rooms_always_did(self) -> None:
        _, room = await self.room_of("cards")
        page = await self.person_page(room)
        assert room.look.name == "default" and heading(page) == "Your advisor"
        assert "/rooms/looks/" not in page and 'id="greeting"' not in page
        assert 'id="chat-form"' in page and "no-chat" not in page
        assert (await self.go("/rooms/looks/default/logo")).code == 404
        assert (await self.go("/rooms/looks/default.css")).body.decode() == \
            "/* the colours of room template default */\n"

    @gen_test
    async def test_the_agent_pushes_only_the_templates_documents_and_no_chat_passes(self) -> None:
        callback_id, room = await self.room_of("insurance")
        ticket_path = await self.agent_enters(callback_id)
        page = (await self.go(ticket_path)).body.decode()
        assert re.findall(r'data-push="([^"]+)"', page) == ["cover.png"]
        assert 'id="chat-form"' not in page and 'id="chat-off"' in page
        assert "Home insurance claims" in page and "/rooms/looks/home_cover/logo" in page

        person = await self.socket(f"/room/{room.person_token}/ws")
        agent = await self.socket(ticket_path + "/ws")
        await next_message(person, "joined")
        await next_message(agent, "joined")
        # Neither a document the template leaves out nor a chat line gets through; what the
        # template allows does, and it is the next thing each page hears.
        agent.write_message(json.dumps({"type": "push", "name": "terms.pdf"}))
        person.write_message(json.dumps({"type": "chat", "text": "hello?"}))
        agent.write_message(json.dumps({"type": "chat", "text": "hello!"}))
        agent.write_message(json.dumps({"type": "push", "name": "cover.png"}))
        for ws in (person, agent):
            message = await next_message(ws)
            while message["type"] == "peer":
                message = await next_message(ws)
            assert (message["type"], message["name"]) == ("document", "cover.png")
        assert [d.name for d in room.documents.values()] == ["cover.png"]

    @gen_test
    async def test_a_template_changed_through_the_api_shows_in_the_next_room(self) -> None:
        _, before = await self.room_of("mortgages")
        status, changed = await self.api("/api/directory/templates/advisor", "PATCH",
                                         {"title": "Mortgage advice, live", "chat": False,
                                          "colours": {"accent": "#7c2d12"}})
        assert status == 200 and changed["takes_effect"] == "new rooms, at once"
        assert changed["colours"] == {"accent": "#7c2d12", "background": "#eef2ff",
                                      "text": None}               # PATCH keeps the others
        _, after = await self.room_of("mortgages")
        old, new = await self.person_page(before), await self.person_page(after)
        assert heading(old) == "Your mortgage advisor" and 'id="chat-form"' in old
        assert heading(new) == "Mortgage advice, live" and 'id="chat-form"' not in new
        assert "--brand: #7c2d12;" in (await self.go("/rooms/looks/advisor.css")).body.decode()
        assert self.store.load().templates["advisor"].title == "Mortgage advice, live"


class TestTheDirectoryApi(TemplatesCase):
    @gen_test
    async def test_only_agents_read_or_change_the_directory(self) -> None:
        for path in ("/api/directory", "/api/directory/services", "/api/directory/centres",
                     "/api/directory/templates", "/api/directory/services/mortgages",
                     "/api/directory/templates/advisor"):
            status, body = await self.api(path, key=False)
            assert status == 403 and "agent credentials" in body["error"], path
        status, _ = await self.api("/api/directory/templates/advisor", "PATCH",
                                   {"title": "x"}, key=False)
        assert status == 403 and self.store.load().templates["advisor"].title != "x"
        status, whole = await self.api("/api/directory")
        assert status == 200
        assert [s["code"] for s in whole["services"]] == ["mortgages", "insurance", "cards"]
        assert whole["centres"][0]["desk_phones"] == ["+34910000001", "+34910000002",
                                                      "+34910000003"]
        advisor = whole["templates"][0]
        assert advisor["logo"]["bytes"] == len((LOGOS / "mortgages.png").read_bytes())
        assert advisor["documents"] == ["rates.png", "terms.pdf"] and advisor["chat"] is True

    @gen_test
    async def test_bad_input_is_a_400_naming_the_field(self) -> None:
        big = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(300_000)).decode()
        pdf = base64.b64encode(b"%PDF-1.4 not an image").decode()
        cases = [
            ("/api/directory/templates/advisor", "PATCH", {"colours": {"accent": "#12"}},
             "colours", "colours.accent"),
            ("/api/directory/templates/advisor", "PATCH", {"colours": {"accent": "blue"}},
             "colours", "colours.accent"),
            ("/api/directory/templates/advisor", "PATCH", {"logo": {"data": big}}, "logo",
             "too big"),
            ("/api/directory/templates/advisor", "PATCH", {"logo": {"data": pdf}}, "logo",
             "PNG, JPEG, GIF or WebP"),
            ("/api/directory/templates/advisor", "PATCH", {"logo": {"data": "%%%"}}, "logo",
             "base64"),
            ("/api/directory/templates/advisor", "PATCH", {"documents": ["rates.png", "x.pdf"]},
             "documents", "documents[1]: 'x.pdf' is in no catalogue folder"),
            ("/api/directory/templates/advisor", "PATCH", {"title": ""}, "title", "empty"),
            ("/api/directory/templates/advisor", "PATCH", {"title": "a" * 81}, "title", "80"),
            ("/api/directory/templates/advisor", "PATCH", {"chat": "yes"}, "chat", "true or"),
            ("/api/directory/templates/advisor", "PATCH", {"font": "Comic"}, "font", "unknown"),
            ("/api/directory/templates/bad%20name", "PUT", {}, "name", "letters, digits"),
            ("/api/directory/services/cards", "PATCH", {"centres": ["nowhere"]}, "centres",
             "unknown centre"),
            ("/api/directory/services/cards", "PATCH", {"room_template": "nope"},
             "room_template", "not defined"),
            ("/api/directory/services/loans", "PUT", {"label": "Loans"}, "centres", "required"),
            ("/api/directory/services/cards", "PATCH", {"hours": {"mon-fri": "8-20"}}, "hours",
             "clock time"),
            ("/api/directory/services/cards", "PATCH", {"holidays": "XX"}, "holidays",
             "no public holidays"),
            ("/api/directory/services/cards", "PATCH", {"slots": {"every": 0, "capacity": 1}},
             "slots", "slots.every"),
            ("/api/directory/centres/sevilla", "PUT", {"desk_phones": ["+34910000001"]},
             "desk_phones", "listed under centres 'madrid' and 'sevilla'"),
            ("/api/directory/centres/madrid", "PATCH", {"ring_timeout": -1}, "ring_timeout",
             "seconds"),
        ]
        before = self.store.load()
        for path, method, body, field, said in cases:
            status, answer = await self.api(path, method, body)
            assert (status, answer["field"]) == (400, field), (path, body, answer)
            assert said in answer["error"], (path, body, answer)
        assert self.store.load() == before                      # nothing was written
        status, answer = await self.api("/api/directory/services/nothing", "PATCH",
                                        {"label": "x"})
        assert (status, answer["field"]) == (404, "code")
        status, answer = await self.api("/api/directory/templates/advisor", "PATCH", raw=b"x=1",
                                        content_type="application/x-www-form-urlencoded")
        assert (status, answer["field"]) == (415, "body")
        status, answer = await self.api("/api/directory/templates/advisor", "PATCH", raw=b"[1]")
        assert (status, answer["field"]) == (400, "body")

    @gen_test
    async def test_entries_are_added_and_services_wait_for_the_next_start(self) -> None:
        status, centre = await self.api("/api/directory/centres/sevilla", "PUT",
                                        {"desk_phones": ["+34950000001"], "ring_timeout": 25})
        assert status == 201 and centre["takes_effect"] == "when the system next starts"
        logo = base64.b64encode((LOGOS / "insurance.png").read_bytes()).decode()
        status, template = await self.api("/api/directory/templates/cards", "PUT", {
            "title": "Cards", "logo": {"data": logo, "content_type": "image/png"},
            "documents": None})
        assert status == 201 and template["logo"]["content_type"] == "image/png"
        status, service = await self.api("/api/directory/services/cards", "PUT", {
            "centres": ["sevilla", "madrid"], "room_template": "cards", "label": "Cards",
            "hours": {"mon-fri": "08:00-20:00"}, "holidays": "es",
            "slots": {"every": 900, "capacity": 5}})
        assert status == 200, service                            # it was there: replaced
        assert (service["centres"], service["holidays"], service["slots"]) == (
            ["sevilla", "madrid"], "ES", {"every": 900.0, "capacity": 5})
        stored = self.store.load()
        assert stored.services["cards"].room_template == "cards"
        assert stored.centres["sevilla"].terminals == ("+34950000001",)
        # The running system keeps the directory it started with; a template is live.
        assert self.app.directory.services["cards"].centres == ("madrid",)
        assert "sevilla" not in self.app.directory.centres
        _, room = await self.room_of("cards")
        assert room.look.name == "default"          # the service's template: after a restart

    @gen_test
    async def test_the_description_lists_the_directory_with_its_security(self) -> None:
        status, spec = await self.api("/api/openapi.json", key=False)
        assert status == 200
        paths = {p: item for p, item in spec["paths"].items() if p.startswith("/api/directory")}
        assert set(paths) == {"/api/directory", "/api/directory/services",
                              "/api/directory/centres", "/api/directory/templates",
                              "/api/directory/services/{code}", "/api/directory/centres/{name}",
                              "/api/directory/templates/{name}"}
        for path, item in paths.items():
            for method, operation in item.items():
                assert {"agentSession", "agentLogin", "agentKey"} == {
                    name for rule in operation["security"] for name in rule}, (path, method)
                assert {"403", "429", "500", "503"} <= set(operation["responses"])
        body = paths["/api/directory/templates/{name}"]["patch"]["requestBody"]
        fields = body["content"]["application/json"]["schema"]["properties"]
        assert {name for name, f in fields.items() if "x-server-checks" in f} == {
            "title", "greeting", "logo", "documents"}
        assert fields["colours"]["properties"]["accent"]["anyOf"][0]["pattern"]


class TestAFailingDatabase(TemplatesCase):
    @gen_test
    async def test_the_api_answers_503_and_rooms_open_with_the_default_look(self) -> None:
        self.store.close()                       # every read from now on fails
        status, answer = await self.api("/api/directory/templates")
        assert status == 503 and "not available" in answer["error"]
        status, answer = await self.api("/api/directory/templates/advisor", "PATCH",
                                        {"title": "x"})
        assert status == 503
        self.store.cache_seconds = 0.0          # the cached templates are old at once
        _, room = await self.room_of("mortgages")
        assert room.look.name == "advisor" and room.look.title == "Your advisor"
        assert heading(await self.person_page(room)) == "Your advisor"
