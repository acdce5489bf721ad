"""The fixes sippy 2.5.0 needs, in one place. Imported only in the reactor thread.

Each was found on this project's machines, most by the hypothesis-driven
test of bad SIP (tests/test_sip_robustness.py), and is kept as small as the
fault allows.
"""

from __future__ import annotations

from typing import Any

DROPPED = [0]   # datagrams dropped before sippy saw them (not UTF-8, or unparseable)

# Headers every request must have and that sippy parses lazily (RFC 3261 section 8.1.1).
_REQUIRED = ("via", "from", "to", "call-id", "cseq")
_ECHOED = ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")


def apply() -> None:
    """Patch sippy with every fix of this module (the reactor thread does, at start)."""
    _lower_case_transport()
    _guard_incoming()
    _parse_error_response()
    _sane_send_ports()
    _tolerant_timer_d()
    _timer_e_capped()


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
        self.transmitData(t.userv, t.data, t.address)
        t.tout *= 2
        if not (t.method == "INVITE" and self.tclient.get(t.tid) is t):
            t.tout = min(t.tout, _T2)
        t.teA = Timeout(self.timerA, t.tout, 1, t)

    SipTransactionManager.timerA = timer_a


_T2 = 4.0   # seconds: RFC 3261's T2
