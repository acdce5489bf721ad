"""The ports a driver plugs into the switchboard: where commands become effects.

The emulator implements them in simulated time (SimPy), the real system in
real time (SIP, the room server, websockets). Each port reports back by
calling the `Deliver` it was built with: the switchboard's `deliver`.
`reference_impl/wiring.py` is the one place that builds a switchboard with
its ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from . import flow as f
from .flow import Notice, Role

Deliver = Callable[[str, f.Event], None]
"""How a port reports: `deliver(callback_id, event)` feeds the event to that callback's flow."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DeskPhone:
    """What a contact centre's desk phone shows: its number, its state, the caller ID.

    Hosts that can tell (the emulator's desk model) hand these to the web app's
    agent and operations pages.
    """

    number: str
    centre: str
    state: str                 # "idle", "ringing", "talking"
    display: str = ""          # the caller ID: the connection code on our calls
    callback_id: str = ""


class Telephony(Protocol):
    """Places and ends call legs, and bridges two of them (a PBX)."""

    def dial(self, callback_id: str, leg: str, number: str, caller_id: str,
             ring_timeout: float) -> None:
        """Call `number` showing `caller_id`; report ringing, answer or failure."""
    def hangup(self, callback_id: str, leg: str, reason: str) -> None:
        """End a leg: CANCEL while it rings, BYE once answered; report nothing."""
    def bridge(self, callback_id: str, person_leg: str, agent_leg: str) -> None:
        """Connect two answered legs' media; report `Bridged`."""


class Rooms(Protocol):
    """Video rooms: created from a template, joined by the person and the agent."""

    def create(self, callback_id: str, template: str, code: str) -> None:
        """Open a room; report `RoomCreated` or `RoomRefused`."""
    def join(self, callback_id: str, room: str, who: Role) -> None:
        """Admit the person or the agent; report `JoinedRoom` once they are in."""
    def delete(self, room: str) -> None:
        """Close a room and tell whoever is in it."""
    def call_ended(self, callback_id: str) -> None:
        """The callback is over: drop anything still kept or awaited for it."""


class Notifier(Protocol):
    """Tells the person's page what is happening."""

    def notify(self, callback_id: str, notice: Notice, room: str | None) -> None:
        """Show `notice` (with the room to open, for `room_ready`)."""


class Timers(Protocol):
    """The flow's timers: each reported back as `TimerFired` unless cancelled."""

    def start(self, callback_id: str, timer: str, delay: float) -> None:
        """Fire `timer` after `delay` seconds (a restart replaces the old one)."""
    def cancel(self, callback_id: str, timer: str) -> None:
        """Forget `timer`; cancelling one that is not running is harmless."""


class Clock(Protocol):
    """The driver's time, in seconds from its start."""

    def __call__(self) -> float: ...


class NoNotifier:
    """For drivers with no web page to tell (the emulator's load runs)."""

    def notify(self, callback_id: str, notice: Notice, room: str | None) -> None:
        """Tell nobody."""
        return None
