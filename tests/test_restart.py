"""Restarts lose nothing: what a crash left unfinished is finished at start, and a stop
drains. Real SQLite files; the runtime and the emulated PBX in real time.

The whole-process test (kill -9 of `serve` with calls in every stage, then a
restart on the same file) is in tests/test_serve_restart.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from reference_impl import flow as f
from reference_impl.codes import CodePool
from reference_impl.directory import Centre, Directory, Service
from reference_impl.lifecycle import drain, reconcile
from reference_impl.ports import NoNotifier
from reference_impl.records import CallbackRecord, SqliteRecords, write_behind
from reference_impl.runtime import Runtime
from reference_impl.web import web_runtime

DIRECTORY = Directory(
    services={"loans": Service(code="loans", centres=("north",))},
    centres={"north": Centre(name="north", terminals=("+34910000001", "+34910000002"),
                             ring_timeout=15.0)})


def left(id: str, state: str, code: str | None = None) -> CallbackRecord:
    """A record as a crash leaves it."""
    return CallbackRecord(id=id, form={"service": "loans", "name": "Ana"},
                          person_number=f"+3460000000{id}", service_code="loans", state=state,
                          code=code, times={"requested": 1.0} if state != "idle" else {})


class Dials:
    """A telephony port that only notes what it is asked (the calls never progress)."""

    def __init__(self) -> None:
        self.dialled: list[tuple[str, str, str]] = []
        self.hung_up: list[tuple[str, str]] = []

    def dial(self, callback_id: str, leg: str, number: str, caller_id: str,
             ring_timeout: float) -> None:
        self.dialled.append((callback_id, leg, number))

    def hangup(self, callback_id: str, leg: str, reason: str) -> None:
        self.hung_up.append((callback_id, leg))

    def bridge(self, callback_id: str, person_leg: str, agent_leg: str) -> None:
        return None


@pytest.fixture
def crashed(tmp_path: Path) -> Path:
    """A records file as a crash left it: calls in every stage, two with SIP dialogs."""
    path = tmp_path / "records.db"
    store = SqliteRecords(str(path))
    store.put_many([left("1", "idle"), left("2", "dialling_person"), left("3", "person_ringing"),
                    left("4", "agent_ringing", "1000"), left("5", "connected", "1001"),
                    left("6", "ended", "1002")],
                   [("5", "person", json.dumps({"call_id": "p5"})),
                    ("5", "agent-1", json.dumps({"call_id": "a5"})),
                    ("9", "person", json.dumps({"call_id": "gone"}))])
    store.close()
    return path


def test_a_restart_dials_what_was_accepted_and_ends_what_was_under_way(crashed: Path) -> None:
    asyncio.run(restart(crashed))


async def restart(crashed: Path) -> None:
    store = write_behind(str(crashed))
    dials = Dials()
    runtime = web_runtime(directory=DIRECTORY, codes=CodePool(), telephony=lambda rt: dials,
                          records=store)
    asked: list[list[tuple[str, str, str]]] = []

    def hang_up(dialogs: list[tuple[str, str, str]]) -> dict[tuple[str, str], bool]:
        asked.append(dialogs)
        return {(cid, leg): True for cid, leg, _ in dialogs}
    done = reconcile(runtime.switchboard, store, hang_up)
    assert {(r.callback_id, r.action) for r in done} == {
        ("1", "dialled"), ("2", "ended"), ("3", "ended"), ("4", "ended"), ("5", "ended")}
    five = next(r for r in done if r.callback_id == "5")
    assert (five.was, five.code, five.legs_hung_up, five.legs_answered) == ("connected", "1001", 2, 2)
    assert [sorted(d[:2] for d in group) for group in asked] == [[("5", "agent-1"), ("5", "person")]]
    assert dials.dialled == [("1", "person", "+34600000001")]
    # The crashed calls' codes were reserved while they were reconciled, then freed.
    assert runtime.switchboard.codes.in_use == 0
    assert store.flush(5)
    again = SqliteRecords(str(crashed))
    states = {r.id: (r.state, r.outcome) for r in again}
    assert states["5"] == ("ended", "system_restart") and states["2"] == ("ended", "system_restart")
    assert states["1"][0] == "dialling_person"          # dialled again, under its own id
    assert states["6"] == ("ended", None) and len(states) == 6        # nothing lost
    assert [r.id for r in again.unfinished()] == ["1"]  # only the call it placed now
    assert again.dialogs() == [("9", "person", json.dumps({"call_id": "gone"}))]
    again.close()
    store.close()


def test_a_code_held_by_a_crashed_call_is_not_handed_out_while_it_is_reconciled() -> None:
    pool = CodePool(digits=4, first=1000, count=3)
    assert pool.reserve("1000", "reconciling 4")
    assert pool.allocate("new") == "1001"                # not 1000: a crashed call holds it
    pool.release("1000")
    assert sorted([pool.allocate("b"), pool.allocate("c")]) == ["1000", "1002"]


def test_a_drain_lets_calls_finish_then_ends_the_rest_politely(tmp_path: Path) -> None:
    asyncio.run(drained(tmp_path))


async def drained(tmp_path: Path) -> None:
    store = write_behind(str(tmp_path / "r.db"))
    dials = Dials()
    runtime = Runtime(directory=DIRECTORY, codes=CodePool(), telephony=lambda rt: dials,
                      rooms=lambda rt: Rooms(), notifier=NoNotifier(), records=store,
                      save_every_step=True)
    sb = runtime.switchboard
    up = sb.request({"service": "loans"}, "+34600000001")
    sb.deliver(up, f.LegAnswered(leg=f.PERSON_LEG))          # on the line, an agent ringing
    waiting = sb.accept({"service": "loans"}, "+34600000002", "accepted-1")
    counts = await drain(sb, grace=0.2, flush=store.flush)
    assert counts == {"live": 1, "finished": 0, "ended": 1, "accepted": 1, "pending": 0,
                      "written": 1}
    assert sorted(dials.hung_up) == [(up, "agent-1"), (up, f.PERSON_LEG)]
    assert store.get(up).outcome == "system_restart"          # type: ignore[union-attr]
    stored = SqliteRecords(str(tmp_path / "r.db"))
    assert stored.get(waiting).state == "idle"                # type: ignore[union-attr]
    assert stored.get(up).outcome == "system_restart"         # type: ignore[union-attr]
    stored.close()
    store.close()


class Rooms:
    """Rooms nobody asks for in these tests."""

    def create(self, callback_id: str, template: str, code: str) -> None: ...
    def join(self, callback_id: str, room: str, who: f.Role) -> None: ...
    def delete(self, room: str) -> None: ...
    def call_ended(self, callback_id: str) -> None: ...



def test_a_scheduled_callback_survives_a_restart_and_keeps_its_time(tmp_path: Path) -> None:
    asyncio.run(scheduled_survives(tmp_path))


class Process:
    """A process of the system on a records file: its store, runtime, telephony port, and
    what reconciling at its start did (nothing, on a new file)."""

    def __init__(self, path: str, policy: f.CallbackPolicy | None = None) -> None:
        self.store = write_behind(path)
        self.dials = Dials()
        self.runtime = web_runtime(directory=DIRECTORY, codes=CodePool(),
                                   telephony=lambda rt: self.dials, records=self.store,
                                   policy=policy)
        self.switchboard = self.runtime.switchboard
        self.done = [(r.callback_id, r.action) for r in reconcile(self.switchboard, self.store)]

    def due(self, callback_id: str) -> float:
        """When a waiting callback's next call is, in epoch seconds."""
        sb = self.switchboard
        return sb.epoch + sb.live[callback_id].next_attempt_at  # type: ignore[operator]

    def die(self) -> None:
        """The process ends with everything it was told written (as a crash leaves it)."""
        assert self.store.flush(5)
        self.store.close()


async def scheduled_survives(tmp_path: Path) -> None:
    path = str(tmp_path / "r.db")
    first = Process(path)
    sb = first.switchboard
    cid = sb.accept({"service": "loans"}, "+34600000001", "later-1",
                    schedule_at=first.runtime.now() + 3600.0)
    sb.start(cid)
    assert sb.pending() == [cid]
    due = first.due(cid)
    first.die()
    await asyncio.sleep(0.2)
    again = Process(path)
    assert again.done == [(cid, "waits again")]
    assert abs(again.due(cid) - due) < 0.01
    assert again.dials.dialled == [] and again.switchboard.pending() == [cid]
    again.die()


def test_a_request_for_later_that_died_before_it_started_still_waits_for_its_time(
        tmp_path: Path) -> None:
    asyncio.run(idle_for_later_survives(tmp_path))


async def idle_for_later_survives(tmp_path: Path) -> None:
    # The kill lands between the acknowledgement (the `idle` record is durable) and the
    # write that says `scheduled`: the time asked for must be in the `idle` record.
    path = str(tmp_path / "r.db")
    first = Process(path)
    sb = first.switchboard
    asked = first.runtime.now() + 3600.0
    cid = sb.accept({"service": "loans"}, "+34600000001", "later-2", schedule_at=asked)
    first.die()                                              # before `start`
    stored = SqliteRecords(path).get(cid)
    assert stored is not None and stored.state == "idle"
    again = Process(path)
    assert again.done == [(cid, "dialled")]
    assert again.switchboard.live[cid].state is f.State.SCHEDULED
    assert abs(again.due(cid) - (sb.epoch + asked)) < 0.01     # type: ignore[operator]
    assert again.dials.dialled == []
    again.die()


def test_a_callback_waiting_to_be_called_again_survives_a_restart_with_its_attempt(
        tmp_path: Path) -> None:
    asyncio.run(retry_survives(tmp_path))


async def retry_survives(tmp_path: Path) -> None:
    # The first call finds the line busy; the policy calls again 1 h later. The process
    # dies in between: the restarted one keeps the attempt and calls at the same time.
    policy = f.CallbackPolicy(retry=((f.Outcome.PERSON_BUSY, f.RetryRule(after=3600.0,
                                                                         attempts=3)),))
    path = str(tmp_path / "r.db")
    first = Process(path, policy)
    sb = first.switchboard
    cid = sb.accept({"service": "loans"}, "+34600000001", "again-1")
    sb.start(cid)
    (_, leg, _), = first.dials.dialled
    sb.deliver(cid, f.LegFailed(leg=leg, reason=f.FailReason.BUSY))
    assert sb.pending() == [cid]
    due = first.due(cid)
    first.die()
    stored = SqliteRecords(path).get(cid)
    assert stored is not None and [a.outcome for a in stored.attempts] == ["person_busy"]
    again = Process(path, policy)
    assert again.done == [(cid, "waits again")]
    resumed = again.switchboard.live[cid]
    assert [a.outcome for a in resumed.attempts] == ["person_busy"]       # kept
    assert abs(again.due(cid) - due) < 0.01
    assert again.dials.dialled == []                          # not before its time
    again.die()


def test_a_record_left_while_its_time_was_being_found_keeps_that_time(tmp_path: Path) -> None:
    asyncio.run(scheduling_survives(tmp_path))


async def scheduling_survives(tmp_path: Path) -> None:
    # `scheduling`: the flow asked the calendar when to call and the process died before
    # the answer. The record says the earliest time asked for; the restart waits for it.
    path = str(tmp_path / "r.db")
    store = SqliteRecords(path)
    epoch = time.time() - 60.0                 # the dead process started a minute ago
    store.put_many([CallbackRecord(
        id="soon-1", form={"service": "loans"}, person_number="+34600000001",
        service_code="loans", state="scheduling", times={"requested": 0.0},
        next_attempt_at=7200.0, epoch=epoch)], [])
    store.close()
    again = Process(path)
    assert again.done == [("soon-1", "waits again")]
    assert abs(again.due("soon-1") - (epoch + 7200.0)) < 0.01
    assert again.dials.dialled == []
    again.die()


def test_while_the_calendar_is_asked_the_callback_says_its_earliest_time() -> None:
    callback = f.Callback("c1", person_ring_timeout=30.0)
    callback.handle(f.CallbackRequested(service_code="loans", person_number="+34600000001",
                                        timed=True, schedule_at=900.0), 10.0)
    assert callback.state is f.State.SCHEDULING and callback.next_attempt_at == 900.0
    callback.handle(f.DialTimeFound(at=1800.0), 10.0)        # the calendar moved it
    assert callback.state is f.State.SCHEDULED and callback.next_attempt_at == 1800.0
