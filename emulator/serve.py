"""`callback-emu serve`: the whole system on one machine, in real time.

The reference web app (form, status page, rooms, agent and operations pages)
runs on the asyncio `Runtime`; the telephony is the emulator's PBX on a
`LoopClock`, so the person's phone and the agents' desk phones behave as the
scenario's profiles say. The agent at the desk phone answers by itself, but
the connection code is typed by a human on the agent page: the agent and
operations pages show what each desk phone displays.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from reference_impl import flow as f
from reference_impl.flow import PERSON_LEG
from reference_impl.records import (CallbackRecord, ClosableRecordStore, RecordsError,
                                    open_records)
from reference_impl.runtime import Runtime
from reference_impl.web import DeskPhone, WebApp, WebSettings, make_app, web_runtime

from . import behaviour as b
from . import scenario as sc
from .clock import LoopClock
from .engine import People, build_directory, code_pool
from .pbx import SimPbx

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "serve" / "default.yaml"


class FormPeople:
    """The phone book for people who fill the form: each behaves like the scenario's caller."""

    def __init__(self, people: People, person: b.PersonProfile) -> None:
        self.people = people
        self.person = person

    def plan(self, callback_id: str, leg: str, number: str) -> b.PhonePlan:
        self.people.person_profiles.setdefault(callback_id, self.person)
        return self.people.plan(callback_id, leg, number)

    def answered(self, callback_id: str, leg: str, caller_id: str, plan: b.PhonePlan) -> None:
        return None           # the human types the code: no emulated agent desk

    def closed(self, record: CallbackRecord) -> None:
        self.people.person_profiles.pop(record.id, None)   # nothing kept per finished call


def form_person(scenario: sc.Scenario) -> b.PersonProfile:
    """How the person behaves: the scenario's first callback's, else its arrivals'."""
    if scenario.callbacks:
        return scenario.person(scenario.callbacks[0].person)
    assert scenario.arrivals is not None       # a scenario has one or the other
    return scenario.person(scenario.arrivals.person)


@dataclass
class Emulated:
    """The emulated PBX, seen by the web app: desk displays and the person's hang-up."""

    runtime: Runtime
    pbx: SimPbx
    owner: dict[str, str]          # desk phone -> centre

    def desk_phones(self) -> list[DeskPhone]:
        up = {leg.number: leg for leg in self.pbx.legs.values() if leg.agent}
        phones = []
        for number, centre in self.owner.items():
            leg = up.get(number)
            state = "idle" if leg is None else ("talking" if leg.answered else "ringing")
            phones.append(DeskPhone(number=number, centre=centre, state=state,
                                    display=leg.caller_id if leg else "",
                                    callback_id=leg.callback_id if leg else ""))
        return phones

    def hang_up(self, callback_id: str) -> bool:
        """The person puts the phone down (a BYE from their side), if they are on the line."""
        leg = self.pbx.legs.get((callback_id, PERSON_LEG))
        if leg is None or not leg.answered:
            return False
        self.pbx.hangup(callback_id, PERSON_LEG, "bye")          # frees the trunk
        self.runtime.deliver(callback_id, f.LegHungUp(leg=PERSON_LEG))
        return True


def build(scenario: sc.Scenario, records: ClosableRecordStore, agent_key: str,
          loop: asyncio.AbstractEventLoop | None = None) -> tuple[WebApp, Emulated]:
    """The web app on a runtime whose telephony is the emulated PBX, in real time."""
    directory = build_directory(scenario)
    streams = b.Streams(scenario.seed)
    phones = FormPeople(People(scenario, streams), form_person(scenario))
    pbx_spec = scenario.pbx

    def telephony(rt: Runtime) -> SimPbx:
        return SimPbx(LoopClock(rt.loop, rt.now), trunks=pbx_spec.trunks,
                      post_dial_delay=pbx_spec.post_dial_delay,
                      answer_signalling_delay=pbx_spec.answer_signalling_delay,
                      bridge_delay=pbx_spec.bridge_delay, rng=streams["pbx"], phones=phones,
                      deliver=rt.deliver)

    runtime = web_runtime(directory=directory, codes=code_pool(scenario), telephony=telephony,
                          records=records, person_ring_timeout=pbx_spec.person_ring_timeout,
                          caller_id=pbx_spec.caller_id, observers=[phones], loop=loop,
                          room_capacity=scenario.rooms.servers * scenario.rooms.rooms_per_server)
    assert isinstance(runtime.telephony, SimPbx)
    emulated = Emulated(runtime, runtime.telephony, directory.terminal_owner())
    settings = WebSettings(agent_keys=frozenset({agent_key}), desk_phones=emulated.desk_phones,
                           hangup=emulated.hang_up)
    return make_app(runtime, directory, records, settings), emulated


async def serve(scenario: sc.Scenario, records: ClosableRecordStore, host: str, port: int,
                db: str, agent_key: str) -> None:
    app, _ = build(scenario, records, agent_key)
    server = app.listen_on(port, host)
    base = f"http://{host}:{port}"
    print(f"callback-emu serve: {scenario.name}", flush=True)
    print(f"  the form:        {base}/", flush=True)
    print(f"  the agent page:  {base}/agent   (agent key: {agent_key})", flush=True)
    print(f"  operations:      {base}/ops", flush=True)
    print(f"  API description: {base}/api/openapi.json", flush=True)
    print(f"  records:         {db}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.stop()
        records.close()


def run(scenario_path: Path | None, host: str, port: int, db: str,
        agent_key: str | None) -> int:
    """The command: a bad scenario is refused by the caller (`ScenarioError`: file,
    line, key); bad records or a port in use end here with a message and exit 2."""
    scenario = sc.load(scenario_path or DEFAULT_SCENARIO).scenario
    try:
        records = open_records(db)
    except (ValueError, RecordsError) as error:
        print(f"callback-emu serve: --db: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(scenario, records, host, port, db,
                          agent_key or secrets.token_urlsafe(9)))
    except OSError as error:
        records.close()
        print(f"callback-emu serve: cannot listen on {host}:{port}: {error.strerror}",
              file=sys.stderr)
        return 2
    return 0
