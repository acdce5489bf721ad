"""Real phones for the sip mode: one SIPp UAS process plays every phone.

The harness draws what each phone does and writes it into the Request-URI
user part (`phone_user`); the scenario ``phone.xml`` reads it back per call,
so one SIPp process on one loopback port serves every call of every
behaviour. The contract, which the PBX adapter relies on::

    sip:cb-<action>-<delay_ms>-<patience_ms>-<talk_ms>[-rtp]@127.0.0.1:<port>

- ``invalid``: 404. ``busy``: 486.
- ``reject``: 180, then 603 after delay.
- ``ringout``: 180 until CANCEL.
- ``answer``: 180, then 200 with SDP after delay. Offered a held stream
  (``a=sendonly``/``a=inactive``, the PBX's first offer to a person), it
  waits for the bridge, a re-INVITE: without one within patience of the
  answer it hangs up (BYE); talk after the first re-INVITE it hangs up.
  Offered live media (the person's, in an agent's INVITE) it is bridged by
  its answer: talk counts from the ACK. Every re-INVITE gets 200 with SDP,
  every UPDATE 200.
- patience or talk 0: never (wait for the PBX). A CANCEL while ringing gets
  200 and 487; a BYE gets 200 at any time. Another user part gets 400 and
  counts as a failed call in SIPp's statistics.
- ``-rtp``: once bridged the phone sends RTP (PCMU, 20 ms packets) to the
  media of the last offer until the call ends; without it no media at all.
  Each call's SDP names a port of its own (SIPp's ``[auto_media_port]``).
- Session timers (RFC 4028): an INVITE or UPDATE with ``Session-Expires: N``
  is answered with ``Session-Expires: N;refresher=uac`` and restarts the
  session; N seconds without a refresh and the phone hangs up (BYE).

How the scenario waits, retransmits and handles CANCEL/BYE during waits,
and what was checked on SIPp 3.6.1, is written at the top of ``phone.xml``.

`SippPhones` starts and stops the process and reads SIPp's own counters
(``-trace_stat``), so a test can tell how many calls SIPp saw succeed or fail.
"""

from __future__ import annotations

import atexit
import csv
import ctypes
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Callable

SCENARIO = Path(__file__).with_name("phone.xml")
TONE_FILE = "phone-tone.ulaw"
"""The audio a ``-rtp`` phone sends, looped: written into SIPp's folder at start."""
ACTIONS = ("invalid", "busy", "reject", "ringout", "answer")
NEVER = 0
"""The patience / talk value (ms) meaning "never hang up: wait for the PBX"."""


class SippError(RuntimeError):
    """SIPp is missing, refused to start, or died."""


def sipp_path() -> str | None:
    """The SIPp executable: ``$SIPP`` if set, else ``sipp`` on the PATH, else None."""
    explicit = os.environ.get("SIPP")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("sipp")


def _ms(seconds: float, what: str, *, infinite_is_never: bool) -> int:
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"{what} must be >= 0 seconds, got {seconds!r}")
    if math.isinf(seconds):
        if not infinite_is_never:
            raise ValueError(f"{what} must be finite (a phone that never answers is 'ringout')")
        return NEVER
    ms = math.floor(seconds * 1000 + 0.5)
    return ms if ms > 0 or seconds == 0 else 1   # a tiny positive time is not "never"


def phone_user(action: str, delay: float, patience: float, talk: float, *,
               rtp: bool = False) -> str:
    """The Request-URI user part that makes the SIPp phone behave so.

    Times in seconds, sent in whole milliseconds. ``delay``: ring time before
    the answer or the reject. ``patience``: how long an answered phone waits
    for the bridge (re-INVITE) before hanging up. ``talk``: how long it talks
    once bridged. For patience and talk, 0 or ``math.inf`` mean never.
    ``rtp``: the phone sends RTP once bridged (``-rtp``).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown phone action {action!r}; expected one of {ACTIONS}")
    return "cb-{}-{}-{}-{}{}".format(
        action,
        _ms(delay, "delay", infinite_is_never=False),
        _ms(patience, "patience", infinite_is_never=True),
        _ms(talk, "talk", infinite_is_never=True),
        "-rtp" if rtp else "")


def die_with_parent() -> None:
    """For ``preexec_fn``: the child gets SIGKILL when the thread that started it dies.

    Linux's ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, through libc (ctypes), so a
    parent that is killed (SIGKILL, no atexit) leaves no SIPp or softphone
    behind. The signal follows the *thread* that forked the child: start
    long-lived children from a thread that outlives them (the main thread,
    an event loop's). Elsewhere than Linux it does nothing.
    """
    if _prctl is None:
        return
    # Between fork and exec: no import, no lookup, only the call (resolved at import).
    if _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != _PARENT[0]:  # the parent died before prctl took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1
_PARENT = [os.getpid()]


def _resolve_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl   # libc is in the process already
    except (OSError, AttributeError):
        return None


_prctl = _resolve_prctl()
# The pid the child compares its parent's with: the forking process's, set just
# before each fork (subprocess runs the fork hooks when there is a preexec_fn).
os.register_at_fork(before=lambda: _PARENT.__setitem__(0, os.getpid()))


def write_tone(path: Path | str, seconds: float = 1.0, hz: float = 440.0) -> Path:
    """A file of G.711 mu-law samples (8 kHz, no header): a tone for ``rtp_stream``."""
    samples = int(8000 * seconds)
    data = bytes(_ulaw(int(8000 * math.sin(2 * math.pi * hz * n / 8000))) for n in range(samples))
    target = Path(path)
    target.write_bytes(data)
    return target


def _ulaw(sample: int) -> int:
    """One 16-bit linear sample as G.711 mu-law (ITU-T G.711's segment encoding)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = 7
    for exp in range(7, -1, -1):
        if magnitude & (0x80 << exp):
            exponent = exp
            break
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port free on host right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class SippCounts:
    """SIPp's cumulative call counters (its statistics file, ``-trace_stat``)."""

    created: int = 0
    current: int = 0
    successful: int = 0
    failed: int = 0
    retransmissions: int = 0
    dead_call_messages: int = 0
    out_of_call_messages: int = 0
    raw: dict[str, str] = field(default_factory=dict)
    """Every column of the last row, by SIPp's name (e.g. ``FailedTimeoutOnRecv(C)``)."""


def _int(row: dict[str, str], key: str) -> int:
    value = row.get(key, "").strip()
    return int(value) if value.isdigit() else 0


class SippPhones:
    """One SIPp UAS on ``host:port`` playing every phone; a context manager.

    >>> with SippPhones() as phones:                       # doctest: +SKIP
    ...     target = phones.uri(phone_user("answer", 2.0, 10.0, 60.0))

    SIPp runs as our child process (no stdin, screen to /dev/null, its logs
    in ``workdir``, a temporary folder by default, removed at `stop`), and
    dies with us (`die_with_parent`): a parent killed outright leaves no
    SIPp behind.
    Without ``port`` a free one is picked. A start that fails (SIPp missing,
    port taken, bad scenario) raises `SippError` with the command line and
    SIPp's own message. `stop` sends SIGTERM, then SIGKILL if SIPp lingers;
    phones still running when the interpreter exits are stopped too.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None,
                 scenario: Path | str = SCENARIO, workdir: Path | str | None = None,
                 sipp: str | None = None, extra_args: tuple[str, ...] = (),
                 start_timeout: float = 5.0) -> None:
        self.host = host
        self.port = port or 0
        self.scenario = Path(scenario)
        self.workdir = Path(workdir) if workdir is not None else None
        self.command: list[str] = []
        self._requested_port = port
        self._sipp = sipp
        self._extra_args = tuple(extra_args)
        self._start_timeout = start_timeout
        self._own_workdir = workdir is None
        self._proc: subprocess.Popen[bytes] | None = None
        self._final: tuple[SippCounts, str] | None = None

    # -- addresses ------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """Where the phones listen: (host, port)."""
        return (self.host, self.port)

    def uri(self, user: str) -> str:
        """The SIP URI of a phone, ``user`` from `phone_user`."""
        return f"sip:{user}@{self.host}:{self.port}"

    # -- life cycle -----------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the SIPp process is still up."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """SIPp's process id while started, else None."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> SippPhones:
        """Launch SIPp and wait until it holds its port (a free port taken meanwhile: another)."""
        if self._proc is not None:
            raise SippError("SIPp phones already started")
        exe = self._sipp or sipp_path()
        if exe is None:
            raise SippError("SIPp not found: install the Debian package sip-tester "
                            "(apt-get install sip-tester) or point $SIPP at it")
        if not self.scenario.is_file():
            raise SippError(f"SIPp scenario not found: {self.scenario}")
        self._final = None
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="sipp-phones-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        write_tone(self.workdir / TONE_FILE)
        attempts = 1 if self._requested_port else 3
        for attempt in range(1, attempts + 1):
            self.port = self._requested_port or free_udp_port(self.host)
            try:
                self._launch(exe)
            except SippError as exc:
                if attempt < attempts and "already in use" in str(exc):
                    continue        # our free port was taken meanwhile: pick another
                self._remove_workdir()
                raise
            with _LIVE_LOCK:
                _LIVE.add(self)
            return self
        raise AssertionError("unreachable")

    def _launch(self, exe: str) -> None:
        assert self.workdir is not None
        self.command = [
            exe, "-sf", str(self.scenario.resolve()),
            "-i", self.host, "-p", str(self.port), "-t", "u1", "-mi", self.host,
            "-cp", str(free_udp_port(self.host)),   # its control socket, not the shared 8888
            "-nostdin",
            "-max_recv_loops", "100000", "-max_sched_loops", "100000",
            "-trace_stat", "-stf", str(self._stat_file), "-fd", "1",
            "-trace_err", "-error_file", str(self._error_file),
            *self._extra_args,
        ]
        shown = " ".join(self.command)
        with open(self._stderr_file, "wb") as stderr:
            try:
                proc = subprocess.Popen(self.command, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=stderr,
                                        preexec_fn=die_with_parent)
            except OSError as exc:
                raise SippError(f"cannot run {shown}: {exc}") from exc
        deadline = time.monotonic() + self._start_timeout
        while True:
            code = proc.poll()
            if code is not None:
                raise SippError(f"SIPp exited with code {code} at start: {shown}\n"
                                f"{self._sipp_message()}")
            if _owns_udp_port(proc.pid, self.host, self.port):
                self._proc = proc
                return
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise SippError(f"SIPp did not bind {self.host}:{self.port} within "
                                f"{self._start_timeout} s: {shown}\n{self._sipp_message()}")
            time.sleep(0.01)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop SIPp (SIGTERM, then SIGKILL) and wait for it; idempotent.

        SIPp writes a last statistics row as it exits; `counts` and `errors`
        answer from what was read here afterwards.
        """
        proc, self._proc = self._proc, None
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._final = (self._read_counts(), self._read_errors())
        self._remove_workdir()

    def __enter__(self) -> SippPhones:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- what SIPp says -------------------------------------------------------

    def counts(self) -> SippCounts:
        """SIPp's cumulative call counters.

        While SIPp runs they are up to a second old (it writes a row a
        second); after `stop` they are final.
        """
        return self._final[0] if self._final is not None else self._read_counts()

    def errors(self) -> str:
        """SIPp's warnings and unexpected messages, and its stderr ('' if none)."""
        return self._final[1] if self._final is not None else self._read_errors()

    @property
    def _stat_file(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "stat.csv"

    @property
    def _error_file(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "errors.log"

    @property
    def _stderr_file(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "stderr.log"

    def _read_counts(self) -> SippCounts:
        if self.workdir is None or not self._stat_file.exists():
            return SippCounts()
        with open(self._stat_file, newline="", errors="replace") as f:
            rows = list(csv.DictReader(f, delimiter=";"))
        if not rows:
            return SippCounts()
        row = {k.strip(): (v or "").strip() for k, v in rows[-1].items() if k}
        return SippCounts(
            created=_int(row, "TotalCallCreated"),
            current=_int(row, "CurrentCall"),
            successful=_int(row, "SuccessfulCall(C)"),
            failed=_int(row, "FailedCall(C)"),
            retransmissions=_int(row, "Retransmissions(C)"),
            dead_call_messages=_int(row, "DeadCallMsgs(C)"),
            out_of_call_messages=_int(row, "OutOfCallMsgs(C)"),
            raw=row)

    def _read_errors(self) -> str:
        if self.workdir is None:
            return ""
        return "".join(path.read_text(errors="replace")
                       for path in (self._error_file, self._stderr_file) if path.exists())

    def _sipp_message(self) -> str:
        text = self._stderr_file.read_text(errors="replace") if self._stderr_file.exists() else ""
        # SIPp prints each fatal message twice; keep the distinct lines.
        lines = list(dict.fromkeys(line for line in text.splitlines() if line.strip()))
        return "\n".join(lines[-10:]) or "(SIPp printed nothing)"

    def _remove_workdir(self) -> None:
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


@dataclass(frozen=True)
class PhonesAt:
    """SIPp phones (``phone.xml``) already running elsewhere, at ``host:port``.

    What the PBX's dial plan needs of `SippPhones` (`address`, `uri`) without
    owning the process: `serve --phones HOST:PORT` dials them, so phones
    started by someone else (a test, another machine) outlive the PBX.
    """

    host: str
    port: int

    @property
    def address(self) -> tuple[str, int]:
        """Where the phones listen: (host, port)."""
        return (self.host, self.port)

    def uri(self, user: str) -> str:
        """The SIP URI of a phone, ``user`` from `phone_user`."""
        return f"sip:{user}@{self.host}:{self.port}"


def parse_phones(text: str) -> PhonesAt:
    """``HOST:PORT`` (an IPv4 address or a name, a port 1-65535) as `PhonesAt`;
    ValueError saying what is wrong."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:5070)")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    if any(c.isspace() for c in host) or ":" in host:
        raise ValueError(f"{text!r}: {host!r} is not a host name or IPv4 address")
    return PhonesAt(host, int(port))


_LIVE: set[SippPhones] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _stop_all() -> None:
    """Leave no SIPp behind when the interpreter exits with phones running."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for phones in live:
        phones.stop()


def _owns_udp_port(pid: int, host: str, port: int) -> bool:
    """Whether process ``pid`` has a UDP socket bound to ``port`` (Linux /proc)."""
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
        for table in ("/proc/net/udp", "/proc/net/udp6"):
            if not os.path.exists(table):
                continue
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                        return True
        return False
    except OSError:
        # No /proc: settle for "the port is taken and SIPp is alive".
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                return True
            return False
