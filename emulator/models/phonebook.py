"""The phone book of the emulator: who answers each number, and how.

A person's profile is set per callback by the driver that asks for the call;
an agent's comes from the desk phone dialled, and the desk model is told how
long that agent will take to type the code. Every plan drawn can be kept
(`keep_plans`), so the same calls can be replayed over real SIP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from reference_impl.flow import Role, role_of

from .people import AgentProfile, PersonProfile, PhonePlan, plan_agent, plan_person
from .streams import Streams

if TYPE_CHECKING:
    from .desks import Desks


class People:
    """Person profiles by callback, agent profiles by desk phone, and the plans drawn."""

    def __init__(self, agent_profiles: Mapping[str, AgentProfile], streams: Streams,
                 keep_plans: bool = False, desks: "Desks | None" = None) -> None:
        self.streams = streams
        self.desks = desks                  # told how long each answering agent types
        # A profile per callback, or one per call to the person (the last one repeats).
        self.person_profiles: dict[str, PersonProfile | tuple[PersonProfile, ...]] = {}
        self.agent_profiles = agent_profiles
        self.plans: dict[tuple[str, str], PhonePlan] | None = {} if keep_plans else None

    def plan(self, callback_id: str, leg: str, number: str) -> PhonePlan:
        """Draw what the phone dialled for this leg will do."""
        if role_of(leg) is Role.PERSON:
            plan = plan_person(self._person(callback_id, leg), self.streams)
        else:
            plan = plan_agent(self.agent_profiles[number], self.streams)
            if self.desks is not None:
                self.desks.will_type(callback_id, leg, plan.code_entry)
        if self.plans is not None:
            self.plans[(callback_id, leg)] = plan
        return plan

    def _person(self, callback_id: str, leg: str) -> PersonProfile:
        profile = self.person_profiles[callback_id]
        if isinstance(profile, PersonProfile):
            return profile
        attempt = int(leg.rpartition("-")[2]) if "-" in leg else 1
        return profile[min(attempt, len(profile)) - 1]

    def forget(self, callback_id: str) -> None:
        """A callback is over: keep nothing of it (unless every plan is kept)."""
        self.person_profiles.pop(callback_id, None)
