"""The PBX over real SIP: a B2BUA on sippy that places, bridges and ends call legs.

It implements the `Telephony` port. Calls come from the driver's thread and
are handed to the sippy reactor thread; what the phones do comes back as flow
events through `deliver`, which must be safe to call from another thread.

Bridging works with any RFC 3261 phone (RFC 3725 third-party call control,
one re-INVITE): the person's phone is first offered a held stream and
answers with its session description; the agent's INVITE then offers that
description (made two-way), so the agent's phone needs no re-INVITE; once it
answers, the person's phone is re-INVITEd once with the agent's. Media flows
phone to phone and never through us. An agent leg dialled before the
person's phone had answered is re-INVITEd too (the old two re-INVITEs). A
bridge the phones have not confirmed within `bridge_timeout`, a refused
re-INVITE, or a phone that answered without a session description, is
reported to the flow as `BridgeFailed`.

Session timers (RFC 4028) run on every leg: our INVITEs carry
``Supported: timer``, ``Session-Expires: <interval>;refresher=uac`` and
``Min-SE``; a 422 is retried with the phone's Min-SE; when the phone's 2xx
names a session interval with us as refresher, the leg is refreshed every
half interval (UPDATE if the phone allows it, else a re-INVITE with the same
offer). A 2xx without Session-Expires means no session timer (RFC 4028
section 7.2), as with phones that do not support them.

For restarts: `on_dialog` is told each leg's `DialogState` as its INVITE is
sent (early), as its dialog is confirmed and whenever our CSeq for it moves,
and None once it is over; `end_dialogs` ends stored dialogs from a fresh PBX
that never saw them: a BYE for a call that was up, a CANCEL for a phone that
was still ringing.
"""

from __future__ import annotations

import collections
import errno
import gc
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from reference_impl import flow as f
from reference_impl.flow import FailReason
from reference_impl.ports import Deliver

from ._reactor import reactor
from .dialogs import DialogState
from .ending import DeadDialogs
from .messages import MessageTap, SipMessage
from .responses import fail_reason

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SipTarget:
    """Where a number is dialled: the Request-URI's user and the next hop."""

    user: str
    host: str
    port: int = 5060


def parse_sip_uri(uri: str) -> SipTarget:
    """`sip:user@host[:port]` (parameters ignored) as a target."""
    if not uri.startswith("sip:") or "@" not in uri:
        raise ValueError(f"{uri!r} is not a sip:user@host[:port] URI")
    user, _, rest = uri[4:].partition("@")
    hostport = rest.split(";", 1)[0].split(">", 1)[0]
    host, _, port = hostport.partition(":")
    if not user or not host or (port and not port.isdigit()):
        raise ValueError(f"{uri!r} is not a sip:user@host[:port] URI")
    return SipTarget(user, host, int(port) if port else 5060)


# (callback id, leg, number) -> where to send the INVITE. A production dial
# plan looks at the number alone; the emulator also uses the call and leg.
Dialplan = Callable[[str, str, str], SipTarget]

# (callback id, leg, the dialog's state, or None once it is over)
DialogCallback = Callable[[str, str, "DialogState | None"], None]

# (callback id, leg, (host, port) of the phone's audio from its answer)
MediaCallback = Callable[[str, str, tuple[str, int]], None]

_TM_LINGER = 300.0  # seconds: longer than any of sippy's transaction and dialog timers
_ID_LINGER = 40.0   # seconds a Call-ID of an ended leg is still told to on_message
MIN_SE = 90         # seconds: RFC 4028's lowest session interval (section 4)

# What we offer while a phone waits for its bridge: a held audio stream.
_HOLD_SDP = ("v=0\r\no=callback 1 1 IN IP4 {host}\r\ns=callback\r\nc=IN IP4 {host}\r\n"
             "t=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n")
_DIRECTIONS = ("a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv")
_C_LINE = re.compile(r"^c=IN IP[46] (\S+)", re.MULTILINE)
_M_AUDIO = re.compile(r"^m=audio (\d+)", re.MULTILINE)


@dataclass(eq=False)
class _Leg:
    callback_id: str
    leg: str
    ua: Any = None
    sdp: Any = None          # the phone's session description, from its last 2xx
    rang: bool = False
    answered: bool = False
    bridging: bool = False
    done: bool = False
    call_id: str = ""
    offered_peer: bool = False       # its INVITE offered the other phone's media
    interval: int = 0                # the Session-Expires we ask for (422 raises it)
    min_se: int = 0                  # the Min-SE we send
    retries_422: int = 0
    session: int | None = None       # the interval the phone's last 2xx agreed, None: none
    use_update: bool = False         # refresh with UPDATE (the phone allows it)
    refresh_timer: Any = None
    refresh_tr: Any = None           # a refresh in flight
    refresh_method: str = ""
    deferred: Any = None             # a bridge offer waiting for a refresh re-INVITE
    cseq_told: int | None = None     # the CSeq on_dialog was last told about (0: early)


@dataclass(eq=False)
class _Bridge:
    pending: int = 2
    legs: list[_Leg] = field(default_factory=list)
    timer: Any = None


class SipPbx:
    """The `Telephony` port over SIP: places legs on `trunks` lines, bridges and ends them.

    - ``bridge_timeout``: seconds the phones have to confirm a bridge (the
      re-INVITE's 200) before the flow is told `BridgeFailed`.
    - ``session_interval``: the RFC 4028 Session-Expires our INVITEs ask for,
      in whole seconds (None: no session timers); ``min_se`` the lowest we
      accept and send as Min-SE (RFC 4028 says 90; tests may lower both).
    - ``on_dialog(callback_id, leg, state)``: called in the sippy reactor's
      thread (the caller hops threads itself) with the leg's `DialogState`:
      early when its INVITE is sent, confirmed with the 200 to it, and again
      whenever our CSeq moves (a re-INVITE, a session refresh); with None once
      the leg is over (a BYE either way, a failure, a CANCEL). Not called for
      legs `stop` leaves up with ``hang_up=False``: a crashed PBX tells nobody.
    - ``on_media(callback_id, leg, (host, port))``: called in the reactor's
      thread with where a phone takes its audio, from each of its answers.
    """

    def __init__(self, *, deliver: Deliver, dialplan: Dialplan, trunks: int = 60,
                 host: str = "127.0.0.1", port: int = 0,
                 on_message: Callable[[str, str, SipMessage], None] | None = None,
                 clock: Callable[[], float] | None = None,
                 on_trunk: Callable[[str, int], None] | None = None,
                 on_received_delay: Callable[[float], None] | None = None,
                 bridge_timeout: float = 8.0,
                 session_interval: int | None = 90, min_se: int = MIN_SE,
                 on_dialog: DialogCallback | None = None,
                 on_media: MediaCallback | None = None) -> None:
        if session_interval is not None and not 1 <= min_se <= session_interval:
            raise ValueError(f"session_interval {session_interval} s must be at least "
                             f"min_se {min_se} s (and min_se at least 1 s)")
        if not bridge_timeout > 0:
            raise ValueError(f"bridge_timeout must be above 0 s, got {bridge_timeout!r}")
        self.deliver = deliver
        self.dialplan = dialplan
        self.trunks = trunks
        self.host = host
        self.port = port or _free_udp_port(host)
        self._port_chosen = not port        # ours to change if someone takes it first
        self.bridge_timeout = bridge_timeout
        self.session_interval = int(session_interval) if session_interval else None
        self.min_se = int(min_se)
        self.on_dialog = on_dialog
        self.on_media = on_media
        # With `on_message`, each message is told with its callback and leg.
        self.on_message = on_message
        self._call_ids: dict[str, tuple[str, str]] = {}
        self._ended_ids: collections.deque[tuple[float, str]] = collections.deque()
        sink = self._message if on_message else None
        self._tap = (MessageTap(sink, clock, on_received_delay) if clock
                     else MessageTap(sink, on_received_delay=on_received_delay))
        self._lock = threading.Lock()
        self._up = 0                        # legs holding a trunk
        self.on_trunk = on_trunk            # (leg, +1 or -1) as a trunk is taken or freed
        self._legs: dict[tuple[str, str], _Leg] = {}   # reactor thread only
        self._bridges: dict[str, _Bridge] = {}
        self._people: dict[str, _Leg] = {}             # callback -> its person's leg now
        self._config: dict[str, Any] = {}
        self._counted = (0, 0)              # the retransmissions counted when it stopped
        self._started = False

    @property
    def legs_up(self) -> int:
        """Legs holding a trunk now."""
        return self._up

    @property
    def retransmissions(self) -> int:
        """SIP retransmissions this PBX has sent or received (the sum of the two below)."""
        return self.retransmissions_sent + self.retransmissions_received

    @property
    def retransmissions_sent(self) -> int:
        """Messages sent again: requests (and 2xx to INVITEs) resent by RFC 3261's timers,
        and answers resent to requests or responses that came twice."""
        tm = self._config.get("_sip_tm")
        return self._counted[0] if tm is None else int(tm.retransmissions_sent)

    @property
    def retransmissions_received(self) -> int:
        """Datagrams received that are byte for byte one received shortly before."""
        tm = self._config.get("_sip_tm")
        return self._counted[1] if tm is None else int(tm.retransmissions_received)

    # -- life ------------------------------------------------------------------

    def start(self) -> "SipPbx":
        """Bind the SIP socket in the reactor thread; returns the PBX."""
        reactor().call_sync(self._start)
        self._started = True
        _freeze_start_up()
        return self

    def stop(self, hang_up: bool = True) -> None:
        """Free every trunk and stop; idempotent.

        ``hang_up`` (the default): every leg is ended (BYE if answered, CANCEL
        if ringing) and sippy's transactions shut down once their timers are
        done (the socket stays bound meanwhile). ``hang_up=False`` is a crash:
        nothing is sent, the legs are dropped as they are and the socket is
        closed at once, so another PBX can bind the same address (and end
        those dialogs with `end_dialogs`).
        """
        if self._started:
            reactor().call_sync(self._stop, hang_up)
            self._started = False

    def __enter__(self) -> "SipPbx":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self) -> None:
        from sippy.SipConf import SipConf
        from sippy.SipTransactionManager import SipTransactionManager

        # A port we picked was free when we picked it; another socket may have
        # taken it since (the kernel hands out the same ephemeral ports): pick again.
        for attempt in range(_BIND_ATTEMPTS):
            SipConf.my_address, SipConf.my_port = self.host, self.port
            SipConf.my_uaname = "callback-emulator PBX"
            self._config = {"_sip_address": self.host, "_sip_port": self.port,
                            "_sip_logger": self._tap}
            try:
                self._config["_sip_tm"] = SipTransactionManager(self._config, self._request)
                return
            except OSError as error:
                if (error.errno != errno.EADDRINUSE or not self._port_chosen
                        or attempt == _BIND_ATTEMPTS - 1):
                    raise
                self.port = _free_udp_port(self.host)

    def _stop(self, hang_up: bool = True) -> None:
        from sippy.CCEvents import CCEventDisconnect

        from ._sippy_ext import abandon, shutdown_now, silence

        tm = self._config.get("_sip_tm")
        if tm is not None:
            self._counted = (tm.retransmissions_sent, tm.retransmissions_received)
        for bridge in self._bridges.values():
            _cancel(bridge.timer)
        for leg in list(self._legs.values()):
            self._quiet(leg)
            if leg.refresh_tr is not None and tm is not None:
                abandon(tm, leg.refresh_tr)
            leg.done = True
            self._release(leg.leg)
            if leg.ua is None:
                continue
            if hang_up:
                self._tell_dialog(leg, None)
                leg.ua.recvEvent(CCEventDisconnect())
            else:
                silence(leg.ua)
        self._legs.clear()
        self._bridges.clear()
        self._people.clear()
        if tm is not None:
            if hang_up:
                # Ended dialogs still run sippy's own timers (they unregister from the
                # transaction manager when they die): shut it down after they have.
                from sippy.Time.Timeout import Timeout
                Timeout(tm.shutdown, _TM_LINGER)
            else:
                shutdown_now(tm)
        self._config = {}

    def _request(self, req: Any, sip_t: Any) -> tuple[Any, None, None]:
        """Requests outside any of our dialogs: we place calls, we take none."""
        method = req.getMethod()
        if method == "OPTIONS":
            return (req.genResponse(200, "OK"), None, None)
        if req.getHFBody("to").getTag() is not None:
            return (req.genResponse(481, "Call Leg/Transaction Does Not Exist"), None, None)
        if method == "INVITE":
            return (req.genResponse(403, "Forbidden"), None, None)
        return (req.genResponse(405, "Method Not Allowed"), None, None)

    # -- the Telephony port (driver's thread) ----------------------------------

    def dial(self, callback_id: str, leg: str, number: str, caller_id: str,
             ring_timeout: float) -> None:
        """Place a leg if a trunk is free; else report `LegFailed` (no trunk, bad number)."""
        with self._lock:
            free = self._up < self.trunks
            if free:
                self._up += 1
                if self.on_trunk is not None:
                    self.on_trunk(leg, +1)
        if not free:
            self.deliver(callback_id, f.LegFailed(leg=leg, reason=FailReason.NO_TRUNK))
            return
        try:
            target = self.dialplan(callback_id, leg, number)
        except (KeyError, ValueError):
            self._release(leg)
            self.deliver(callback_id, f.LegFailed(leg=leg, reason=FailReason.INVALID_NUMBER))
            return
        reactor().call(self._dial, callback_id, leg, target, caller_id, ring_timeout)

    def hangup(self, callback_id: str, leg: str, reason: str) -> None:
        """End a leg: BYE if answered, CANCEL if ringing; `reason` is not sent."""
        reactor().call(self._hangup, callback_id, leg)

    def bridge(self, callback_id: str, person_leg: str, agent_leg: str) -> None:
        """Join the legs (one re-INVITE, see the module); reports `Bridged` or `BridgeFailed`."""
        reactor().call(self._bridge, callback_id, person_leg, agent_leg)

    # -- restarts (driver's thread) --------------------------------------------

    def end_dialogs(self, states: list[DialogState], timeout: float = 5.0) -> dict[str, bool]:
        """End dialogs this PBX never saw (a previous process's): a BYE for each
        confirmed one, a CANCEL for each early one (a phone still ringing).

        Each BYE is built from its stored state (RFC 3261 section 12.2.1.1:
        Request-URI the remote target, Route the route set, From and To with
        the dialog's tags, the same Call-ID, CSeq one above the stored one, a
        new Via branch) and sent from this PBX's own address, retransmitted
        per RFC 3261's timers until a final response or `timeout` seconds.
        An early dialog's INVITE is taken over without being sent again and
        CANCELled (`_sippy_ext.cancel_invite`); its 487 is ACKed; a phone that
        answered meanwhile is ACKed and sent a BYE; a 481 to the CANCEL means
        the phone knows no such call.
        Returns Call-ID -> whether the phone answered (a final response: 200,
        481, 487...). Usable right after `start`, before any call; not from the
        reactor's own thread.
        """
        if not self._started:
            raise RuntimeError("end_dialogs needs a started PBX")
        if threading.current_thread() is reactor().thread:
            raise RuntimeError("end_dialogs waits for the reactor: call it from another thread")
        if not states:
            return {}
        ending = DeadDialogs(self._config, self.host, self.port, states)
        reactor().call_sync(ending.send)
        ending.finished.wait(timeout)
        reactor().call_sync(ending.forget)
        return ending.results()

    # -- the reactor thread ----------------------------------------------------

    def _dial(self, callback_id: str, leg_id: str, target: SipTarget, caller_id: str,
              ring_timeout: float) -> None:
        try:
            self._invite(callback_id, leg_id, target, caller_id, ring_timeout)
        except Exception:  # noqa: BLE001 - a leg that cannot be placed must not leak a trunk
            leg = self._legs.get((callback_id, leg_id))
            if leg is not None and not leg.done:
                self._end(leg)
            elif leg is None:
                self._release(leg_id)
            self.deliver(callback_id, f.LegFailed(leg=leg_id, reason=FailReason.INVALID_NUMBER))

    def _invite(self, callback_id: str, leg_id: str, target: SipTarget, caller_id: str,
                ring_timeout: float) -> None:
        from sippy.CCEvents import CCEventTry
        from sippy.MsgBody import MsgBody
        from sippy.SipCallId import SipCallId

        from ._sippy_ext import PbxUA

        leg = _Leg(callback_id, leg_id, interval=self.session_interval or 0, min_se=self.min_se)
        self._legs[(callback_id, leg_id)] = leg
        # The flow runs its own ring timer; sippy's is only a safety net.
        leg.ua = PbxUA(self._config, event_cb=lambda event, ua: self._event(leg, event),
                       nh_address=(target.host, target.port), expire_time=ring_timeout + 30)
        leg.ua.retry_422 = lambda resp: self._retry_422(leg, resp)
        caller = caller_id or "callback"
        offer = MsgBody(_HOLD_SDP.format(host=self.host))
        if f.role_of(leg_id) is f.Role.PERSON:
            self._people[callback_id] = leg          # "person", "person-2"... by attempt
        person = self._people.get(callback_id)
        if (f.role_of(leg_id) is f.Role.AGENT and person is not None and person.answered
                and not person.done and person.sdp is not None):
            # The person's phone has answered: offer its media, the agent's phone
            # is bridged by its answer (no re-INVITE for it).
            offer = _two_way(person.sdp)
            leg.offered_peer = True
        call_id = SipCallId()
        leg.call_id = str(call_id)
        self._prune_call_ids()
        if self.on_message is not None:
            self._call_ids[leg.call_id] = (callback_id, leg_id)
        # The connection code is the From user and the display name: the
        # desk phone shows it as the caller ID.
        event = CCEventTry((call_id, caller, target.user, offer, None, caller))
        if self.session_interval:
            event.extra_headers = self._session_headers(leg)
        leg.ua.recvEvent(event)
        if self.on_dialog is not None:
            # Stored while it rings, so that a restart can CANCEL it.
            leg.ua.invite_sent = lambda: self._tell_dialog(leg)
            self._tell_dialog(leg)

    def _session_headers(self, leg: _Leg) -> tuple[Any, ...]:
        from ._sippy_ext import header

        return (header("Supported", "timer"),
                header("Session-Expires", f"{leg.interval};refresher=uac"),
                header("Min-SE", str(leg.min_se)))

    def _retry_422(self, leg: _Leg, resp: Any) -> tuple[Any, ...] | None:
        """The headers to retry an INVITE the phone found too short-lived (422), or None."""
        from ._sippy_ext import min_se

        wanted = min_se(resp)
        if leg.done or wanted is None or wanted <= leg.interval or leg.retries_422 >= 2:
            return None
        leg.retries_422 += 1
        leg.interval = wanted
        leg.min_se = max(leg.min_se, wanted)   # RFC 4028 section 7.4: the largest seen
        return self._session_headers(leg)

    def _hangup(self, callback_id: str, leg_id: str) -> None:
        from sippy.CCEvents import CCEventDisconnect

        leg = self._legs.get((callback_id, leg_id))
        if leg is None or leg.done:
            return
        self._end(leg)
        leg.ua.recvEvent(CCEventDisconnect())   # BYE if answered, CANCEL if ringing

    def _bridge(self, callback_id: str, person_leg: str, agent_leg: str) -> None:
        from sippy.Time.Timeout import Timeout

        person = self._legs.get((callback_id, person_leg))
        agent = self._legs.get((callback_id, agent_leg))
        if person is None or agent is None or person.done or agent.done:
            return                               # a leg ended meanwhile: its news says so
        for leg in (person, agent):
            if not leg.answered or leg.sdp is None:
                what = "answered without a session description" if leg.answered else "not answered"
                self.deliver(callback_id, f.BridgeFailed(reason=f"the {leg.leg} phone {what}"))
                return
        offers = [(person, agent.sdp)]
        if not agent.offered_peer:               # dialled before the person's phone answered
            offers.append((agent, _two_way(person.sdp)))
        old = self._bridges.pop(callback_id, None)
        if old is not None:
            _cancel(old.timer)
        bridge = _Bridge(pending=len(offers), legs=[person, agent])
        self._bridges[callback_id] = bridge
        bridge.timer = Timeout(self._bridge_timed_out, self.bridge_timeout, 1, callback_id, bridge)
        for leg, sdp in offers:
            leg.bridging = True
            if leg.refresh_tr is not None and leg.refresh_method == "INVITE":
                leg.deferred = sdp               # one INVITE at a time: after the refresh
            else:
                self._offer(leg, sdp)

    def _offer(self, leg: _Leg, sdp: Any) -> None:
        """A re-INVITE with `sdp` (sippy answers at once if it is what the phone has)."""
        from sippy.CCEvents import CCEventUpdate

        event = CCEventUpdate(sdp.getCopy())
        if self.session_interval and leg.session is not None:
            event.extra_headers = self._session_headers(leg)
        leg.ua.recvEvent(event)
        self._tell_dialog(leg)

    def _bridge_timed_out(self, callback_id: str, bridge: _Bridge) -> None:
        if self._bridges.get(callback_id) is not bridge:
            return
        del self._bridges[callback_id]
        waiting = [leg.leg for leg in bridge.legs if leg.bridging]
        for leg in bridge.legs:
            leg.bridging = False
        phones = f"the {' and '.join(waiting)} phone{'s' if len(waiting) > 1 else ''}" \
            if waiting else "the phones"
        self.deliver(callback_id, f.BridgeFailed(
            reason=f"{phones} did not confirm the bridge within {self.bridge_timeout:g} s"))

    def _event(self, leg: _Leg, event: Any) -> None:
        if leg.done:
            return
        name = type(event).__name__
        if name == "CCEventRing":
            if not leg.rang:
                leg.rang = True
                self._post(leg, f.LegRinging(leg=leg.leg))
        elif name == "CCEventConnect":
            self._connected(leg, event)
        elif name == "CCEventFail":
            code = int(event.getData()[0])
            if leg.answered and leg.bridging:    # the bridge's re-INVITE was refused
                self._bridge_refused(leg, code)
                return
            if leg.answered:                     # a re-INVITE of ours was refused
                self._hangup(leg.callback_id, leg.leg)
                self._post(leg, f.LegHungUp(leg=leg.leg))
                return
            self._end(leg)
            self._post(leg, f.LegFailed(leg=leg.leg, reason=fail_reason(code)))
        elif name == "CCEventDisconnect":
            self._end(leg)
            if leg.answered:
                self._post(leg, f.LegHungUp(leg=leg.leg))
            else:                                # sippy's own expiry timer: a ring-out
                self._post(leg, f.LegFailed(leg=leg.leg, reason=FailReason.NO_ANSWER))

    def _bridge_refused(self, leg: _Leg, code: int) -> None:
        leg.bridging = False
        bridge = self._bridges.pop(leg.callback_id, None)
        if bridge is not None:
            _cancel(bridge.timer)
            for other in bridge.legs:
                other.bridging = False
        if code in (408, 481):
            # sippy ended the dialog itself (RFC 3261 section 12.2.1.2): its BYE is sent.
            self._end(leg)
        if bridge is not None:
            self._post(leg, f.BridgeFailed(reason=f"the {leg.leg} phone refused the bridge "
                                                  f"({code})"))

    def _connected(self, leg: _Leg, event: Any) -> None:
        body = event.getData()[2]
        response = getattr(leg.ua, "last_response", None)
        if not leg.answered:
            leg.answered, leg.sdp = True, body
            self._session_from(leg, response, first=True)
            self._media(leg)
            self._tell_dialog(leg)
            self._post(leg, f.LegAnswered(leg=leg.leg))
            return
        if body is not None and response is not None:
            leg.sdp = body
            self._media(leg)
        if response is not None:
            self._session_from(leg, response)
        if leg.bridging:
            leg.bridging = False
            bridge = self._bridges.get(leg.callback_id)
            if bridge is not None:
                bridge.pending -= 1
                if bridge.pending == 0:
                    del self._bridges[leg.callback_id]
                    _cancel(bridge.timer)
                    self._post(leg, f.Bridged())

    # -- session timers (RFC 4028) ---------------------------------------------

    def _session_from(self, leg: _Leg, response: Any, first: bool = False) -> None:
        """The session interval a 2xx agreed: refresh at half of it if we are the refresher."""
        from sippy.Time.Timeout import Timeout

        from ._sippy_ext import allows, session_expires

        if not self.session_interval or response is None:
            return
        if first:
            leg.use_update = allows(response, "UPDATE")
        _cancel(leg.refresh_timer)
        leg.refresh_timer = None
        agreed = session_expires(response)
        if agreed is None:
            leg.session = None                   # section 7.2: no session expiration
            return
        interval, refresher = agreed
        leg.session = interval
        if refresher != "uas" and interval > 0:
            leg.refresh_timer = Timeout(self._refresh, interval / 2, 1, leg)

    def _refresh(self, leg: _Leg) -> None:
        from sippy.Time.Timeout import Timeout

        from ._sippy_ext import in_dialog

        leg.refresh_timer = None
        if leg.done or leg.ua is None or leg.session is None:
            return
        if type(leg.ua.state).__name__ != "UaStateConnected" or leg.refresh_tr is not None:
            # An INVITE of the dialog is in progress (it refreshes the session
            # itself when it carries our headers): look again shortly.
            leg.refresh_timer = Timeout(self._refresh, min(1.0, leg.session / 4), 1, leg)
            return
        method = "UPDATE" if leg.use_update else "INVITE"
        body = None if method == "UPDATE" else leg.ua.lSDP
        leg.refresh_method = method
        leg.refresh_tr = in_dialog(leg.ua, method, self._session_headers(leg),
                                   lambda resp: self._refreshed(leg, method, resp), body)
        self._tell_dialog(leg)

    def _refreshed(self, leg: _Leg, method: str, resp: Any) -> None:
        from sippy.Time.Timeout import Timeout

        from ._sippy_ext import is_local_timeout, min_se

        code = resp.getSCode()[0]
        if code < 200:
            return
        t, leg.refresh_tr = leg.refresh_tr, None
        if leg.done:
            return
        deferred, leg.deferred = leg.deferred, None
        if (t is not None and is_local_timeout(t, resp)) or code in (408, 481):
            # The phone is gone (RFC 3261 section 12.2.1.2, RFC 4028 section 10).
            self._hangup(leg.callback_id, leg.leg)
            self._post(leg, f.LegHungUp(leg=leg.leg))
            return
        if 200 <= code < 300:
            self._session_from(leg, resp)
        elif code == 422 and (wanted := min_se(resp)) is not None and wanted > leg.interval:
            leg.interval, leg.min_se = wanted, max(leg.min_se, wanted)
            leg.refresh_timer = Timeout(self._refresh, 0.01, 1, leg)
        elif method == "UPDATE" and code in (405, 501):
            leg.use_update = False               # it does not take UPDATE after all
            leg.refresh_timer = Timeout(self._refresh, 0.01, 1, leg)
        elif leg.session is not None:
            # Refused (a 491 glare, a 500...): the session goes on, try again later.
            leg.refresh_timer = Timeout(self._refresh, max(leg.session / 4, 0.5), 1, leg)
        if deferred is not None and leg.bridging:
            self._offer(leg, deferred)

    def _quiet(self, leg: _Leg) -> None:
        _cancel(leg.refresh_timer)
        leg.refresh_timer = None

    # -- what the PBX tells -----------------------------------------------------

    def _tell_dialog(self, leg: _Leg, state: Any = True) -> None:
        """on_dialog: the leg's early state once its INVITE is out (again after a 422
        retry), its confirmed state once answered and whenever our CSeq moves;
        None (``state=None``) once it is over."""
        if self.on_dialog is None or leg.ua is None:
            return
        from ._sippy_ext import dialog_state, early_dialog_state

        told: DialogState | None
        if state is None:
            if leg.cseq_told is None:
                return
            leg.cseq_told = None
            told = None
        elif not leg.answered:
            if getattr(leg.ua, "tr", None) is None:
                return
            leg.cseq_told = 0                   # early: below any CSeq of the dialog
            told = early_dialog_state(leg.ua, self.host, self.port)
        else:
            if leg.ua.lCSeq == leg.cseq_told:
                return
            leg.cseq_told = leg.ua.lCSeq
            told = dialog_state(leg.ua, self.host, self.port)
        try:
            self.on_dialog(leg.callback_id, leg.leg, told)
        except Exception:  # noqa: BLE001 - the caller's error must not stop the PBX
            _log.exception("on_dialog failed for %s/%s", leg.callback_id, leg.leg)

    def _media(self, leg: _Leg) -> None:
        if self.on_media is None or leg.sdp is None:
            return
        text = str(leg.sdp)
        host, port = _C_LINE.search(text), _M_AUDIO.search(text)
        if host is None or port is None:
            return
        try:
            self.on_media(leg.callback_id, leg.leg, (host.group(1), int(port.group(1))))
        except Exception:  # noqa: BLE001
            _log.exception("on_media failed for %s/%s", leg.callback_id, leg.leg)

    def _end(self, leg: _Leg) -> None:
        """The leg is over: free its trunk, keep no reference (GC pauses under load)."""
        leg.done = True
        self._quiet(leg)
        self._legs.pop((leg.callback_id, leg.leg), None)
        if self._people.get(leg.callback_id) is leg:
            del self._people[leg.callback_id]
        bridge = self._bridges.pop(leg.callback_id, None)
        if bridge is not None:
            _cancel(bridge.timer)
            bridge.legs.clear()
        self._release(leg.leg)
        self._tell_dialog(leg, None)
        if leg.call_id in self._call_ids:
            self._ended_ids.append((time.monotonic() + _ID_LINGER, leg.call_id))

    def _release(self, leg: str) -> None:
        with self._lock:
            self._up -= 1
            if self.on_trunk is not None:
                self.on_trunk(leg, -1)

    def _prune_call_ids(self) -> None:
        """Forget the Call-IDs of legs that ended a while ago (their last messages are in)."""
        ended, now = self._ended_ids, time.monotonic()
        while ended and ended[0][0] <= now:
            self._call_ids.pop(ended.popleft()[1], None)

    def _message(self, message: SipMessage) -> None:
        owner = self._call_ids.get(message.call_id)
        if owner is not None and self.on_message is not None:
            self.on_message(owner[0], owner[1], message)
        if self._ended_ids and self._ended_ids[0][0] <= time.monotonic():
            self._prune_call_ids()

    def _post(self, leg: _Leg, event: f.Event) -> None:
        self.deliver(leg.callback_id, event)


def _two_way(sdp: Any) -> Any:
    """A copy of a session description with its direction lines dropped (sendrecv):
    a phone that answered our held offer (recvonly) is offered to the other as two-way."""
    from sippy.MsgBody import MsgBody

    lines = [line for line in re.split(r"\r?\n", str(sdp)) if line.strip() not in _DIRECTIONS]
    return MsgBody("\r\n".join(lines))


def _cancel(timer: Any) -> None:
    if timer is not None:
        timer.cancel()


_BIND_ATTEMPTS = 5
_FROZEN = threading.Event()


FULL_PASS_EVERY = 100         # middle-generation passes between two full ones (CPython: 10)


def _freeze_start_up() -> None:
    """Once per process, when the first PBX has started: what is alive then (the
    modules, sippy, the application around it) leaves the garbage collector's
    passes (`gc.freeze`, after a collection, so no garbage is kept for ever).

    Under load the collector's full passes stop every thread, sippy's reactor
    too; each walks every object tracked. The calls leave no cycles (see
    `_sippy_ext.PbxUA`), so what a full pass has to walk is what calls hold
    now, not also the hundred thousand objects of start-up.
    """
    if _FROZEN.is_set():
        return
    _FROZEN.set()
    gc.collect()
    gc.freeze()
    # With start-up frozen the long-lived heap is small, so CPython's own rule (a full
    # pass once the objects promoted since the last exceed a quarter of it) would run
    # one every few seconds under load; ten times fewer full passes, each no longer.
    young, middle, full = gc.get_threshold()
    gc.set_threshold(young, middle, max(full, FULL_PASS_EVERY))


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
