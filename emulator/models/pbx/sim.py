"""The emulated PBX: trunks, dialling, ringing, answers, bridging, hang-ups.

It runs on the `Clock` of either time domain: SimPy's simulated time for
QA and load runs, an asyncio loop for `callback-emu serve`. Each leg plays
the plan drawn for the phone it dialled as a chain of scheduled steps (the
number is reached, the phone answers, the person gives up, the talk ends);
every step first checks that the leg is still up, so our own hang-up (a
CANCEL while ringing, a BYE once answered) needs no interrupt: it frees the
trunk and the steps still queued fall into nothing. A leg holds one trunk
from dial to hang-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from reference_impl import flow as f
from reference_impl import frozen
from reference_impl.flow import FailReason, Role, role_of
from reference_impl.ports import Deliver

from ...measure.levels import Level
from ..clock import Clock
from ..distributions import Distribution, Fixed, Rng
from ..people import NEVER, Answer, PhonePlan


class PhoneBook(Protocol):
    """Who answers a number: the plan of the phone a leg reaches."""

    def plan(self, callback_id: str, leg: str, number: str) -> PhonePlan:
        """What the phone dialled for this leg will do."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PbxSetup(frozen.Pickled):
    """The PBX a scenario asks for (`pbx:`): its lines and its signalling delays."""

    trunks: int = 60
    post_dial_delay: Distribution = Fixed(0.3)
    answer_signalling_delay: Distribution = Fixed(0.0)   # the phone answers -> the PBX knows
    bridge_delay: Distribution = Fixed(0.05)


@dataclass(eq=False, slots=True)
class Leg:
    """One call leg the PBX holds a trunk for, with the plan of the phone it reached."""

    callback_id: str
    leg: str
    number: str
    caller_id: str
    plan: PhonePlan
    agent: bool
    answered: bool = False
    bridged: bool = False
    alive: bool = True

    def __init__(self, callback_id: str, leg: str, number: str, caller_id: str, plan: PhonePlan,
                 agent: bool, answered: bool = False, bridged: bool = False,
                 alive: bool = True) -> None:
        self.callback_id = callback_id
        self.leg = leg
        self.number = number
        self.caller_id = caller_id
        self.plan = plan
        self.agent = agent
        self.answered = answered
        self.bridged = bridged
        self.alive = alive


_FAILURES = {Answer.INVALID: FailReason.INVALID_NUMBER, Answer.BUSY: FailReason.BUSY}


class SimPbx:
    """The emulated PBX, the `Telephony` port on either clock."""

    def __init__(self, clock: Clock, setup: PbxSetup, *, rng: Rng, phones: PhoneBook,
                 deliver: Deliver, agents: Level | None = None,
                 trunk_level: Level | None = None) -> None:
        self.clock = clock
        self.capacity = setup.trunks
        self.trunks_used = 0
        self.post_dial_delay = setup.post_dial_delay
        # From the phone's answer to the PBX knowing it (a real stack's 200 OK path).
        lag = setup.answer_signalling_delay
        self.answer_lag = None if isinstance(lag, Fixed) and lag.value == 0 else lag
        self.bridge_delay = setup.bridge_delay
        self.rng = rng
        self.phones = phones
        self.deliver = deliver
        self.agents = agents or Level()          # agent legs up (ringing or talking)
        self.trunk_level = trunk_level or Level()
        self.legs: dict[tuple[str, str], Leg] = {}

    @property
    def legs_up(self) -> int:
        """Legs holding a trunk now."""
        return len(self.legs)

    # -- the Telephony port --------------------------------------------------

    def dial(self, callback_id: str, leg: str, number: str, caller_id: str,
             ring_timeout: float) -> None:
        """Seize a trunk and call the number; its phone's plan decides what happens."""
        if self.trunks_used >= self.capacity:
            self.deliver(callback_id, f.LegFailed(leg=leg, reason=FailReason.NO_TRUNK))
            return
        now = self.clock.now()
        call = Leg(callback_id, leg, number, caller_id,
                   self.phones.plan(callback_id, leg, number), role_of(leg) is Role.AGENT)
        self.legs[(callback_id, leg)] = call
        self.trunks_used += 1
        self.trunk_level.change(now, +1)
        if call.agent:
            self.agents.change(now, +1)
        self.clock.later(self.post_dial_delay.sample(self.rng), self._reached, call)

    def hangup(self, callback_id: str, leg: str, reason: str) -> None:
        """Our side ends the leg (CANCEL or BYE): its trunk is free at once."""
        call = self.legs.get((callback_id, leg))
        if call is not None:
            self._free(call)      # the steps still scheduled for it see `alive` is False

    def bridge(self, callback_id: str, person_leg: str, agent_leg: str) -> None:
        """Connect two legs after the bridge delay; then each side's talk time runs."""
        self.clock.later(self.bridge_delay.sample(self.rng), self._bridged,
                         callback_id, person_leg, agent_leg)

    # -- the steps of one leg ------------------------------------------------

    def _reached(self, call: Leg) -> None:
        """The post-dial delay is over: the phone is busy, invalid, or rings."""
        if not call.alive:
            return
        plan = call.plan
        failure = _FAILURES.get(plan.answer)
        if failure is not None:
            self._final(call, f.LegFailed(leg=call.leg, reason=failure))
            return
        self.deliver(call.callback_id, f.LegRinging(leg=call.leg))
        if plan.answer is Answer.RING_OUT or not call.alive:
            return                                 # rings until we cancel it
        delay = plan.delay
        if self.answer_lag is not None:
            delay += self.answer_lag.sample(self.rng)
        self.clock.later(delay, self._picked_up, call)

    def _picked_up(self, call: Leg) -> None:
        if not call.alive:
            return
        plan = call.plan
        if plan.answer is Answer.REJECT:
            self._final(call, f.LegFailed(leg=call.leg, reason=FailReason.REJECTED))
            return
        call.answered = True
        self.deliver(call.callback_id, f.LegAnswered(leg=call.leg))
        if not call.alive:
            return
        if plan.patience < NEVER:
            self.clock.later(plan.patience, self._patience_over, call)

    def _patience_over(self, call: Leg) -> None:
        if call.alive and not call.bridged:        # gave up waiting for an agent
            self._final(call, f.LegHungUp(leg=call.leg))

    def _bridged(self, callback_id: str, person_leg: str, agent_leg: str) -> None:
        person = self.legs.get((callback_id, person_leg))
        agent = self.legs.get((callback_id, agent_leg))
        if person is None or agent is None:
            return                                 # a leg ended meanwhile: its hang-up says so
        for call in (person, agent):
            call.bridged = True
            if call.plan.talk < NEVER:
                self.clock.later(call.plan.talk, self._talk_over, call)
        self.deliver(callback_id, f.Bridged())

    def _talk_over(self, call: Leg) -> None:
        if call.alive:
            self._final(call, f.LegHungUp(leg=call.leg))

    def _final(self, call: Leg, event: f.Event) -> None:
        """The leg's last news: its trunk is free before the flow dials anew on it."""
        self._free(call)
        self.deliver(call.callback_id, event)

    def _free(self, call: Leg) -> None:
        if not call.alive:
            return
        call.alive = False
        del self.legs[(call.callback_id, call.leg)]
        self.trunks_used -= 1
        now = self.clock.now()
        self.trunk_level.change(now, -1)
        if call.agent:
            self.agents.change(now, -1)
