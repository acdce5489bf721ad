#!/usr/bin/env python3
"""The reference web app under load: form submissions per second, and chat
round trips with 2,000 room websockets held at once.

Every figure is printed beside a reference measured in the same run, with
the same client, against a server started the same way (see
benchmarks/README.md):

1. **Form submissions per second.** `callback-emu serve` runs as a separate
   process (a load scenario written by this script: the person's line is
   busy, so each submission is a whole short callback: validated, started
   on the switchboard, dialled on the emulated PBX, ended, stored in SQLite
   at each step). `--clients` concurrent keep-alive HTTP/1.1 clients (plain
   asyncio streams, in this process) POST the real HTML form (`POST /`, with
   the xsrf cookie and token taken from `GET /`, answered by a 303 to the
   status page) for `--seconds`, then the JSON API (`POST /api/callbacks`,
   201) for `--seconds`. The reference: the same clients against a trivial
   tornado app (`GET /` gives an xsrf field, `POST /` checks it and answers
   303, `POST /api/callbacks` answers 201), started the same way.
2. **Chat with 2,000 room websockets.** Another `serve` process whose phones
   answer at once and whose agents stay on the line. `--sockets / 2` callbacks
   are requested through the API; each one's status websocket gives the
   person's room link; the agent signs in on the agent page (key, xsrf),
   types each call's code (from `GET /api/callbacks/{id}`, as the desk phone
   shows it) and gets its room ticket; then the person's and the agent's room
   websockets connect: `--sockets` websockets held at once. Chat messages are
   sent from the person or the agent in turn:
   - **paced**: `--chat-rate` messages/s spread over the rooms for
     `--seconds`: one-way delivery (sent by one page -> received by the other
     page, one clock: both pages are in this process) and the echo round trip
     (sent -> the server's copy back to the sender);
   - **ping-pong**: each room has one message in flight, the receiver answers
     at once, for `--seconds`: the messages/s the server carries.
   The reference: a bare tornado websocket relay (pairs of websockets; a
   message is sent back to its sender and on to its pair, as the room does),
   the same number of websockets and the same message pattern.

The servers run in separate processes (the reference ones are this file with
``--reference-server``); the file-descriptor limit is raised in every process.
Loopback only; bounded in time and count.

    .venv/bin/python benchmarks/web_load.py                 # ~4 minutes
    .venv/bin/python benchmarks/web_load.py --quick         # < 30 s, 200 websockets
    .venv/bin/python benchmarks/web_load.py --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import re
import resource
import secrets
import signal
import socket
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import harness  # noqa: E402

HOST = "127.0.0.1"
SERVICE = "mortgages"
XSRF_FIELD = re.compile(rb'name="_xsrf" value="([^"]+)"')
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}

# latencies: ms to two decimals, counted as "n"; printed with :g
percentiles = functools.partial(harness.percentiles_ms, count_key="n", digits=2)
fmt_pct = functools.partial(harness.fmt_percentiles, count_key="n", spec="g", max_spec="g",
                            max_unit="", count_spec=",")


# -- processes ---------------------------------------------------------------

def raise_nofile() -> int:
    """Raise this process's open-file limit to its hard limit; the soft limit after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def child_nofile(pid: int) -> int | None:
    """Another process's open-file limit (/proc), None if unknown."""
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return None


class Server(harness.Child):
    """A server process on a loopback port, its output in a log file."""

    def __init__(self, name: str, argv: list[str], port: int, log: Path) -> None:
        self.name, self.port = name, port
        super().__init__(argv, log, preexec=raise_nofile)

    def wait_listening(self, seconds: float = 60.0) -> None:
        """Return once the port takes connections; raise if the server exits or never listens."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}): {self.tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen on {HOST}:{self.port}: {self.tail()}")

    def rss_mb(self) -> float | None:
        """Its resident set size now, in MB to one decimal."""
        rss = self.rss()
        return None if rss is None else round(rss / 1024 / 1024, 1)


def start_serve(tmp: Path, name: str, scenario: str, key: str,
                records_dir: Path | None = None) -> Server:
    """`callback-emu serve` on a free port with `scenario`, listening when this returns."""
    path = tmp / f"{name}.yaml"
    path.write_text(scenario)
    port = harness.free_port(HOST)
    exe = Path(sys.executable).parent / "callback-emu"
    argv = ([str(exe)] if exe.exists() else [sys.executable, "-m", "emulator.cli"]) + [
        "serve", "--port", str(port), "--scenario", str(path),
        "--db", str((records_dir or tmp) / f"{name}.sqlite3"), "--agent-key", key,
        "--no-request-limits"]      # the app's speed, not its limiter's: one client sends thousands
    server = Server(f"serve ({name})", argv, port, tmp / f"{name}.log")
    server.wait_listening()
    return server


def start_reference(tmp: Path, kind: str) -> Server:
    """This file as a reference server (`hello` or `relay`) on a free port, listening."""
    port = harness.free_port(HOST)
    argv = harness.self_command(__file__, "--reference-server", kind, "--port", str(port))
    server = Server(f"reference {kind}", argv, port, tmp / f"reference-{kind}.log")
    server.wait_listening()
    return server


# -- the scenarios served ----------------------------------------------------

FORM_SCENARIO = """\
# web_load.py, form submissions: the person's line is busy, so each
# submission is a whole short callback (dial, busy, ended, stored).
name: web load - form submissions, busy lines
seed: 3
services:
  mortgages: {centres: [madrid], label: Mortgages}
centres:
  madrid: {terminals: 4, ring_timeout: 20s, agent: desk}
profiles:
  people:
    caller: {busy_probability: 1.0}
  agents:
    desk: {pickup_delay: {fixed: 10ms}, talk_time: {fixed: 60min}}
pbx: {trunks: 5000, post_dial_delay: {fixed: 10ms}}
rooms: {servers: 1, rooms_per_server: 100}
callbacks:
  - {at: 0s, service: mortgages, person: caller}
"""


def rooms_scenario(rooms: int) -> str:
    """The chat's scenario: phones answer at once, room for `rooms` rooms, agents stay on."""
    digits = 4 if rooms < 8000 else 6
    return f"""\
# web_load.py, rooms: phones answer at once, agents stay on the line for an hour.
name: web load - {rooms} rooms
seed: 4
services:
  mortgages: {{centres: [madrid], label: Mortgages}}
centres:
  madrid: {{terminals: {rooms + 50}, ring_timeout: 20s, agent: desk}}
profiles:
  people:
    caller: {{answer_delay: {{fixed: 10ms}}}}
  agents:
    desk: {{pickup_delay: {{fixed: 10ms}}, talk_time: {{fixed: 60min}}}}
pbx: {{trunks: {2 * rooms + 100}, post_dial_delay: {{fixed: 10ms}}}}
rooms: {{servers: 1, rooms_per_server: {rooms + 50}}}
codes: {{digits: {digits}}}
callbacks:
  - {{at: 0s, service: mortgages, person: caller}}
"""




# -- the reference servers (this file, --reference-server) -------------------

def hello_app() -> Any:
    """Bare tornado: `GET /` gives an xsrf field, `POST /` checks it and answers 303,
    `POST /api/callbacks` answers 201."""
    import tornado.web

    class Hello(tornado.web.RequestHandler):
        """The page with a form: its xsrf field; the post answered by a 303."""

        def get(self) -> None:
            self.write(f"<form method=post>{self.xsrf_form_html()}</form>hello")

        def post(self) -> None:
            self.redirect("/callbacks/hello", status=303)

    class HelloApi(tornado.web.RequestHandler):
        """The API: 201 and a small JSON body."""

        def check_xsrf_cookie(self) -> None:
            return None

        def post(self) -> None:
            self.set_status(201)
            self.set_header("Content-Type", "application/json")
            self.finish('{"id": "hello"}')

    return tornado.web.Application([(r"/", Hello), (r"/api/callbacks", HelloApi)],
                                   xsrf_cookies=True)


def relay_app() -> Any:
    """Bare tornado websockets in pairs: a message goes back to its sender and on to its pair."""
    import tornado.web
    import tornado.websocket

    pairs: dict[str, dict[str, Any]] = {}

    class Relay(tornado.websocket.WebSocketHandler):
        """Pairs of websockets: a message goes back to its sender and on to its pair."""

        def open(self, pair: str, side: str) -> None:
            self.pair, self.side = pair, side
            pairs.setdefault(pair, {})[side] = self

        def on_message(self, message: str | bytes) -> None:
            for peer in list(pairs.get(self.pair, {}).values()):
                try:
                    peer.write_message(message)
                except tornado.websocket.WebSocketClosedError:
                    pass

        def on_close(self) -> None:
            members = pairs.get(self.pair, {})
            if members.get(self.side) is self:
                del members[self.side]

    return tornado.web.Application([(r"/pair/(\d+)/(a|b)/ws", Relay)],
                                   websocket_max_message_size=64 * 1024)


def reference_server(kind: str, port: int) -> None:
    """Serve the `hello` or `relay` reference on `port` until SIGINT or SIGTERM."""
    raise_nofile()
    app = hello_app() if kind == "hello" else relay_app()

    async def main() -> None:
        app.listen(port, address=HOST)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    asyncio.run(main())


# -- a small keep-alive HTTP/1.1 client on asyncio streams --------------------

class HttpError(Exception):
    """A request that got no proper answer."""


class Conn:
    """One keep-alive connection; cookies kept as a browser would (per connection)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.cookies: dict[str, str] = {}

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """Send one request (connecting if need be); its status, headers and body."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            self.close()
            raise HttpError(f"connection lost: {error!r}") from None
        status, found = self._head(head)
        length = found.get("content-length")
        if length is None:
            self.close()
            raise HttpError(f"no Content-Length in a {status} answer")
        data = await self.reader.readexactly(int(length)) if int(length) else b""
        if found.get("connection", "").lower() == "close":
            self.close()
        return status, found, data

    def _head(self, head: bytes) -> tuple[int, dict[str, str]]:
        """The status and headers of an answer; its cookies kept."""
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        found: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                name, value = name.strip().lower(), value.strip()
                if name == "set-cookie":
                    cookie = value.split(";", 1)[0]
                    if "=" in cookie:
                        k, v = cookie.split("=", 1)
                        self.cookies[k.strip()] = v.strip().strip('"')
                found[name] = value
        return status, found

    def close(self) -> None:
        """Close the connection (the next request opens another)."""
        if self.writer is not None:
            self.writer.close()
        self.writer = None


async def xsrf_token(conn: Conn, path: str) -> tuple[int, str | None]:
    """GET `path`: its status and the xsrf field of its form (None without; `conn` keeps the cookie)."""
    status, _, page = await conn.request("GET", path)
    found = XSRF_FIELD.search(page)
    return status, found.group(1).decode() if status == 200 and found is not None else None


def cpu_figures(meter: harness.CpuMeter, units: int) -> dict[str, Any]:
    """CPU over a step: the server's, this process's (the client) and the rest of the machine's."""
    used = meter.stop()
    s, c = used.procs.get("server", 0.0), used.own
    return {"server_cores": used.cores(s), "client_cores": used.cores(c),
            "other_cores": used.cores(used.other(s, c)),
            "server_cpu_ms_per_unit": round(1000 * s / units, 3) if units else None}


def server_meter(server: Server) -> harness.CpuMeter:
    """A CPU meter on `server` (0 CPU if it is gone, as a crashed server uses none)."""
    return harness.CpuMeter({"server": server.pid}, missing=0.0)


# -- 1. form submissions -----------------------------------------------------

def phone(n: int) -> str:
    """A valid, unique Spanish mobile number for the n-th submission."""
    return f"+34 6{10_000_000 + n % 89_999_999:08d}"


def submission(kind: str, n: int, token: str) -> tuple[str, bytes, dict[str, str], int]:
    """The n-th submission of the form (or the API): path, body, headers, the status it expects."""
    if kind == "form":
        body = urllib.parse.urlencode({"phone": phone(n), "name": f"Ana {n}", "service": SERVICE,
                                       "consent": "yes", "_xsrf": token}).encode()
        return "/", body, FORM, 303
    body = json.dumps({"phone": phone(n), "name": f"Ana {n}", "service": SERVICE,
                       "consent": True}).encode()
    return "/api/callbacks", body, JSON, 201


class Submissions:
    """Keep-alive clients that POST the form (or the API) in a closed loop, and what they got."""

    def __init__(self, port: int, kind: str) -> None:
        self.port, self.kind = port, kind
        self.counter = iter(range(10**9))
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.accepted = 0
        self.start = asyncio.Event()
        self.end = float("inf")

    def error(self, what: str) -> None:
        """Count one error of this kind."""
        self.errors[what] = self.errors.get(what, 0) + 1

    async def client(self) -> None:
        """One client: its xsrf token first (the form), then submissions until the end."""
        conn = Conn(self.port)
        token = ""
        try:
            if self.kind == "form":
                status, found = await xsrf_token(conn, "/")
                if found is None:
                    self.error(f"GET / {status} without an xsrf field")
                    return
                token = found
            await self.start.wait()
            while time.monotonic() < self.end:
                await self.submit(conn, token)
        finally:
            conn.close()

    async def submit(self, conn: Conn, token: str) -> None:
        """One submission, timed; a lost connection or timeout counts as an error."""
        path, body, headers, good = submission(self.kind, next(self.counter), token)
        t0 = time.perf_counter()
        try:
            status, _, _ = await asyncio.wait_for(conn.request("POST", path, body, headers), 30)
        except (HttpError, OSError, asyncio.TimeoutError) as err:
            self.error(type(err).__name__)
            conn.close()
            return
        self.latencies.append(time.perf_counter() - t0)
        if status == good:
            self.accepted += 1
        else:
            self.error(f"HTTP {status}")


async def submissions(port: int, kind: str, clients: int, seconds: float,
                      server: Server) -> dict[str, Any]:
    """`clients` keep-alive clients POST the form (or the API) for `seconds`."""
    step = Submissions(port, kind)
    tasks = [asyncio.create_task(step.client()) for _ in range(clients)]
    await asyncio.sleep(0.5)                       # every client has its xsrf token
    meter = server_meter(server)
    t0 = time.monotonic()
    step.end = t0 + seconds
    step.start.set()
    await asyncio.gather(*tasks)
    wall = time.monotonic() - t0
    return {"kind": kind, "clients": clients, "seconds": round(wall, 2), "accepted": step.accepted,
            "accepted_per_s": round(step.accepted / wall, 1), "errors": sum(step.errors.values()),
            "errors_by_kind": step.errors, "latency_ms": percentiles(step.latencies),
            "cpu": cpu_figures(meter, step.accepted)}


# -- 2. chat with many room websockets ---------------------------------------

class Pages:
    """The websockets of this process: pairs (person/agent or a/b) and chat timings."""

    def __init__(self) -> None:
        self.pairs: list[list[Any]] = []           # [first, second] websockets per room
        self.open = 0
        self.closed_early = 0
        self.sent: dict[str, tuple[float, int, int]] = {}   # text -> (t, pair, sender side)
        self.delivery: list[float] = []            # sender -> the other page
        self.echo: list[float] = []                # sender -> its own copy back
        self.on_delivered: Callable[[int, int], None] | None = None
        self.late = 0

    def callback(self, pair: int, side: int, joined: asyncio.Future[None] | None = None
                 ) -> Callable[[str | bytes | None], None]:
        """The message callback of one page's websocket; with `joined`, the room's
        `joined` message (or the socket closing before it) settles that future."""
        def on_message(raw: str | bytes | None) -> None:
            if raw is None:
                if joined is not None and not joined.done():
                    joined.set_exception(HttpError("closed before 'joined'"))
                    return
                self.open -= 1
                self.closed_early += 1
                return
            now = time.perf_counter()
            try:
                message = json.loads(raw)
            except ValueError:
                return
            if message.get("type") != "chat":
                if joined is not None and not joined.done() and message.get("type") == "joined":
                    joined.set_result(None)
                return
            self.received(message.get("text", ""), side, now)
        return on_message

    def received(self, text: str, side: int, now: float) -> None:
        """A chat message reached the page on `side`: its delivery or echo time."""
        sent = self.sent.get(text)
        if sent is None:
            self.late += 1
            return
        t, p, sender = sent
        if side == sender:
            self.echo.append(now - t)
        else:
            self.delivery.append(now - t)
            if self.on_delivered is not None:
                self.on_delivered(p, side)

    def send(self, pair: int, side: int, text: str) -> None:
        """Send a chat message from one page of a pair, noting when."""
        self.sent[text] = (time.perf_counter(), pair, side)
        self.pairs[pair][side].write_message(json.dumps({"type": "chat", "text": text}))

    def reset(self) -> None:
        """Forget the timings of the previous step."""
        self.sent.clear()
        self.delivery, self.echo = [], []
        self.late = 0

    def close_all(self) -> None:
        """Close every websocket."""
        for pair in self.pairs:
            for ws in pair:
                if ws is not None:
                    ws.close()

    def complete(self) -> None:
        """Keep only the pairs whose two pages are both in."""
        self.pairs = [p for p in self.pairs if p[0] is not None and p[1] is not None]


async def connect(url: str, on_message: Callable[[Any], None] | None, cookie: str = "") -> Any:
    """A websocket whose messages go to `on_message` (or are read by the caller without one)."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    request = HTTPRequest(url, headers={"Cookie": cookie} if cookie else {},
                          connect_timeout=30, request_timeout=30)
    return await websocket_connect(request, on_message_callback=on_message)


async def join(pages: Pages, pair: int, side: int, url: str, cookie: str = "") -> None:
    """Connect one page of a room and wait for its `joined`."""
    joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    ws = await connect(url, pages.callback(pair, side, joined), cookie=cookie)
    await asyncio.wait_for(joined, 30)
    pages.pairs[pair][side] = ws
    pages.open += 1


class RoomOpener:
    """Callbacks through the app's own path, each to a room with both pages connected."""

    def __init__(self, port: int, key: str, pages: Pages, say: Callable[[str], None]) -> None:
        self.port, self.key, self.pages, self.say = port, key, pages, say
        self.agent = Conn(port)                    # one agent browser: one connection
        self.agent_lock = asyncio.Lock()
        self.xsrf = self.agent_cookie = ""
        self.failures: dict[str, int] = {}
        self.done = 0
        self.t0 = time.monotonic()

    async def sign_in(self) -> None:
        """The agent signs in on the agent page (key, xsrf): its cookie."""
        status, xsrf = await xsrf_token(self.agent, "/agent")
        assert status == 200 and xsrf, f"GET /agent: {status}"
        self.xsrf = xsrf
        status, _, _ = await self.agent.request("POST", "/agent", urllib.parse.urlencode(
            {"key": self.key, "code": "", "_xsrf": xsrf}).encode(), FORM)
        assert status == 303 and "agent" in self.agent.cookies, f"agent sign-in: {status}"
        self.agent_cookie = "; ".join(f"{k}={v}" for k, v in self.agent.cookies.items())

    async def request(self, i: int) -> tuple[str, str]:
        """Request the i-th callback; its person's room link and the code its desk phone shows."""
        conn = Conn(self.port)
        status, _, body = await conn.request("POST", "/api/callbacks", json.dumps(
            {"phone": phone(i), "name": f"Ana {i}", "service": SERVICE,
             "consent": True}).encode(), JSON)
        if status != 201:
            raise HttpError(f"POST /api/callbacks {status}")
        answer = json.loads(body)
        room_url = await self.room_ready(answer["status_socket"])
        status, _, body = await conn.request("GET", answer["status_api"])
        conn.close()
        return room_url, json.loads(body)["code"]

    async def room_ready(self, status_socket: str) -> str:
        """The status page's websocket up to `room_ready`: the person's room link."""
        status_ws = await connect(f"ws://{HOST}:{self.port}{status_socket}", None)
        room_url = None
        while room_url is None:
            raw = await asyncio.wait_for(status_ws.read_message(), 30)
            if raw is None:
                raise HttpError("status socket closed before room_ready")
            notice = json.loads(raw)
            if notice.get("final"):
                raise HttpError(f"callback ended: {notice.get('notice')}")
            room_url = notice.get("room_url")
        status_ws.close()
        return room_url

    async def ticket(self, code: str) -> str:
        """The agent types the code on the agent page: the path of its room ticket."""
        async with self.agent_lock:
            status, headers, _ = await self.agent.request("POST", "/agent", urllib.parse.urlencode(
                {"code": code, "_xsrf": self.xsrf}).encode(), FORM)
        if status != 303:
            raise HttpError(f"agent code {status}")
        return headers["location"]

    async def open_one(self, i: int, sem: asyncio.Semaphore, rooms: int) -> None:
        """The i-th room, start to finish; a failure is counted by its message."""
        async with sem:
            try:
                room_url, code = await self.request(i)
                ticket_path = await self.ticket(code)
                await join(self.pages, i, 0, f"ws://{HOST}:{self.port}{room_url}/ws")
                await join(self.pages, i, 1, f"ws://{HOST}:{self.port}{ticket_path}/ws",
                           cookie=self.agent_cookie)
            except (HttpError, OSError, asyncio.TimeoutError, KeyError, ValueError) as err:
                what = str(err)[:80] or type(err).__name__
                self.failures[what] = self.failures.get(what, 0) + 1
            self.done += 1
            if self.done % max(1, rooms // 5) == 0:
                self.say(f"  rooms: {self.done}/{rooms} ({self.pages.open} websockets open, "
                         f"{time.monotonic() - self.t0:.0f} s)")


async def open_rooms(port: int, key: str, rooms: int, concurrency: int,
                     pages: Pages, say: Callable[[str], None]) -> dict[str, Any]:
    """`rooms` callbacks through the app's own path, each to a room with both pages connected."""
    opener = RoomOpener(port, key, pages, say)
    await opener.sign_in()
    pages.pairs = [[None, None] for _ in range(rooms)]
    sem = asyncio.Semaphore(concurrency)
    await asyncio.gather(*(opener.open_one(i, sem, rooms) for i in range(rooms)))
    opener.agent.close()
    pages.complete()
    return {"rooms_asked": rooms, "rooms_ready": len(pages.pairs), "failures": opener.failures,
            "setup_s": round(time.monotonic() - opener.t0, 1)}


async def open_pairs(port: int, pairs: int, concurrency: int, pages: Pages) -> dict[str, Any]:
    """`pairs` pairs of websockets on the reference relay."""
    t0 = time.monotonic()
    pages.pairs = [[None, None] for _ in range(pairs)]
    sem = asyncio.Semaphore(concurrency)
    failures: dict[str, int] = {}

    async def one(i: int) -> None:
        async with sem:
            try:
                for side, name in ((0, "a"), (1, "b")):
                    pages.pairs[i][side] = await connect(f"ws://{HOST}:{port}/pair/{i}/{name}/ws",
                                                         pages.callback(i, side))
                    pages.open += 1
            except (OSError, asyncio.TimeoutError) as err:
                failures[type(err).__name__] = failures.get(type(err).__name__, 0) + 1

    await asyncio.gather(*(one(i) for i in range(pairs)))
    pages.complete()
    return {"rooms_ready": len(pages.pairs), "failures": failures,
            "setup_s": round(time.monotonic() - t0, 1)}


async def paced_chat(pages: Pages, rate: float, seconds: float, server: Server,
                     drain: float = 5.0) -> dict[str, Any]:
    """`rate` messages/s, round-robin over the rooms, the person and the agent in turn."""
    pages.reset()
    pages.on_delivered = None
    rooms = len(pages.pairs)
    meter = server_meter(server)
    t0 = time.monotonic()
    sent = 0
    total = max(1, int(seconds * rate))
    tick = 0.01
    while sent < total:
        due = int((time.monotonic() - t0) * rate) + 1
        while sent < min(due, total):
            pair = sent % rooms
            side = (sent // rooms) % 2
            pages.send(pair, side, f"p{sent}")
            sent += 1
        await asyncio.sleep(tick)
    wall = time.monotonic() - t0
    deadline = time.monotonic() + drain
    while (len(pages.delivery) < sent or len(pages.echo) < sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return {"offered_per_s": rate, "seconds": round(wall, 2), "sent": sent,
            "sent_per_s": round(sent / wall, 1), "delivered": len(pages.delivery),
            "echoed": len(pages.echo), "lost": sent - len(pages.delivery),
            "delivery_ms": percentiles(pages.delivery), "echo_ms": percentiles(pages.echo),
            "cpu": cpu_figures(meter, sent)}


async def ping_pong(pages: Pages, seconds: float, server: Server) -> dict[str, Any]:
    """Each room keeps one message in flight: the receiving page answers at once."""
    pages.reset()
    rooms = len(pages.pairs)
    counter = iter(range(10**9))
    stop = False

    def delivered(pair: int, side: int) -> None:
        if not stop:
            pages.send(pair, side, f"q{next(counter)}")

    pages.on_delivered = delivered
    meter = server_meter(server)
    t0 = time.monotonic()
    for pair in range(rooms):
        pages.send(pair, 0, f"q{next(counter)}")
    await asyncio.sleep(seconds)
    stop = True
    wall = time.monotonic() - t0
    delivered_n = len(pages.delivery)
    cpu = cpu_figures(meter, delivered_n)
    await asyncio.sleep(1.0)
    pages.on_delivered = None
    return {"rooms_in_flight": rooms, "seconds": round(wall, 2), "delivered": delivered_n,
            "messages_per_s": round(delivered_n / wall, 1),
            "frames_out_per_s": round(2 * delivered_n / wall, 1),
            "delivery_ms": percentiles(pages.delivery), "cpu": cpu}


async def server_rooms(port: int, key: str) -> dict[str, int]:
    """What the app itself counts (`GET /api/rooms`): rooms, rooms with both pages, websockets."""
    conn = Conn(port)
    try:
        status, _, body = await conn.request("GET", "/api/rooms", headers={"X-Agent-Key": key})
    finally:
        conn.close()
    rooms = json.loads(body)["rooms"] if status == 200 else []
    both = sum(1 for r in rooms if r["present"] == ["agent", "person"])
    return {"rooms": len(rooms), "rooms_with_both_pages": both,
            "websockets": sum(len(r["present"]) for r in rooms)}


# -- the run -----------------------------------------------------------------

async def form_phase(say: harness.Say, args: argparse.Namespace, tmp: Path,
                     key: str) -> dict[str, Any]:
    """Both servers up at once; their steps interleaved, so a shared machine's
    changing load falls on both alike."""
    out: dict[str, Any] = {}
    servers: dict[str, Server] = {}
    try:
        servers["product"] = start_serve(tmp, "form", FORM_SCENARIO, key, args.records_path)
        servers["reference"] = start_reference(tmp, "hello")
        for name, server in servers.items():
            out[f"{name}_nofile"] = child_nofile(server.pid)
        for kind in ("form", "api"):
            for name, server in servers.items():
                say(f"form submissions: {server.name}, {kind}, {args.clients} clients x "
                    f"{args.seconds:g} s (load {harness.load_average()})")
                run = await submissions(server.port, kind, args.clients, args.seconds, server)
                run["load_avg_after"] = harness.load_average()
                out[f"{name}_{kind}"] = run
                say(f"  {run['accepted_per_s']:,.1f} accepted/s, {run['errors']} errors, "
                    f"{fmt_pct(run['latency_ms'])}; server {run['cpu']['server_cores']} "
                    f"cores, client {run['cpu']['client_cores']}, other "
                    f"{run['cpu']['other_cores']}")
        out["product_rss_mb"] = servers["product"].rss_mb()
    finally:
        for server in servers.values():
            server.stop()
    return out


async def open_chat(say: harness.Say, args: argparse.Namespace, key: str,
                    servers: dict[str, Server], pages: dict[str, Pages],
                    out: dict[str, Any]) -> None:
    """The app's rooms, then the reference's pairs, all held open at once."""
    rooms = args.sockets // 2
    for name, server in servers.items():
        out[f"{name}_nofile"] = child_nofile(server.pid)
        say(f"chat: {server.name}, opening {rooms} rooms x 2 websockets "
            f"(load {harness.load_average()})")
        if name == "product":
            setup = await open_rooms(server.port, key, rooms, args.setup_concurrency,
                                     pages[name], say)
            setup["server_view"] = await server_rooms(server.port, key)
        else:
            setup = await open_pairs(server.port, rooms, args.setup_concurrency, pages[name])
        setup["websockets_open"] = pages[name].open
        say(f"  {setup['rooms_ready']} rooms, {pages[name].open} websockets open in "
            f"{setup['setup_s']} s" + (f"; failures {setup['failures']}" if setup["failures"] else "")
            + (f"; the server counts {setup['server_view']}" if "server_view" in setup else ""))
        out[name] = {"setup": setup}


async def chat_steps(say: harness.Say, args: argparse.Namespace, servers: dict[str, Server],
                     pages: dict[str, Pages], out: dict[str, Any]) -> None:
    """The paced step on each server, then the ping-pong step on each."""
    for name, server in servers.items():
        say(f"  paced chat, {server.name}: {args.chat_rate:g} messages/s for "
            f"{args.seconds:g} s (load {harness.load_average()})")
        paced = await paced_chat(pages[name], args.chat_rate, args.seconds, server)
        paced["websockets_open_at_end"] = pages[name].open
        out[name]["paced"] = paced
        say(f"    delivery {fmt_pct(paced['delivery_ms'])}; lost {paced['lost']}; "
            f"server {paced['cpu']['server_cores']} cores, other {paced['cpu']['other_cores']}")
    for name, server in servers.items():
        say(f"  ping-pong, {server.name}: {len(pages[name].pairs)} rooms with one "
            f"message in flight, {args.seconds:g} s (load {harness.load_average()})")
        pong = await ping_pong(pages[name], args.seconds, server)
        pong["websockets_open_at_end"] = pages[name].open
        out[name]["ping_pong"] = pong
        say(f"    {pong['messages_per_s']:,.1f} messages/s; delivery "
            f"{fmt_pct(pong['delivery_ms'])}; server {pong['cpu']['server_cores']} "
            f"cores, client {pong['cpu']['client_cores']}, other {pong['cpu']['other_cores']}")


async def chat_phase(say: harness.Say, args: argparse.Namespace, tmp: Path,
                     key: str) -> dict[str, Any]:
    """The app's rooms and the reference's pairs all connected at once (this process
    holds both sets); the measured steps interleaved, product first."""
    out: dict[str, Any] = {}
    servers: dict[str, Server] = {}
    pages = {"product": Pages(), "reference": Pages()}
    try:
        servers["product"] = start_serve(tmp, "rooms", rooms_scenario(args.sockets // 2), key,
                                         args.records_path)
        servers["reference"] = start_reference(tmp, "relay")
        await open_chat(say, args, key, servers, pages, out)
        if all(p.pairs for p in pages.values()):
            await chat_steps(say, args, servers, pages, out)
            out["product"]["server_view_at_end"] = await server_rooms(servers["product"].port, key)
            out["product"]["server_rss_mb"] = servers["product"].rss_mb()
        for name in servers:
            out[name]["closed_early"] = pages[name].closed_early
            out[name]["load_avg_after"] = harness.load_average()
    finally:
        for p in pages.values():
            p.close_all()
        await asyncio.sleep(0.2)
        for server in servers.values():
            server.stop()
    return out


# -- the figures -------------------------------------------------------------

def form_figures(f: dict[str, Any]) -> dict[str, Any]:
    """The form's and the API's figures beside their references."""
    fig: dict[str, Any] = {}
    for kind in ("form", "api"):
        p, r = f.get(f"product_{kind}"), f.get(f"reference_{kind}")
        if p and r:
            fig[f"{kind}_accepted_per_s"] = p["accepted_per_s"]
            fig[f"{kind}_errors"] = p["errors"]
            fig[f"{kind}_latency_ms"] = p["latency_ms"]
            fig[f"{kind}_reference_per_s"] = r["accepted_per_s"]
            fig[f"{kind}_reference_latency_ms"] = r["latency_ms"]
            fig[f"{kind}_ratio"] = harness.ratio(p["accepted_per_s"], r["accepted_per_s"])
    return fig


def chat_figures(p: dict[str, Any], r: dict[str, Any]) -> dict[str, Any]:
    """The chat's figures beside the relay's."""
    ratio = harness.ratio
    pp, rp, pg, rg = p["paced"], r["paced"], p["ping_pong"], r["ping_pong"]
    fig: dict[str, Any] = {
        "websockets_held": pp["websockets_open_at_end"],
        "websockets_server_view": p.get("server_view_at_end", {}).get("websockets"),
        "reference_websockets_held": rp["websockets_open_at_end"],
        "chat_delivery_ms": pp["delivery_ms"], "chat_echo_ms": pp["echo_ms"],
        "chat_lost": pp["lost"],
        "reference_delivery_ms": rp["delivery_ms"], "reference_echo_ms": rp["echo_ms"],
        "chat_delivery_p50_ratio": ratio(pp["delivery_ms"]["p50"], rp["delivery_ms"]["p50"]),
        "chat_delivery_p99_ratio": ratio(pp["delivery_ms"]["p99"], rp["delivery_ms"]["p99"]),
        "ping_pong_messages_per_s": pg["messages_per_s"],
        "reference_ping_pong_messages_per_s": rg["messages_per_s"],
        "ping_pong_ratio": ratio(pg["messages_per_s"], rg["messages_per_s"]),
        # the client shares the 2 cores: the server's CPU per message says more than the rate
        "server_cpu_ms_per_message": pg["cpu"]["server_cpu_ms_per_unit"],
        "reference_server_cpu_ms_per_message": rg["cpu"]["server_cpu_ms_per_unit"]}
    fig["server_cpu_per_message_ratio"] = ratio(fig["server_cpu_ms_per_message"],
                                                fig["reference_server_cpu_ms_per_message"])
    return fig


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """Every headline figure of the run, beside its reference."""
    fig = form_figures(results.get("form", {}))
    c = results.get("chat", {})
    p, r = c.get("product"), c.get("reference")
    if p and r and "paced" in p and "paced" in r:
        fig.update(chat_figures(p, r))
    return fig


# -- the report --------------------------------------------------------------

def form_lines(results: dict[str, Any]) -> list[str]:
    """The summary's lines for the form and the API."""
    fig, params, f = results["figures"], results["parameters"], results.get("form", {})
    lines = []
    for kind, what in (("form", "HTML form: GET / once per client for the xsrf cookie+token, "
                                "then POST / -> 303"),
                       ("api", "JSON API: POST /api/callbacks -> 201")):
        if f"{kind}_ratio" not in fig and f"{kind}_accepted_per_s" not in fig:
            continue
        p, r = f[f"product_{kind}"], f[f"reference_{kind}"]
        lines.append(f"{kind:<10} {what}; {params['clients']} keep-alive clients, "
                     f"{params['seconds']:g} s")
        lines.append(f"  product    {p['accepted_per_s']:,.1f} accepted/s, {p['errors']} errors; "
                     f"{fmt_pct(p['latency_ms'])}; server {p['cpu']['server_cores']} cores, "
                     f"{p['cpu']['server_cpu_ms_per_unit']} ms CPU each")
        lines.append(f"  reference  {r['accepted_per_s']:,.1f} /s (bare tornado hello, same client), "
                     f"{r['errors']} errors; {fmt_pct(r['latency_ms'])}; server "
                     f"{r['cpu']['server_cores']} cores")
        lines.append(f"  ratio      {fig.get(f'{kind}_ratio')} (other processes used "
                     f"{p['cpu']['other_cores']} / {r['cpu']['other_cores']} cores meanwhile)")
    return lines


def paced_lines(fig: dict[str, Any], p: dict[str, Any], r: dict[str, Any]) -> list[str]:
    """The summary's lines for the websockets held and the paced chat."""
    pp, rp = p["paced"], r["paced"]
    return [
        f"chat       websockets held: product {fig['websockets_held']} "
        f"(server counts {fig['websockets_server_view']}, "
        f"{p['setup']['rooms_ready']} rooms with person + agent, set up in "
        f"{p['setup']['setup_s']} s), reference {fig['reference_websockets_held']}",
        f"  paced {pp['offered_per_s']:g} messages/s (sent {pp['sent_per_s']:g}/s), "
        f"person and agent in turn; one-way = sender page -> other page",
        f"  product    one-way {fmt_pct(pp['delivery_ms'])}; lost {pp['lost']}",
        f"             echo to the sender (round trip) {fmt_pct(pp['echo_ms'])}",
        f"             server {pp['cpu']['server_cores']} cores, "
        f"{pp['cpu']['server_cpu_ms_per_unit']} ms CPU per message",
        f"  reference  one-way {fmt_pct(rp['delivery_ms'])}; lost {rp['lost']} (bare tornado relay)",
        f"             echo {fmt_pct(rp['echo_ms'])}; server {rp['cpu']['server_cores']} cores",
        f"  ratio      one-way p50 {fig['chat_delivery_p50_ratio']}x, "
        f"p99 {fig['chat_delivery_p99_ratio']}x the reference"]


def ping_pong_lines(fig: dict[str, Any], p: dict[str, Any], r: dict[str, Any]) -> list[str]:
    """The summary's lines for the ping-pong step and the server's CPU per message."""
    pg, rg = p["ping_pong"], r["ping_pong"]
    return [
        f"  ping-pong  product {pg['messages_per_s']:,.1f} messages/s "
        f"({pg['rooms_in_flight']} rooms, one in flight each; one-way "
        f"{fmt_pct(pg['delivery_ms'])}); server {pg['cpu']['server_cores']} cores, "
        f"client {pg['cpu']['client_cores']}",
        f"             reference {rg['messages_per_s']:,.1f} messages/s, server "
        f"{rg['cpu']['server_cores']} cores, client {rg['cpu']['client_cores']}; "
        f"ratio {fig['ping_pong_ratio']}",
        f"  server CPU per message delivered (ping-pong): product "
        f"{fig['server_cpu_ms_per_message']} ms, reference "
        f"{fig['reference_server_cpu_ms_per_message']} ms; ratio "
        f"{fig['server_cpu_per_message_ratio']}x (one core would carry ~"
        f"{1000 / fig['server_cpu_ms_per_message']:,.0f} messages/s in the product)"
        if fig["server_cpu_ms_per_message"] else "  server CPU per message: n/a"]


def chat_lines(results: dict[str, Any]) -> list[str]:
    """The summary's lines for the chat, or why it did not complete."""
    c = results.get("chat", {})
    p, r = c.get("product"), c.get("reference")
    if p and r and "paced" in p and "paced" in r:
        fig = results["figures"]
        return paced_lines(fig, p, r) + ping_pong_lines(fig, p, r)
    if p or r:
        return [f"chat       not completed: {json.dumps({'product': p, 'reference': r})[:400]}"]
    return []


def print_summary(results: dict[str, Any]) -> None:
    """The framed summary of the whole run."""
    f, c = results.get("form", {}), results.get("chat", {})
    lines = [f"machine    {results['machine']['cpus']} CPUs, Python {results['machine']['python_version']}, "
             f"tornado {results['tornado']}; load average at start {results['load_start']}, at end "
             f"{results['load_end']}",
             f"fd limit   this process {results['nofile']}, servers "
             f"{sorted({v for k, v in {**f, **c}.items() if k.endswith('_nofile') and v})}",
             *form_lines(results), *chat_lines(results)]
    others = [v["cpu"]["other_cores"] for v in results_runs(results)]
    if others:
        lines.append(f"other load CPU of other processes during the steps: up to {max(others):.2f} "
                     f"cores" + (" -- WARNING: the machine was shared" if max(others) > 0.25
                                 else " (idle enough)"))
    harness.print_block("Web load: the reference web app (callback-emu serve) beside bare tornado",
                        lines, results["elapsed_s"], results["command"])


def results_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every measured step of the run."""
    runs = [v for k, v in results.get("form", {}).items() if isinstance(v, dict) and "cpu" in v]
    for side in ("product", "reference"):
        run = results.get("chat", {}).get(side) or {}
        runs += [run[k] for k in ("paced", "ping_pong") if k in run]
    return runs


# -- main --------------------------------------------------------------------

async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both phases, in temporary folders; every figure."""
    import tornado

    say = harness.Say(stamp=True)
    key = secrets.token_urlsafe(12)
    results: dict[str, Any] = {
        "command": harness.command_line("web_load.py", sys.argv[1:]),
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                       if k not in ("json", "records_path")},
        "machine": harness.machine(),
        "tornado": tornado.version, "nofile": raise_nofile(), "load_start": harness.load_average(),
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    with tempfile.TemporaryDirectory(prefix="web-load-") as name, \
            tempfile.TemporaryDirectory(prefix="web-load-records-", dir=args.records_dir) as rec:
        tmp = Path(name)
        args.records_path = Path(rec)
        results["records_dir"] = rec
        if not args.no_form:
            results["form"] = await form_phase(say, args, tmp, key)
        if not args.no_chat:
            results["chat"] = await chat_phase(say, args, tmp, key)
    results["load_end"] = harness.load_average()
    results["elapsed_s"] = round(say.elapsed(), 1)
    results["figures"] = summary(results)
    return results


def parse_args() -> argparse.Namespace:
    """The command line (and the reference servers', `--reference-server KIND --port N`)."""
    parser = harness.make_parser(
        __doc__, quick="smoke run under 30 s: 2 s steps, 200 websockets, 16 clients")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="length of each measured step (default 20)")
    parser.add_argument("--clients", type=int, default=64,
                        help="concurrent keep-alive HTTP clients for the form (default 64)")
    parser.add_argument("--sockets", type=int, default=2000,
                        help="room websockets held at once: person + agent per room (default 2000)")
    parser.add_argument("--chat-rate", type=float, default=500.0,
                        help="paced chat messages per second over all rooms (default 500)")
    parser.add_argument("--setup-concurrency", type=int, default=50,
                        help="rooms being set up at once (default 50)")
    parser.add_argument("--records-dir", type=Path, metavar="DIR",
                        help="where serve's SQLite records go (default: a temporary directory "
                             "under $TMPDIR; /dev/shm shows what the commits' fsync costs)")
    parser.add_argument("--no-form", action="store_true", help="skip the form submissions")
    parser.add_argument("--no-chat", action="store_true", help="skip the websockets")
    parser.set_defaults(records_path=None)
    parser.add_argument("--reference-server", choices=["hello", "relay"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.seconds = min(args.seconds, 2.0)
        args.sockets = min(args.sockets, 200)
        args.clients = min(args.clients, 16)
        args.chat_rate = min(args.chat_rate, 200.0)
    if not (1 <= args.seconds <= 600 and 2 <= args.sockets <= 20_000
            and 1 <= args.clients <= 1000 and 0 < args.chat_rate <= 20_000):
        parser.error("bounds: --seconds 1..600, --sockets 2..20000, --clients 1..1000, "
                     "--chat-rate up to 20000")
    args.sockets -= args.sockets % 2
    return args


def main() -> int:
    """Run the benchmark (or, with --reference-server, one reference server)."""
    args = parse_args()
    if args.reference_server:
        reference_server(args.reference_server, args.port)
        return 0
    results = asyncio.run(run(args))
    print_summary(results)
    if args.json:
        harness.write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
