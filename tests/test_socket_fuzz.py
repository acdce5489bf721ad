"""The pages' websockets and the agent's uploads, fuzzed, over real HTTP and websockets on
loopback (real SQLite; tests/webfakes.py's phones answer at once).

Hypothesis writes websocket frames: JSON objects of every kind the pages send
and of kinds nobody sends, with fields of the wrong types; JSON that is not an
object, not JSON at all, JSON nested deeper than the limit, NaN and other
non-standard JSON, messages past the size limit (in ASCII and in characters of
two to four bytes), binary frames, text frames that are not UTF-8. They go to
a room from the person's page and from the agent's, and to a status page's
socket. Each frame must get what sockets.py promises: a bad one closes the
socket with 1007 or 1009 and a reason (never 1011, never a dropped
connection), a good one does exactly what its kind says and nothing else
(chat relayed cleaned, signalling relayed as it came, a catalogue document
pushed, the rest ignored). The page then opens its socket again and is served;
a second room never sees a thing and still chats at the end, and a new call
still connects.

Uploads: names in any script and with path, control and direction tricks
(sent as a browser sends them and as RFC 5987 `filename*`), declared types
that lie, bytes that match their name or do not, empty and huge files. Each
answer is the one the upload rules give (201, or 400, 413, 415 with a JSON
error, never a 500), and a shared document downloads byte for byte with an
RFC 6266 name.

The cases tried are printed for the README's bad-input table
(`SOCKET_FUZZ_EXAMPLES=1000` draws more).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import unicodedata
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tornado.httpclient import HTTPRequest
from tornado.httputil import HTTPFile, parse_body_arguments
from tornado.websocket import WebSocketClientConnection, websocket_connect

from reference_impl.web import WebSettings
from reference_impl.web.documents import safe_name
from reference_impl.web.settings import UPLOAD_TYPES

from .test_web import PNG, WebCase

EXAMPLES = int(os.environ.get("SOCKET_FUZZ_EXAMPLES", 150))
TRIED: Counter[str] = Counter()
MAX_BYTES, MAX_DEPTH, CHAT_CHARS = 64 * 1024, 8, 2000      # the app's defaults (settings.py)
UPLOAD_MAX = 64 * 1024                                      # WebCase's upload limit
CATALOGUE = ("checklist.txt", "rates.png", "terms.pdf")      # what mortgages' agents may push
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


# -- what a frame should do -----------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    """One websocket frame: text (str), a text frame of raw bytes, or a binary frame."""

    data: str | bytes
    binary: bool = False

    def __repr__(self) -> str:
        shown = self.data if len(self.data) < 120 else self.data[:60]
        return f"Frame({shown!r}{'...' if len(self.data) >= 120 else ''}, " \
               f"{len(self.data)} long, binary={self.binary})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))          # how hypothesis shows a failing example


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def depth(value: Any) -> int:
    """How deep arrays and objects nest (a scalar: 0)."""
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def verdict(frame: Frame) -> tuple[int, str] | dict[str, Any]:
    """What the server must do with `frame`: close with (code, a word of the reason), or
    take the JSON object it is."""
    if frame.binary:
        return 1007, "binary"
    if isinstance(frame.data, bytes):
        return 1007, "UTF-8"
    if len(frame.data.encode("utf-8")) > MAX_BYTES:
        return 1009, "too big"
    try:
        value = json.loads(frame.data, parse_constant=_no_constants)
    except RecursionError:
        return 1007, "nested"
    except ValueError:
        return 1007, "JSON"
    if not isinstance(value, dict):
        return 1007, "objects"
    if depth(value) > MAX_DEPTH:
        return 1007, "nested"
    return value


def cleaned(text: str) -> str:
    """A chat line as the other page gets it: cut to length, no control characters but
    newlines, no spaces around."""
    return "".join(ch for ch in text[:CHAT_CHARS]
                   if ch == "\n" or unicodedata.category(ch)[0] != "C").strip()


def effects(message: dict[str, Any], sender: str) -> tuple[list[Any], list[Any]]:
    """What the other page of the room, and the sender's own, get for a message of
    `sender`'s page (the parts that matter): chat and documents go to both pages,
    signalling to the other one, anything else nowhere."""
    kind = message.get("type")
    if kind == "chat" and isinstance(message.get("text"), str) and cleaned(message["text"]):
        line = {"type": "chat", "from": sender, "text": cleaned(message["text"])}
        return [line], [line]
    if kind == "signal" and isinstance(message.get("data"), dict):
        return [{"type": "signal", "data": message["data"]}], []
    if kind == "push" and sender == "agent" and message.get("name") in CATALOGUE:
        document = {"type": "document", "name": message["name"]}
        return [document], [document]
    return [], []


# -- what hypothesis sends --------------------------------------------------------------

def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


KINDS = ("chat", "signal", "push", "joined", "peer", "closed", "document", "waiting",
         "limited", "wait", "hangup", "__proto__", "CHAT", "chat ", "")
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=25)
names = st.one_of(st.sampled_from(CATALOGUE), st.sampled_from([
    "../../settings.py", "/etc/passwd", "rates.png\x00", "RATES.PNG", "mortgages/rates.png",
    "..", ".", "", "terms.pdf/", "cover.png", "\u202egnp.exe", "rates.png " * 3]), st.text())


@st.composite
def objects(draw: st.DrawFn) -> str:
    """A JSON object of a kind the pages send, or not, its fields of any type."""
    message: dict[str, Any] = {"type": draw(st.one_of(st.sampled_from(KINDS), values))}
    kind = message["type"]
    if kind == "chat" or draw(st.booleans()):
        message["text"] = draw(st.one_of(st.text(max_size=80), values,
                                         st.text(min_size=1900, max_size=2100)))
    if kind == "signal" or draw(st.booleans()):
        message["data"] = draw(st.one_of(st.dictionaries(st.sampled_from(
            ["sdp", "candidate", "type", "x"]), values, max_size=3), values))
    if kind == "push" or draw(st.booleans()):
        message["name"] = draw(st.one_of(names, values))
    message.update(draw(st.dictionaries(st.text(max_size=6), values, max_size=2)))
    return json.dumps(message, ensure_ascii=draw(st.booleans()))


def nested(levels: int, opener: str) -> str:
    """JSON `levels` deep inside a chat message (each level a list or an object)."""
    close = {"[": "]", '{"a": ': "}"}[opener]
    return '{"type": "chat", "text": ' + opener * levels + "1" + close * levels + "}"


def big(char: str, count: int) -> str:
    """A chat message of `count` copies of `char` (1 to 4 bytes each in UTF-8)."""
    return json.dumps({"type": "chat", "text": char * count}, ensure_ascii=False)


frames = st.one_of(
    objects().map(Frame),
    values.filter(lambda v: not isinstance(v, dict)).map(lambda v: Frame(json.dumps(v))),
    st.text(max_size=100).map(Frame),
    st.builds(nested, st.integers(1, 40), st.sampled_from(["[", '{"a": '])).map(Frame),
    st.builds(big, st.sampled_from(["a", "é", "€", "😀"]),
              st.integers(1_000, 70_000)).map(Frame),
    st.sampled_from(['{"type": "signal", "data": {"x": NaN}}', '{"type": "chat", "text": 1e999}',
                     '{"type": "chat", "text": Infinity}', '{"a": 1, "a": [[[[[[[[[]]]]]]]]]}',
                     '{"type": "chat", "text": "\\ud800"}', "\ufeff{}", "{}", "{" * 3000,
                     '{"type": "chat", "text": ' + "1" * 5000 + "}",
                     json.dumps({"type": "chat", "text": "\x00\x1b[2J\u202e\u200b ok \n"})]
                    ).map(Frame),
    st.binary(max_size=100).map(lambda b: Frame(b, binary=True)),
    st.binary(min_size=1, max_size=60).filter(lambda b: not _utf8(b)).map(Frame),
)


# -- a page's socket --------------------------------------------------------------------

class Page:
    """A page's websocket: what it got, and whether (and how) the server closed it."""

    def __init__(self) -> None:
        self.ws: WebSocketClientConnection | None = None
        self.got: list[dict[str, Any]] = []
        self.closed = asyncio.Event()
        self._arrived = asyncio.Event()

    @classmethod
    async def open(cls, url: str, cookie: str = "") -> "Page":
        """Connect to `url` (ws://...) with the cookies a browser would send."""
        page = cls()
        page.ws = await websocket_connect(HTTPRequest(url, headers={"Cookie": cookie}),
                                          on_message_callback=page.take)
        return page

    def take(self, message: str | bytes | None) -> None:
        """One message from the server (None: the socket closed)."""
        if message is None:
            self.closed.set()
        else:
            self.got.append(json.loads(message))
        self._arrived.set()

    def send(self, frame: Frame) -> None:
        """Send one frame as it is."""
        assert self.ws is not None
        self.ws.write_message(frame.data, binary=frame.binary)

    async def until(self, wanted: Callable[[dict[str, Any]], bool],
                    seconds: float = 5.0) -> list[dict[str, Any]]:
        """Every message up to and including the first `wanted` one (taken off the list)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            for index, message in enumerate(self.got):
                if wanted(message):
                    taken, self.got = self.got[:index + 1], self.got[index + 1:]
                    return taken
            assert not self.closed.is_set(), f"the socket closed: {self.close_code()}"
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), deadline - asyncio.get_running_loop().time())

    async def closing(self, seconds: float = 5.0) -> tuple[int | None, str]:
        """Wait for the server to close the socket: its close code and reason."""
        await asyncio.wait_for(self.closed.wait(), seconds)
        return self.close_code()

    def close_code(self) -> tuple[int | None, str]:
        """The close code and reason the server sent (None: no close frame)."""
        assert self.ws is not None
        return self.ws.close_code, self.ws.close_reason or ""


def probe(n: int) -> Frame:
    """Signalling no page sends: the other page gets it last, after the frame before it."""
    return Frame(json.dumps({"type": "signal", "data": {"probe": n}}))


def is_probe(n: int) -> Callable[[dict[str, Any]], bool]:
    """Whether a message is probe `n`, relayed."""
    return lambda m: m.get("type") == "signal" and m.get("data") == {"probe": n}


def matches(got: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether `got` has every key of `wanted` with its value."""
    return all(got.get(key) == value for key, value in wanted.items())


# -- the tests --------------------------------------------------------------------------

class FuzzCase(WebCase):
    """A web app whose limits stay out of the way: no chat limit, no request limits, room
    for every document the fuzzing shares."""

    def web_settings(self, **values: Any) -> WebSettings:
        return WebSettings(**{**values, "chat_rate": None, "documents_per_room": 100_000,
                              "callbacks_per_number": None, "callbacks_per_client": None})

    def ws_url(self, path: str) -> str:
        return self.get_url(path).replace("http://", "ws://")

    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def room(self) -> "Room":
        """A connected call with both pages in its room."""
        callback_id, code = await self.connected_call()
        room = self.runtime.rooms.of_callback(callback_id)  # type: ignore[attr-defined]
        person = await Page.open(self.ws_url(f"/room/{room.person_token}/ws"))
        await person.until(lambda m: m.get("type") == "joined")
        fields = {"code": code} if self.cookies.get("agent") else \
            {**self.sign_in_fields(), "code": code}
        ticket = (await self.post_form("/agent", fields, page="/agent")).headers["Location"]
        agent = await Page.open(self.ws_url(ticket + "/ws"), self.cookie())
        await agent.until(lambda m: m.get("type") == "joined")
        await person.until(lambda m: m.get("type") == "peer")
        return Room(self, callback_id, room.person_token, ticket, person, agent)

    def drive(self, coroutine: Callable[[], Any], seconds: float = 30) -> Any:
        """Run a coroutine on the test's loop, from a plain (hypothesis) test."""
        return self.io_loop.run_sync(coroutine, timeout=seconds)


@dataclass
class Room:
    """A room under test: its call, both pages, and how to open them again."""

    case: FuzzCase
    callback_id: str
    person_token: str
    ticket: str
    person: Page
    agent: Page
    probes: int = 0

    def pages(self, sender: str) -> tuple[Page, Page]:
        """The sending page and the other one."""
        return (self.person, self.agent) if sender == "person" else (self.agent, self.person)

    async def reopen(self, sender: str) -> None:
        """Open `sender`'s page again after the server closed it; the other page is told."""
        if sender == "person":
            self.person = await Page.open(self.case.ws_url(f"/room/{self.person_token}/ws"))
            fresh, other = self.person, self.agent
        else:
            self.agent = await Page.open(self.case.ws_url(self.ticket + "/ws"), self.case.cookie())
            fresh, other = self.agent, self.person
        await fresh.until(lambda m: m.get("type") == "joined")
        await other.until(lambda m: m.get("type") == "peer" and m.get("present") is True)

    async def judge(self, frame: Frame, sender: str) -> None:
        """Send `frame` from `sender`'s page; hold the server to what it must do."""
        page, other = self.pages(sender)
        wanted = verdict(frame)
        page.send(frame)
        if isinstance(wanted, tuple):
            try:
                code, reason = await page.closing()
            except asyncio.TimeoutError:
                raise AssertionError(f"{frame} from the {sender}: still open, wanted "
                                     f"{wanted}") from None
            assert code == wanted[0] and wanted[1] in reason, (frame, wanted, code, reason)
            TRIED[f"websocket closed {code}"] += 1
            await other.until(lambda m: m.get("type") == "peer" and m.get("present") is False)
            await self.reopen(sender)
            return
        # A probe each way: all the server sent either page for the frame comes before it.
        expected = effects(wanted, sender)
        for to, source, wanted_here in ((other, page, expected[0]), (page, other, expected[1])):
            self.probes += 1
            source.send(probe(self.probes))
            try:
                got = (await to.until(is_probe(self.probes)))[:-1]
            except asyncio.TimeoutError:
                raise AssertionError(f"{frame} from the {sender}: a probe after it never "
                                     f"came (closed: {page.close_code()})") from None
            assert len(got) == len(wanted_here) and all(map(matches, got, wanted_here)), \
                (frame, sender, got, wanted_here)
        TRIED["websocket taken"] += 1


TOKENS = st.from_regex(r"\A[A-Za-z0-9_-]{1,40}\Z")        # the alphabet of ids and tokens


class TestRoomSockets(FuzzCase):
    def test_any_frame_from_either_page_is_closed_with_a_reason_or_does_what_it_says(
            self) -> None:
        fuzzed, bystander = self.drive(self.room), self.drive(self.room)
        watched = (len(bystander.person.got), len(bystander.agent.got))

        @FUZZ
        @given(frame=frames, sender=st.sampled_from(["person", "person", "agent"]))
        # Found so: a limit in bytes measured in characters (40,000 "é" are 80 kB), and
        # NaN, which a browser's JSON.parse refuses, relayed to the other page.
        @example(frame=Frame(big("é", 40_000)), sender="person")
        @example(frame=Frame('{"type": "signal", "data": {"x": NaN}}'), sender="person")
        @example(frame=Frame("y" * (300 * 1024)), sender="person")         # past tornado's cap
        def one(frame: Frame, sender: str) -> None:
            TRIED["websocket frames"] += 1
            self.drive(lambda: fuzzed.judge(frame, sender))

        one()
        # The other room saw nothing and still chats; the fuzzed one too; a new call connects.
        assert (len(bystander.person.got), len(bystander.agent.got)) == watched
        self.drive(lambda: _chats(bystander))
        self.drive(lambda: _chats(fuzzed))
        assert self.phones.person_hangs_up(fuzzed.callback_id)     # its desk phone is free
        self.drive(lambda: fuzzed.agent.until(lambda m: m.get("type") == "closed"))
        fresh = self.drive(self.room)
        self.drive(lambda: _chats(fresh))

    def test_links_that_open_nothing_are_closed_politely(self) -> None:
        @FUZZ
        @given(kind=st.sampled_from(["status", "room", "agent"]),
               first=TOKENS, second=TOKENS)
        def one(kind: str, first: str, second: str) -> None:
            TRIED["websocket links"] += 1
            path = {"status": f"/callbacks/{first}/{second}/ws", "room": f"/room/{first}/ws",
                    "agent": f"/agent/room/{first}/ws"}[kind]
            self.drive(lambda: _closed_at_once(self.ws_url(path), self.cookie()))

        self.drive(lambda: self.post_form("/agent", self.sign_in_fields(), page="/agent"))
        one()


async def _chats(room: Room) -> None:
    room.person.send(Frame(json.dumps({"type": "chat", "text": "still here?"})))
    await room.agent.until(lambda m: m.get("type") == "chat" and m.get("text") == "still here?")
    room.agent.send(Frame(json.dumps({"type": "chat", "text": "yes"})))
    await room.person.until(lambda m: m.get("type") == "chat" and m.get("text") == "yes")


async def _closed_at_once(url: str, cookie: str) -> None:
    page = await Page.open(url, cookie)
    code, reason = await page.closing()
    assert code == 1000 and reason, (url, code, reason)
    assert all(m.get("type") == "closed" for m in page.got), page.got


class TestStatusSocket(FuzzCase):
    def test_any_frame_to_a_status_page_is_closed_with_a_reason_or_ignored(self) -> None:
        _, answer = self.drive(lambda: self.api("/api/callbacks", {
            "phone": "+34 612 345 678", "name": "Ana", "service": "mortgages", "consent": True}))
        url = self.ws_url(answer["status_socket"])

        @FUZZ
        @given(frame=frames)
        def one(frame: Frame) -> None:
            TRIED["websocket frames"] += 1
            self.drive(lambda: _status_page(url, frame))

        one()


async def _status_page(url: str, frame: Frame) -> None:
    """Send `frame` to a status page's socket, then a binary one: the first must close it as
    `verdict` says, or be ignored (the second then closes it)."""
    page = await Page.open(url)
    await page.until(lambda m: m.get("notice") == "calling")     # served: its notices so far
    page.send(frame)
    page.send(Frame(b"\x00", binary=True))
    wanted = verdict(frame)
    code, reason = await page.closing()
    expected = wanted if isinstance(wanted, tuple) else (1007, "binary")
    assert code == expected[0] and expected[1] in reason, (frame, code, reason)
    TRIED[f"websocket closed {code}" if isinstance(wanted, tuple) else "websocket taken"] += 1


# -- uploads ----------------------------------------------------------------------------

MAGIC = {"image/png": PNG, "image/jpeg": b"\xff\xd8\xff\xe0 jpeg", "image/gif": b"GIF89a gif",
         "image/webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ", "application/pdf": b"%PDF-1.4 x",
         "text/plain": "текст, 🙂".encode()}


def accepted(content_type: str, data: bytes) -> bool:
    """Whether `data` is what a file of `content_type` starts with (text: UTF-8)."""
    if content_type == "text/plain":
        return _utf8(data)
    if content_type == "image/webp":
        return data.startswith(b"RIFF") and data[8:12] == b"WEBP"
    starts = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
              "image/gif": (b"GIF87a", b"GIF89a"), "application/pdf": (b"%PDF-",)}
    return data.startswith(starts[content_type])


def expected_upload(name: str, data: bytes) -> int:
    """The status an upload of `data` named `name` gets, by the upload rules."""
    if len(data) > UPLOAD_MAX:
        return 413
    if not data:
        return 400
    content_type = UPLOAD_TYPES.get(Path(safe_name(name)).suffix.lower())
    if content_type is None or not accepted(content_type, data):
        return 415
    return 201


tricks = st.sampled_from(["../../", "..\\..\\", "/etc/", "C:\\Windows\\", "a/b/", "./", "",
                          "\x00", "\u202e", "\u200b", "\r\n", '"', "%2e%2e%2f", "con.", " ",
                          ".", "..", "~/", "\\\\server\\share\\"])
stems = st.one_of(st.text(max_size=20), st.sampled_from(["Договор аренды", "план 🙂", "résumé",
                                                          "العقد", "契約", "a" * 300, ""]))
suffixes = st.sampled_from([".png", ".PNG", ".jpg", ".jpeg", ".gif", ".webp", ".pdf", ".txt",
                            ".exe", ".svg", ".html", ".png.exe", ".pdf ", "", "."])
middles = st.sampled_from(["", "", "", "\x00", "\u202e", "\u200b", " ", "%2e", '"', "\t", "é",
                           "/", "\\", ".", "\r\n"])
upload_names = st.builds(lambda a, b, c, d: a + b + c + d, tricks, stems, middles, suffixes)


@st.composite
def upload_data(draw: st.DrawFn, name: str) -> bytes:
    """A file's bytes: right for its name, right for another type, random, empty, or big."""
    kind = draw(st.sampled_from(["named", "named", "right", "random", "empty", "big", "limit"]))
    named = UPLOAD_TYPES.get(Path(name).suffix.lower())
    if kind == "named" and named is not None:
        return MAGIC[named]
    if kind in ("named", "right"):
        return MAGIC[draw(st.sampled_from(sorted(MAGIC)))]
    if kind == "random":
        return draw(st.binary(min_size=1, max_size=200))
    if kind == "empty":
        return b""
    head = MAGIC[draw(st.sampled_from(sorted(MAGIC)))]
    size = UPLOAD_MAX if kind == "limit" else draw(st.integers(UPLOAD_MAX + 1, 400 * 1024))
    return head + b"x" * (size - len(head))


def multipart(name: str, data: bytes, style: str, declared: str) -> tuple[bytes, str]:
    """A form-data body with one file, its name as a browser writes it or as RFC 5987."""
    boundary = "----fuzz7MA4YWxkTrZu0gW"
    if style == "browser":      # raw UTF-8 in quotes; a browser escapes ", CR and LF
        shown = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        disposition = f'filename="{shown}"'
    else:
        disposition = f"filename*=UTF-8''{urllib.parse.quote(name, safe='')}"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; {disposition}\r\n"
            f"Content-Type: {declared}\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def parsed_name(body: bytes, boundary: str) -> str | None:
    """The file's name as tornado reads it from `body` (None: it finds no file)."""
    files: dict[str, list[HTTPFile]] = {}
    parse_body_arguments(f"multipart/form-data; boundary={boundary}", body, {}, files)
    return files["file"][0].filename if files.get("file") else None


class TestUploads(FuzzCase):
    def test_any_upload_gets_the_answer_the_rules_give_and_downloads_as_sent(self) -> None:
        room = self.drive(self.room)
        xsrf = self.drive(lambda: self.xsrf("/agent"))

        @FUZZ
        @given(upload=upload_names.flatmap(lambda name: st.tuples(st.just(name),
                                                                  upload_data(name))),
               style=st.sampled_from(["browser", "5987"]),
               declared=st.sampled_from(["application/octet-stream", "image/png", "text/html",
                                         "image/svg+xml", "", "text/plain; charset=latin-1"]))
        # Found so: a body past the server's own cut-off (the upload limit and 256 kB)
        # was answered a bare 400 with no reason.
        @example(upload=("big.png", PNG + b"x" * (400 * 1024)), style="browser",
                 declared="image/png")
        def one(upload: tuple[str, bytes], style: str, declared: str) -> None:
            name, data = upload
            if style == "browser" and ("\\" in name or any(
                    unicodedata.category(ch) == "Cc" for ch in name.replace("\r\n", ""))):
                style = "5987"       # no browser puts a backslash or a control character there
            TRIED["uploads"] += 1
            self.drive(lambda: self.upload(room, name, data, style, declared, xsrf))

        one()
        # Bodies no browser sends: refused with tornado's plain 400 page, or ours without a file.
        for body in (b"no multipart at all", b"------fuzz\r\n\r\n", b"",
                     b"------fuzz\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n"
                     b"x\r\n------fuzz--\r\n"):
            TRIED["uploads"] += 1
            response = self.drive(lambda: self.go(room.ticket + "/upload", "POST", body, {
                "Content-Type": "multipart/form-data; boundary=----fuzz", "X-XSRFToken": xsrf}))
            assert response.code == 400 and b"Traceback" not in response.body, response.body

    async def upload(self, room: Room, name: str, data: bytes, style: str, declared: str,
                     xsrf: str) -> None:
        body, boundary = multipart(name, data, style, declared)
        response = await self.go(room.ticket + "/upload", "POST", body, {
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-XSRFToken": xsrf})
        sent = parsed_name(body, boundary)
        wanted = 400 if sent is None else expected_upload(sent, data)
        TRIED[f"upload {response.code}"] += 1
        assert response.code == wanted, (name, len(data), response.code, response.body[:300])
        answer = json.loads(response.body)
        if wanted != 201:
            assert answer["error"], answer
            return
        assert sent is not None and answer["name"] == safe_name(sent), (name, style, sent)
        shown = await room.person.until(lambda m: m.get("type") == "document"
                                        and m.get("id") == answer["id"])
        document = shown[-1]
        await room.agent.until(lambda m: m.get("id") == answer["id"])
        download = await self.go(f"/room/{room.person_token}/doc/{document['id']}")
        assert download.code == 200 and download.body == data
        assert download.headers["Content-Type"] == document["content_type"]
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        disposition = download.headers["Content-Disposition"]
        disposition.encode("latin-1")
        inline = document["content_type"].startswith("image/")
        assert disposition.startswith("inline;" if inline else "attachment;"), disposition
        assert disposition.endswith("filename*=UTF-8''" + urllib.parse.quote(answer["name"],
                                                                          safe=""))


@settings(max_examples=10 * EXAMPLES, deadline=None, derandomize=True, database=None)
@given(name=st.one_of(upload_names, st.text()))
# Found so: ". .png" was shown as " .png", and a long name lost its extension.
@example(name=". .png")
@example(name="a" * 300 + ".png")
def test_a_shared_documents_name_is_safe_to_show_and_to_send(name: str) -> None:
    TRIED["document names"] += 1
    shown = safe_name(name)
    assert shown and len(shown) <= 120 and shown == shown.strip() and not shown.startswith(".")
    assert not {"/", "\\"} & set(shown)
    assert all(unicodedata.category(ch)[0] != "C" for ch in shown), ascii(shown)
    assert unicodedata.normalize("NFC", shown) == shown
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1].strip(" ")
    if re.fullmatch(r"[\w.() -]{1,120}", base) and not base.startswith("."):
        assert shown == base            # a plain name is kept as it is
    suffix = Path(base).suffix
    if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix) and base[:-len(suffix)].strip(". "):
        assert shown.endswith(suffix), (name, shown)      # however long the name


def test_zz_report_the_cases_tried() -> None:
    """Runs last in this file: how many cases each kind tried, and how they were answered."""
    print("\nsocket fuzz cases:", ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items())))
    assert TRIED["websocket frames"] >= EXAMPLES and TRIED["uploads"] >= EXAMPLES

