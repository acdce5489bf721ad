"""The fixes sippy 2.5.0 needs, in one place. Imported only in the reactor thread.

Each was found on this project's machines, most by the hypothesis-driven
test of bad SIP (tests/test_sip_robustness.py), and is kept as small as the
fault allows. Four are for speed (issue 14): sippy's clock read through
ctypes, its ``'my' in dir(x)`` checks, each datagram handed to a sender
thread rather than sent, and a system call for every random tag.

`TARGETS` names every sippy function a fix replaces or wraps, with a digest
of its source as sippy 2.5.0 has it; tests/test_sippy_fixes.py fails when an
upgrade of sippy changes one, so that each fix is looked at again.
"""

from __future__ import annotations

import errno
import importlib
import ipaddress
import os
import socket
import threading
import time
from typing import Any

DROPPED = [0]   # datagrams dropped before sippy saw them (not UTF-8, or unparseable)

# Headers every request must have and that sippy parses lazily (RFC 3261 section 8.1.1).
_REQUIRED = ("via", "from", "to", "call-id", "cseq")
_ECHOED = ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")


# What the fixes replace or wrap: "module:qualified name" -> the SHA-256 of its
# source as sippy 2.5.0 has it (tests/test_sippy_fixes.py recomputes each).
TARGETS = {
    "sippy.SipURL:SipURL.getTAddr":
        "02c25b8679eacc01b5537c51a6f493dae7131482e70cfaddff5b57413a9298fc",
    "sippy.SipTransactionManager:SipTransactionManager.handleIncoming":
        "e5fa4778e8e348beb273fb0c730831aa53230a4cfc04f87d4cebba308ffa3163",
    "sippy.Exceptions.SipParseError:SipParseError.getResponse":
        "6ebff036d30fffa8cdf41542719d79fcb9b9004754e9fbd80f823023301e9b65",
    "sippy.Udp_server:Udp_server.send_to":
        "691443a9297a7df00c135229dece725665a683b2e8fb54b847825420f78d49e3",
    "sippy.SipTransactionManager:SipTransactionManager.timerD":
        "a6e788622b225826a7d476ff78c09774c43512297a041306a9691034d1e37752",
    "sippy.SipTransactionManager:SipTransactionManager.timerA":
        "224c79385d4999a4959e748dc3518768e49aad36b3b748d92eac7a6dac71cd09",
    "sippy.SipTransactionManager:SipTransactionManager.__init__":
        "b5bac5f9a98d370e88d97cf76b429c8a4f2c860ba1d6749a10980c84a622401f",
    "sippy.SipTransactionManager:SipTransactionManager.rCachePurge":
        "ad9afe2537d569c0abd638570ec9f4840fcbd43d7d5afcbdc1045465a49b0571",
    "sippy.Network_server:Network_server.send_to":
        "0816ac2d1d07f7c6a0b620a979cefce3edbfba18809c3e6cb7d3bc236064e855",
    "sippy.Udp_server:AsyncSender.run":
        "50ad4358dec8c556eb1572b3485630ffce7cf7cc3ad652163c44479120f7b464",
    "sippy.Time.clock_dtime:clock_getitime":
        "485ca1d3b317779763d446c23ef85117b8623feb8530c250a6b992a79662cee3",
    "sippy.Time.clock_dtime:clock_getdtime":
        "c65ee3c088847f1d6530c66e0903c678803dac43da842fb6c186e972c647b481",
    "sippy.Time.clock_dtime:clock_getntime":
        "a0de6f153e2d28251a4129c4c62d1ea80ebae41fff0843b8d721a95a978cf8fc",
    # Not patched: what _sippy_ext.PbxUA overrides (and calls) or counts on
    # (the dead state calls `cleanup` and drops the event callback; the
    # disconnected and failed states wait `godead_timeout`).
    "sippy.UA:UA.recvResponse":
        "5aedfd00d147c37527a6c9d3aaebf04aeeef09abd020b50a9a4208ff3d04a307",
    "sippy.UA:UA.recvRequest":
        "68a3984631867cc1c125ab666c399d1f69e7cab9be41017a4e18e9c3f4adf34b",
    "sippy.UA:UA.cleanup":
        "84e866e4ba2a3ad5fe8e30c2adf6fa072ef28e9709495bbde9e839afb6ae6421",
    "sippy.UaStateDead:UaStateDead.__init__":
        "015b1a6eccca0fbb042a11edf2d058dffc28a2ec13a3710343e3f1c8868e496b",
    "sippy.UaStateDisconnected:UaStateDisconnected.__init__":
        "2f983e2a208fc076d6f6326f38655067f4f317ff540b607edd6475570c862e8a",
    "sippy.UaStateFailed:UaStateFailed.__init__":
        "2f983e2a208fc076d6f6326f38655067f4f317ff540b607edd6475570c862e8a",
    # Not patched: what _sippy_ext.cancel_invite counts on to take over a dead
    # process's INVITE (a transaction made without sending, set to RINGING,
    # its CANCEL and ACK built by sippy, its final response ACKed).
    "sippy.SipTransactionManager:SipTransactionManager.newTransaction":
        "6278aaf82ceecf82adce44fe8eb143b6039b49f7932161a50788fe0dd11b493f",
    "sippy.SipTransactionManager:SipTransactionManager.incomingResponse":
        "24bcae8958cfc54d83f77fbd152042d00143b11be47667b5bd51c90aa54d2daa",
    "sippy.SipRequest:SipRequest.genCANCEL":
        "667c281d16602c7532a81f7d29b62a6f6ccea1077edfcebc51435c9c46fde87c",
    "sippy.SipRequest:SipRequest.genACK":
        "0f2d1f44b1401b0e5ebda27b3b0f4d8475f6f5d0f377faaeb9938c596e254be4",
}


def apply() -> None:
    """Patch sippy with every fix of this module (the reactor thread does, at start)."""
    _lower_case_transport()
    _guard_incoming()
    _parse_error_response()
    _send_at_once()             # inside the port check below: it wraps this
    _sane_send_ports()
    _tolerant_timer_d()
    _timer_e_capped()
    _count_retransmissions()
    _clock_without_ctypes()
    _my_without_dir()
    _tokens_in_blocks()


def _lower_case_transport() -> None:
    from sippy.SipConf import SipConf
    from sippy.SipURL import SipURL

    # A Contact with `;transport=UDP` (upper case, as SIPp and many phones send
    # it) made every in-dialog request fail with "unsupported transport: UDP":
    # transport names are case-insensitive (RFC 3261 section 19.1.1).
    def get_taddr(self: Any) -> tuple[Any, Any]:
        transport = self.transport if self.transport is not None else SipConf.default_transport
        if isinstance(transport, str):
            transport = transport.lower()
        return (self.getAddr(), transport)

    SipURL.getTAddr = get_taddr


def _guard_incoming() -> None:
    """Refuse what sippy would choke on later, before it builds any state for it.

    A datagram that is not UTF-8 is not SIP (RFC 3261 section 7.3.1): sippy
    raised deep in its receive path. A request whose Via, From, To, Call-ID or
    CSeq does not parse raised only later (the headers are parsed lazily),
    after a server transaction had been made for it, which then leaked: such a
    request gets a 400 built from its raw headers and goes no further.
    """
    from sippy.SipRequest import SipRequest
    from sippy.SipTransactionManager import SipTransactionManager

    receive = SipTransactionManager.handleIncoming

    def handle_incoming(self: Any, data_in: Any, ra: Any, server: Any, rtime: Any) -> Any:
        text = data_in
        if isinstance(data_in, bytes):
            try:
                text = data_in.decode()
            except UnicodeDecodeError:
                DROPPED[0] += 1
                return None
        if len(text) >= 32 and not text.startswith("SIP/2.0 ") and not _parses(SipRequest, text):
            DROPPED[0] += 1
            if not text.startswith("ACK "):      # an ACK is never answered
                _bad_request(text, ra, server)
            return None
        return receive(self, data_in, ra, server, rtime)

    SipTransactionManager.handleIncoming = handle_incoming


def _parses(request_class: Any, text: str) -> bool:
    try:
        request = request_class(text)
        for name in _REQUIRED:
            request.getHFBody(name)
        request.getTIds()
        request.getTId(True, True, True)
    except Exception:  # noqa: BLE001 - sippy raises many kinds; the verdict is the same
        return False
    return True


def _bad_request(text: str, ra: Any, server: Any) -> None:
    """A 400 that echoes the request's own header lines (RFC 3261 section 8.2.6)."""
    lines = text.replace("\r\n", "\n").split("\n")
    echoed = [line for line in lines[1:60]
              if line.split(":", 1)[0].strip().lower() in _ECHOED and len(line) < 1024]
    if not any(line.lower().startswith(("via", "v:")) for line in echoed):
        return                                   # nowhere sensible to answer
    response = "\r\n".join(["SIP/2.0 400 Bad Request", *echoed, "Content-Length: 0", "", ""])
    try:
        server.send_to(response, ra.address)
    except Exception:  # noqa: BLE001 - an answer we cannot send is no reason to fail
        pass


def _parse_error_response() -> None:
    from sippy.Exceptions.SipParseError import SipParseError

    # sippy's receive path calls getResponse() without the request it wants
    # (a body shorter than its Content-Length): a TypeError, and no 400.
    original = SipParseError.getResponse

    def get_response(self: Any, req: Any = None) -> Any:
        if self.sip_response is not None or req is None:
            return self.sip_response
        return original(self, req)

    SipParseError.getResponse = get_response


def _sane_send_ports() -> None:
    from sippy.Udp_server import Udp_server

    # A request whose top Via names a port outside 1..65535 made sippy answer
    # there: sendto raised OverflowError in a sender thread, which died; after
    # three such datagrams the PBX could send nothing at all.
    send_to = Udp_server.send_to

    def checked_send_to(self: Any, data: Any, address: Any, delayed: bool = False) -> Any:
        try:
            port = int(address[1])
        except (TypeError, ValueError, IndexError):
            return None
        if not 0 < port < 65536:
            return None
        return send_to(self, data, address, delayed)

    Udp_server.send_to = checked_send_to


def _tolerant_timer_d() -> None:
    from sippy.SipTransactionManager import SipTransactionManager

    # Two INVITE server transactions alike but for the branch end up under one
    # key; the first's timer D then deleted the second's entry and the second's
    # raised KeyError. Delete only one's own entry.
    def timer_d(self: Any, t: Any) -> None:
        t.teD = None
        if t.teA is not None:
            t.teA.cancel()
            t.teA = None
        if t.noack_cb is not None and t.state != _confirmed():
            t.noack_cb()
        if self.tserver.get(t.tid) is t:
            del self.tserver[t.tid]
        t.cleanup()

    SipTransactionManager.timerD = timer_d


def _confirmed() -> Any:
    from sippy import SipTransactionManager as module
    return module.CONFIRMED


def _timer_e_capped() -> None:
    from sippy.SipTransactionManager import SipTransactionManager
    from sippy.Time.Timeout import Timeout

    # A non-INVITE request is resent at T1, 2*T1, ... but never more than T2
    # apart (RFC 3261 section 17.1.2.2, timer E: 0.5, 1, 2, 4, 4, 4 s), and so
    # is a final response to an INVITE we answered (timer G, section 17.2.1;
    # a 2xx, section 13.3.1.4). sippy doubled all of them without bound, as
    # only an INVITE we send should be (timer A: 8, 16 s gaps before timer B).
    def timer_a(self: Any, t: Any) -> None:
        self.retransmissions_sent += 1
        self.transmitData(t.userv, t.data, t.address)
        t.tout *= 2
        if not (t.method == "INVITE" and self.tclient.get(t.tid) is t):
            t.tout = min(t.tout, _T2)
        t.teA = Timeout(self.timerA, t.tout, 1, t)

    SipTransactionManager.timerA = timer_a


_T2 = 4.0   # seconds: RFC 3261's T2


def _count_retransmissions() -> None:
    """Count, per transaction manager, the retransmissions it sends and receives.

    Sent: every resend by timer A (our requests, and our 2xx to an INVITE:
    `_timer_e_capped`), and every answer sippy sends again to a datagram it
    has seen before. Received: every datagram byte for byte one sippy has
    seen in the last 32-64 s (RFC 3261 retransmissions are identical; sippy
    keeps their checksums in two caches, `l1rcache` and `l2rcache`, to answer
    them again): the caches count their hits.
    """
    from sippy.SipTransactionManager import SipTransactionManager

    SipTransactionManager.retransmissions_sent = 0
    SipTransactionManager.retransmissions_received = 0
    init, purge = SipTransactionManager.__init__, SipTransactionManager.rCachePurge

    def counted_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.l1rcache, self.l2rcache = _SeenCache(self), _SeenCache(self)

    def counted_purge(self: Any) -> None:
        purge(self)
        self.l1rcache = _SeenCache(self)

    SipTransactionManager.__init__ = counted_init
    SipTransactionManager.rCachePurge = counted_purge


class _SeenCache(dict):  # type: ignore[type-arg]
    """sippy's cache of datagrams seen (checksum -> what to answer again): a hit is a
    retransmission received, and one with an answer is a retransmission sent too."""

    __slots__ = ("tm",)

    def __init__(self, tm: Any) -> None:
        super().__init__()
        self.tm = tm

    def get(self, key: Any, default: Any = None) -> Any:
        """The cached answer of a datagram; a hit is counted."""
        found = dict.get(self, key, default)
        if found is not None:
            self.tm.retransmissions_received += 1
            if found.data is not None:
                self.tm.retransmissions_sent += 1
        return found


# -- speed (issue 14) ------------------------------------------------------------

# sippy's modules that read the clock through `clock_dtime` by a name of their own
# (`from ... import`): each gets the fast function under that name too.
CLOCK_IMPORTERS = {"sippy.Time.MonoTime": ("clock_getdtime",),
                   "sippy.Security.SipNonce": ("clock_getntime",)}


def _clock_getitime(kind: int) -> tuple[int, int]:
    """`clock_dtime.clock_getitime` without ctypes: (seconds, nanoseconds) of clock `kind`."""
    return divmod(time.clock_gettime_ns(kind), 1_000_000_000)


def _clock_without_ctypes() -> None:
    """Read the clock with `time.clock_gettime`, not through ctypes.

    Every `MonoTime` (several per SIP message: receive times, timers) read the
    clock by building a ctypes timespec and calling libc's clock_gettime: 5 %
    of the reactor's time at 100 callbacks/s. `time.clock_gettime(kind)`
    makes the same system call on the same clock (sippy's CLOCK_MONOTONIC is
    4, Linux's CLOCK_MONOTONIC_RAW; `kind` is passed as it is) and gives the
    same float, seconds + nanoseconds * 1e-9.
    """
    from sippy.Time import clock_dtime

    fast = {"clock_getitime": _clock_getitime, "clock_getdtime": time.clock_gettime,
            "clock_getntime": time.clock_gettime_ns}
    for name, function in fast.items():
        setattr(clock_dtime, name, function)
    for module_name, names in CLOCK_IMPORTERS.items():
        module = importlib.import_module(module_name)
        for name in names:
            setattr(module, name, fast[name])


# The modules whose only use of `dir` is ``'my' in dir(x)`` (or ``not in``) -> the
# SHA-256 of their lines that call `dir(`, stripped and joined by newlines.
DIR_MODULES = {
    "sippy.SipURL": "39bc71d8f632ddd8a80291663d14a07ac5c1c5c5cf72db4ec551bb4abab8b09b",
    "sippy.SipVia": "fe8414a1a0a5071c929e457a090d9311dd32500229554e7dc6dc0ac5a370fbc2",
    "sippy.SdpOrigin": "00cbea01685a04d49e1a079bcfce0150f8004d9b4850e14aeb2d9a9af9df39fb",
    "sippy.SipConf": "6f179dac42aa12150ef6449610c5d6be90eeca6ad8e47c5ac20e4e9a3ea4022f",
    "sippy.SipTransactionManager":
        "a14aa2fd0d7d7d927b2ebff6ecc37c89532c9780b58b24ea31e38b27f93f6480",
    "sippy.SipWWWAuthenticate":
        "1172595647831510f8407c4a6a0ddc9d7619ba4087e5b03ebcf3433903899a3b",
}


class _Attributes:
    """``name in _Attributes(x)`` is ``hasattr(x, name)``: what ``name in dir(x)`` asks."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __contains__(self, name: str) -> bool:
        return hasattr(self.obj, name)


def _my_without_dir() -> None:
    """Answer sippy's ``'my' in dir(x)`` with `hasattr`.

    Each URL, Via and SDP origin sippy writes out asks whether its host and
    port are `SipConf.MyAddress` / `MyPort` placeholders with ``'my' in
    dir(x)``, which builds and sorts the list of every attribute of `x` (a
    str, an int: some 80 names) to look for one: 8 % of the reactor's time.
    The modules where that is the only use of `dir` get a `dir` of their own
    whose answer to `in` is `hasattr`: the same for these objects (none has
    a `__dir__` of its own).
    """
    for name in DIR_MODULES:
        importlib.import_module(name).dir = _Attributes  # type: ignore[attr-defined]


# The modules that make their Call-IDs, tags and Via branches with
# `secrets.token_hex(16)`: each is a getrandom system call (a dozen a callback).
TOKEN_MODULES = ("sippy.SipCallId", "sippy.SipFrom", "sippy.SipVia", "sippy.UA")


class Entropy:
    """Bytes of the kernel's random generator (`os.urandom`, as `secrets` uses), read a
    block at a time and each handed out once; a forked child reads its own."""

    def __init__(self, block: int = 4096) -> None:
        self.block = block
        self._lock = threading.Lock()
        self._bytes, self._at, self._pid = b"", 0, os.getpid()

    def take(self, n: int) -> bytes:
        """`n` bytes no one else gets."""
        with self._lock:
            if self._at + n > len(self._bytes) or self._pid != os.getpid():
                self._bytes, self._at, self._pid = os.urandom(max(self.block, n)), 0, os.getpid()
            out = self._bytes[self._at:self._at + n]
            self._at += n
            return out


ENTROPY = Entropy()


def token_hex(nbytes: int | None = None) -> str:
    """`secrets.token_hex` (32 bytes by default) from `ENTROPY`'s blocks."""
    return ENTROPY.take(32 if nbytes is None else nbytes).hex()


def _tokens_in_blocks() -> None:
    """Give sippy's Call-IDs, tags and branches their random bytes from one block
    of `os.urandom` at a time instead of a system call each (3.5 % of the reactor's
    time at 120 callbacks/s): the same kernel generator, fewer calls."""
    for name in TOKEN_MODULES:
        importlib.import_module(name).token_hex = token_hex  # type: ignore[attr-defined]


def _send_at_once() -> None:
    """Send each datagram from the reactor's own thread, not through a sender thread.

    sippy queues every datagram for one of three sender threads, which looks
    the address up (getaddrinfo) and sends it. Each hand-off wakes a thread
    that must take the GIL from the reactor: under load most of the
    reactor's time went to waking them and waiting to get the GIL back. A
    datagram to an IPv4 address (what the PBX ever sends to: addresses come
    from Vias, Contacts and the dial plan) is sent at once, without waiting
    (MSG_DONTWAIT); one the socket cannot take now (EAGAIN, ENOBUFS), or to a
    host name, or with sippy's loss or delay emulation on, goes to the
    sender threads as before (they retry). Other errors drop it, as the
    senders do.
    """
    from sippy.Udp_server import Udp_server

    queued = Udp_server.send_to

    def send_now(self: Any, data: Any, address: Any, delayed: bool = False) -> Any:
        opts = self.uopts
        if (opts.family == socket.AF_INET and not opts.ploss_out_rate
                and not opts.pdelay_out_max and _is_ipv4(address[0])):
            raw = data if isinstance(data, bytes) else data.encode("utf-8")
            try:
                if self.skt.sendto(raw, socket.MSG_DONTWAIT, address) == len(raw):
                    return None
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS):
                    return None
        return queued(self, data, address, delayed)

    Udp_server.send_to = send_now


_IPV4: dict[Any, bool] = {}


def _is_ipv4(host: Any) -> bool:
    """Whether `host` is an IPv4 address in dotted-quad form (remembered per host)."""
    if not isinstance(host, str):
        return False
    known = _IPV4.get(host)
    if known is None:
        try:
            ipaddress.IPv4Address(host)
            known = True
        except ValueError:
            known = False
        if len(_IPV4) < 4096:
            _IPV4[host] = known
    return known
