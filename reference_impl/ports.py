"""The ports a driver plugs into the switchboard: where commands become effects.

The emulator implements them in simulated time (SimPy), the real system in
real time (SIP, the room server, websockets). Each port reports back by
calling `Switchboard.deliver(callback_id, event)`.
"""

from __future__ import annotations

from typing import Protocol

from .flow import Notice, Role


class Telephony(Protocol):
    def dial(self, callback_id: str, leg: str, number: str, caller_id: str,
             ring_timeout: float) -> None: ...
    def hangup(self, callback_id: str, leg: str, reason: str) -> None: ...
    def bridge(self, callback_id: str, person_leg: str, agent_leg: str) -> None: ...


class Rooms(Protocol):
    def create(self, callback_id: str, template: str, code: str) -> None: ...
    def join(self, callback_id: str, room: str, who: Role) -> None: ...
    def delete(self, room: str) -> None: ...


class Notifier(Protocol):
    def notify(self, callback_id: str, notice: Notice, room: str | None) -> None: ...


class Timers(Protocol):
    def start(self, callback_id: str, timer: str, delay: float) -> None: ...
    def cancel(self, callback_id: str, timer: str) -> None: ...


class Clock(Protocol):
    def __call__(self) -> float: ...


class NoNotifier:
    """For drivers with no web page to tell (the emulator's load runs)."""

    def notify(self, callback_id: str, notice: Notice, room: str | None) -> None:
        return None
