"""The PBX over real SIP: a B2BUA on sippy that places, bridges and ends call legs.

It implements the `Telephony` port. Calls come from the driver's thread and
are handed to the sippy reactor thread; what the phones do comes back as flow
events through `deliver`, which must be safe to call from another thread.
The two legs of a callback are bridged by RFC 3725 third-party call control:
each phone is re-INVITEd with the other's session description, so media
flows phone to phone and never through us.
"""

from __future__ import annotations

import errno
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from reference_impl import flow as f
from reference_impl.flow import FailReason
from reference_impl.ports import Deliver

from ._reactor import reactor
from .messages import MessageTap, SipMessage
from .responses import fail_reason



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

_TM_LINGER = 300.0  # seconds: longer than any of sippy's transaction and dialog timers

# What we offer while a phone waits for its bridge: a held audio stream.
_HOLD_SDP = ("v=0\r\no=callback 1 1 IN IP4 {host}\r\ns=callback\r\nc=IN IP4 {host}\r\n"
             "t=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n")


@dataclass(eq=False)
class _Leg:
    callback_id: str
    leg: str
    ua: Any = None
    sdp: Any = None          # the phone's session description, from its 200 OK
    rang: bool = False
    answered: bool = False
    bridging: bool = False
    done: bool = False


@dataclass(eq=False)
class _Bridge:
    pending: int = 2
    legs: list[_Leg] = field(default_factory=list)


class SipPbx:
    """The `Telephony` port over SIP: places legs on `trunks` lines, bridges and ends them."""

    def __init__(self, *, deliver: Deliver, dialplan: Dialplan, trunks: int = 60,
                 host: str = "127.0.0.1", port: int = 0,
                 on_message: Callable[[str, str, SipMessage], None] | None = None,
                 clock: Callable[[], float] | None = None,
                 on_trunk: Callable[[str, int], None] | None = None,
                 on_received_delay: Callable[[float], None] | None = None) -> None:
        self.deliver = deliver
        self.dialplan = dialplan
        self.trunks = trunks
        self.host = host
        self.port = port or _free_udp_port(host)
        self._port_chosen = not port        # ours to change if someone takes it first
        # With `on_message`, each message is told with its callback and leg.
        self.on_message = on_message
        self._call_ids: dict[str, tuple[str, str]] = {}
        sink = self._message if on_message else None
        self._tap = (MessageTap(sink, clock, on_received_delay) if clock
                     else MessageTap(sink, on_received_delay=on_received_delay))
        self._lock = threading.Lock()
        self._up = 0                        # legs holding a trunk
        self.on_trunk = on_trunk            # (leg, +1 or -1) as a trunk is taken or freed
        self._legs: dict[tuple[str, str], _Leg] = {}   # reactor thread only
        self._bridges: dict[str, _Bridge] = {}
        self._config: dict[str, Any] = {}
        self._started = False

    @property
    def legs_up(self) -> int:
        """Legs holding a trunk now."""
        return self._up

    # -- life ------------------------------------------------------------------

    def start(self) -> "SipPbx":
        """Bind the SIP socket in the reactor thread; returns the PBX."""
        reactor().call_sync(self._start)
        self._started = True
        return self

    def stop(self) -> None:
        """Hang up every leg; sippy's transactions shut down once their timers are done."""
        if self._started:
            reactor().call_sync(self._stop)
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

    def _stop(self) -> None:
        from sippy.CCEvents import CCEventDisconnect

        for leg in list(self._legs.values()):
            leg.done = True
            if leg.ua is not None:
                leg.ua.recvEvent(CCEventDisconnect())
        self._legs.clear()
        self._bridges.clear()
        tm = self._config.get("_sip_tm")
        if tm is not None:
            # Ended dialogs still run sippy's own timers (they unregister from the
            # transaction manager when they die): shut it down after they have.
            from sippy.Time.Timeout import Timeout
            Timeout(tm.shutdown, _TM_LINGER)
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
        """Re-INVITE each phone with the other's media (RFC 3725); reports `Bridged`."""
        reactor().call(self._bridge, callback_id, person_leg, agent_leg)

    # -- the reactor thread ----------------------------------------------------

    def _dial(self, callback_id: str, leg_id: str, target: SipTarget, caller_id: str,
              ring_timeout: float) -> None:
        try:
            self._invite(callback_id, leg_id, target, caller_id, ring_timeout)
        except Exception:  # noqa: BLE001 - a leg that cannot be placed must not leak a trunk
            leg = self._legs.get((callback_id, leg_id))
            if leg is not None and not leg.done:
                self._end(leg)
            self.deliver(callback_id, f.LegFailed(leg=leg_id, reason=FailReason.INVALID_NUMBER))

    def _invite(self, callback_id: str, leg_id: str, target: SipTarget, caller_id: str,
                ring_timeout: float) -> None:
        from sippy.CCEvents import CCEventTry
        from sippy.MsgBody import MsgBody
        from sippy.SipCallId import SipCallId
        from sippy.UA import UA

        leg = _Leg(callback_id, leg_id)
        self._legs[(callback_id, leg_id)] = leg
        # The flow runs its own ring timer; sippy's is only a safety net.
        leg.ua = UA(self._config, event_cb=lambda event, ua: self._event(leg, event),
                    nh_address=(target.host, target.port), expire_time=ring_timeout + 30)
        caller = caller_id or "callback"
        offer = MsgBody(_HOLD_SDP.format(host=self.host))
        call_id = SipCallId()
        if self.on_message is not None:
            self._call_ids[str(call_id)] = (callback_id, leg_id)
        # The connection code is the From user and the display name: the
        # desk phone shows it as the caller ID.
        leg.ua.recvEvent(CCEventTry((call_id, caller, target.user, offer, None, caller)))

    def _hangup(self, callback_id: str, leg_id: str) -> None:
        from sippy.CCEvents import CCEventDisconnect

        leg = self._legs.get((callback_id, leg_id))
        if leg is None or leg.done:
            return
        self._end(leg)
        leg.ua.recvEvent(CCEventDisconnect())   # BYE if answered, CANCEL if ringing

    def _bridge(self, callback_id: str, person_leg: str, agent_leg: str) -> None:
        from sippy.CCEvents import CCEventUpdate

        person = self._legs.get((callback_id, person_leg))
        agent = self._legs.get((callback_id, agent_leg))
        if person is None or agent is None or person.done or agent.done:
            return                               # a leg ended meanwhile: its news says so
        self._bridges[callback_id] = _Bridge(legs=[person, agent])
        for this, other in ((person, agent), (agent, person)):
            this.bridging = True
            this.ua.recvEvent(CCEventUpdate(other.sdp.getCopy()))

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
            if leg.answered:                     # the bridge's re-INVITE was refused
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

    def _connected(self, leg: _Leg, event: Any) -> None:
        body = event.getData()[2]
        if not leg.answered:
            leg.answered, leg.sdp = True, body
            self._post(leg, f.LegAnswered(leg=leg.leg))
            return
        if leg.bridging:
            leg.bridging = False
            bridge = self._bridges.get(leg.callback_id)
            if bridge is not None:
                bridge.pending -= 1
                if bridge.pending == 0:
                    del self._bridges[leg.callback_id]
                    self._post(leg, f.Bridged())

    def _end(self, leg: _Leg) -> None:
        """The leg is over: free its trunk, keep no reference (GC pauses under load)."""
        leg.done = True
        self._legs.pop((leg.callback_id, leg.leg), None)
        bridge = self._bridges.pop(leg.callback_id, None)
        if bridge is not None:
            bridge.legs.clear()
        self._release(leg.leg)

    def _release(self, leg: str) -> None:
        with self._lock:
            self._up -= 1
            if self.on_trunk is not None:
                self.on_trunk(leg, -1)

    def _message(self, message: SipMessage) -> None:
        owner = self._call_ids.get(message.call_id)
        if owner is not None and self.on_message is not None:
            self.on_message(owner[0], owner[1], message)

    def _post(self, leg: _Leg, event: f.Event) -> None:
        self.deliver(leg.callback_id, event)


_BIND_ATTEMPTS = 5


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
