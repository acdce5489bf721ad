"""The PBX counts the SIP retransmissions it sends and receives (`SipPbx.retransmissions`,
the `sip_retransmissions` gauge of /metrics).

The phone here is a UDP socket of the test that plays a slow phone by hand:
it lets the PBX's INVITE go unanswered past RFC 3261's timer A (0.5 s), so
the PBX sends it again, then sends its 200 OK twice, byte for byte, as a
phone whose ACK got lost would: the second is a retransmission received,
and the PBX answers it with its ACK again. The PBX is the real sippy one.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable

from reference_impl import flow as f
from reference_impl.telephony import SipPbx, SipTarget

SDP = ("v=0\r\no=slow 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       "t=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


class SlowPhone:
    """A phone that answers only when told to: a UDP socket on loopback."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])

    def receive(self, method: str, timeout: float) -> list[str]:
        """Every message that starts with `method` within `timeout` seconds."""
        got, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            text = data.decode()
            if text.startswith(method):
                got.append(text)
        return got

    def answer(self, request: str, pbx: tuple[str, int], status: str = "200 OK",
               body: str = "", times: int = 1) -> None:
        """A response to `request`, sent `times` times, the same bytes each time."""
        head, _, _ = request.partition("\r\n\r\n")
        lines = head.split("\r\n")[1:]
        keep = [line for line in lines
                if line.split(":", 1)[0].strip().lower() in ("via", "from", "call-id", "cseq")]
        to = next(line for line in lines if line.lower().startswith("to:"))
        if ";tag=" not in to:
            to += ";tag=slowphone"
        response = "\r\n".join([
            f"SIP/2.0 {status}", *keep, to, f"Contact: <sip:slow@127.0.0.1:{self.port}>",
            *(["Content-Type: application/sdp"] if body else []),
            f"Content-Length: {len(body.encode())}", "", body])
        for _ in range(times):
            self.sock.sendto(response.encode(), pbx)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.01)


def test_retransmissions_sent_and_received_are_counted() -> None:
    phone = SlowPhone()
    events: list[f.Event] = []
    lock = threading.Lock()

    def deliver(callback_id: str, event: f.Event) -> None:
        with lock:
            events.append(event)

    pbx = SipPbx(deliver=deliver, dialplan=lambda *a: SipTarget("slow", "127.0.0.1", phone.port),
                 session_interval=None).start()
    try:
        assert pbx.retransmissions == 0
        pbx.dial("1", "person", "+34600000001", "+34910000000", ring_timeout=10)
        invites = phone.receive("INVITE", 0.9)      # timer A: again after 0.5 s
        assert len(invites) == 2 and invites[0] == invites[1]
        assert pbx.retransmissions_sent == 1
        assert pbx.retransmissions_received == 0
        assert pbx.retransmissions == 1

        phone.answer(invites[0], (pbx.host, pbx.port), body=SDP, times=2)
        acks = phone.receive("ACK", 0.6)
        assert len(acks) == 2, "the PBX answers the second 200 with its ACK again"
        assert pbx.retransmissions_received == 1
        assert pbx.retransmissions_sent == 2        # the INVITE, then the ACK again
        assert pbx.retransmissions == 3
        with lock:
            assert f.LegAnswered(leg="person") in events

        pbx.hangup("1", "person", "bye")
        byes = phone.receive("BYE", 0.3)
        assert byes
        phone.answer(byes[0], (pbx.host, pbx.port))
        wait_for("the leg to be let go", lambda: pbx.legs_up == 0)
    finally:
        pbx.stop()
        phone.close()
    assert pbx.retransmissions == 3, "the counts stay readable after a stop"
