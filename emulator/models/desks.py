"""The desk phones of the contact centres: what each shows, and the agent at it.

One model for every driver (the simulation, the SIP replay, `serve`): it
watches the switchboard's commands and events, so it works the same behind
the emulated PBX and the real SIP one. A desk phone rings with the
connection code as caller ID; once its agent picks up, the agent types that
code on the agent page. Where the agent is emulated, the phone book says how
long the typing takes (`will_type`); where a human sits there (`serve`),
nobody types for them and the pages show the display instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from reference_impl import flow as f
from reference_impl.flow import Role, role_of
from reference_impl.ports import DeskPhone
from reference_impl.records import CallbackRecord

from .clock import Clock


@dataclass(slots=True)
class DeskCall:
    """A call on one desk phone, from its dial to its end."""

    callback_id: str
    leg: str
    number: str
    display: str                      # the caller ID shown: the connection code
    answered: bool = False
    typing: float | None = None       # the agent types the code this long after pickup


class Desks:
    """A switchboard observer: each desk phone's call, and the agent typing its code."""

    commands_watched = (f.Dial, f.Hangup)
    events_watched = (f.LegAnswered, f.LegFailed, f.LegHungUp)

    def __init__(self, owner: Mapping[str, str], clock: Clock | None = None,
                 enter_code: Callable[[str], object] | None = None) -> None:
        """`owner`: desk phone -> centre. With a `clock` and `enter_code`, agents
        told of by `will_type` type the code they see on the agent page."""
        self.owner = owner
        self.clock = clock
        self.enter_code = enter_code
        self.calls: dict[tuple[str, str], DeskCall] = {}

    def will_type(self, callback_id: str, leg: str, delay: float) -> None:
        """The agent who answers this leg types the code `delay` after picking up."""
        call = self.calls.get((callback_id, leg))
        if call is not None:
            call.typing = delay

    # -- the Observer protocol -----------------------------------------------

    def command(self, callback_id: str, command: f.Command, now: float) -> None:
        """A desk phone is dialled (its display shows the code), or hung up."""
        if command.__class__ is f.Dial:
            if role_of(command.leg) is Role.AGENT:                        # type: ignore[attr-defined]
                self.calls[(callback_id, command.leg)] = DeskCall(        # type: ignore[attr-defined]
                    callback_id, command.leg, command.number,             # type: ignore[attr-defined]
                    command.caller_id)                                    # type: ignore[attr-defined]
        else:
            self.calls.pop((callback_id, command.leg), None)             # type: ignore[attr-defined]

    def event(self, callback_id: str, event: f.Event, now: float) -> None:
        """A desk phone is picked up (its agent starts typing), or its call ends."""
        if event.__class__ is not f.LegAnswered:
            self.calls.pop((callback_id, event.leg), None)               # type: ignore[attr-defined]
            return
        call = self.calls.get((callback_id, event.leg))                  # type: ignore[attr-defined]
        if call is None or call.answered:
            return
        call.answered = True
        if call.typing is not None and self.clock is not None:
            self.clock.later(call.typing, self._type, call)

    def closed(self, record: CallbackRecord) -> None:
        """Nothing of an ended callback stays on a desk."""
        for leg in range(1, len(record.terminals_dialled) + 1):
            self.calls.pop((record.id, f.agent_leg(leg)), None)

    # -- what the pages show -------------------------------------------------

    def shown(self) -> list[DeskPhone]:
        """Every desk phone: idle, ringing or talking, and the code it shows."""
        up = {call.number: call for call in self.calls.values()}
        phones = []
        for number, centre in self.owner.items():
            call = up.get(number)
            state = "idle" if call is None else ("talking" if call.answered else "ringing")
            phones.append(DeskPhone(number=number, centre=centre, state=state,
                                    display=call.display if call else "",
                                    callback_id=call.callback_id if call else ""))
        return phones

    def _type(self, call: DeskCall) -> None:
        if (call.callback_id, call.leg) in self.calls and self.enter_code is not None:
            self.enter_code(call.display)        # still on the call: the code goes in
