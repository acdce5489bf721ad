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
from reference_impl.lifecycle import drain, reconcile
from reference_impl.ports import DeskPhone, Telephony
from reference_impl.directory import Directory, DirectoryError, InvalidEntry
from reference_impl.records import (CallbackRecord, ClosableRecordStore, DirectoryStore,
                                    RecordsError, open_directory, write_behind)
from reference_impl.runtime import Runtime
from reference_impl.web import WebApp, WebSettings, make_app, web_runtime
from reference_impl.web.directory_json import catalogue_names, check_documents
from reference_impl.web.documents import Catalogue
from reference_impl.web.settings import UPLOAD_TYPES

from .. import scenario as sc
from ..models.desks import Desks, Rota
from ..models.pbx import SimPbx
from ..models.pbx.sipp import PhonesAt, SippPhones
from ..models.people import AgentProfile, PersonProfile, PhonePlan
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
    rota: Rota | None = None          # the centres' shifts, when the scenario has any

    def desk_phones(self) -> list[DeskPhone]:
        """What every desk phone shows."""
        return self.desks.shown()

    def hang_up(self, callback_id: str) -> bool:
        """The person puts the phone down (a BYE from their side), if they are on the line."""
        switchboard = self.runtime.switchboard
        leg = switchboard.person_leg(callback_id)
        if leg is None or not switchboard.person_on_line(callback_id):
            return False
        self.pbx.hangup(callback_id, leg, "bye")          # frees the trunk
        self.runtime.deliver(callback_id, f.LegHungUp(leg=leg))
        return True


def build(scenario: sc.Scenario, records: ClosableRecordStore, agent_key: str | None,
          loop: asyncio.AbstractEventLoop | None = None,
          phones: SippPhones | PhonesAt | None = None,
          request_limits: bool = True,
          accounts: AgentAccounts | None = None,
          cookie_secret: str | None = None,
          directory_store: DirectoryStore | None = None) -> tuple[WebApp, Emulated]:
    """The web app on a runtime whose telephony is the emulated PBX in real time,
    or, given SIPp `phones`, the real SIP PBX calling them. Agents sign in with
    `accounts`, or in demo mode with the shared `agent_key`."""
    # With a store, the directory is the database's (seeded from the scenario once).
    directory = world.directory(scenario) if directory_store is None else directory_store.load()
    streams = Streams(scenario.seed)
    desks = Desks(directory.terminal_owner())           # a human types the code: no clock
    people = FormPeople(People(desk_agents(scenario, directory), streams),
                        world.first_person(scenario))
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
        # On the SIP port the dead PBX had, if its dialogs are stored: phones
        # (SIPp among them) answer a BYE to the address their call came from.
        for port in dict.fromkeys((_last_sip_port(records), 0)):
            pbx = SipPbx(deliver=rt.deliver_threadsafe, dialplan=dialplan,
                         trunks=pbx_spec.trunks, clock=rt.now, port=port,
                         on_dialog=_keep_dialog(records))
            try:
                return pbx.start()
            except OSError:
                if not port:
                    raise
        raise AssertionError("unreachable")

    runtime = web_runtime(directory=directory, codes=world.code_pool(scenario),
                          telephony=emulated_pbx if phones is None else sip_pbx,
                          records=records, person_ring_timeout=pbx_spec.person_ring_timeout,
                          caller_id=pbx_spec.caller_id, observers=[people, desks], loop=loop,
                          room_capacity=scenario.rooms.servers * scenario.rooms.rooms_per_server,
                          policy=world.policy(scenario), dedupe=scenario.policy.dedupe,
                          calendar=live_calendar(scenario, directory if directory_store else None),
                          templates=directory_store.template if directory_store else None)
    emulated = Emulated(runtime, runtime.telephony, desks)
    emulated.rota = shifts(scenario, runtime)
    settings = WebSettings(agent_keys=frozenset({agent_key} if agent_key else ()),
                           accounts=accounts, desk_phones=emulated.desk_phones,
                           hangup=emulated.hang_up, cookie_secret=cookie_secret or
                           WebSettings().cookie_secret)
    if not request_limits:
        settings = replace(settings, callbacks_per_number=None, callbacks_per_client=None,
                           chat_rate=None)
    return make_app(runtime, directory, records, settings, directory_store), emulated


async def serve(scenario: sc.Scenario, records: ClosableRecordStore, host: str, port: int,
                db: str, agent_key: str | None, pbx: str = "sim", request_limits: bool = True,
                accounts: AgentAccounts | None = None, drain_grace: float = 20.0,
                phones_at: PhonesAt | None = None,
                directory_store: DirectoryStore | None = None) -> None:
    """Serve the web app and its PBX (emulated, or SIP to SIPp) until SIGINT or SIGTERM.
    With `phones_at` the SIP PBX dials SIPp phones running there instead of its own.

    At start, what a crash left unfinished is reconciled (`lifecycle.reconcile`); on
    SIGTERM the system drains: new requests get 503, live calls `drain_grace` seconds
    to finish, then they are ended politely, pages told, every record written."""
    with ExitStack() as stack:
        phones: SippPhones | PhonesAt | None = None
        if pbx == "sip":
            phones = phones_at or stack.enter_context(SippPhones())
        app, emulated = build(scenario, records, agent_key, phones=phones,
                              request_limits=request_limits, accounts=accounts,
                              cookie_secret=stored_secret(db), directory_store=directory_store)
        stop_pbx = getattr(emulated.pbx, "stop", None)
        if callable(stop_pbx):
            stack.callback(stop_pbx)           # the SIP PBX's reactor, before its phones
        app.reconciled = reconcile(app.switchboard, records, _hang_up(emulated.pbx))
        # What the restart ended is on disk before the first request is taken.
        flush = getattr(records, "flush", None)
        if callable(flush):
            flush(10.0)
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
              f"start, {told} page(s) told, {len(app.rooms.rooms)} room(s) left open",
              flush=True)
        await asyncio.sleep(0.1)                 # the close frames go out
    finally:
        server.stop()
        records.close()


def run(scenario_path: Path | None, host: str, port: int, db: str,
        agent_key: str | None, pbx: str = "sim", request_limits: bool = True,
        demo: bool = True, phones: PhonesAt | None = None, drain_grace: float = 20.0) -> int:
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
    try:
        store = stored_directory(db, scenario, str(loaded.path))
    except (RecordsError, DirectoryError) as error:
        records.close()
        if accounts is not None:
            accounts.close()
        where = "--db" if isinstance(error, RecordsError) else str(loaded.path)
        print(f"callback-emu serve: {where}: {error}", file=sys.stderr)
        return 2
    key = (agent_key or secrets.token_urlsafe(9)) if demo else None
    try:
        asyncio.run(serve(scenario, records, host, port, db, key, pbx, request_limits,
                          accounts, drain_grace, phones_at=phones, directory_store=store))
    except OSError as error:
        records.close()
        print(f"callback-emu serve: cannot listen on {host}:{port}: {error.strerror}",
              file=sys.stderr)
        return 2
    finally:
        store.close()
        if accounts is not None:
            accounts.close()
    return 0


def stored_directory(db: str, scenario: sc.Scenario, source: str) -> DirectoryStore:
    """The directory in the records database, seeded from the scenario on the first start
    (its room templates' documents checked against the catalogue first); said on stdout."""
    store = open_directory(db)
    try:
        seeded = store.seeded()
        if seeded is None:
            directory = world.directory(scenario)
            known = catalogue_names(Catalogue(WebSettings().catalogue_dir, UPLOAD_TYPES))
            for name, template in directory.templates.items():
                try:
                    check_documents(template, known)
                except InvalidEntry as error:
                    raise InvalidEntry(f"room_templates.{name}.{error.field}",
                                       error.message) from None
            store.seed(directory, source)
            print(f"callback-emu serve: the directory (services, centres, room templates) "
                  f"seeded from {source}", flush=True)
        else:
            print(f"callback-emu serve: the directory is the database's (seeded from {seeded}; "
                  f"`callback-emu directory list --db {db}` shows it, `directory import` "
                  "reloads a scenario)", flush=True)
    except BaseException:
        store.close()
        raise
    return store


def desk_agents(scenario: sc.Scenario, directory: Directory) -> dict[str, AgentProfile]:
    """Desk phone -> the emulated agent who answers it: the scenario's; for a phone the
    directory added, its centre's agent in the scenario, else the first centre's."""
    profiles = world.agent_profiles(scenario)
    first = scenario.agent(next(iter(scenario.centres.values())).agent)
    for name, centre in directory.centres.items():
        spec = scenario.centres.get(name)
        default = scenario.agent(spec.agent) if spec is not None else first
        for number in centre.terminals:
            profiles.setdefault(number, default)
    return profiles


def live_calendar(scenario: sc.Scenario, directory: Directory | None = None) -> Calendar | None:
    """The scenario's calendar on the wall clock: flow time 0 is now; with `directory`,
    the services' hours are the directory's (the database's, in serve)."""
    calendar = world.calendar(scenario) if directory is None else \
        world.calendar_of(scenario, directory)
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


def _last_sip_port(records: ClosableRecordStore) -> int:
    """The SIP port of the PBX that stored the dialogs still in the records (0: none)."""
    from reference_impl.telephony.dialogs import DialogState

    stored = getattr(records, "dialogs", None)
    ports: Counter[int] = Counter()
    for _, _, text in stored() if stored is not None else ():
        try:
            ports[DialogState.from_json(text).local_port] += 1
        except ValueError:
            continue                          # reconcile reports what it cannot end
    return ports.most_common(1)[0][0] if ports else 0


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


def shifts(scenario: sc.Scenario, runtime: Runtime) -> Rota | None:
    """The centres' shifts on the wall clock: each step a time of day (in the calendar's zone,
    else the machine's), every day; None when no centre has any."""
    steps = world.staffing(scenario)
    if not steps:
        return None
    calendar = world.calendar(scenario)
    now = datetime.now(calendar.zone if calendar else None)
    offset = now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6
    rota = Rota(LoopClock(runtime.loop, runtime.now), steps, runtime.switchboard.staff,
                offset=offset - runtime.now(), daily=True)
    rota.start()
    return rota
