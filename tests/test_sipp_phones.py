"""The SIPp phones of the sip mode (emulator/pbx/sipp.py, phone.xml).

One SIPp UAS serves every call; each test drives it with a tiny raw-UDP SIP
UAC written here (one socket per call) playing the PBX, and checks codes
exactly and timings within TOL. Skipped only when SIPp cannot be found.
"""

from __future__ import annotations

import math
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator

import pytest

from emulator.models.pbx.sipp import SippError, SippPhones, phone_user, sipp_path

TOL = 0.05          # timing tolerance, seconds (the contract: +-50 ms)
EARLY = 0.005       # how early a timed message may come (clock granularity)
SDP = ("v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       "t=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
HELD = SDP + "a=sendonly\r\n"     # the PBX's first offer to a person: the bridge comes later

needs_sipp = pytest.mark.skipif(
    sipp_path() is None,
    reason="SIPp not found (Debian package sip-tester; `make` installs it, or set $SIPP)")


# -- a tiny SIP UAC -------------------------------------------------------------

@dataclass
class Msg:
    start: str
    headers: list[tuple[str, str]]
    body: str
    at: float

    @property
    def code(self) -> int:
        return int(self.start.split()[1]) if self.start.startswith("SIP/2.0 ") else 0

    @property
    def method(self) -> str:
        return "" if self.code else self.start.split()[0]

    def header(self, name: str) -> str:
        values = self.all(name)
        assert values, f"no {name} header in {self.start!r}"
        return values[0]

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def cseq(self) -> tuple[int, str]:
        number, method = self.header("CSeq").split()
        return int(number), method


def parse(data: bytes, at: float) -> Msg:
    head, _, body = data.decode().partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    return Msg(lines[0], headers, body, at)


def tag_of(value: str) -> str | None:
    for param in value.split(">")[-1].split(";")[1:]:
        key, _, tag = param.strip().partition("=")
        if key.lower() == "tag":
            return tag
    return None


def uri_of(value: str) -> str:
    return value.split("<", 1)[1].split(">", 1)[0] if "<" in value else value.split(";")[0].strip()


@dataclass
class Call:
    """One call from the "PBX" (us) to a SIPp phone."""

    phones: SippPhones
    user: str
    cseq: int = 1
    to_tag: str | None = None
    remote_target: str | None = None
    seen: list[Msg] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.call_id = f"{uuid.uuid4().hex}@127.0.0.1"
        self.from_tag = uuid.uuid4().hex[:12]
        self.ruri = phones_uri = self.phones.uri(self.user)
        self.to = f"<{phones_uri}>"
        self.invite_branch = ""

    def close(self) -> None:
        self.sock.close()

    # -- sending --

    def _send(self, text: str) -> float:
        self.sock.sendto(text.encode(), self.phones.address)
        return time.monotonic()

    def _request(self, method: str, ruri: str, branch: str, cseq: int, *,
                 to_tag: str | None, body: str = "", cseq_method: str | None = None,
                 extra: str = "") -> str:
        lines = [
            f"{method} {ruri} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport",
            "Max-Forwards: 70",
            f'From: "PBX" <sip:pbx@127.0.0.1:{self.port}>;tag={self.from_tag}',
            f"To: {self.to}" + (f";tag={to_tag}" if to_tag else ""),
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {cseq_method or method}",
            f"Contact: <sip:pbx@127.0.0.1:{self.port}>",
            *[line for line in extra.split("\r\n") if line],
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + body

    @staticmethod
    def branch() -> str:
        return "z9hG4bK" + uuid.uuid4().hex[:16]

    def invite(self, sdp: str = HELD, extra: str = "") -> float:
        self.invite_branch = self.branch()
        return self._send(self._request("INVITE", self.ruri, self.invite_branch, self.cseq,
                                        to_tag=None, body=sdp, extra=extra))

    def cancel(self) -> float:
        """CANCEL: the INVITE's branch, R-URI, CSeq number; To without tag."""
        return self._send(self._request("CANCEL", self.ruri, self.invite_branch, self.cseq,
                                        to_tag=None))

    def ack_error(self, response: Msg) -> None:
        """ACK of a non-2xx final: the INVITE's branch, To with the response's tag."""
        self._send(self._request("ACK", self.ruri, self.invite_branch, self.cseq,
                                 to_tag=tag_of(response.header("To")), cseq_method="ACK"))

    def ack_ok(self, response: Msg) -> None:
        """ACK of a 200 to an INVITE: a new transaction to the phone's Contact."""
        self.to_tag = tag_of(response.header("To"))
        self.remote_target = uri_of(response.header("Contact"))
        self._send(self._request("ACK", self.remote_target, self.branch(), response.cseq[0],
                                 to_tag=self.to_tag, cseq_method="ACK"))

    def reinvite(self, sdp: str = SDP) -> float:
        assert self.remote_target, "not answered"
        self.cseq += 1
        return self._send(self._request("INVITE", self.remote_target, self.branch(), self.cseq,
                                        to_tag=self.to_tag, body=sdp))

    def update(self, extra: str = "") -> float:
        """An UPDATE without a body (a session refresh, RFC 4028)."""
        assert self.remote_target, "not answered"
        self.cseq += 1
        return self._send(self._request("UPDATE", self.remote_target, self.branch(), self.cseq,
                                        to_tag=self.to_tag, extra=extra))

    def bye(self) -> float:
        assert self.remote_target, "not answered"
        self.cseq += 1
        return self._send(self._request("BYE", self.remote_target, self.branch(), self.cseq,
                                        to_tag=self.to_tag))

    def reply(self, request: Msg, code: int = 200, reason: str = "OK") -> None:
        lines = [f"SIP/2.0 {code} {reason}", *(f"Via: {v}" for v in request.all("Via")),
                 f"From: {request.header('From')}", f"To: {request.header('To')}",
                 f"Call-ID: {request.header('Call-ID')}", f"CSeq: {request.header('CSeq')}",
                 "Content-Length: 0"]
        self._send("\r\n".join(lines) + "\r\n\r\n")

    # -- receiving --

    def recv(self, timeout: float) -> Msg | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, _ = self.sock.recvfrom(65535)
        except socket.timeout:
            return None
        msg = parse(data, time.monotonic())
        assert msg.header("Call-ID") == self.call_id
        self.seen.append(msg)
        return msg

    def expect(self, what: int | str, timeout: float = 2.0) -> Msg:
        """The next message, which must be response ``what`` (int) or request ``what``."""
        msg = self.recv(timeout)
        assert msg is not None, (f"no {what} within {timeout} s; "
                                 f"so far: {[m.start for m in self.seen]}")
        got = msg.code if isinstance(what, int) else msg.method
        assert got == what, f"expected {what}, got {msg.start!r}; so far: {[m.start for m in self.seen]}"
        return msg

    def quiet(self, for_s: float) -> None:
        """Nothing arrives for a while (e.g. no retransmission: our ACK was taken)."""
        msg = self.recv(for_s)
        assert msg is None, f"unexpected {msg.start!r} after {[m.start for m in self.seen[:-1]]}"


def within(measured: float, expected: float) -> bool:
    return expected - EARLY <= measured <= expected + TOL


# -- fixtures ---------------------------------------------------------------

@pytest.fixture(scope="module")
def phones() -> Iterator[SippPhones]:
    """One SIPp process for the whole module; every call on it must end well."""
    with SippPhones() as p:
        yield p
    counts = p.counts()
    assert counts.failed == 0, f"SIPp counted failed calls: {counts}\n{p.errors()}"


@pytest.fixture
def call(phones: SippPhones) -> Iterator[Callable[..., Call]]:
    made: list[Call] = []

    def make(action: str, delay: float = 0.0, patience: float = 0.0, talk: float = 0.0) -> Call:
        c = Call(phones, phone_user(action, delay, patience, talk))
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


# -- the contract of the user part ------------------------------------------------

def test_phone_user_encodes_milliseconds_and_never() -> None:
    assert phone_user("answer", 2.5, 10, 60.0) == "cb-answer-2500-10000-60000"
    assert phone_user("answer", 0, math.inf, 0) == "cb-answer-0-0-0"
    assert phone_user("reject", 0.0004, 0.0001, 0.0025) == "cb-reject-1-1-3"   # never 0 by rounding
    assert phone_user("busy", 0, 0, 0) == "cb-busy-0-0-0"
    assert phone_user("answer", 1, 0, 2, rtp=True) == "cb-answer-1000-0-2000-rtp"
    for bad in [("hangup", 0, 0, 0), ("answer", -1, 0, 0), ("answer", math.inf, 0, 0),
                ("answer", 0, math.nan, 0)]:
        with pytest.raises(ValueError):
            phone_user(*bad)


# -- one action at a time ---------------------------------------------------------

@needs_sipp
@pytest.mark.parametrize("action, code", [("invalid", 404), ("busy", 486)])
def test_immediate_errors(call: Callable[..., Call], action: str, code: int) -> None:
    c = call(action)
    sent = c.invite()
    final = c.expect(code)
    assert final.at - sent < TOL
    assert final.cseq == (1, "INVITE") and tag_of(final.header("To"))
    c.ack_error(final)
    c.quiet(0.7)            # no retransmission at 0.5 s: the ACK was taken


@needs_sipp
def test_reject_rings_then_declines_after_delay(call: Callable[..., Call]) -> None:
    c = call("reject", delay=0.4)
    sent = c.invite()
    ringing = c.expect(180)
    decline = c.expect(603)
    assert ringing.at - sent < TOL
    assert within(decline.at - sent, 0.4), decline.at - sent
    assert tag_of(decline.header("To")) == tag_of(ringing.header("To"))
    c.ack_error(decline)
    c.quiet(0.6)


@needs_sipp
def test_ringout_rings_until_cancel(call: Callable[..., Call]) -> None:
    c = call("ringout")
    c.invite()
    ringing = c.expect(180)
    c.quiet(0.6)
    c.cancel()
    ok = c.expect(200)
    assert ok.cseq == (1, "CANCEL")
    terminated = c.expect(487)
    assert terminated.cseq == (1, "INVITE")
    assert tag_of(terminated.header("To")) == tag_of(ringing.header("To"))
    c.ack_error(terminated)
    c.quiet(0.6)


@needs_sipp
@pytest.mark.parametrize("action", ["reject", "answer"])
def test_cancel_before_the_delay(call: Callable[..., Call], action: str) -> None:
    c = call(action, delay=0.6, patience=5, talk=5)
    sent = c.invite()
    c.expect(180)
    time.sleep(0.15)
    c.cancel()
    assert c.expect(200).cseq == (1, "CANCEL")
    terminated = c.expect(487)
    c.ack_error(terminated)
    c.quiet(0.6 - (time.monotonic() - sent) + 0.25)     # nothing at the old deadline


@needs_sipp
def test_answer_reinvite_then_the_phone_hangs_up_after_talk(call: Callable[..., Call]) -> None:
    c = call("answer", delay=0.4, patience=5, talk=0.5)
    sent = c.invite()
    ringing = c.expect(180)
    ok = c.expect(200)
    assert ringing.at - sent < TOL
    assert within(ok.at - sent, 0.4), ok.at - sent
    assert ok.cseq == (1, "INVITE") and ok.header("Content-Type") == "application/sdp"
    assert "m=audio " in ok.body and "c=IN IP4 127.0.0.1" in ok.body
    assert int(ok.header("Content-Length")) == len(ok.body.encode())
    c.ack_ok(ok)
    time.sleep(0.2)
    bridged_at = c.reinvite()
    again = c.expect(200)
    assert again.cseq == (2, "INVITE") and "m=audio " in again.body
    assert tag_of(again.header("To")) == c.to_tag
    c.ack_ok(again)
    bye = c.expect("BYE", timeout=1.5)
    assert within(bye.at - bridged_at, 0.5), bye.at - bridged_at
    # a proper in-dialog request from the UAS side
    assert bye.start.split()[1] == f"sip:pbx@127.0.0.1:{c.port}"       # our Contact
    assert tag_of(bye.header("From")) == c.to_tag                      # the phone's tag
    assert tag_of(bye.header("To")) == c.from_tag                      # ours
    assert bye.header("Call-ID") == c.call_id and bye.cseq[1] == "BYE"
    assert "branch=z9hG4bK" in bye.header("Via")
    c.reply(bye)
    c.quiet(0.7)            # our 200 was taken: no BYE retransmission


@needs_sipp
def test_the_answer_mirrors_the_offered_direction(call: Callable[..., Call]) -> None:
    """RFC 3264: the PBX's held offer (sendonly) gets recvonly, and so on."""
    def direction(sdp: str) -> list[str]:
        return [line for line in sdp.split("\r\n")
                if line in ("a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv")]
    c = call("answer")
    c.invite(SDP + "a=sendonly\r\n")
    c.expect(180)
    ok = c.expect(200)
    assert direction(ok.body) == ["a=recvonly"] and "\r\n\r\n" not in ok.body
    c.ack_ok(ok)
    for offered, answered in [("", []), ("a=recvonly\r\n", ["a=sendonly"]),
                              ("a=inactive\r\n", ["a=inactive"]), ("", [])]:
        c.reinvite(SDP + offered)
        again = c.expect(200)
        assert direction(again.body) == answered, (offered, again.body)
        assert int(again.header("Content-Length")) == len(again.body.encode())
        c.ack_ok(again)
    c.bye()
    c.expect(200)


@needs_sipp
def test_answer_without_bridge_hangs_up_after_patience(call: Callable[..., Call]) -> None:
    c = call("answer", delay=0.1, patience=0.4, talk=5)
    c.invite()
    c.expect(180)
    ok = c.expect(200)
    c.ack_ok(ok)
    bye = c.expect("BYE", timeout=1.5)
    assert within(bye.at - ok.at, 0.4), bye.at - ok.at
    c.reply(bye)


@needs_sipp
def test_the_bridge_stops_patience_and_talk_zero_waits_for_the_pbx(
        call: Callable[..., Call]) -> None:
    c = call("answer", patience=0.3, talk=0)
    c.invite()
    c.expect(180)
    ok = c.expect(200)
    c.ack_ok(ok)
    time.sleep(0.1)
    c.reinvite()
    c.ack_ok(c.expect(200))
    c.quiet(0.6)            # no BYE at the patience deadline, none for talk 0
    c.bye()
    done = c.expect(200)
    assert done.cseq == (c.cseq, "BYE")


@needs_sipp
def test_talk_counts_from_the_first_reinvite(call: Callable[..., Call]) -> None:
    c = call("answer", talk=0.6)
    c.invite()
    c.expect(180)
    c.ack_ok(c.expect(200))
    bridged_at = c.reinvite()
    c.ack_ok(c.expect(200))
    time.sleep(0.3)
    c.reinvite()
    assert c.expect(200).cseq == (3, "INVITE")
    c.ack_ok(c.seen[-1])
    bye = c.expect("BYE", timeout=1.0)
    assert within(bye.at - bridged_at, 0.6), bye.at - bridged_at
    c.reply(bye)


@needs_sipp
def test_answer_then_the_pbx_hangs_up(call: Callable[..., Call]) -> None:
    c = call("answer", patience=5, talk=5)
    c.invite()
    c.expect(180)
    c.ack_ok(c.expect(200))
    time.sleep(0.1)
    c.bye()
    assert c.expect(200).cseq == (2, "BYE")
    c.quiet(0.3)


@needs_sipp
def test_a_cancel_crossing_the_answer_leaves_the_call_up(call: Callable[..., Call]) -> None:
    c = call("answer", patience=0.5)
    c.invite()
    c.expect(180)
    ok = c.expect(200)
    c.cancel()              # crosses our 200: answered 200, no 487
    assert c.expect(200).cseq == (1, "CANCEL")
    c.ack_ok(ok)
    bye = c.expect("BYE", timeout=1.5)      # patience still counts from the answer
    assert within(bye.at - ok.at, 0.5), bye.at - ok.at
    c.reply(bye)


@needs_sipp
def test_retransmissions(call: Callable[..., Call]) -> None:
    """The 200 is resent until the ACK, the phone's BYE until its 200 (T1 = 0.5 s)."""
    c = call("answer", patience=0.2)
    c.invite()
    c.expect(180)
    ok = c.expect(200)
    again = c.expect(200, timeout=1.0)
    assert within(again.at - ok.at, 0.5) and again.body == ok.body
    c.ack_ok(again)
    bye = c.expect("BYE", timeout=1.0)
    bye_again = c.expect("BYE", timeout=1.0)
    assert within(bye_again.at - bye.at, 0.5)
    assert bye_again.header("Via") == bye.header("Via")     # the same transaction
    c.reply(bye_again)
    c.quiet(0.7)


@needs_sipp
def test_concurrent_calls_of_every_action_on_one_process(phones: SippPhones) -> None:
    def busy() -> None:
        c = Call(phones, phone_user("busy", 0, 0, 0))
        c.invite()
        c.ack_error(c.expect(486))

    def invalid() -> None:
        c = Call(phones, phone_user("invalid", 0, 0, 0))
        c.invite()
        c.ack_error(c.expect(404))

    def reject() -> None:
        c = Call(phones, phone_user("reject", 0.3, 0, 0))
        sent = c.invite()
        c.expect(180)
        decline = c.expect(603)
        assert within(decline.at - sent, 0.3), decline.at - sent
        c.ack_error(decline)

    def ringout() -> None:
        c = Call(phones, phone_user("ringout", 0, 0, 0))
        c.invite()
        c.expect(180)
        c.quiet(0.4)
        c.cancel()
        c.expect(200)
        c.ack_error(c.expect(487))

    def answer(talk: float) -> Callable[[], None]:
        def run() -> None:
            c = Call(phones, phone_user("answer", 0.2, 2, talk))
            sent = c.invite()
            c.expect(180)
            ok = c.expect(200)
            assert within(ok.at - sent, 0.2), ok.at - sent
            c.ack_ok(ok)
            bridged_at = c.reinvite()
            c.ack_ok(c.expect(200))
            bye = c.expect("BYE", timeout=2)
            assert within(bye.at - bridged_at, talk), bye.at - bridged_at
            c.reply(bye)
        return run

    scripts = [busy, invalid, reject, ringout, answer(0.3), answer(0.5), reject, busy,
               answer(0.4), ringout]
    with ThreadPoolExecutor(len(scripts)) as pool:
        for future in [pool.submit(script) for script in scripts]:
            future.result()


# -- the process ------------------------------------------------------------

@needs_sipp
def test_counts_and_clean_stop(tmp_path: object) -> None:
    phones = SippPhones()
    with phones:
        pid = phones.pid
        assert pid is not None and phones.running
        good = Call(phones, phone_user("busy", 0, 0, 0))
        good.invite()
        good.ack_error(good.expect(486))
        bad = Call(phones, "alice")                 # not a cb-... user: 400, a failed call
        bad.invite()
        bad.ack_error(bad.expect(400))
        time.sleep(0.1)
    counts = phones.counts()
    assert (counts.created, counts.successful, counts.failed) == (2, 1, 1), counts
    assert counts.raw["FailedRegexpDoesntMatch(C)"] == "1"
    assert "Failed regexp match" in phones.errors()
    assert not phones.running and phones.workdir is None
    assert not os.path.exists(f"/proc/{pid}"), "SIPp left behind"


@needs_sipp
def test_a_taken_port_is_a_clear_error(phones: SippPhones) -> None:
    with pytest.raises(SippError) as caught:
        SippPhones(port=phones.port).start()
    message = str(caught.value)
    assert "Address already in use" in message and f"-p {phones.port}" in message


def test_missing_sipp_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIPP", "/nonexistent/sipp")
    assert sipp_path() is None
    with pytest.raises(SippError, match="SIPp not found"):
        SippPhones().start()
    with pytest.raises(SippError, match="cannot run /nonexistent/sipp"):
        SippPhones(sipp="/nonexistent/sipp").start()


# -- live offers, session timers ---------------------------------------------------

@needs_sipp
def test_a_live_offer_is_the_bridge_talk_counts_from_the_ack(call: Callable[..., Call]) -> None:
    """An agent's INVITE offers the person's media: no re-INVITE is needed."""
    c = call("answer", delay=0.1, patience=0.2, talk=0.4)
    c.invite(SDP)                       # live media, no a=sendonly
    c.expect(180)
    ok = c.expect(200)
    assert "a=recvonly" not in ok.body and "a=sendonly" not in ok.body
    c.ack_ok(ok)
    acked = time.monotonic()
    bye = c.expect("BYE", timeout=1.5)  # talk, not patience: no re-INVITE came, none needed
    assert within(bye.at - acked, 0.4), bye.at - acked
    c.reply(bye)


@needs_sipp
def test_session_timer_refreshes_keep_the_call_and_its_lapse_ends_it(
        call: Callable[..., Call]) -> None:
    """RFC 4028: Session-Expires echoed with refresher=uac; each UPDATE restarts the
    session; no refresh within the interval and the phone hangs up."""
    c = call("answer", patience=0, talk=0)
    c.invite(extra="Supported: timer\r\nSession-Expires: 1;refresher=uac\r\nMin-SE: 1")
    c.expect(180)
    ok = c.expect(200)
    assert ok.all("Session-Expires") == ["1;refresher=uac"] and ok.all("Require") == ["timer"]
    assert "UPDATE" in ok.header("Allow")
    c.ack_ok(ok)
    for _ in range(3):                  # refreshed every 0.6 s: the call stays up
        time.sleep(0.6)
        c.update("Session-Expires: 1;refresher=uac")
        refreshed = c.expect(200)
        assert refreshed.cseq[1] == "UPDATE" and refreshed.all("Session-Expires") == ["1;refresher=uac"]
    last = refreshed.at
    bye = c.expect("BYE", timeout=2.0)
    assert within(bye.at - last, 1.0), bye.at - last
    c.reply(bye)


@needs_sipp
def test_no_session_expires_no_session_timer(call: Callable[..., Call]) -> None:
    c = call("answer", patience=0, talk=0)
    c.invite()
    c.expect(180)
    ok = c.expect(200)
    assert not ok.all("Session-Expires") and not ok.all("Require")
    c.ack_ok(ok)
    c.quiet(1.2)
    c.bye()
    c.expect(200)
