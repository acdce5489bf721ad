"""The PBX in simulated time: trunks, dialling, ringing, answers, bridging, hang-ups.

Each leg is a SimPy process (`phone`) that plays the plan drawn for the phone
it dialled; the PBX reports what the phone does as flow events. Our own
hang-up (a CANCEL while ringing, a BYE once answered) reaches the process as
`simpy.Interrupt`. A leg holds one trunk from dial to hang-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import simpy

from reference_impl import flow as f
from reference_impl.flow import FailReason, Role, role_of

from ..behaviour import NEVER, Answer, Distribution, Fixed, PhonePlan, Rng
from ..metrics import Level

Deliver = Callable[[str, f.Event], None]


class PhoneBook(Protocol):
    """Who answers a number: the plan of the phone a leg reaches."""

    def plan(self, callback_id: str, leg: str, number: str) -> PhonePlan: ...
    def answered(self, callback_id: str, leg: str, caller_id: str, plan: PhonePlan) -> None: ...


@dataclass(eq=False)
class Leg:
    callback_id: str
    leg: str
    number: str
    caller_id: str
    plan: PhonePlan
    trunk: simpy.resources.resource.Request
    bridged: simpy.Event
    process: simpy.Process | None = None
    answered: bool = False
    alive: bool = True
    since: float = 0.0
    notes: list[str] = field(default_factory=list)


_FAILURES = {Answer.INVALID: FailReason.INVALID_NUMBER, Answer.BUSY: FailReason.BUSY}


class SimPbx:
    def __init__(self, env: simpy.Environment, *, trunks: int, post_dial_delay: Distribution,
                 bridge_delay: Distribution, rng: Rng, phones: PhoneBook,
                 answer_signalling_delay: Distribution | None = None,
                 deliver: Deliver, agents: Level | None = None,
                 trunk_level: Level | None = None) -> None:
        self.env = env
        self.trunks = simpy.Resource(env, capacity=trunks)
        self.post_dial_delay = post_dial_delay
        # From the phone's answer to the PBX knowing it (a real stack's 200 OK path).
        lag = answer_signalling_delay
        self.answer_lag = None if lag is None or (isinstance(lag, Fixed) and lag.value == 0) else lag
        self.bridge_delay = bridge_delay
        self.rng = rng
        self.phones = phones
        self.deliver = deliver
        self.agents = agents or Level()          # agent legs up (ringing or talking)
        self.trunk_level = trunk_level or Level()
        self.legs: dict[tuple[str, str], Leg] = {}

    # -- the Telephony port --------------------------------------------------

    def dial(self, callback_id: str, leg: str, number: str, caller_id: str,
             ring_timeout: float) -> None:
        if self.trunks.count >= self.trunks.capacity:
            self.deliver(callback_id, f.LegFailed(leg=leg, reason=FailReason.NO_TRUNK))
            return
        role = role_of(leg)
        call = Leg(callback_id, leg, number, caller_id,
                   self.phones.plan(callback_id, leg, number),
                   self.trunks.request(), self.env.event(), since=self.env.now)
        self.legs[(callback_id, leg)] = call
        self.trunk_level.change(self.env.now, +1)
        if role is Role.AGENT:
            self.agents.change(self.env.now, +1)
        call.process = self.env.process(self._phone(call))

    def hangup(self, callback_id: str, leg: str, reason: str) -> None:
        call = self.legs.get((callback_id, leg))
        if call is None or call.process is None or not call.process.is_alive:
            return
        self._free(call)        # the trunk is free at once, whatever the process does next
        if call.process is self.env.active_process:
            # The flow hung up the very leg whose news it is handling: a process
            # cannot interrupt itself, so the interrupt lands a moment later.
            self.env.timeout(0).callbacks.append(lambda _: self._interrupt(call, reason))
        else:
            call.process.interrupt(reason)

    def _interrupt(self, call: Leg, reason: str) -> None:
        if call.process is not None and call.process.is_alive:
            call.process.interrupt(reason)

    def bridge(self, callback_id: str, person_leg: str, agent_leg: str) -> None:
        self.env.process(self._bridge(callback_id, person_leg, agent_leg))

    # -- processes -----------------------------------------------------------

    def _phone(self, call: Leg):  # type: ignore[no-untyped-def]
        """One leg, from the INVITE to its end, as the dialled phone behaves."""
        env, plan = self.env, call.plan
        try:
            yield env.timeout(self.post_dial_delay.sample(self.rng))
            if plan.answer in _FAILURES:
                self._final(call, f.LegFailed(leg=call.leg, reason=_FAILURES[plan.answer]))
                return
            self._report(call, f.LegRinging(leg=call.leg))
            if plan.answer is Answer.RING_OUT:
                yield env.event()                  # rings until we cancel it
            yield env.timeout(plan.delay)
            if self.answer_lag is not None:
                yield env.timeout(self.answer_lag.sample(self.rng))
            if plan.answer is Answer.REJECT:
                self._final(call, f.LegFailed(leg=call.leg, reason=FailReason.REJECTED))
                return
            call.answered = True
            self._report(call, f.LegAnswered(leg=call.leg))
            self.phones.answered(call.callback_id, call.leg, call.caller_id, plan)
            if plan.patience < NEVER:
                yield call.bridged | env.timeout(plan.patience)
                if not call.bridged.triggered:     # gave up waiting for an agent
                    self._final(call, f.LegHungUp(leg=call.leg))
                    return
            else:
                yield call.bridged
            yield env.timeout(plan.talk) if plan.talk < NEVER else env.event()
            self._final(call, f.LegHungUp(leg=call.leg))
        except simpy.Interrupt:
            pass                                   # our CANCEL or BYE
        finally:
            self._free(call)

    def _bridge(self, callback_id: str, person_leg: str, agent_leg: str):  # type: ignore[no-untyped-def]
        yield self.env.timeout(self.bridge_delay.sample(self.rng))
        person = self.legs.get((callback_id, person_leg))
        agent = self.legs.get((callback_id, agent_leg))
        if person is None or agent is None:
            return                                 # a leg ended meanwhile: its hang-up says so
        person.bridged.succeed()
        agent.bridged.succeed()
        self.deliver(callback_id, f.Bridged())

    def _report(self, call: Leg, event: f.Event) -> None:
        self.deliver(call.callback_id, event)

    def _final(self, call: Leg, event: f.Event) -> None:
        """The leg's last news: its trunk is free before the flow dials anew on it."""
        self._free(call)
        self.deliver(call.callback_id, event)

    def _free(self, call: Leg) -> None:
        if not call.alive:
            return
        call.alive = False
        self.legs.pop((call.callback_id, call.leg), None)
        self.trunks.release(call.trunk)
        self.trunk_level.change(self.env.now, -1)
        if role_of(call.leg) is Role.AGENT:
            self.agents.change(self.env.now, -1)

    def is_up(self, callback_id: str, leg: str) -> bool:
        return (callback_id, leg) in self.legs
