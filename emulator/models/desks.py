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
from typing import Callable, Mapping, Protocol, Sequence

from reference_impl import flow as f
from reference_impl.flow import Role, role_of
from reference_impl.ports import DeskPhone
from reference_impl.records import CallbackRecord

from .clock import Clock


DAY = 86400.0


class Count(Protocol):
    """A level the desks move: agents busy, or on duty, at one centre."""

    def change(self, now: float, delta: int) -> None:
        """Move the count by `delta` at `now`."""

    def set(self, now: float, value: int) -> None:
        """Set the count to `value` at `now`."""


@dataclass(slots=True)
class DeskCall:
    """A call on one desk phone, from its dial to its end."""

    callback_id: str
    leg: str
    number: str
    display: str                      # the caller ID shown: the connection code
    answered: bool = False
    typing: float | None = None       # the agent types the code this long after pickup

    def __init__(self, callback_id: str, leg: str, number: str, display: str,
                 answered: bool = False, typing: float | None = None) -> None:
        self.callback_id = callback_id
        self.leg = leg
        self.number = number
        self.display = display
        self.answered = answered
        self.typing = typing


class Desks:
    """A switchboard observer: each desk phone's call, and the agent typing its code."""

    commands_watched = (f.Dial, f.Hangup)
    events_watched = (f.LegAnswered, f.LegFailed, f.LegHungUp)

    def __init__(self, owner: Mapping[str, str], clock: Clock | None = None,
                 enter_code: Callable[[str], object] | None = None,
                 busy: Mapping[str, Count] | None = None) -> None:
        """`owner`: desk phone -> centre. With a `clock` and `enter_code`, agents
        told of by `will_type` type the code they see on the agent page. `busy`:
        centre -> the count of its desk phones ringing or talking, kept up to date."""
        self.owner = owner
        self.clock = clock
        self.enter_code = enter_code
        self.busy = busy
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
                call = self.calls[(callback_id, command.leg)] = DeskCall(  # type: ignore[attr-defined]
                    callback_id, command.leg, command.number,             # type: ignore[attr-defined]
                    command.caller_id)                                    # type: ignore[attr-defined]
                if self.busy is not None:
                    self.busy[self.owner[call.number]].change(now, +1)
        else:
            self._end(self.calls.pop((callback_id, command.leg), None), now)  # type: ignore[attr-defined]

    def event(self, callback_id: str, event: f.Event, now: float) -> None:
        """A desk phone is picked up (its agent starts typing), or its call ends."""
        if event.__class__ is not f.LegAnswered:
            self._end(self.calls.pop((callback_id, event.leg), None), now)  # type: ignore[attr-defined]
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
            self._end(self.calls.pop((record.id, f.agent_leg(leg)), None),
                      record.times.get("ended", 0.0))

    def _end(self, call: DeskCall | None, now: float) -> None:
        """A desk phone's call is over: one agent fewer busy at its centre."""
        if call is not None and self.busy is not None:
            self.busy[self.owner[call.number]].change(now, -1)

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


class Rota:
    """The agents on duty at each centre through the day (`centres.<name>.staffing`).

    At each step of a centre's shifts the switchboard is told how many agents
    are on duty (`staff`); an agent who goes off duty finishes the call in
    hand and takes no new one. Before the first step nobody is on duty. The
    steps are times from time 0 (a simulated day), or, with `daily`, times of
    the day on a clock that read `offset` seconds past midnight at time 0
    (`serve`'s real time), the same steps every day.
    """

    def __init__(self, clock: Clock, steps: Mapping[str, Sequence[tuple[float, int]]],
                 staff: Callable[[str, int], None], on_duty: Mapping[str, Count] | None = None,
                 offset: float = 0.0, daily: bool = False) -> None:
        """`steps`: centre -> (from, agents) in time order; `on_duty`: counts kept up to date."""
        self.clock = clock
        self.steps = steps
        self.staff = staff
        self.on_duty = on_duty
        self.offset = offset
        self.daily = daily

    def start(self) -> None:
        """Put each centre's agents of now on duty, and the next steps on the clock."""
        for centre in self.steps:
            self._step(centre)

    def agents_at(self, centre: str, t: float) -> int:
        """The agents on duty at `centre` at time `t`."""
        moment = self.offset + t
        if self.daily:
            moment %= DAY
        agents = 0
        for start, count in self.steps[centre]:
            if start <= moment:
                agents = count
        return agents

    def next_change(self, centre: str, t: float) -> float | None:
        """When the next step after `t` comes (None: never)."""
        moment = self.offset + t
        day = moment // DAY if self.daily else 0.0
        later = [start for start, _ in self.steps[centre] if start > moment - day * DAY]
        if later:
            return day * DAY + later[0] - self.offset
        return (day + 1) * DAY - self.offset if self.daily else None

    def _step(self, centre: str) -> None:
        now = self.clock.now()
        agents = self.agents_at(centre, now)
        self.staff(centre, agents)
        if self.on_duty is not None:
            self.on_duty[centre].set(now, agents)
        after = self.next_change(centre, now)
        if after is not None:
            self.clock.later(after - now, self._step, centre)
