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
import logging
import os
import secrets
import signal
import sys
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Callable

from reference_impl import flow as f
from reference_impl.accounts import AccountsError, AgentAccounts, open_accounts
from reference_impl.calendar import Calendar
from reference_impl.flow import PERSON_LEG
from reference_impl.lifecycle import drain, reconcile
from reference_impl.ports import DeskPhone, Telephony
from reference_impl.records import CallbackRecord, ClosableRecordStore, RecordsError, write_behind
from reference_impl.runtime import Runtime
from reference_impl.web import WebApp, WebSettings, make_app, web_runtime

from .. import scenario as sc
from ..models.desks import Desks
from ..models.pbx import SimPbx
from ..models.pbx.sipp import SippPhones
from ..models.people import PersonProfile, PhonePlan
from ..models.phonebook import People
from ..models.streams import Streams
from ..scenario import build as world
from .clock import LoopClock
from .paths import default_db

DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "serve" / "default.yaml"


class FormPeople:
    """The phone book for people who fill the form: each behaves like the scenario's caller."""

    def __init__(self, people: People, person: PersonProfile) -> None:
        self.people = people
        self.person = person

    def plan(self, callback_id: str, leg: str, number: str) -> PhonePlan:
        """What the phone dialled will do; a person's as the scenario's first caller's."""
        self.people.person_profiles.setdefault(callback_id, self.person)
        return self.people.plan(callback_id, leg, number)

    def closed(self, record: CallbackRecord) -> None:
        """Nothing is kept per finished call."""
        self.people.forget(record.id)


@dataclass
class Emulated:
    """The PBX and its phones, seen by the web app: desk displays and the person's hang-up."""

    runtime: Runtime
    pbx: Telephony
    desks: Desks

    def desk_phones(self) -> list[DeskPhone]:
        """What every desk phone shows."""
        return self.desks.shown()

    def hang_up(self, callback_id: str) -> bool:
        """The person puts the phone down (a BYE from their side), if they are on the line."""
        if not self.runtime.switchboard.person_on_line(callback_id):
            return False
        self.pbx.hangup(callback_id, PERSON_LEG, "bye")          # frees the trunk
        self.runtime.deliver(callback_id, f.LegHungUp(leg=PERSON_LEG))
        return True


def build(scenario: sc.Scenario, records: ClosableRecordStore, agent_key: str | None,
          loop: asyncio.AbstractEventLoop | None = None,
          phones: SippPhones | None = None,
          request_limits: bool = True,
          accounts: AgentAccounts | None = None,
          cookie_secret: str | None = None) -> tuple[WebApp, Emulated]:
    """The web app on a runtime whose telephony is the emulated PBX in real time,
    or, given SIPp `phones`, the real SIP PBX calling them. Agents sign in with
    `accounts`, or in demo mode with the shared `agent_key`."""
    directory = world.directory(scenario)
    streams = Streams(scenario.seed)
    desks = Desks(directory.terminal_owner())           # a human types the code: no clock
    people = FormPeople(People(world.agent_profiles(scenario), streams), world.first_person(scenario))
    pbx_spec = scenario.pbx

    def emulated_pbx(rt: Runtime) -> Telephony:
        return SimPbx(LoopClock(rt.loop, rt.now), world.pbx(scenario), rng=streams["pbx"],
                      phones=people, deliver=rt.deliver)

    def sip_pbx(rt: Runtime) -> Telephony:
        # Imported here: sippy's reactor belongs to the thread that imports it first.
        from reference_impl.telephony import SipPbx

        from .sip_replay import PhoneDialplan

        assert phones is not None
        # No rehearsal here: each phone's plan is drawn when it is dialled.
        dialplan = PhoneDialplan({}, {}, phones, people, time_scale=1.0)
        return SipPbx(deliver=rt.deliver_threadsafe, dialplan=dialplan,
                      trunks=pbx_spec.trunks, clock=rt.now,
                      on_dialog=_keep_dialog(records)).start()

    runtime = web_runtime(directory=directory, codes=world.code_pool(scenario),
                          telephony=emulated_pbx if phones is None else sip_pbx,
                          records=records, person_ring_timeout=pbx_spec.person_ring_timeout,
                          caller_id=pbx_spec.caller_id, observers=[people, desks], loop=loop,
                          room_capacity=scenario.rooms.servers * scenario.rooms.rooms_per_server,
                          policy=world.policy(scenario), calendar=live_calendar(scenario),
                          dedupe=scenario.policy.dedupe)
    emulated = Emulated(runtime, runtime.telephony, desks)
    settings = WebSettings(agent_keys=frozenset({agent_key} if agent_key else ()),
                           accounts=accounts, desk_phones=emulated.desk_phones,
                           hangup=emulated.hang_up, cookie_secret=cookie_secret or
                           WebSettings().cookie_secret)
    if not request_limits:
        settings = replace(settings, callbacks_per_number=None, callbacks_per_client=None,
                           chat_rate=None)
    return make_app(runtime, directory, records, settings), emulated


async def serve(scenario: sc.Scenario, records: ClosableRecordStore, host: str, port: int,
                db: str, agent_key: str | None, pbx: str = "sim", request_limits: bool = True,
                accounts: AgentAccounts | None = None, drain_grace: float = 20.0) -> None:
    """Serve the web app and its PBX (emulated, or SIP to SIPp) until SIGINT or SIGTERM.

    At start, what a crash left unfinished is reconciled (`lifecycle.reconcile`); on
    SIGTERM the system drains: new requests get 503, live calls `drain_grace` seconds
    to finish, then they are ended politely, pages told, every record written."""
    with ExitStack() as stack:
        phones = stack.enter_context(SippPhones()) if pbx == "sip" else None
        app, emulated = build(scenario, records, agent_key, phones=phones,
                              request_limits=request_limits, accounts=accounts,
                              cookie_secret=stored_secret(db))
        stop_pbx = getattr(emulated.pbx, "stop", None)
        if callable(stop_pbx):
            stack.callback(stop_pbx)           # the SIP PBX's reactor, before its phones
        app.reconciled = reconcile(app.switchboard, records, _hang_up(emulated.pbx))
        await _listen(app, scenario, records, host, port, db, agent_key,
                      f"SIP to SIPp phones at {phones.uri('...')}" if phones else "emulated",
                      drain_grace)


async def _listen(app: WebApp, scenario: sc.Scenario, records: ClosableRecordStore, host: str,
                  port: int, db: str, agent_key: str | None, pbx: str,
                  drain_grace: float = 20.0) -> None:
    server = app.listen_on(port, host)
    base = f"http://{host}:{port}"
    accounts = app.web.accounts
    if agent_key:
        who = f"demo mode, agent key: {agent_key}"
    else:
        count = len(accounts) if accounts is not None else 0
        who = f"agents sign in with their accounts: {count}" + (
            "" if count else f"; add one: callback-emu agents add NAME --db {db}")
    print(f"callback-emu serve: {scenario.name}", flush=True)
    print(f"  the PBX:         {pbx}", flush=True)
    print(f"  the form:        {base}/", flush=True)
    print(f"  the agent page:  {base}/agent   ({who})", flush=True)
    print(f"  operations:      {base}/ops", flush=True)
    print(f"  API description: {base}/api/openapi.json", flush=True)
    print(f"  records:         {db}", flush=True)
    print(f"  metrics:         {base}/metrics", flush=True)
    if app.reconciled:
        counts = Counter(r.action for r in app.reconciled)
        print("  after a restart: " + ", ".join(f"{n} {action}" for action, n in counts.items()),
              flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        app.runtime.accepting = False
        telephony = app.runtime.telephony
        done = await drain(app.switchboard, grace=drain_grace,
                           legs_up=lambda: int(getattr(telephony, "legs_up", 0)),
                           flush=getattr(records, "flush", None))
        told = app.goodbye("The service is restarting: this page will not update. Please "
                           "reload it in a moment.")
        print(f"callback-emu serve: stopped: {done['finished']} call(s) finished, "
              f"{done['ended']} ended, {done['pending'] + done['accepted']} kept for the next "
              f"start, {told} page(s) told", flush=True)
        await asyncio.sleep(0.1)                 # the close frames go out
    finally:
        server.stop()
        records.close()


def run(scenario_path: Path | None, host: str, port: int, db: str,
        agent_key: str | None, pbx: str = "sim", request_limits: bool = True,
        demo: bool = True) -> int:
    """The command: a bad scenario is refused by the caller (`ScenarioError`: file,
    line, key); bad records or a port in use end here with a message and exit 2.
    In demo mode agents share `agent_key` (random if None); otherwise they sign in
    with their accounts, kept in the records' database."""
    _log_to_stderr()
    loaded = sc.load(scenario_path or DEFAULT_SCENARIO)
    for warning in loaded.warnings:
        print(f"callback-emu serve: warning: {warning}", file=sys.stderr)
    scenario = loaded.scenario
    try:
        records = write_behind(db)
    except (ValueError, RecordsError) as error:
        print(f"callback-emu serve: --db: {error}", file=sys.stderr)
        return 2
    try:
        accounts = None if demo else open_accounts(db)
    except AccountsError as error:
        records.close()
        print(f"callback-emu serve: --db: {error}", file=sys.stderr)
        return 2
    key = (agent_key or secrets.token_urlsafe(9)) if demo else None
    try:
        asyncio.run(serve(scenario, records, host, port, db, key, pbx, request_limits,
                          accounts))
    except OSError as error:
        records.close()
        print(f"callback-emu serve: cannot listen on {host}:{port}: {error.strerror}",
              file=sys.stderr)
        return 2
    finally:
        if accounts is not None:
            accounts.close()
    return 0


def live_calendar(scenario: sc.Scenario) -> Calendar | None:
    """The scenario's calendar on the wall clock: flow time 0 is now."""
    calendar = world.calendar(scenario)
    if calendar is not None:
        calendar.epoch = datetime.now(calendar.zone)
    return calendar


def stored_secret(db: str) -> str:
    """The web app's cookie secret, kept beside a SQLite file (or in the data folder for
    PostgreSQL) so status links and sessions survive a restart."""
    folder = Path(db).parent if "://" not in db and db != ":memory:" else default_db().parent
    path = folder / ".callback-emu-secret"
    try:
        if path.exists():
            return path.read_text().strip()
        folder.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret)
        return secret
    except OSError:
        return secrets.token_urlsafe(32)       # a folder we cannot write: links last one run


def _hang_up(pbx: Telephony) -> Callable[[list[tuple[str, str, str]]], dict[tuple[str, str], bool]] | None:
    """How a restarted SIP PBX ends the dialogs a dead one left (none for the emulated PBX)."""
    end = getattr(pbx, "end_dialogs", None)
    if end is None:
        return None

    def hang_up(dialogs: list[tuple[str, str, str]]) -> dict[tuple[str, str], bool]:
        from reference_impl.telephony.dialogs import DialogState

        states = {(cid, leg): DialogState.from_json(state) for cid, leg, state in dialogs}
        answered = end(list(states.values()))
        return {key: answered.get(state.call_id, False) for key, state in states.items()}
    return hang_up


def _log_to_stderr() -> None:
    """The system's own log lines (a JSON line per state change) on standard error."""
    logger = logging.getLogger("callback")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _keep_dialog(records: ClosableRecordStore) -> Callable[[str, str, object | None], None] | None:
    """Each SIP leg's dialog to the records store (from the reactor's thread: the
    write-behind store takes it under its own lock), so a restart can hang it up."""
    put_many = getattr(records, "put_many", None)
    if put_many is None:
        return None

    def keep(callback_id: str, leg: str, state: object | None) -> None:
        text = None if state is None else state.to_json()       # type: ignore[attr-defined]
        put_many([], [(callback_id, leg, text)])
    return keep
