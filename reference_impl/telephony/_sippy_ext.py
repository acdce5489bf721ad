"""What the PBX adds to sippy 2.5.0: headers it does not know, a UA that shows its
responses, dialogs read out of a UA, requests sent outside any UA, a dead process's
INVITE cancelled, a quick shutdown.

Imports sippy at the top, so it is imported only in the reactor thread (by
`pbx.py`'s reactor-side code), like `_sippy_fixes`.
"""

from __future__ import annotations

import dataclasses
import re
import weakref
from typing import Any, Callable

from sippy.SipGenericHF import SipGenericHF
from sippy.SipHeader import SipHeader
from sippy.SipRequest import SipRequest
from sippy.SipTransactionManager import RINGING
from sippy.Time.Timeout import Timeout
from sippy.UA import UA

from .dialogs import DialogState, invite_text

_TIMERS = ("teA", "teB", "teC", "teD", "teE", "teF", "teG")
_UA_TIMERS = ("expire_timer", "no_progress_timer", "no_reply_timer", "credit_timer")


class _Named(SipGenericHF):
    """A header sippy has no class for, written with its proper name."""

    def __init__(self, body: str, name: str | None = None) -> None:
        super().__init__(body, name)
        self.proper = name or "X-Unknown"

    def getCopy(self) -> "_Named":  # noqa: N802 - sippy's name
        return _Named(self.body, self.proper)

    def getCanName(self, name: str, compact: bool = False) -> str:  # noqa: N802
        return self.proper


def header(name: str, value: str) -> Any:
    """A sippy header ``name: value`` (the name kept as written)."""
    return SipHeader(name=name.lower(), body=_Named(value, name))


def _values(msg: Any, *names: str) -> list[str]:
    out = []
    for name in names:
        for hf in msg.getHFs(name):
            out.append(str(hf.body))
    return out


def session_expires(msg: Any) -> tuple[int, str] | None:
    """The Session-Expires of a message (RFC 4028): (seconds, refresher or ''), or None."""
    for value in _values(msg, "session-expires", "x"):
        match = re.match(r"\s*(\d+)\s*(.*)$", value)
        if match:
            refresher = re.search(r"refresher\s*=\s*(uac|uas)", match.group(2), re.IGNORECASE)
            return int(match.group(1)), refresher.group(1).lower() if refresher else ""
    return None


def min_se(msg: Any) -> int | None:
    """The Min-SE of a message in seconds (RFC 4028 section 5), or None."""
    for value in _values(msg, "min-se"):
        match = re.match(r"\s*(\d+)", value)
        if match:
            return int(match.group(1))
    return None


def allows(msg: Any, method: str) -> bool:
    """Whether the message's Allow header lists `method`."""
    for value in _values(msg, "allow"):
        if method.upper() in (m.strip().upper() for m in value.split(",")):
            return True
    return False


class PbxUA(UA):  # type: ignore[misc]
    """sippy's UA, plus: the response being handled is `last_response` while its
    events are emitted, and a 422 to the first INVITE is retried with the headers
    `retry_422(response)` gives (None: no retry, the call fails). It lingers 5 s
    once its call is over, not 32, and leaves nothing for the garbage collector."""

    last_response: Any = None
    retry_422: Callable[[Any], tuple[Any, ...] | None] | None = None
    # Told after a retried INVITE is sent (its transaction is `self.tr`).
    invite_sent: Callable[[], None] | None = None
    # How long an ended dialog stays before the UA is dead: sippy's 32 s (64*T1)
    # kept every ended call's objects on the heap for half a minute, and with them
    # the garbage collector's full passes grew to seconds at 150 callbacks/s. The
    # transaction layer answers retransmissions by itself (its caches keep what
    # it sent 32-64 s); a new request in the dialog after this gets a 481.
    # RFC 3261's T4 (5 s) is the longest a message is expected to stay in the network.
    godead_timeout = 5.0

    def recvRequest(self, req: Any, sip_t: Any) -> Any:  # noqa: N802 - sippy's name
        """sippy's handling of a request in the dialog, its `req.sendResponse` made weak.

        sippy gives each request a `sendResponse` closure over the request and
        the UA: a cycle through the request (a phone's BYE, every call) that only
        a full garbage collection frees. The same answer, through weak references
        (the request is alive as long as whoever will answer it keeps it).
        """
        result = super().recvRequest(req, sip_t)
        req.sendResponse = _Responder(weakref.ref(req), weakref.ref(self))
        return result

    def cleanup(self) -> None:
        """sippy's hook when the UA dies: drop `retry_422`, the one reference back to
        the PBX's leg (a cycle), so that the call's objects go by reference counting."""
        self.retry_422 = None
        self.invite_sent = None
        self.last_response = None

    def recvResponse(self, resp: Any, tr: Any) -> Any:  # noqa: N802 - sippy's name
        """sippy's handling of a response, shown as `last_response`; a 422 retried."""
        if self.state is None or self.state.dead:
            return None
        code = resp.getSCode()[0]
        cseq, method = resp.getHFBody("cseq").getCSeq()
        if (code == 422 and method == "INVITE" and self.retry_422 is not None
                and cseq in self.reqs and not self.isConnected()):
            headers = self.retry_422(resp)
            if headers is not None:
                # RFC 4028 section 7.4: the same request again, a new CSeq, a
                # Session-Expires no lower than the peer's Min-SE; once the 422
                # is ACKed (sippy sends the ACK after this handler returns).
                del self.reqs[cseq]
                Timeout(self._retry_invite, 0, 1, self.state, headers)
                return None
        self.last_response = resp
        try:
            return super().recvResponse(resp, tr)
        finally:
            self.last_response = None


    def _retry_invite(self, state: Any, headers: tuple[Any, ...]) -> None:
        if self.state is not state or self.state.dead:
            return                              # cancelled (or ended) meanwhile
        req = self.genRequest("INVITE", self.lSDP, extra_headers=headers)
        self.newUacTransaction(req, req_extra_headers=headers)
        if self.invite_sent is not None:
            self.invite_sent()


class _Responder:
    """What sippy's `UA.recvRequest` makes `req.sendResponse`, without holding either."""

    __slots__ = ("req", "ua")

    def __init__(self, req: Callable[[], Any], ua: Callable[[], Any]) -> None:
        self.req, self.ua = req, ua

    def __call__(self, *rcode: Any) -> None:
        req, ua = self.req(), self.ua()
        if req is None or ua is None:
            return
        resp = req.genResponse(*rcode, server=ua.local_ua)
        ua.global_config["_sip_tm"].sendResponse(resp, lossemul=ua.uas_lossemul)


def dialog_state(ua: Any, host: str, port: int) -> DialogState:
    """The dialog of a confirmed UA (we are its UAC) as a `DialogState`."""
    return DialogState(
        call_id=str(ua.cId), local_tag=str(ua.lUri.getTag()), remote_tag=str(ua.rUri.getTag()),
        local_uri=str(ua.lUri.getUrl()), remote_uri=str(ua.rUri.getUrl()),
        remote_target=str(ua.rTarget), route_set=tuple(str(r) for r in (ua.routes or ())),
        cseq=int(ua.lCSeq) - 1, local_host=host, local_port=int(port))


def early_dialog_state(ua: Any, host: str, port: int) -> DialogState:
    """The early dialog of a UA whose INVITE is out (`ua.tr`) and not answered yet."""
    call_id, local_tag, cseq, _, branch = ua.tr.tid
    return DialogState(
        call_id=str(call_id), local_tag=str(local_tag), remote_tag="",
        local_uri=str(ua.lUri.getUrl()), remote_uri=str(ua.rUri.getUrl()),
        remote_target=str(ua.rTarget), route_set=(), cseq=int(cseq),
        local_host=host, local_port=int(port), branch=str(branch))


def confirmed(state: DialogState, resp: Any) -> DialogState:
    """The dialog a 2xx to an early state's INVITE confirmed (RFC 3261 section 12.1.2):
    the phone's To tag, its Contact as remote target, the reversed Record-Route."""
    contact = resp.getHFBody("contact").getUrl() if resp.countHFs("contact") else None
    routes = [str(r) for r in reversed(resp.getHFBodys("record-route"))]
    return dataclasses.replace(
        state, branch="", remote_tag=str(resp.getHFBody("to").getTag() or ""),
        remote_target=str(contact) if contact is not None else state.remote_target,
        route_set=tuple(routes))


class _Mute:
    """A SIP socket that sends nothing (everything else is the real one's)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def send_to(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def cancel_invite(tm: Any, state: DialogState, address: tuple[str, int],
                  resp_cb: Callable[[Any], None],
                  cancel_cb: Callable[[Any], None]) -> tuple[Any, Any]:
    """Take over the INVITE of a dead process's early dialog and CANCEL it (RFC 3261
    section 9.1); returns the INVITE's and the CANCEL's client transactions.

    The INVITE is not sent again (a phone that had forgotten it would ring anew):
    its transaction is made with a socket that sends nothing, as if it had been
    sent and a provisional response had come. sippy then sends the CANCEL it
    builds from it, ACKs the INVITE's final response (the 487, or a 2xx if the
    phone answered meanwhile) and tells `resp_cb` of it; `cancel_cb` gets the
    CANCEL's responses (a 481: the phone knows no such call). Call
    `forget_ignored` once before, so that an answer that came first is not dropped.
    """
    req = SipRequest(buf=invite_text(state))
    req.setTarget((address, "udp"))
    real = tm.l4r.getServer(address)
    t = tm.newTransaction(req, resp_cb=resp_cb, userv=_Mute(real))
    t.userv = real
    if t.teA is not None:                   # no retransmissions of it either
        t.teA.cancel()
        t.teA = None
    t.state = RINGING
    cancel = tm.newTransaction(t.cancel, resp_cb=cancel_cb, userv=real)
    return t, cancel


def forget_ignored(tm: Any) -> None:
    """Forget the messages sippy marked to be ignored (no transaction had them): a
    phone's answer to the dead process's INVITE that came before we took it over
    would otherwise make sippy drop each identical retransmission of it too."""
    for name in ("l1rcache", "l2rcache"):
        cache = getattr(tm, name)
        for checksum in [c for c, entry in cache.items() if entry.data is None]:
            del cache[checksum]


def in_dialog(ua: Any, method: str, headers: tuple[Any, ...], resp_cb: Callable[[Any], None],
              body: Any = None) -> Any:
    """Send `method` in the UA's dialog outside its state machine (a session refresh);
    the responses go to `resp_cb`. Returns the client transaction."""
    req = ua.genRequest(method, body, extra_headers=headers)
    if method == "INVITE":
        ua.reqs.pop(req.getHFBody("cseq").getCSeqNum(), None)   # not the UA's to retry
    return ua.global_config["_sip_tm"].newTransaction(req, resp_cb=resp_cb,
                                                      laddress=ua.source_address)


def send_text(tm: Any, text: str, address: tuple[str, int],
              resp_cb: Callable[[Any], None]) -> Any:
    """Send a request given as text to `address` in a client transaction of its own
    (sippy retransmits it per RFC 3261 timers); returns the transaction."""
    req = SipRequest(buf=text)
    req.setTarget((address, "udp"))
    return tm.newTransaction(req, resp_cb=resp_cb)


def is_local_timeout(t: Any, resp: Any) -> bool:
    """Whether `resp` is the 408 sippy made up itself when timer B fired."""
    return resp is getattr(t, "r408", None)


def abandon(tm: Any, t: Any) -> None:
    """Stop a client transaction: no more retransmissions, no more callbacks."""
    for name in _TIMERS:
        timer = getattr(t, name, None)
        if timer is not None:
            timer.cancel()
            setattr(t, name, None)
    t.resp_cb = None
    if tm.tclient is not None and tm.tclient.get(t.tid) is t:
        del tm.tclient[t.tid]


def silence(ua: Any) -> None:
    """A UA we drop without ending its call: no more events, none of its timers."""
    ua.event_cb = None
    for name in _UA_TIMERS:
        timer = getattr(ua, name, None)
        if timer is not None:
            timer.cancel()
            setattr(ua, name, None)


class _Inert:
    """What a transaction manager that was shut down hands out: accepts anything."""

    def __setattr__(self, name: str, value: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return None


def shutdown_now(tm: Any) -> None:
    """Close the PBX's socket at once, as a crash would: no transaction goes on.

    sippy's dialogs that ended shortly before keep their own timers; they
    still unregister from this (mute) manager without harm.
    """
    consumers = tm.req_consumers
    for table in (tm.tclient, tm.tserver):
        for t in list(table.values()):
            for name in _TIMERS:
                timer = getattr(t, name, None)
                if timer is not None:
                    timer.cancel()
                    setattr(t, name, None)
        table.clear()
    tm.shutdown()
    tm.req_consumers = consumers
    inert = _Inert()
    tm.newTransaction = lambda *args, **kwargs: inert
    for name in ("sendResponse", "sendACK", "cancelTransaction", "transmitData",
                 "transmitMsg", "transmitReq"):
        setattr(tm, name, lambda *args, **kwargs: None)
