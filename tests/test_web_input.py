"""Bounded input, over a real server on loopback (the app's own HTTPServer, its options).

JSON nested at every depth on the API (a 400 naming `body`, never a 500); a
room's websocket sent nested, huge, binary, non-UTF-8 or non-JSON messages
closes with 1007 or 1009 and a reason, never silently; a half-sent request is
closed after the header or body timeout; connections past the cap get a 503;
documents named in any script download with RFC 6266 names; a chat burst is
cut to the page's allowance; a server error never shows a traceback.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from typing import Any

from tornado.testing import gen_test
from tornado.websocket import WebSocketClientConnection

from reference_impl.web import WebSettings
from reference_impl.web.limits import RequestLimits

from .test_web import GOOD, PNG, WebCase, next_message


async def closed_with(ws: WebSocketClientConnection, seconds: float = 5.0) -> tuple[Any, Any]:
    """Read until the server closes the socket: its close code and reason."""
    while True:
        message = await asyncio.wait_for(ws.read_message(), seconds)
        if message is None:
            return ws.close_code, ws.close_reason


def nested(depth: int) -> str:
    """A JSON array `depth` levels deep."""
    return "[" * depth + "]" * depth


class InputCase(WebCase):
    async def raw(self, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.get_http_port())
        if data:
            writer.write(data)
            await writer.drain()
        return reader, writer

    async def room_pages(self) -> tuple[WebSocketClientConnection, WebSocketClientConnection]:
        """A connected call with both pages in the room: (person, agent)."""
        callback_id, code = await self.connected_call()
        self.callback_id = callback_id
        room = self.runtime.rooms.of_callback(callback_id)  # type: ignore[attr-defined]
        person = await self.socket(f"/room/{room.person_token}/ws")
        await next_message(person, "joined")
        ticket_path = (await self.post_form("/agent", {**self.sign_in_fields(), "code": code},
                                            page="/agent")).headers["Location"]
        self.ticket_path = ticket_path
        agent = await self.socket(ticket_path + "/ws")
        await next_message(agent, "joined")
        await next_message(person, "peer")
        return person, agent


class TestJsonBodies(InputCase):
    @gen_test
    async def test_nested_json_is_refused_at_every_depth_with_a_400_naming_the_body(self) -> None:
        for depth in (1, 2, 7):                        # within the limit: the field is wrong
            body = '{"phone": "+34612345678", "name": ' + nested(depth) + ', "service": ' \
                   '"mortgages", "consent": true}'
            status, answer = await self.api("/api/callbacks", raw=body.encode())
            assert (status, answer["field"]) == (400, "name"), depth
        for depth in (8, 9, 50, 999, 1000, 5000):      # the body's own level makes it 9+
            body = '{"name": ' + nested(depth) + "}"
            status, answer = await self.api("/api/callbacks", raw=body.encode())
            assert (status, answer["field"]) == (400, "body"), depth
            assert "nested too deeply" in answer["error"]
        status, answer = await self.api("/api/callbacks", raw=nested(100_000).encode())
        assert (status, answer["field"]) == (413, "body")          # over 16 kB
        status, answer = await self.api("/api/callbacks", raw=b'{"a": "' + b"x" * 20_000 + b'"}')
        assert (status, answer["field"]) == (413, "body") and "too big" in answer["error"]
        assert len(self.records) == 0
        status, _ = await self.api("/api/callbacks", GOOD)
        assert status == 201                                        # still serving

    @gen_test
    async def test_a_server_error_answers_json_or_a_plain_page_never_a_traceback(self) -> None:
        _, answer = await self.api("/api/callbacks", GOOD)

        class Broken:
            """The switchboard, but reading a record fails (a compiled one's methods are
            read-only, so the pages are handed this stand-in instead)."""

            def __init__(self, real: Any) -> None:
                self.real = real

            def __getattr__(self, name: str) -> Any:
                return getattr(self.real, name)

            def record(self, callback_id: str) -> None:
                raise RuntimeError("the database is on fire")

        self._app.switchboard = Broken(self._app.switchboard)  # type: ignore[attr-defined]
        response = await self.go(answer["status_api"])
        assert response.code == 500
        assert response.headers["Content-Type"] == "application/json"
        assert json.loads(response.body) == {"error": "internal server error", "field": None}
        page = await self.go(answer["status_page"])
        assert page.code == 500 and b"Traceback" not in page.body and b"on fire" not in page.body
        assert b"Something went wrong" in page.body
        unknown = await self.go("/api/nothing/here")
        assert unknown.code == 404 and json.loads(unknown.body)["error"] == "no such path"


class TestWebsocketInput(InputCase):
    @gen_test
    async def test_bad_messages_close_the_socket_with_a_code_and_a_reason(self) -> None:
        cases: list[tuple[Any, int, str]] = [
            (json.dumps({"type": "chat", "text": json.loads(nested(20))}), 1007, "nested"),
            ('{"type": "chat", "text": ' + nested(5000) + "}", 1007, "nested"),  # past Python's
            (nested(100_000), 1009, "too big"),                    # 200 kB: over 64 kB
            ("x" * (70 * 1024), 1009, "too big"),
            ("not json", 1007, "not valid JSON"),
            (json.dumps([1, 2]), 1007, "JSON objects"),
            (b"\x00\x01binary", 1007, "binary"),
            (b"\xff\xfe\xfd", 1007, "UTF-8"),                      # a text frame, not UTF-8
        ]
        self._app.requests = RequestLimits(None, 600.0, None, 60.0)  # type: ignore[attr-defined]
        for message, code, reason in cases:
            person, agent = await self.room_pages()
            if isinstance(message, bytes) and reason == "UTF-8":
                person.write_message(message, binary=False)
            else:
                person.write_message(message, binary=isinstance(message, bytes))
            closed_code, closed_reason = await closed_with(person)
            assert closed_code == code and reason in (closed_reason or ""), (reason, closed_code,
                                                                             closed_reason)
            assert (await next_message(agent, "peer"))["present"] is False   # it left
            assert self.phones.person_hangs_up(self.callback_id)          # the next call
            await next_message(agent, "closed")

    @gen_test
    async def test_a_message_past_tornados_own_cap_is_closed_with_1009(self) -> None:
        person, _ = await self.room_pages()
        person.write_message("y" * (1024 * 1024))                  # four times our limit and more
        code, _ = await closed_with(person)
        assert code == 1009

    @gen_test
    async def test_an_error_of_ours_closes_with_1011(self) -> None:
        person, _ = await self.room_pages()

        def broken(*args: Any) -> None:
            raise RuntimeError("relay down")

        self.runtime.rooms.relay = broken  # type: ignore[attr-defined]
        person.write_message(json.dumps({"type": "signal", "data": {"sdp": {}}}))
        assert await closed_with(person) == (1011, "server error")

    @gen_test
    async def test_a_chat_burst_is_cut_to_the_pages_allowance(self) -> None:
        person, agent = await self.room_pages()
        for n in range(15):
            person.write_message(json.dumps({"type": "chat", "text": f"line {n}"}))
        person.write_message(json.dumps({"type": "signal", "data": {"marker": True}}))
        relayed = []
        while True:
            message = await next_message(agent)
            if message["type"] == "signal":
                break
            relayed.append(message)
        assert [m["text"] for m in relayed] == [f"line {n}" for n in range(10)]   # the burst
        told = [m for m in [await next_message(person) for _ in range(15)]
                if m["type"] == "limited"]
        assert len(told) == 5 and "too quickly" in told[0]["text"]
        agent.write_message(json.dumps({"type": "chat", "text": "the agent still talks"}))
        assert (await next_message(person, "chat"))["text"] == "the agent still talks"


class TestTimeouts(InputCase):
    def web_settings(self, **values: Any) -> WebSettings:
        return WebSettings(**{**values, "body_timeout": 0.5, "idle_connection_timeout": 0.5})

    @gen_test(timeout=15)
    async def test_a_half_sent_post_is_closed_after_the_body_timeout(self) -> None:
        reader, writer = await self.raw(
            b"POST /api/callbacks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{\"phone\":")
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 5) == b""       # closed, nothing said
        assert 0.4 < time.monotonic() - started < 3
        writer.close()

    @gen_test(timeout=15)
    async def test_half_sent_headers_are_closed_after_the_header_timeout(self) -> None:
        reader, writer = await self.raw(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert 0.4 < time.monotonic() - started < 3
        writer.close()

    @gen_test(timeout=15)
    async def test_headers_past_the_size_limit_are_refused(self) -> None:
        reader, writer = await self.raw(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000
                                        + b"\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        assert b"200 OK" not in answer
        writer.close()


class TestConnectionCap(InputCase):
    def web_settings(self, **values: Any) -> WebSettings:
        return WebSettings(**{**values, "max_connections": 5})

    @gen_test(timeout=15)
    async def test_connections_past_the_cap_get_a_503_and_are_closed(self) -> None:
        held = [await self.raw(b"") for _ in range(5)]
        await asyncio.sleep(0.2)                          # all five accepted
        reader, writer = await self.raw(b"")
        answer = await asyncio.wait_for(reader.read(), 5)
        assert answer.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 5" in answer
        writer.close()
        for _, held_writer in held[:2]:
            held_writer.close()
        await asyncio.sleep(0.2)                          # the server sees them go
        assert (await self.go("/")).code == 200           # room again
        for _, held_writer in held[2:]:
            held_writer.close()

    @gen_test(timeout=15)
    async def test_websockets_count_towards_the_cap(self) -> None:
        _, answer = await self.api("/api/callbacks", GOOD)
        sockets = [await self.socket(answer["status_socket"]) for _ in range(5)]
        await asyncio.sleep(0.2)
        assert (await self.go("/")).code == 503
        sockets[0].close()
        await asyncio.sleep(0.3)
        assert (await self.go("/")).code == 200
        for ws in sockets[1:]:
            ws.close()


class TestDocumentNames(InputCase):
    async def upload(self, name: str, data: bytes) -> int:
        token = await self.xsrf("/agent")
        boundary = "----test"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                   "X-XSRFToken": token}
        return (await self.go(self.ticket_path + "/upload", "POST", body, headers)).code

    @gen_test
    async def test_names_in_any_script_download_with_rfc_6266_names(self) -> None:
        person, agent = await self.room_pages()
        room = next(iter(self.runtime.rooms.rooms.values()))  # type: ignore[attr-defined]
        base = f"/room/{room.person_token}/doc"
        wanted = {"Договор аренды.pdf": "document.pdf", "план 🙂.png": "document.png",
                  "résumé.txt": "resume.txt"}
        for name, fallback in wanted.items():
            data = b"%PDF-1.4 x" if name.endswith(".pdf") else PNG if name.endswith(".png") \
                else "текст".encode()
            assert await self.upload(name, data) == 201
            shown = await next_message(person, "document")
            assert shown["name"] == name
            for path in (f"{base}/{shown['id']}", f"{self.ticket_path}/doc/{shown['id']}"):
                response = await self.go(path)
                assert response.code == 200 and response.body == data
                disposition = response.headers["Content-Disposition"]
                kind = "attachment" if not name.endswith(".png") else "inline"
                assert disposition == (f'{kind}; filename="{fallback}"; filename*=UTF-8\'\''
                                       f"{urllib.parse.quote(name, safe='')}")
                disposition.encode("latin-1")                 # a header tornado can send
        # Catalogue files carry the same header.
        agent.write_message(json.dumps({"type": "push", "name": "terms.pdf"}))
        shown = await next_message(person, "document")
        response = await self.go(f"{base}/{shown['id']}")
        assert response.headers["Content-Disposition"] == \
            "attachment; filename=\"terms.pdf\"; filename*=UTF-8''terms.pdf"
