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
import json
import os
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SERVICE = "mortgages"


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def child_nofile(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return None


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def machine_busy() -> float:
    """CPU seconds all processes have used (busy jiffies in /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Server:
    """A server process on a loopback port, its output in a log file."""

    def __init__(self, name: str, argv: list[str], port: int, log: Path) -> None:
        self.name, self.port, self.log = name, port, log
        self._out = open(log, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=str(ROOT),
                                     preexec_fn=raise_nofile)

    def wait_listening(self, seconds: float = 60.0) -> None:
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

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
        return None

    def tail(self, lines: int = 15) -> str:
        self._out.flush()
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()


def start_serve(tmp: Path, name: str, scenario: str, key: str,
                records_dir: Path | None = None) -> Server:
    path = tmp / f"{name}.yaml"
    path.write_text(scenario)
    port = free_port()
    exe = Path(sys.executable).parent / "callback-emu"
    argv = ([str(exe)] if exe.exists() else [sys.executable, "-m", "emulator.cli"]) + [
        "serve", "--port", str(port), "--scenario", str(path),
        "--db", str((records_dir or tmp) / f"{name}.sqlite3"), "--agent-key", key,
        "--no-request-limits"]      # the app's speed, not its limiter's: one client sends thousands
    server = Server(f"serve ({name})", argv, port, tmp / f"{name}.log")
    server.wait_listening()
    return server


def start_reference(tmp: Path, kind: str) -> Server:
    port = free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "--reference-server", kind,
            "--port", str(port)]
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

def reference_server(kind: str, port: int) -> None:
    import tornado.ioloop
    import tornado.web
    import tornado.websocket

    raise_nofile()

    class Hello(tornado.web.RequestHandler):
        def get(self) -> None:
            self.write(f"<form method=post>{self.xsrf_form_html()}</form>hello")

        def post(self) -> None:
            self.redirect("/callbacks/hello", status=303)

    class HelloApi(tornado.web.RequestHandler):
        def check_xsrf_cookie(self) -> None:
            return None

        def post(self) -> None:
            self.set_status(201)
            self.set_header("Content-Type", "application/json")
            self.finish('{"id": "hello"}')

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

    if kind == "hello":
        app = tornado.web.Application([(r"/", Hello), (r"/api/callbacks", HelloApi)],
                                      xsrf_cookies=True)
    else:
        app = tornado.web.Application([(r"/pair/(\d+)/(a|b)/ws", Relay)],
                                      websocket_max_message_size=64 * 1024)

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
    pass


class Conn:
    """One keep-alive connection; cookies kept as a browser would (per connection)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.cookies: dict[str, str] = {}

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
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
        length = found.get("content-length")
        if length is None:
            self.close()
            raise HttpError(f"no Content-Length in a {status} answer")
        data = await self.reader.readexactly(int(length)) if int(length) else b""
        if found.get("connection", "").lower() == "close":
            self.close()
        return status, found, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = None


def percentiles(values: list[float] | np.ndarray, scale: float = 1000.0) -> dict[str, Any]:
    """p50/p95/p99/max in ms of values in seconds."""
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    p = np.percentile(a, [50, 95, 99]) * scale
    return {"n": int(a.size), "p50": round(float(p[0]), 2), "p95": round(float(p[1]), 2),
            "p99": round(float(p[2]), 2), "max": round(float(a.max() * scale), 2)}


def fmt_pct(p: dict[str, Any]) -> str:
    if not p.get("n"):
        return "n/a"
    return f"p50 {p['p50']:g} ms, p95 {p['p95']:g} ms, p99 {p['p99']:g} ms (max {p['max']:g}, n={p['n']:,})"


class Meter:
    """CPU of the server process, of this process and of the whole machine over a step."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.t0, self.s0, self.c0, self.m0 = time.monotonic(), server.cpu(), own_cpu(), machine_busy()

    def done(self, units: int) -> dict[str, Any]:
        wall = max(time.monotonic() - self.t0, 1e-9)
        s, c, m = self.server.cpu() - self.s0, own_cpu() - self.c0, machine_busy() - self.m0
        return {"server_cores": round(s / wall, 2), "client_cores": round(c / wall, 2),
                "other_cores": round(max(0.0, m - s - c) / wall, 2),
                "server_cpu_ms_per_unit": round(1000 * s / units, 3) if units else None}


# -- 1. form submissions -----------------------------------------------------

def phone(n: int) -> str:
    return f"+34 6{10_000_000 + n % 89_999_999:08d}"


async def submissions(port: int, kind: str, clients: int, seconds: float,
                      server: Server) -> dict[str, Any]:
    """`clients` keep-alive clients POST the form (or the API) for `seconds`."""
    counter = iter(range(10**9))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    accepted = 0

    def error(what: str) -> None:
        errors[what] = errors.get(what, 0) + 1

    async def client() -> None:
        nonlocal accepted
        conn = Conn(port)
        token = ""
        try:
            if kind == "form":
                status, _, page = await conn.request("GET", "/")
                found = re.search(rb'name="_xsrf" value="([^"]+)"', page)
                if status != 200 or found is None:
                    error(f"GET / {status} without an xsrf field")
                    return
                token = found.group(1).decode()
            await start.wait()
            while time.monotonic() < end:
                n = next(counter)
                if kind == "form":
                    body = urllib.parse.urlencode({"phone": phone(n), "name": f"Ana {n}",
                                                   "service": SERVICE, "consent": "yes",
                                                   "_xsrf": token}).encode()
                    headers = {"Content-Type": "application/x-www-form-urlencoded"}
                    path, good = "/", 303
                else:
                    body = json.dumps({"phone": phone(n), "name": f"Ana {n}",
                                       "service": SERVICE, "consent": True}).encode()
                    headers = {"Content-Type": "application/json"}
                    path, good = "/api/callbacks", 201
                t0 = time.perf_counter()
                try:
                    status, _, _ = await asyncio.wait_for(
                        conn.request("POST", path, body, headers), 30)
                except (HttpError, OSError, asyncio.TimeoutError) as err:
                    error(type(err).__name__)
                    conn.close()
                    continue
                latencies.append(time.perf_counter() - t0)
                if status == good:
                    accepted += 1
                else:
                    error(f"HTTP {status}")
        finally:
            conn.close()

    start = asyncio.Event()
    end = float("inf")
    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    await asyncio.sleep(0.5)                       # every client has its xsrf token
    meter = Meter(server)
    t0 = time.monotonic()
    end = t0 + seconds
    start.set()
    await asyncio.gather(*tasks)
    wall = time.monotonic() - t0
    return {"kind": kind, "clients": clients, "seconds": round(wall, 2), "accepted": accepted,
            "accepted_per_s": round(accepted / wall, 1), "errors": sum(errors.values()),
            "errors_by_kind": errors, "latency_ms": percentiles(latencies),
            "cpu": meter.done(accepted)}


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

    def callback(self, pair: int, side: int) -> Callable[[str | bytes | None], None]:
        def on_message(raw: str | bytes | None) -> None:
            if raw is None:
                self.open -= 1
                self.closed_early += 1
                return
            now = time.perf_counter()
            try:
                message = json.loads(raw)
            except ValueError:
                return
            if message.get("type") != "chat":
                return
            text = message.get("text", "")
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
        return on_message

    def send(self, pair: int, side: int, text: str) -> None:
        self.sent[text] = (time.perf_counter(), pair, side)
        self.pairs[pair][side].write_message(json.dumps({"type": "chat", "text": text}))

    def reset(self) -> None:
        self.sent.clear()
        self.delivery, self.echo = [], []
        self.late = 0

    def close_all(self) -> None:
        for pair in self.pairs:
            for ws in pair:
                if ws is not None:
                    ws.close()


async def connect(url: str, on_message: Callable[[Any], None] | None, cookie: str = "",
                  first: str = "") -> Any:
    """A websocket; with `first`, waits for a message of that type before the callback takes over."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    request = HTTPRequest(url, headers={"Cookie": cookie} if cookie else {},
                          connect_timeout=30, request_timeout=30)
    if not first:
        return await websocket_connect(request, on_message_callback=on_message)
    ws = await websocket_connect(request)
    while True:
        raw = await asyncio.wait_for(ws.read_message(), 30)
        if raw is None:
            raise HttpError(f"{url} closed before {first!r}")
        if json.loads(raw).get("type") == first:
            break
    ws._on_message_callback = on_message           # the rest goes to the callback
    return ws


async def open_rooms(port: int, key: str, rooms: int, concurrency: int,
                     pages: Pages, say: Callable[[str], None]) -> dict[str, Any]:
    """`rooms` callbacks through the app's own path, each to a room with both pages connected."""
    t0 = time.monotonic()
    agent = Conn(port)
    status, _, page = await agent.request("GET", "/agent")
    found = re.search(rb'name="_xsrf" value="([^"]+)"', page)
    assert status == 200 and found, f"GET /agent: {status}"
    xsrf = found.group(1).decode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, _ = await agent.request("POST", "/agent", urllib.parse.urlencode(
        {"key": key, "code": "", "_xsrf": xsrf}).encode(), form)
    assert status == 303 and "agent" in agent.cookies, f"agent sign-in: {status}"
    agent_cookie = "; ".join(f"{k}={v}" for k, v in agent.cookies.items())
    pages.pairs = [[None, None] for _ in range(rooms)]
    failures: dict[str, int] = {}
    sem = asyncio.Semaphore(concurrency)
    agent_lock = asyncio.Lock()
    done = 0

    async def one(i: int) -> None:
        nonlocal done
        async with sem:
            try:
                conn = Conn(port)
                status, _, body = await conn.request(
                    "POST", "/api/callbacks", json.dumps(
                        {"phone": phone(i), "name": f"Ana {i}", "service": SERVICE,
                         "consent": True}).encode(), {"Content-Type": "application/json"})
                if status != 201:
                    raise HttpError(f"POST /api/callbacks {status}")
                answer = json.loads(body)
                # the status page's websocket tells when the room is ready, with its link
                status_ws = await connect(f"ws://{HOST}:{port}{answer['status_socket']}", None)
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
                status, _, body = await conn.request("GET", f"/api/callbacks/{answer['id']}")
                code = json.loads(body)["code"]
                conn.close()
                async with agent_lock:             # one agent browser: one connection
                    status, headers, _ = await agent.request(
                        "POST", "/agent", urllib.parse.urlencode(
                            {"code": code, "_xsrf": xsrf}).encode(), form)
                if status != 303:
                    raise HttpError(f"agent code {status}")
                ticket_path = headers["location"]
                person = await connect(f"ws://{HOST}:{port}{room_url}/ws",
                                       pages.callback(i, 0), first="joined")
                pages.pairs[i][0] = person
                pages.open += 1
                agent_ws = await connect(f"ws://{HOST}:{port}{ticket_path}/ws",
                                         pages.callback(i, 1), cookie=agent_cookie, first="joined")
                pages.pairs[i][1] = agent_ws
                pages.open += 1
            except (HttpError, OSError, asyncio.TimeoutError, KeyError, ValueError) as err:
                what = str(err)[:80] or type(err).__name__
                failures[what] = failures.get(what, 0) + 1
            done += 1
            if done % max(1, rooms // 5) == 0:
                say(f"  rooms: {done}/{rooms} ({pages.open} websockets open, "
                    f"{time.monotonic() - t0:.0f} s)")

    await asyncio.gather(*(one(i) for i in range(rooms)))
    agent.close()
    # the pairs whose two pages are both in
    pages.pairs = [p for p in pages.pairs if p[0] is not None and p[1] is not None]
    return {"rooms_asked": rooms, "rooms_ready": len(pages.pairs), "failures": failures,
            "setup_s": round(time.monotonic() - t0, 1)}


async def open_pairs(port: int, pairs: int, concurrency: int, pages: Pages) -> dict[str, Any]:
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
    pages.pairs = [p for p in pages.pairs if p[0] is not None and p[1] is not None]
    return {"rooms_ready": len(pages.pairs), "failures": failures,
            "setup_s": round(time.monotonic() - t0, 1)}


async def paced_chat(pages: Pages, rate: float, seconds: float, server: Server,
                     drain: float = 5.0) -> dict[str, Any]:
    """`rate` messages/s, round-robin over the rooms, the person and the agent in turn."""
    pages.reset()
    pages.on_delivered = None
    rooms = len(pages.pairs)
    meter = Meter(server)
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
            "cpu": meter.done(sent)}


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
    meter = Meter(server)
    t0 = time.monotonic()
    for pair in range(rooms):
        pages.send(pair, 0, f"q{next(counter)}")
    await asyncio.sleep(seconds)
    stop = True
    wall = time.monotonic() - t0
    delivered_n = len(pages.delivery)
    cpu = meter.done(delivered_n)
    await asyncio.sleep(1.0)
    pages.on_delivered = None
    return {"rooms_in_flight": rooms, "seconds": round(wall, 2), "delivered": delivered_n,
            "messages_per_s": round(delivered_n / wall, 1),
            "frames_out_per_s": round(2 * delivered_n / wall, 1),
            "delivery_ms": percentiles(pages.delivery), "cpu": cpu}


async def server_rooms(port: int, key: str) -> dict[str, int]:
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

class Bench:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.1f}s] {text}", flush=True)


def load_now() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def form_phase(bench: Bench, args: argparse.Namespace, tmp: Path,
                     key: str) -> dict[str, Any]:
    """Both servers up at once; their steps interleaved, so a shared machine's
    changing load falls on both alike."""
    out: dict[str, Any] = {}
    servers: dict[str, Server] = {}
    try:
        servers["product"] = start_serve(tmp, "form", FORM_SCENARIO, key, args.records_path)
        servers["reference"] = start_reference(tmp, "hello")
        for name, server in servers.items():
            out[f"{name}_nofile"] = child_nofile(server.proc.pid)
        for kind in ("form", "api"):
            for name, server in servers.items():
                bench.say(f"form submissions: {server.name}, {kind}, {args.clients} clients x "
                          f"{args.seconds:g} s (load {load_now()})")
                run = await submissions(server.port, kind, args.clients, args.seconds, server)
                run["load_avg_after"] = load_now()
                out[f"{name}_{kind}"] = run
                bench.say(f"  {run['accepted_per_s']:,.1f} accepted/s, {run['errors']} errors, "
                          f"{fmt_pct(run['latency_ms'])}; server {run['cpu']['server_cores']} "
                          f"cores, client {run['cpu']['client_cores']}, other "
                          f"{run['cpu']['other_cores']}")
        out["product_rss_mb"] = servers["product"].rss_mb()
    finally:
        for server in servers.values():
            server.stop()
    return out


async def chat_phase(bench: Bench, args: argparse.Namespace, tmp: Path,
                     key: str) -> dict[str, Any]:
    """The app's rooms and the reference's pairs all connected at once (this process
    holds both sets); the measured steps interleaved, product first."""
    rooms = args.sockets // 2
    out: dict[str, Any] = {}
    servers: dict[str, Server] = {}
    pages = {"product": Pages(), "reference": Pages()}
    try:
        servers["product"] = start_serve(tmp, "rooms", rooms_scenario(rooms), key,
                                         args.records_path)
        servers["reference"] = start_reference(tmp, "relay")
        for name, server in servers.items():
            out[f"{name}_nofile"] = child_nofile(server.proc.pid)
            bench.say(f"chat: {server.name}, opening {rooms} rooms x 2 websockets "
                      f"(load {load_now()})")
            if name == "product":
                setup = await open_rooms(server.port, key, rooms, args.setup_concurrency,
                                         pages[name], bench.say)
                setup["server_view"] = await server_rooms(server.port, key)
            else:
                setup = await open_pairs(server.port, rooms, args.setup_concurrency, pages[name])
            setup["websockets_open"] = pages[name].open
            bench.say(f"  {setup['rooms_ready']} rooms, {pages[name].open} websockets open in "
                      f"{setup['setup_s']} s" + (f"; failures {setup['failures']}"
                                                 if setup["failures"] else "")
                      + (f"; the server counts {setup['server_view']}" if "server_view" in setup
                         else ""))
            out[name] = {"setup": setup}
        if all(p.pairs for p in pages.values()):
            for name, server in servers.items():
                bench.say(f"  paced chat, {server.name}: {args.chat_rate:g} messages/s for "
                          f"{args.seconds:g} s (load {load_now()})")
                paced = await paced_chat(pages[name], args.chat_rate, args.seconds, server)
                paced["websockets_open_at_end"] = pages[name].open
                out[name]["paced"] = paced
                bench.say(f"    delivery {fmt_pct(paced['delivery_ms'])}; lost {paced['lost']}; "
                          f"server {paced['cpu']['server_cores']} cores, other "
                          f"{paced['cpu']['other_cores']}")
            for name, server in servers.items():
                bench.say(f"  ping-pong, {server.name}: {len(pages[name].pairs)} rooms with one "
                          f"message in flight, {args.seconds:g} s (load {load_now()})")
                pong = await ping_pong(pages[name], args.seconds, server)
                pong["websockets_open_at_end"] = pages[name].open
                out[name]["ping_pong"] = pong
                bench.say(f"    {pong['messages_per_s']:,.1f} messages/s; delivery "
                          f"{fmt_pct(pong['delivery_ms'])}; server {pong['cpu']['server_cores']} "
                          f"cores, client {pong['cpu']['client_cores']}, other "
                          f"{pong['cpu']['other_cores']}")
            out["product"]["server_view_at_end"] = await server_rooms(servers["product"].port, key)
            out["product"]["server_rss_mb"] = servers["product"].rss_mb()
        for name in servers:
            out[name]["closed_early"] = pages[name].closed_early
            out[name]["load_avg_after"] = load_now()
    finally:
        for p in pages.values():
            p.close_all()
        await asyncio.sleep(0.2)
        for server in servers.values():
            server.stop()
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def summary(results: dict[str, Any]) -> dict[str, Any]:
    f, c = results.get("form", {}), results.get("chat", {})
    fig: dict[str, Any] = {}
    for kind in ("form", "api"):
        p, r = f.get(f"product_{kind}"), f.get(f"reference_{kind}")
        if p and r:
            fig[f"{kind}_accepted_per_s"] = p["accepted_per_s"]
            fig[f"{kind}_errors"] = p["errors"]
            fig[f"{kind}_latency_ms"] = p["latency_ms"]
            fig[f"{kind}_reference_per_s"] = r["accepted_per_s"]
            fig[f"{kind}_reference_latency_ms"] = r["latency_ms"]
            fig[f"{kind}_ratio"] = ratio(p["accepted_per_s"], r["accepted_per_s"])
    p, r = c.get("product"), c.get("reference")
    if p and r and "paced" in p and "paced" in r:
        fig["websockets_held"] = p["paced"]["websockets_open_at_end"]
        fig["websockets_server_view"] = p.get("server_view_at_end", {}).get("websockets")
        fig["reference_websockets_held"] = r["paced"]["websockets_open_at_end"]
        fig["chat_delivery_ms"] = p["paced"]["delivery_ms"]
        fig["chat_echo_ms"] = p["paced"]["echo_ms"]
        fig["chat_lost"] = p["paced"]["lost"]
        fig["reference_delivery_ms"] = r["paced"]["delivery_ms"]
        fig["reference_echo_ms"] = r["paced"]["echo_ms"]
        fig["chat_delivery_p50_ratio"] = ratio(p["paced"]["delivery_ms"]["p50"],
                                               r["paced"]["delivery_ms"]["p50"])
        fig["chat_delivery_p99_ratio"] = ratio(p["paced"]["delivery_ms"]["p99"],
                                               r["paced"]["delivery_ms"]["p99"])
        fig["ping_pong_messages_per_s"] = p["ping_pong"]["messages_per_s"]
        fig["reference_ping_pong_messages_per_s"] = r["ping_pong"]["messages_per_s"]
        fig["ping_pong_ratio"] = ratio(p["ping_pong"]["messages_per_s"],
                                       r["ping_pong"]["messages_per_s"])
        # the client shares the 2 cores: the server's CPU per message says more than the rate
        fig["server_cpu_ms_per_message"] = p["ping_pong"]["cpu"]["server_cpu_ms_per_unit"]
        fig["reference_server_cpu_ms_per_message"] = r["ping_pong"]["cpu"]["server_cpu_ms_per_unit"]
        fig["server_cpu_per_message_ratio"] = ratio(fig["server_cpu_ms_per_message"],
                                                    fig["reference_server_cpu_ms_per_message"])
    return fig


def print_summary(results: dict[str, Any]) -> None:
    fig = results["figures"]
    params = results["parameters"]
    f, c = results.get("form", {}), results.get("chat", {})
    lines = ["", "=" * 78, "Web load: the reference web app (callback-emu serve) beside bare tornado",
             "=" * 78,
             f"machine    {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, tornado "
             f"{results['tornado']}; load average at start {results['load_start']}, at end "
             f"{results['load_end']}",
             f"fd limit   this process {results['nofile']}, servers "
             f"{sorted({v for k, v in {**f, **c}.items() if k.endswith('_nofile') and v})}"]
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
    p, r = c.get("product"), c.get("reference")
    if p and r and "paced" in p and "paced" in r:
        lines.append(f"chat       websockets held: product {fig['websockets_held']} "
                     f"(server counts {fig['websockets_server_view']}, "
                     f"{p['setup']['rooms_ready']} rooms with person + agent, set up in "
                     f"{p['setup']['setup_s']} s), reference {fig['reference_websockets_held']}")
        pp, rp = p["paced"], r["paced"]
        lines.append(f"  paced {pp['offered_per_s']:g} messages/s (sent {pp['sent_per_s']:g}/s), "
                     f"person and agent in turn; one-way = sender page -> other page")
        lines.append(f"  product    one-way {fmt_pct(pp['delivery_ms'])}; lost {pp['lost']}")
        lines.append(f"             echo to the sender (round trip) {fmt_pct(pp['echo_ms'])}")
        lines.append(f"             server {pp['cpu']['server_cores']} cores, "
                     f"{pp['cpu']['server_cpu_ms_per_unit']} ms CPU per message")
        lines.append(f"  reference  one-way {fmt_pct(rp['delivery_ms'])}; lost {rp['lost']} "
                     f"(bare tornado relay)")
        lines.append(f"             echo {fmt_pct(rp['echo_ms'])}; server "
                     f"{rp['cpu']['server_cores']} cores")
        lines.append(f"  ratio      one-way p50 {fig['chat_delivery_p50_ratio']}x, "
                     f"p99 {fig['chat_delivery_p99_ratio']}x the reference")
        pg, rg = p["ping_pong"], r["ping_pong"]
        lines.append(f"  ping-pong  product {pg['messages_per_s']:,.1f} messages/s "
                     f"({pg['rooms_in_flight']} rooms, one in flight each; one-way "
                     f"{fmt_pct(pg['delivery_ms'])}); server {pg['cpu']['server_cores']} cores, "
                     f"client {pg['cpu']['client_cores']}")
        lines.append(f"             reference {rg['messages_per_s']:,.1f} messages/s, server "
                     f"{rg['cpu']['server_cores']} cores, client {rg['cpu']['client_cores']}; "
                     f"ratio {fig['ping_pong_ratio']}")
        lines.append(f"  server CPU per message delivered (ping-pong): product "
                     f"{fig['server_cpu_ms_per_message']} ms, reference "
                     f"{fig['reference_server_cpu_ms_per_message']} ms; ratio "
                     f"{fig['server_cpu_per_message_ratio']}x (one core would carry ~"
                     f"{1000 / fig['server_cpu_ms_per_message']:,.0f} messages/s in the product)"
                     if fig["server_cpu_ms_per_message"] else "  server CPU per message: n/a")
    elif p or r:
        lines.append(f"chat       not completed: {json.dumps({'product': p, 'reference': r})[:400]}")
    others = [v["cpu"]["other_cores"] for v in results_runs(results)]
    if others:
        lines.append(f"other load CPU of other processes during the steps: up to {max(others):.2f} "
                     f"cores" + (" -- WARNING: the machine was shared" if max(others) > 0.25
                                 else " (idle enough)"))
    lines.append(f"elapsed    {results['elapsed_s']:.0f} s")
    lines.append(f"reproduce  {results['command']}")
    lines.append("=" * 78)
    print("\n".join(lines), flush=True)


def results_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    runs = [v for k, v in results.get("form", {}).items() if isinstance(v, dict) and "cpu" in v]
    for side in ("product", "reference"):
        run = results.get("chat", {}).get(side) or {}
        runs += [run[k] for k in ("paced", "ping_pong") if k in run]
    return runs


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import tornado

    bench = Bench()
    key = secrets.token_urlsafe(12)
    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name and ".venv/bin/python",
                             "benchmarks/web_load.py", *sys.argv[1:]]),
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                       if k not in ("json", "records_path")},
        "tornado": tornado.version, "nofile": raise_nofile(), "load_start": load_now(),
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    with tempfile.TemporaryDirectory(prefix="web-load-") as name, \
            tempfile.TemporaryDirectory(prefix="web-load-records-", dir=args.records_dir) as rec:
        tmp = Path(name)
        args.records_path = Path(rec)
        results["records_dir"] = rec
        if not args.no_form:
            results["form"] = await form_phase(bench, args, tmp, key)
        if not args.no_chat:
            results["chat"] = await chat_phase(bench, args, tmp, key)
    results["load_end"] = load_now()
    results["elapsed_s"] = round(time.monotonic() - bench.t0, 1)
    results["figures"] = summary(results)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
    parser.add_argument("--quick", action="store_true",
                        help="smoke run under 30 s: 2 s steps, 200 websockets, 16 clients")
    parser.add_argument("--records-dir", type=Path, metavar="DIR",
                        help="where serve's SQLite records go (default: a temporary directory "
                             "under $TMPDIR; /dev/shm shows what the commits' fsync costs)")
    parser.add_argument("--no-form", action="store_true", help="skip the form submissions")
    parser.add_argument("--no-chat", action="store_true", help="skip the websockets")
    parser.add_argument("--json", metavar="FILE", help="write every figure as JSON too")
    parser.set_defaults(records_path=None)
    parser.add_argument("--reference-server", choices=["hello", "relay"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_server:
        reference_server(args.reference_server, args.port)
        return 0
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
    results = asyncio.run(run(args))
    print_summary(results)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
